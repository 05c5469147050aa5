package reap

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Env is the variable holding the run's mark.
const Env = "PSMUX_TEST_RUN"

// watchdogEnv tells a copy of the test binary to be the watchdog for the
// mark it holds.
const watchdogEnv = "PSMUX_TEST_REAPER"

// killDeadline bounds how long the watchdog keeps killing marked
// processes (some fork while it works: sshd, tmux).
const killDeadline = 30 * time.Second

// The watchdog looks every scanEvery and stops after quietScans looks in a
// row found nothing.
const (
	scanEvery  = 100 * time.Millisecond
	quietScans = 10
)

// Main marks the run and starts its watchdog; in the watchdog itself it
// does the watchdog's work and exits. Call it first in TestMain.
func Main() {
	if mark := os.Getenv(watchdogEnv); mark != "" {
		watchdog(mark)
		os.Exit(0)
	}
	// One mark per test binary: go test runs packages in parallel, and
	// one binary's watchdog must not kill another's processes. A mark
	// already set (by a harness) becomes the prefix.
	mark := fmt.Sprintf("%d-%d", os.Getpid(), time.Now().UnixNano())
	if outer := os.Getenv(Env); outer != "" {
		mark = outer + "." + mark
	}
	os.Setenv(Env, mark)
	if !supported {
		return
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(os.Stderr, "reap: no watchdog: %v\n", err)
		return
	}
	r, w, err := os.Pipe()
	if err != nil {
		fmt.Fprintf(os.Stderr, "reap: no watchdog: %v\n", err)
		return
	}
	cmd := exec.Command(self, "-test.run=^$")
	cmd.Env = append(withoutMark(os.Environ()), watchdogEnv+"="+mark)
	cmd.Stdin = r
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // survives a kill of the test's process group
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "reap: no watchdog: %v\n", err)
		return
	}
	r.Close()
	keep = w // held until the process ends; its EOF wakes the watchdog
	go cmd.Wait()
}

// keep holds the pipe's write end for the life of the test binary (a
// dropped *os.File would be closed by its finalizer).
//
//lint:ignore U1000 held for its descriptor, never read
var keep *os.File

// Mark is the run's mark ("" before Main).
func Mark() string { return os.Getenv(Env) }

func withoutMark(env []string) []string {
	out := env[:0:0]
	for _, e := range env {
		if len(e) > len(Env) && e[:len(Env)+1] == Env+"=" {
			continue
		}
		out = append(out, e)
	}
	return out
}

// watchdog waits for EOF on stdin, then kills every process carrying mark
// until none is left or killDeadline passed.
func watchdog(mark string) {
	// stderr is the test binary's: a pipe whose reader (go test) may be
	// dead too, and a write to it must not kill the watchdog
	signal.Ignore(syscall.SIGPIPE)
	buf := make([]byte, 1)
	for {
		if _, err := os.Stdin.Read(buf); err != nil {
			break
		}
	}
	// A process caught in fork or exec may not show its environment for
	// an instant: the run is over after a second with none found.
	// What it killed is said once, at the end: after an interrupted
	// run the terminal's prompt is back, and a line per process would
	// go on under it.
	killed, seen := map[string]int{}, map[int]bool{}
	var order []string
	defer func() {
		if len(order) == 0 {
			return
		}
		var names []string
		n := 0
		for _, name := range order {
			n += killed[name]
			if killed[name] > 1 {
				name += " ×" + strconv.Itoa(killed[name])
			}
			names = append(names, name)
		}
		fmt.Fprintf(os.Stderr, "reap: killed %d processes the test run left: %s\n", n, strings.Join(names, ", "))
	}()
	deadline := time.Now().Add(killDeadline)
	for quiet := 0; quiet < quietScans; {
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "reap: processes of run %s still alive after %v:%s\n", mark, killDeadline, Describe(Marked(mark)))
			return
		}
		pids := Marked(mark)
		quiet++
		for _, pid := range pids {
			quiet = 0
			if cmd := strings.Fields(Cmdline(pid)); !seen[pid] && len(cmd) > 0 { // one still dying is seen again, or has no command line left
				seen[pid] = true
				name := filepath.Base(cmd[0])
				if killed[name] == 0 {
					order = append(order, name)
				}
				killed[name]++
			}
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(scanEvery) // polling /proc: there is nothing to wait on
	}
}

// KillGroup kills the process group cmd leads (see [Attr]) and cmd's
// process.
func KillGroup(cmd *exec.Cmd) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	_ = cmd.Process.Kill()
}

// Describe lists pids with their command lines, for messages.
func Describe(pids []int) string {
	s := ""
	for _, p := range pids {
		s += "\n  " + strconv.Itoa(p) + ": " + Cmdline(p)
	}
	return s
}
