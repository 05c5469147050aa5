package mux

import (
	"os"
	"strconv"
	"strings"
)

// ProcessGone reports whether pid has exited: no such process, or a
// zombie its parent has not yet reaped.
func ProcessGone(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || strings.HasPrefix(s[i+1:], " Z")
}
