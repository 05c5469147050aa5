package invoke_test

import (
	"bytes"
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/psmux/psmux/internal/e2e"
	"github.com/psmux/psmux/testenv/opensshd"
)

// An object of 70 MB comes through, as it does for pwsh's client
// (PowerShell's MaximumReceivedObjectSize is 200 MB); one over
// --max-received-object-size fails with an error that names the limit.
func TestInvokeLargeObject(t *testing.T) {
	server := e2e.RealPwsh(t)
	if server == "" {
		t.Skip("no pwsh (PSMUX_REQUIRE=pwsh makes this a failure)")
	}
	const script = `'x' * 70MB`
	run := func(extra ...string) (int, int, string) {
		cmd := e2e.Command(e2e.PsmuxBin(), append(append([]string{"invoke", "--local", "--pwsh", server, "--json"}, extra...), "--", script)...)
		var out e2e.XCounter
		var errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		return cmd.ProcessState.ExitCode(), out.N, errb.String()
	}
	code, xs, stderr := run()
	if code != e2e.ExitOK || xs != 70<<20 {
		t.Fatalf("%s: exit %d, %d x's in the output (want %d); stderr %q", script, code, xs, 70<<20, stderr)
	}
	code, _, stderr = run("--max-received-object-size", "50")
	if code != e2e.ExitConnect || !strings.Contains(stderr, "maximum received object size") || !strings.Contains(stderr, "(50 MB)") {
		t.Fatalf("over the limit: exit %d (want %d), stderr %q: want the limit named", code, e2e.ExitConnect, stderr)
	}
}

// A local session's pwsh killed while exec runs a command: exec says the
// connection was lost and why, and exits 3 (SPEC S8), not 1 in silence.
func TestExecConnectionLost(t *testing.T) {
	m := e2e.LocalPwshSession(t)
	children := e2e.ChildPIDs(t, m.ServerPID())
	if len(children) != 1 {
		t.Fatalf("the server has children %v, want its one pwsh", children)
	}
	cmd := m.Cmd("exec", "-t", "a", "--", `"started"; Start-Sleep 60; "after"`)
	errb := e2e.StartUntilStarted(t, cmd)
	// its process group: pwsh itself, and the launcher when pwsh runs
	// behind one (PSMUX_PWSH_LAUNCHER=child)
	if err := syscall.Kill(-children[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != e2e.ExitConnect || !strings.Contains(errb.String(), "a: connection lost: ") {
		t.Fatalf("exec after its pwsh died: exit %d (want %d), stderr %q: want the reason", code, e2e.ExitConnect, errb.String())
	}
}

// pwsh's exit line after psmux closed a local session (reconnect) is
// normal: it is not logged as a remote error.
func TestReconnectLocalHidesExitLine(t *testing.T) {
	m := e2e.LocalPwshSession(t)
	m.Must("reconnect", "-t", "a")
	r := m.Must("capture", "-t", "a")
	if all := r.Stdout + r.Stderr; !strings.Contains(all, "Reconnected") || strings.Contains(all, "remote:") {
		t.Fatalf("capture after reconnect:\n%s\nwant the reconnect and no remote error line", all)
	}
}

// A session's SSH connection reset while exec runs a command: exec says
// the connection was lost and exits 3.
func TestExecConnectionLostOverSSH(t *testing.T) {
	opensshd.Require(t)
	for name, subsystem := range e2e.Subsystems(t) {
		t.Run(name, func(t *testing.T) {
			sshd := e2e.StartSshd(t, subsystem)
			proxy, kh := e2e.Proxied(t, sshd)
			m := e2e.NewMuxEnv(t)
			m.NewSSH(sshd, "a", "-p", strconv.Itoa(proxy.Port()), "-o", "UserKnownHostsFile="+kh)
			cmd := m.Cmd("exec", "-t", "a", "--", `"started"; Start-Sleep 60; "after"`)
			errb := e2e.StartUntilStarted(t, cmd)
			proxy.ResetAll()
			_ = cmd.Wait()
			if code := cmd.ProcessState.ExitCode(); code != e2e.ExitConnect || !strings.Contains(errb.String(), "a: connection lost: ") {
				t.Fatalf("exec after the connection reset: exit %d (want %d), stderr %q: want the reason", code, e2e.ExitConnect, errb.String())
			}
		})
	}
}

// exec --timeout 1ms stops the command even though the stop is asked
// for before the pipeline exists on the server: its output never comes.
// One command per session: right after a stop pwsh sometimes refuses
// the next command ("a pipeline is already running"), a separate matter.
func TestExecTimeoutBeforeThePipelineExists(t *testing.T) {
	m := e2e.LocalPwshSession(t)
	m.Must("new", "-n", "b", "--local", "--pwsh", e2e.RealPwsh(t))
	for _, s := range []string{"a", "b"} {
		r := m.Run("exec", "-t", s, "--timeout", "1ms", "--", `Start-Sleep 3; "after"`)
		if r.Code != e2e.ExitStopped || strings.Contains(r.Stdout, "after") {
			t.Fatalf("%s: exit %d (want %d), stdout %q, stderr %q: the stop was lost", s, r.Code, e2e.ExitStopped, r.Stdout, r.Stderr)
		}
	}
}
