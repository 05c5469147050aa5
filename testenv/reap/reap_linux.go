//go:build linux

package reap

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"
)

const supported = true

// Attr is the SysProcAttr for a process a test starts: it gets SIGKILL
// when the test binary dies and leads its own process group.
func Attr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}

// Marked returns the processes other than this one whose environment
// carries Env=mark, or a mark nested under it (Env=mark.…: the runs of
// test binaries started with this mark).
func Marked(mark string) []int {
	return scan(func(pid int) bool {
		env, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
		if err != nil {
			return false
		}
		for _, e := range bytes.Split(env, []byte{0}) {
			if v, ok := bytes.CutPrefix(e, []byte(Env+"=")); ok {
				return string(v) == mark || strings.HasPrefix(string(v), mark+".")
			}
		}
		return false
	})
}

// KillMarked kills every process Marked(mark) finds, once.
func KillMarked(mark string) {
	for _, pid := range Marked(mark) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// Mentioning returns the processes other than this one whose command line
// contains s.
func Mentioning(s string) []int {
	return scan(func(pid int) bool { return strings.Contains(Cmdline(pid), s) })
}

// KillMentioning kills every process whose command line contains s (a
// test's temporary directory or socket).
func KillMentioning(s string) {
	for _, pid := range Mentioning(s) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// Proc is one process, told apart from a later one with the same pid by
// its start time.
type Proc struct {
	Pid     int
	Start   string // clock ticks after boot (/proc/PID/stat field 22)
	Cmdline string
}

// Alive reports whether the process still runs (not a zombie).
func (p Proc) Alive() bool {
	_, start, state, ok := stat(p.Pid)
	return ok && start == p.Start && state != 'Z'
}

// Run returns the live processes of a test run: those carrying mark (see
// Marked), those whose command line mentions dir (when not ""), and the
// sshd processes above them (sshd's setproctitle hides its environment).
func Run(mark, dir string) []Proc {
	seen := map[int]bool{}
	var out []Proc
	add := func(pid int) {
		if _, start, state, ok := stat(pid); ok && state != 'Z' && !seen[pid] {
			seen[pid] = true
			out = append(out, Proc{pid, start, Cmdline(pid)})
		}
	}
	pids := Marked(mark)
	if dir != "" {
		pids = append(pids, Mentioning(dir)...)
	}
	for _, pid := range pids {
		add(pid)
		for p := pid; ; {
			ppid, _, _, ok := stat(p)
			if !ok || ppid <= 1 || !strings.HasPrefix(Cmdline(ppid), "sshd") {
				break
			}
			add(ppid)
			p = ppid
		}
	}
	return out
}

// stat reads a process's parent, start time and state.
func stat(pid int) (ppid int, start string, state byte, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, "", 0, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, "", 0, false
	}
	f := strings.Fields(string(b[i+1:])) // f[0] is field 3, the state
	if len(f) < 20 {
		return 0, "", 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	return ppid, f[19], f[0][0], true
}

// Cmdline is a process's command line, arguments joined by spaces.
func Cmdline(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return strings.TrimSpace(string(bytes.ReplaceAll(b, []byte{0}, []byte{' '})))
}

func scan(match func(pid int) bool) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		if _, _, state, ok := stat(pid); !ok || state == 'Z' {
			continue
		}
		if match(pid) {
			out = append(out, pid)
		}
	}
	return out
}

// Descendants returns the children of pid, their children and so on.
func Descendants(pid int) []int {
	parent := map[int]int{}
	for _, p := range scan(func(int) bool { return true }) {
		if pp, _, _, ok := stat(p); ok {
			parent[p] = pp
		}
	}
	var out []int
	for p := range parent {
		for q := parent[p]; q > 1; q = parent[q] {
			if q == pid {
				out = append(out, p)
				break
			}
		}
	}
	return out
}
