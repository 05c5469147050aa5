package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/psmux/psmux/testenv/opensshd"
	"github.com/psmux/psmux/testenv/reap"
)

// probeEnv, set by TestNothingOutlivesAKilledTest for the copy of this
// test binary it runs, names the file the copy writes once everything is
// started.
const probeEnv = "PSMUX_LEFTOVER_PROBE"

// TestNothingOutlivesAKilledTest runs a copy of this test binary that
// starts what the suite starts (sshd with pwshsim and real pwsh behind it,
// a psmux server on demand with sessions over SSH and a local one, an
// attached client, a tmux server, invoke with a local pwshsim), SIGKILLs
// the copy mid-test, and checks that no process of the copy's run is left.
func TestNothingOutlivesAKilledTest(t *testing.T) {
	if ready := os.Getenv(probeEnv); ready != "" {
		leftoverProbe(t, ready)
		return
	}
	opensshd.Require(t)
	mark := reap.Mark() + ".leftovers"
	// The copy's temporary files go under tmp, so sshd (whose
	// environment setproctitle hides) is found by its config's path.
	tmp := t.TempDir()
	ready := tmp + "/ready"
	child := command(os.Args[0], "-test.run=^TestNothingOutlivesAKilledTest$", "-test.count=1", "-test.v")
	child.Env = append(os.Environ(), probeEnv+"="+ready, reap.Env+"="+mark, binDirEnv+"="+binDir, "TMPDIR="+tmp)
	var out lockedBuffer
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
	if realPwsh(t) != "" {
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
			t.Logf("%d processes of the killed run, none left:%s", len(before), listing.String())
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("left a minute after the test binary was killed:\n  %s\nprobe output:\n%s", strings.Join(left, "\n  "), out.String())
		}
		time.Sleep(100 * time.Millisecond) // polling /proc: nothing to wait on
	}
}

// leftoverProbe starts what the suite starts, says it is ready and waits
// to be killed.
func leftoverProbe(t *testing.T, ready string) {
	m := newMuxEnv(t)
	for name, sub := range subsystems(t) {
		sshd := startSshd(t, sub)
		m.newSSH(sshd, "ssh-"+name)
	}
	if p := realPwsh(t); p != "" {
		m.must("new", "-n", "local-pwsh", "--local", "--pwsh", p)
	}
	m.must("exec", "-t", "ssh-pwshsim", "--", "'up'")
	a := m.attach("-t", "ssh-pwshsim", "--since", "1")
	a.until(t, "the attach to start", func(l string) bool { return l == "up" })
	x := newTmux(t, nil)
	x.waitPrompt(x.start("one"), `^PS psmux>$`)
	inv := command(psmuxBin(), "invoke", "--local", "--pwsh", pwshsimBin()+" -s", "--", "Write-Output started; Start-Sleep 300")
	stdout, err := inv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := inv.Start(); err != nil {
		t.Fatal(err)
	}
	if l, err := bufio.NewReader(stdout).ReadString('\n'); l != "started\n" {
		t.Fatalf("invoke printed %q, %v", l, err)
	}
	if err := os.WriteFile(ready, []byte("ready\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Minute) // the test that started this one kills it long before
	t.Fatal("the probe was not killed")
}
