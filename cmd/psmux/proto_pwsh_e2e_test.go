package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/psmux/psmux/testenv/faultproxy"
	"github.com/psmux/psmux/testenv/opensshd"
	"golang.org/x/crypto/ssh/knownhosts"
)

// xCounter counts the 'x' bytes written to it without keeping them.
type xCounter struct{ n int }

func (c *xCounter) Write(p []byte) (int, error) {
	c.n += bytes.Count(p, []byte{'x'})
	return len(p), nil
}

// An object of 70 MB comes through, as it does for pwsh's client
// (PowerShell's MaximumReceivedObjectSize is 200 MB); one over
// --max-received-object-size fails with an error that names the limit.
func TestInvokeLargeObject(t *testing.T) {
	server := realPwsh(t)
	if server == "" {
		t.Skip("no pwsh (PSMUX_REQUIRE=pwsh makes this a failure)")
	}
	const script = `'x' * 70MB`
	run := func(extra ...string) (int, int, string) {
		cmd := command(psmuxBin(), append(append([]string{"invoke", "--local", "--pwsh", server, "--json"}, extra...), "--", script)...)
		var out xCounter
		var errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		return cmd.ProcessState.ExitCode(), out.n, errb.String()
	}
	code, xs, stderr := run()
	if code != exitOK || xs != 70<<20 {
		t.Fatalf("%s: exit %d, %d x's in the output (want %d); stderr %q", script, code, xs, 70<<20, stderr)
	}
	code, _, stderr = run("--max-received-object-size", "50")
	if code != exitConnect || !strings.Contains(stderr, "maximum received object size") || !strings.Contains(stderr, "(50 MB)") {
		t.Fatalf("over the limit: exit %d (want %d), stderr %q: want the limit named", code, exitConnect, stderr)
	}
}

// childPIDs lists the children of pid (all its threads').
func childPIDs(t *testing.T, pid int) []int {
	t.Helper()
	files, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var out []int
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, w := range strings.Fields(string(data)) {
			if n, err := strconv.Atoi(w); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// A local session's pwsh killed while exec runs a command: exec says the
// connection was lost and why, and exits 3 (SPEC S8), not 1 in silence.
func TestExecConnectionLost(t *testing.T) {
	m := localPwshSession(t)
	children := childPIDs(t, m.serverPID())
	if len(children) != 1 {
		t.Fatalf("the server has children %v, want its one pwsh", children)
	}
	cmd := m.cmd("exec", "-t", "a", "--", `"started"; Start-Sleep 60; "after"`)
	errb := startUntilStarted(t, cmd)
	// its process group: pwsh itself, and the launcher when pwsh runs
	// behind one (PSMUX_PWSH_LAUNCHER=child)
	if err := syscall.Kill(-children[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != exitConnect || !strings.Contains(errb.String(), "a: connection lost: ") {
		t.Fatalf("exec after its pwsh died: exit %d (want %d), stderr %q: want the reason", code, exitConnect, errb.String())
	}
}

// pwsh's exit line after psmux closed a local session (reconnect) is
// normal: it is not logged as a remote error.
func TestReconnectLocalHidesExitLine(t *testing.T) {
	m := localPwshSession(t)
	m.must("reconnect", "-t", "a")
	r := m.must("capture", "-t", "a")
	if all := r.stdout + r.stderr; !strings.Contains(all, "Reconnected") || strings.Contains(all, "remote:") {
		t.Fatalf("capture after reconnect:\n%s\nwant the reconnect and no remote error line", all)
	}
}

// localPwshSession starts a server with one session "a" on a local real
// pwsh, or skips without pwsh.
func localPwshSession(t *testing.T) *muxEnv {
	t.Helper()
	server := realPwsh(t)
	if server == "" {
		t.Skip("no pwsh (PSMUX_REQUIRE=pwsh makes this a failure)")
	}
	m := newMuxEnv(t)
	m.must("new", "-n", "a", "--local", "--pwsh", server)
	return m
}

// startUntilStarted starts cmd and waits for its first output line,
// "started": the pipeline runs. It returns cmd's stderr.
func startUntilStarted(t *testing.T, cmd *exec.Cmd) *bytes.Buffer {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "started" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("first line %q, %v; stderr %s", line, err, errb.String())
	}
	return &errb
}

// A session's SSH connection reset while exec runs a command: exec says
// the connection was lost and exits 3.
func TestExecConnectionLostOverSSH(t *testing.T) {
	opensshd.Require(t)
	for name, subsystem := range subsystems(t) {
		t.Run(name, func(t *testing.T) {
			sshd := startSshd(t, subsystem)
			proxy, kh := proxied(t, sshd)
			m := newMuxEnv(t)
			m.newSSH(sshd, "a", "-p", strconv.Itoa(proxy.Port()), "-o", "UserKnownHostsFile="+kh)
			cmd := m.cmd("exec", "-t", "a", "--", `"started"; Start-Sleep 60; "after"`)
			errb := startUntilStarted(t, cmd)
			proxy.ResetAll()
			_ = cmd.Wait()
			if code := cmd.ProcessState.ExitCode(); code != exitConnect || !strings.Contains(errb.String(), "a: connection lost: ") {
				t.Fatalf("exec after the connection reset: exit %d (want %d), stderr %q: want the reason", code, exitConnect, errb.String())
			}
		})
	}
}

// exec --timeout 1ms stops the command even though the stop is asked
// for before the pipeline exists on the server: its output never comes.
// One command per session: right after a stop pwsh sometimes refuses
// the next command ("a pipeline is already running"), a separate matter.
func TestExecTimeoutBeforeThePipelineExists(t *testing.T) {
	m := localPwshSession(t)
	m.must("new", "-n", "b", "--local", "--pwsh", realPwsh(t))
	for _, s := range []string{"a", "b"} {
		r := m.run("exec", "-t", s, "--timeout", "1ms", "--", `Start-Sleep 3; "after"`)
		if r.code != exitStopped || strings.Contains(r.stdout, "after") {
			t.Fatalf("%s: exit %d (want %d), stdout %q, stderr %q: the stop was lost", s, r.code, exitStopped, r.stdout, r.stderr)
		}
	}
}

// proxied puts a fault proxy in front of sshd (closed with the test) and
// returns it with a known_hosts file that trusts sshd's key at its address.
func proxied(t *testing.T, sshd *opensshd.Sshd) (*faultproxy.Proxy, string) {
	t.Helper()
	proxy, err := faultproxy.New(sshd.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	kh := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(kh, []byte(knownhosts.Line([]string{knownhosts.Normalize(proxy.Addr())}, sshd.HostKey)+"\n"), 0o600)
	return proxy, kh
}
