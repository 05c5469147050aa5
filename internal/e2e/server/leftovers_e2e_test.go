package server_test

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/psmux/psmux/internal/e2e"
	"github.com/psmux/psmux/testenv/opensshd"
	"github.com/psmux/psmux/testenv/reap"
)

// TestNothingOutlivesAKilledTest runs a copy of this test binary that
// starts what the suite starts (sshd with pwshsim and real pwsh behind it,
// a psmux server on demand with sessions over SSH and a local one, an
// attached client, a tmux server, invoke with a local pwshsim), SIGKILLs
// the copy mid-test, and checks that no process of the copy's run is left.
func TestNothingOutlivesAKilledTest(t *testing.T) {
	if ready := os.Getenv(e2e.ProbeEnv); ready != "" {
		e2e.LeftoverProbe(t, ready)
		return
	}
	opensshd.Require(t)
	mark := reap.Mark() + ".leftovers"
	// The copy's temporary files go under tmp, so sshd (whose
	// environment setproctitle hides) is found by its config's path.
	tmp := t.TempDir()
	ready := tmp + "/ready"
	child := e2e.Command(os.Args[0], "-test.run=^TestNothingOutlivesAKilledTest$", "-test.count=1", "-test.v")
	child.Env = append(os.Environ(), e2e.ProbeEnv+"="+ready, reap.Env+"="+mark, e2e.BinDirEnv+"="+e2e.BinDir, "TMPDIR="+tmp)
	var out e2e.LockedBuffer
	child.Stdout, child.Stderr = &out, &out
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { child.Wait(); close(exited) }()
	t.Cleanup(func() { // kills what is left only when the test failed
		reap.KillGroup(child)
		<-exited
		reap.KillMarked(mark)
		reap.KillMentioning(tmp)
	})
	deadline := time.Now().Add(3 * time.Minute)
	for {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		select {
		case <-exited:
			t.Fatalf("the probe exited before it was ready:\n%s", out.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the probe was not ready after 3 minutes:\n%s", out.String())
		}
	}
	before := reap.Run(mark, tmp)
	var listing strings.Builder
	for _, p := range before {
		fmt.Fprintf(&listing, "\n  %d: %s", p.Pid, p.Cmdline)
	}
	kinds := []string{"sshd -D -e -f " + tmp, "sshd: root@notty", "pwshsim -sshs", "pwshsim -s", "psmux -S " + tmp, "attach", "tmux"}
	if e2e.RealPwsh(t) != "" {
		kinds = append(kinds, "pwsh -sshs", "pwsh -s ")
	}
	for _, k := range kinds {
		if !strings.Contains(listing.String(), k) {
			t.Fatalf("no %q among the probe's processes (the check would prove nothing):%s", k, listing.String())
		}
	}
	child.Process.Kill() // the test binary alone, as `go test -timeout` or the OOM killer would
	<-exited
	deadline = time.Now().Add(time.Minute)
	for {
		var left []string
		for _, p := range before {
			if p.Alive() {
				left = append(left, fmt.Sprintf("%d: %s", p.Pid, p.Cmdline))
			}
		}
		for _, p := range reap.Run(mark, tmp) { // started after the listing
			left = append(left, fmt.Sprintf("%d: %s", p.Pid, p.Cmdline))
		}
		if len(left) == 0 {
			<-exited // the watchdog, holding the output, has ended too
			// it says what it killed in one line, not one per process
			if reaps := regexp.MustCompile(`(?m)^reap: .*`).FindAllString(out.String(), -1); len(reaps) > 1 ||
				len(reaps) == 1 && !strings.HasPrefix(reaps[0], "reap: killed ") {
				t.Fatalf("the watchdog's report: %q; want at most one line, reap: killed N processes …", reaps)
			} else {
				t.Logf("%d processes of the killed run, none left:%s\nthe watchdog: %q", len(before), listing.String(), reaps)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("left a minute after the test binary was killed:\n  %s\nprobe output:\n%s", strings.Join(left, "\n  "), out.String())
		}
		time.Sleep(100 * time.Millisecond) // polling /proc: nothing to wait on
	}
}
