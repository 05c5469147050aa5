//go:build unix && !linux

package mux

import "syscall"

// processGone reports whether pid has exited (a zombie still counts as
// running here; the server's parent reaps it at once).
func processGone(pid int) bool {
	return syscall.Kill(pid, 0) == syscall.ESRCH
}
