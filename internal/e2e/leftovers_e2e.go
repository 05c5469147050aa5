package e2e

import (
	"bufio"
	"os"
	"testing"
	"time"
)

// ProbeEnv, set by TestNothingOutlivesAKilledTest for the copy of this
// test binary it runs, names the file the copy writes once everything is
// started.
const ProbeEnv = "PSMUX_LEFTOVER_PROBE"

// LeftoverProbe starts what the suite starts, says it is ready and waits
// to be killed.
func LeftoverProbe(t *testing.T, ready string) {
	m := NewMuxEnv(t)
	for name, sub := range Subsystems(t) {
		sshd := StartSshd(t, sub)
		m.NewSSH(sshd, "ssh-"+name)
	}
	if p := RealPwsh(t); p != "" {
		m.Must("new", "-n", "local-pwsh", "--local", "--pwsh", p)
	}
	m.Must("exec", "-t", "ssh-pwshsim", "--", "'up'")
	a := m.Attach("-t", "ssh-pwshsim", "--since", "1")
	a.Until(t, "the attach to start", func(l string) bool { return l == "up" })
	x := NewTmux(t, nil)
	x.WaitPrompt(x.Start("one"), `^PS psmux>$`)
	inv := Command(PsmuxBin(), "invoke", "--local", "--pwsh", PwshsimBin()+" -s", "--", "Write-Output started; Start-Sleep 300")
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
