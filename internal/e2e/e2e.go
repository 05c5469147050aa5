package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/psmux/psmux/testenv/reap"
	req "github.com/psmux/psmux/testenv/require"
)

var BinDir string

// BinDirEnv names a directory holding psmux and pwshsim already built,
// for a copy of a test binary run by a test (server.TestNothingOutlivesAKilledTest).
const BinDirEnv = "PSMUX_E2E_BINDIR"

func PsmuxBin() string { return filepath.Join(BinDir, "psmux") }

// Command is exec.Command for a process a test starts: it dies with the
// test binary and leads its own process group (reap.Attr).
func Command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = reap.Attr()
	return cmd
}

func PwshsimBin() string { return filepath.Join(BinDir, "pwshsim") }

// RealPwsh returns the OutOfProc command line of a real pwsh, "" when
// there is none, and fails when PSMUX_REQUIRE lists pwsh and there is none.
func RealPwsh(t testing.TB) string {
	t.Helper()
	if c := req.PwshCommand(); c != "" || !req.Required(req.Pwsh) {
		return c
	}
	return req.PwshServer(t)
}

// PwshServers are pwshsim and, when there is one, real pwsh: the
// OutOfProc servers of a test that psrpcore's server cannot run.
func PwshServers(t testing.TB) map[string]string {
	out := map[string]string{"pwshsim": PwshsimBin() + " -s"}
	if p := RealPwsh(t); p != "" {
		out["pwsh"] = p
	}
	return out
}

// Servers are the OutOfProc servers every invoke test runs against:
// pwshsim always, real pwsh when there is one, psrpcore's server when its
// source is there.
func Servers(t *testing.T) map[string]string {
	out := PwshServers(t)
	if src := PsrpcoreSrc(t, false); src != "" {
		out["psrpcore"] = PeerServer(src)
	}
	return out
}

func SharedDir() string { return filepath.Join(Root(), "..", "shared") }

// PsrpcoreSrc returns PSRPCORE_SRC, or skips (required=true) saying why.
func PsrpcoreSrc(t *testing.T, required bool) string {
	src := os.Getenv("PSRPCORE_SRC")
	if src == "" && required {
		req.Missing(t, req.Psrpcore, "PSRPCORE_SRC is not set: the independent psrpcore peers need a checkout of jborean93/psrpcore's src (README, \"Testing against real PowerShell\")")
	}
	if _, err := os.Stat(filepath.Join(SharedDir(), "peers")); err != nil && src != "" {
		if required {
			req.Missing(t, req.Psrpcore, "../shared/peers not found beside the project")
		}
		return ""
	}
	return src
}

func Python() string {
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		return "/usr/bin/python3"
	}
	return "python3"
}

// PeerShim runs psrpcore's server peer with one adaptation: psrpcore's
// ConsoleColor rejects -1, the "no colour" pwsh's own client declares on
// Unix (and psmux with it) in the host's default data; the shim reads it
// as Gray so that the peer can open a session at all.
const PeerShim = `import os, runpy, sys
sys.path.insert(0, os.environ["PSRPCORE_SRC"])
import psrpcore.types as T
T.ConsoleColor._missing_ = classmethod(lambda cls, v: cls.Gray if v == -1 else None)
peer = sys.argv[1]
sys.argv = sys.argv[1:]
runpy.run_path(peer, run_name="__main__")
`

func PeerServer(src string) string {
	abs, _ := filepath.Abs(filepath.Join(SharedDir(), "peers", "psrpcore_oop_server.py"))
	shim := filepath.Join(BinDir, "psrpcore_peer_shim.py")
	if err := os.WriteFile(shim, []byte(PeerShim), 0o644); err != nil {
		panic(err)
	}
	return fmt.Sprintf("env PSRPCORE_SRC=%s %s %s %s", src, Python(), shim, abs)
}

type Result struct {
	Code           int
	Stdout, Stderr string
}

func Invoke(t *testing.T, server string, args ...string) Result {
	t.Helper()
	return RunCmd(t, Command(PsmuxBin(), append([]string{"invoke", "--local", "--pwsh", server}, args...)...))
}

// RunCmd runs cmd to its end and returns its exit status and output; it
// fails the test when cmd cannot run at all.
func RunCmd(t testing.TB, cmd *exec.Cmd) Result {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return Result{code, out.String(), errb.String()}
}

// InvokeInterrupted runs psmux invoke with args and the script
// "Write-Output started; Start-Sleep 30", sends SIGINT to its process
// group once "started" is printed (the pipeline runs), as a terminal's
// Ctrl-C does, and fails unless psmux exits 4 (Stopped) with no error
// text.
func InvokeInterrupted(t *testing.T, args ...string) {
	t.Helper()
	cmd := Command(PsmuxBin(), append(append([]string{"invoke"}, args...), "--", "Write-Output started; Start-Sleep 30")...)
	errb := StartUntilStarted(t, cmd)
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGINT) // psmux leads its group (reap.Attr)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != ExitStopped {
		t.Fatalf("after SIGINT to the process group: %v, want exit %d; stderr %s", err, ExitStopped, errb.String())
	}
	if strings.Contains(errb.String(), "psmux:") {
		t.Fatalf("after SIGINT to the process group: error text %q", errb.String())
	}
}
