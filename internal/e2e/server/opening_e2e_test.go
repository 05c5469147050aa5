package server_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/psmux/psmux/internal/e2e"
	"github.com/psmux/psmux/testenv/opensshd"
)

// processesRunning lists the pids whose command line is exactly argv.
func processesRunning(argv ...string) []int {
	want := strings.Join(argv, "\x00") + "\x00"
	files, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var out []int
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil || string(b) != want {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(f)))
		if !e2e.Gone(pid) {
			out = append(out, pid)
		}
	}
	return out
}

// A session removed while it is still Opening (its PowerShell server has
// not answered) cancels the open: `new` fails instead of printing the
// session as Opened, and the process that was to be its server is gone:
// a local one (its process group is killed) and one behind sshd that,
// like pwsh, ends when its input does. sshd refuses to signal a
// subsystem, so a remote one that ignores the end of its input lives
// on; `new` and `rm` must not wait for it ("deaf").
func TestRmWhileOpeningLeavesNoProcess(t *testing.T) {
	opensshd.Require(t)
	for _, where := range []string{"local", "ssh", "ssh-deaf"} {
		t.Run(where, func(t *testing.T) {
			// a "PowerShell server" that never answers, named uniquely
			// so the test finds it among the machine's processes
			n := strconv.Itoa(100000 + time.Now().Nanosecond()%100000)
			m := e2e.NewMuxEnv(t)
			argv := []string{"sleep", n}
			args := []string{"new", "-n", "slow", "--local", "--pwsh", "sleep " + n}
			switch where {
			case "ssh": // reads its input to the end, says nothing
				argv = []string{"head", "-c", n}
				sshd := e2e.StartSshd(t, "exec head -c "+n+" >/dev/null")
				args = []string{"new", "-n", "slow", "-F", sshd.SSHConfig, sshd.Alias}
			case "ssh-deaf":
				sshd := e2e.StartSshd(t, "exec sleep "+n)
				args = []string{"new", "-n", "slow", "-F", sshd.SSHConfig, sshd.Alias}
			}
			t.Cleanup(func() { // whatever the outcome, nothing is left behind
				for _, pid := range processesRunning(argv...) {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			})
			created := make(chan e2e.Result, 1)
			go func() { created <- m.Run(args...) }()
			// Opening, with its server process started
			deadline := time.Now().Add(time.Minute)
			for len(processesRunning(argv...)) == 0 || !listedOpening(m) {
				if time.Now().After(deadline) {
					t.Fatalf("no Opening session with its process after a minute:\n%s", m.Log())
				}
				time.Sleep(20 * time.Millisecond) // polling ls and /proc: nothing to wait on
			}
			m.Must("rm", "-t", "slow")
			select {
			case r := <-created:
				if r.Code == e2e.ExitOK || strings.Contains(r.Stdout, "Opened") {
					t.Fatalf("new of a session removed while opening: exit %d, %q; want a failure", r.Code, r.Stdout)
				}
				t.Logf("new said (exit %d): %s", r.Code, strings.TrimSpace(r.Stderr))
			case <-time.After(time.Minute):
				t.Fatalf("new still waits a minute after its session was removed:\n%s", m.DumpServers())
			}
			for deadline := time.Now().Add(30 * time.Second); where != "ssh-deaf"; {
				left := processesRunning(argv...)
				if len(left) == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the removed session's server process %v still runs 30 s after rm", left)
				}
				time.Sleep(20 * time.Millisecond) // polling /proc
			}
			if rows := m.Ls(); len(rows) != 0 {
				t.Fatalf("after rm: %+v", rows)
			}
		})
	}
}

func listedOpening(m *e2e.MuxEnv) bool {
	r := m.Run("ls", "--json")
	return r.Code == e2e.ExitOK && strings.Contains(r.Stdout, `"Opening"`)
}
