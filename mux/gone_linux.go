package mux

import (
	"os"
	"strconv"
	"strings"
)

// ProcessGone reports whether pid has exited: no such process, or a
// zombie its parent has not yet reaped whose threads have all exited.
// The first thread of a killed Go process is a zombie while the others
// are still exiting, and the process's files (its listening socket)
// close only when the last one has: until then a client can still
// connect to the socket, and then reads EOF.
func ProcessGone(pid int) bool {
	dir := "/proc/" + strconv.Itoa(pid)
	b, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i >= 0 && !strings.HasPrefix(s[i+1:], " Z") {
		return false
	}
	tasks, err := os.ReadDir(dir + "/task")
	return err != nil || len(tasks) <= 1
}
