//go:build unix && !linux

package mux

import "syscall"

// ProcessGone reports whether pid has exited (a zombie still counts as
// running here; the server's parent reaps it at once).
func ProcessGone(pid int) bool {
	return syscall.Kill(pid, 0) == syscall.ESRCH
}
