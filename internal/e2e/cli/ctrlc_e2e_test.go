package cli_test

import (
	"errors"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/psmux/psmux/internal/e2e"
)

// Ctrl-C (SIGINT to the process group, as a terminal sends it) during
// `psmux exec` stops the command: exit 4, no error text, and the session
// stays Opened and Available for the next one.
func TestExecCtrlCKeepsSessionOpened(t *testing.T) {
	m := e2e.NewMuxEnv(t)
	m.Must("new", "-n", "S", "--local", "--pwsh", e2e.PwshsimBin()+" -s")
	cmd := m.Cmd("exec", "-t", "S", "--", "Write-Output started; Start-Sleep 30")
	errb := e2e.StartUntilStarted(t, cmd)
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGINT) // psmux leads its group (reap.Attr)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != e2e.ExitStopped || strings.Contains(errb.String(), "psmux:") {
		t.Fatalf("after SIGINT to the process group: %v, stderr %q; want exit %d and no error text", err, errb.String(), e2e.ExitStopped)
	}
	if rows := m.Ls(); len(rows) != 1 || rows[0].State != "Opened" || rows[0].Availability != "Available" {
		t.Fatalf("after Ctrl-C: %+v; want S Opened and Available", rows)
	}
	if r := m.Must("exec", "-t", "S", "--", "6*7"); r.Stdout != "42\n" {
		t.Fatalf("the next command: %q", r.Stdout)
	}
}
