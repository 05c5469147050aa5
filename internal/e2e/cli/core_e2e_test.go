package cli_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/psmux/psmux/internal/e2e"
)

// The server core end to end (issue 12): a local pwshsim session per
// case, through a live server process.

// untilLs runs ls until ok accepts a row of session name, failing after
// two minutes.
func untilLs(t *testing.T, m *e2e.MuxEnv, name, what string, ok func(row map[string]any) bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		for _, r := range m.Ls() {
			if r.Name == name && ok(map[string]any{"State": r.State, "LastSeq": r.LastSeq, "Reason": r.Reason}) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("session %s never %s: %+v", name, what, m.Ls())
		}
		time.Sleep(50 * time.Millisecond) // polling the server: nothing to wait on
	}
}

// timed runs psmux args and fails when it does not succeed; a run that
// does not end at all is cut off after 20 s. It returns how long it
// took (the 2 s bound is asserted on a fake clock in mux's
// TestCloseWithAFullBlockLogAndNoClient; here it is reported).
func timed(t *testing.T, m *e2e.MuxEnv, args ...string) time.Duration {
	t.Helper()
	cmd := m.Cmd(args...)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("psmux %q: %v\nserver log:\n%s", args, err, m.Log())
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("psmux %q hung (over 20 s)\nserver log:\n%s", args, m.Log())
	}
	return time.Since(start)
}

// Block policy, a full log and no client: rm, kill-server and the idle
// close each return (they used to hang forever); the idle-closed
// session stays listed as Closed with the reason, and capture reads it.
func TestBlockFullLogNoClientCloses(t *testing.T) {
	local := []string{"--local", "--pwsh", e2e.PwshsimBin() + " -s", "--policy", "Block"}
	for _, how := range []string{"rm", "kill-server", "idle"} {
		t.Run(how, func(t *testing.T) {
			m := e2e.NewMuxEnv(t)
			log := m.Serve("--idle-check", "100ms")
			if how == "idle" {
				// no command may run for it to be idle: the "Opened"
				// event alone fills a 1-byte budget
				m.Must(append([]string{"new", "-n", "full", "--budget", "1", "--idle-timeout", "2s"}, local...)...)
				// and one with room, whose output capture shows after the close
				m.Must(append([]string{"new", "-n", "roomy", "--idle-timeout", "2s"}, local...)...)
				m.Must("exec", "-t", "roomy", "--", "'said before'")
			} else {
				m.Must(append([]string{"new", "-n", "full", "--budget", "4096"}, local...)...)
				m.Must("exec", "--async", "-t", "full", "--", "1..100000")
				// 4096 bytes hold ~30 events: past 20 the log is all but full
				untilLs(t, m, "full", "filled its log", func(r map[string]any) bool { return r["LastSeq"].(uint64) >= 20 })
			}
			switch how {
			case "rm":
				t.Logf("rm took %s", timed(t, m, "rm", "-t", "full"))
				if rows := m.Ls(); len(rows) != 0 {
					t.Fatalf("after rm: %+v", rows)
				}
			case "kill-server":
				t.Logf("kill-server took %s", timed(t, m, "kill-server"))
				log.WaitFor(t, "exited")
			case "idle":
				log.WaitFor(t, "IdleTimeout")
				for _, name := range []string{"full", "roomy"} {
					untilLs(t, m, name, "Closed", func(r map[string]any) bool { return r["State"] == "Closed" })
				}
				rows := m.Ls()
				for _, r := range rows {
					if !strings.Contains(r.Reason, "IdleTimeout") || r.Ended.IsZero() {
						t.Fatalf("an idle-closed session: %+v; want it listed Closed with the reason and when", r)
					}
				}
				if len(rows) != 2 {
					t.Fatalf("ls after the idle close: %+v", rows)
				}
				m.Must("capture", "-t", "full")
				if out := m.Must("capture", "-t", "roomy").Stdout; !strings.Contains(out, "said before") {
					t.Fatalf("capture of the closed session: %q", out)
				}
				timed(t, m, "rm", "-t", "roomy")
				timed(t, m, "rm", "-t", "full")
				if rows := m.Ls(); len(rows) != 0 {
					t.Fatalf("after rm of the closed session: %+v", rows)
				}
			}
		})
	}
}

// Two clients attached, one reading and one stalled, on a Block log:
// the stalled one is cut off with "lagged"; the one reading gets every
// line, in order, and the session is not held up. Attached again, the
// stalled one goes on from its own cursor, read back from the log on
// disk: no gap, no line twice.
func TestStalledClientLagged(t *testing.T) {
	m := e2e.NewMuxEnv(t)
	m.Must("new", "-n", "s", "--budget", "65536", "--policy", "Block", "--local", "--pwsh", e2e.PwshsimBin()+" -s")
	reading := m.Attach("-t", "s")
	stalled := m.AttachAs("stalled", "-t", "s") // its output is never read while the command runs
	m.WaitAttached("s", 2)
	const total = 20000
	m.Must("exec", "--async", "-t", "s", "--", fmt.Sprintf("1..%d", total))
	last := 0
	reading.Until(t, fmt.Sprint(total), func(l string) bool {
		if n, err := strconv.Atoi(l); err == nil {
			if n != last+1 {
				t.Fatalf("the reading client: %d after %d", n, last)
			}
			last = n
		}
		return last == total
	})
	printed := make(chan int)
	go func() {
		slast := 0
		for stalled.Out.Scan() { // let it run to the notice
			if n, err := strconv.Atoi(stalled.Out.Text()); err == nil {
				if n != slast+1 {
					t.Errorf("the stalled client: %d after %d", n, slast)
				}
				slast = n
			}
		}
		printed <- slast
	}()
	stalled.WaitErr(t, "lagged")
	stalled.Wait()
	slast := <-printed
	if slast >= total {
		t.Fatalf("the stalled client printed all %d lines: it was not behind", total)
	}
	again := m.AttachAs("stalled", "-t", "s")
	next := slast + 1
	again.Until(t, fmt.Sprint(total), func(l string) bool {
		if n, err := strconv.Atoi(l); err == nil {
			if n != next {
				t.Fatalf("the stalled client, attached again after printing up to %d: %d where %d was due (a gap or a repeat)", slast, n, next)
			}
			next++
		}
		return next > total
	})
	again.Stdin.Close()
	again.Wait()
	reading.Stdin.Close()
	reading.Wait()
}

// TestExecToldWhenItsSessionIsRemoved: `rm` of a session while exec runs
// a command in it ends exec with the Stopped code and a line saying why
// (it exited 0, as if the command had completed).
func TestExecToldWhenItsSessionIsRemoved(t *testing.T) {
	m := e2e.NewMuxEnv(t)
	m.Must("new", "-n", "s", "--local", "--pwsh", e2e.PwshsimBin()+" -s")
	cmd := m.Cmd("exec", "-t", "s", "--", "'started'; Start-Sleep 60; 'after'")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errb strings.Builder
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if line != "started\n" {
		t.Fatalf("exec printed %q (%v), want started", line, err)
	}
	m.Must("rm", "-t", "s")
	rest, _ := io.ReadAll(out)
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != e2e.ExitStopped || !strings.Contains(errb.String(), "the session was closed while the command ran") || len(rest) != 0 {
		t.Fatalf("exec after rm: %v, stdout %q, stderr %q; want exit %d and why", err, rest, errb.String(), e2e.ExitStopped)
	}
}
