//go:build !linux

package reap

import "syscall"

const supported = false

// Attr is the SysProcAttr for a process a test starts: it leads its own
// process group (there is no Pdeathsig outside Linux).
func Attr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// Marked finds nothing outside Linux.
func Marked(string) []int { return nil }

// Mentioning finds nothing outside Linux.
func Mentioning(string) []int { return nil }

// KillMentioning does nothing outside Linux.
func KillMentioning(string) {}

// Cmdline is unknown outside Linux.
func Cmdline(int) string { return "" }

// KillMarked does nothing outside Linux.
func KillMarked(string) {}

// Proc is one process.
type Proc struct {
	Pid     int
	Start   string
	Cmdline string
}

// Alive is false outside Linux.
func (p Proc) Alive() bool { return false }

// Run finds nothing outside Linux.
func Run(mark, dir string) []Proc { return nil }

// Descendants finds nothing outside Linux.
func Descendants(int) []int { return nil }
