package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/psmux/psmux/testenv/reap"
	req "github.com/psmux/psmux/testenv/require"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// End-to-end tests of the psmux binary: against pwshsim and a real pwsh
// (PSMUX_PWSH, pwsh on PATH or PSMUX_PWSH_BIN), against psrpcore's independent server, and
// with psrpcore's client driving pwshsim.

var binDir string

// binDirEnv names a directory holding psmux and pwshsim already built,
// for a copy of this test binary run by a test (leftovers_e2e_test.go).
const binDirEnv = "PSMUX_E2E_BINDIR"

func TestMain(m *testing.M) {
	reap.Main() // nothing the tests start outlives this binary
	if dir := os.Getenv(binDirEnv); dir != "" {
		binDir = dir
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "psmux-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	for _, b := range []struct{ out, pkg string }{{"psmux", "."}, {"pwshsim", "../../testenv/cmd/pwshsim"}} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, b.out), b.pkg)
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n%s", b.pkg, err, out)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func psmuxBin() string { return filepath.Join(binDir, "psmux") }

// command is exec.Command for a process a test starts: it dies with the
// test binary and leads its own process group (reap.Attr).
func command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = reap.Attr()
	return cmd
}

func pwshsimBin() string { return filepath.Join(binDir, "pwshsim") }

// realPwsh returns the OutOfProc command line of a real pwsh, "" when
// there is none, and fails when PSMUX_REQUIRE lists pwsh and there is none.
func realPwsh(t *testing.T) string {
	t.Helper()
	if c := req.PwshCommand(); c != "" || !req.Required(req.Pwsh) {
		return c
	}
	return req.PwshServer(t)
}

// servers are the OutOfProc servers every invoke test runs against:
// pwshsim always, real pwsh when there is one, psrpcore's server when its
// source is there.
func servers(t *testing.T) map[string]string {
	out := map[string]string{"pwshsim": pwshsimBin() + " -s"}
	if p := realPwsh(t); p != "" {
		out["pwsh"] = p
	}
	if src := psrpcoreSrc(t, false); src != "" {
		out["psrpcore"] = peerServer(src)
	}
	return out
}

func sharedDir() string { return filepath.Join("..", "..", "..", "shared") }

// psrpcoreSrc returns PSRPCORE_SRC, or skips (required=true) saying why.
func psrpcoreSrc(t *testing.T, required bool) string {
	src := os.Getenv("PSRPCORE_SRC")
	if src == "" && required {
		req.Missing(t, req.Psrpcore, "PSRPCORE_SRC is not set: the independent psrpcore peers need a checkout of jborean93/psrpcore's src (README, \"Testing against real PowerShell\")")
	}
	if _, err := os.Stat(filepath.Join(sharedDir(), "peers")); err != nil && src != "" {
		if required {
			req.Missing(t, req.Psrpcore, "../shared/peers not found beside the project")
		}
		return ""
	}
	return src
}

func python() string {
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		return "/usr/bin/python3"
	}
	return "python3"
}

// peerShim runs psrpcore's server peer with one adaptation: psrpcore's
// ConsoleColor rejects -1, the "no colour" pwsh's own client declares on
// Unix (and psmux with it) in the host's default data; the shim reads it
// as Gray so that the peer can open a session at all.
const peerShim = `import os, runpy, sys
sys.path.insert(0, os.environ["PSRPCORE_SRC"])
import psrpcore.types as T
T.ConsoleColor._missing_ = classmethod(lambda cls, v: cls.Gray if v == -1 else None)
peer = sys.argv[1]
sys.argv = sys.argv[1:]
runpy.run_path(peer, run_name="__main__")
`

func peerServer(src string) string {
	abs, _ := filepath.Abs(filepath.Join(sharedDir(), "peers", "psrpcore_oop_server.py"))
	shim := filepath.Join(binDir, "psrpcore_peer_shim.py")
	if err := os.WriteFile(shim, []byte(peerShim), 0o644); err != nil {
		panic(err)
	}
	return fmt.Sprintf("env PSRPCORE_SRC=%s %s %s %s", src, python(), shim, abs)
}

type result struct {
	code           int
	stdout, stderr string
}

func invoke(t *testing.T, server string, args ...string) result {
	t.Helper()
	cmd := command(psmuxBin(), append([]string{"invoke", "--local", "--pwsh", server}, args...)...)
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
	return result{code, out.String(), errb.String()}
}

func TestInvokeLocal(t *testing.T) {
	for name, server := range servers(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			script := `$x = 40 + 2; "answer: $x"`
			if name == "psrpcore" { // a scripted server: no variables
				script = `'answer: 42'`
			}
			r := invoke(t, server, "--", script)
			if r.code != 0 || strings.TrimSpace(r.stdout) != "answer: 42" || r.stderr != "" {
				t.Fatalf("%s: exit %d stdout %q stderr %q", script, r.code, r.stdout, r.stderr)
			}
			r = invoke(t, server, "--", "Write-Error boom")
			if r.code != 1 || !strings.Contains(r.stderr, "boom") || strings.Contains(r.stdout, "boom") {
				t.Fatalf("Write-Error: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
			}
			r = invoke(t, server, "--", `throw "bad"`)
			if r.code != 1 || !strings.Contains(r.stderr, "bad") {
				t.Fatalf("throw: exit %d stderr %q", r.code, r.stderr)
			}
			r = invoke(t, server, "--json", "--", "1..3")
			if r.code != 0 {
				t.Fatalf("--json: exit %d stderr %q", r.code, r.stderr)
			}
			var values []string
			var final map[string]any
			sc := bufio.NewScanner(strings.NewReader(r.stdout))
			for sc.Scan() {
				var ev map[string]any
				if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
					t.Fatalf("not JSON: %q", sc.Text())
				}
				if ev["stream"] == "Output" {
					values = append(values, fmt.Sprint(ev["value"]))
				}
				if _, ok := ev["state"]; ok {
					final = ev
				}
			}
			if strings.Join(values, ",") != "1,2,3" || final == nil || final["state"] != "Completed" || final["had_errors"] != false {
				t.Fatalf("--json 1..3: values %v final %v\n%s", values, final, r.stdout)
			}
		})
	}
}

// TestInvokeCtrlCStops sends SIGINT while Start-Sleep 30 runs: psmux must
// stop the pipeline with a Signal (the pipeline ends Stopped) and exit 4.
func TestInvokeCtrlCStops(t *testing.T) {
	for name, server := range servers(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			invokeInterrupted(t, "--local", "--pwsh", server)
		})
	}
}

// invokeInterrupted runs psmux invoke with args and the script
// "Write-Output started; Start-Sleep 30", sends SIGINT once "started" is
// printed (the pipeline runs) and fails unless psmux exits 4 (Stopped).
func invokeInterrupted(t *testing.T, args ...string) {
	t.Helper()
	cmd := command(psmuxBin(), append(append([]string{"invoke"}, args...), "--", "Write-Output started; Start-Sleep 30")...)
	errb := startUntilStarted(t, cmd)
	_ = cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitStopped {
		t.Fatalf("after SIGINT: %v, want exit %d; stderr %s", err, exitStopped, errb.String())
	}
}

func TestInvokeUsageAndMissingPwsh(t *testing.T) {
	r := invoke(t, pwshsimBin()+" -s")
	if r.code != exitUsage || !strings.Contains(r.stderr, "no script") {
		t.Fatalf("no script: %d %q", r.code, r.stderr)
	}
	cmd := command(psmuxBin(), "invoke", "--local", "--", "1")
	cmd.Env = append(os.Environ(), "PATH=/nonexistent", "PSMUX_PWSH=")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitConnect || !strings.Contains(string(out), "install PowerShell") {
		t.Fatalf("without pwsh: %v %q", err, out)
	}
	r = invoke(t, "/bin/echo not-a-psrp-server", "--", "1")
	if r.code != exitConnect || !strings.Contains(r.stderr, "psmux:") {
		t.Fatalf("bogus server: %d %q", r.code, r.stderr)
	}
}

// TestPeerRendering checks that objects from a server that does not
// format (psrpcore's) are formatted locally the way pwsh shows them.
func TestPeerRendering(t *testing.T) {
	src := psrpcoreSrc(t, true)
	server := peerServer(src)
	r := invoke(t, server, "--", "Get-Service")
	for _, want := range []string{"Status", "Name", "DisplayName", "------", "Running", "sshd"} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("Get-Service output lacks %q:\n%s", want, r.stdout)
		}
	}
	r = invoke(t, server, "--", "Get-Process")
	for _, want := range []string{"ProcessName", "Id"} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("Get-Process output lacks %q:\n%s", want, r.stdout)
		}
	}
	r = invoke(t, server, "--", "@{a=1}")
	for _, want := range []string{"Name", "Value", "----", "nested"} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("hashtable output lacks %q:\n%s", want, r.stdout)
		}
	}
	r = invoke(t, server, "--", "Write-Warning careful")
	if !strings.Contains(r.stderr, "WARNING: careful") || r.code != 0 {
		t.Fatalf("warning: %d %q", r.code, r.stderr)
	}
	r = invoke(t, server, "--", "Write-Progress -Activity A; 'done'")
	if r.code != 0 || !strings.Contains(r.stdout, "done") {
		t.Fatalf("progress: %d %q %q", r.code, r.stdout, r.stderr)
	}
}

// TestPsrpcoreClientDrivesPwshsim runs psrpcore's independent client
// against pwshsim -s through the scenarios of the peers' self-test.
func TestPsrpcoreClientDrivesPwshsim(t *testing.T) {
	src := psrpcoreSrc(t, true)
	client, _ := filepath.Abs(filepath.Join(sharedDir(), "peers", "psrpcore_oop_client.py"))
	cases := []struct {
		name string
		want int
		pats []string
		args []string
	}{
		{"open-echo", 0, []string{`"state": "Opened"`, `"value": "hi"`, `"state": "Completed"`, `"state": "Closed"`}, []string{"--script", "echo hi"}},
		{"objects", 0, []string{`"PipelineOutput"`, `"a": 1`}, []string{"--script", "Get-Date", "--script", "@{a=1}", "--script", "[pscustomobject]@{n='x'}"}},
		{"streams", 0, []string{`"ErrorRecord"`, `"WarningRecord"`, `"VerboseRecord"`, `"DebugRecord"`, `"InformationRecord"`, `"ProgressRecord"`},
			[]string{"--script", "Write-Error e; Write-Warning w; Write-Verbose v -Verbose; Write-Debug d -Debug; Write-Information i", "--script", "Write-Progress -Activity A -PercentComplete 50"}},
		{"host-calls", 0, []string{`"method": "ReadLine"`, `"method": "PromptForCredential1"`, `"method": "PromptForChoice"`, `"value": "peer-input"`},
			[]string{"--readline", "peer-input", "--credential", "peer-user:pw", "--choice", "1", "--script", "Read-Host", "--script", "Get-Credential", "--script", "$host.UI.PromptForChoice('c','m',@('&Yes','&No'),0)"}},
		{"failed", 1, []string{`"state": "Failed"`, `kaboom`}, []string{"--script", `throw "kaboom"`}},
		{"stop", 0, []string{`"SignalSent"`, `"state": "Stopped"`}, []string{"--stop-after", "1", "--expect-state", "Stopped", "--script", "Start-Sleep -Seconds 30"}},
		{"input", 0, []string{`"value": "two"`}, []string{"--input", `[1, "two"]`, "--script", "$input"}},
		{"parallel", 0, []string{`"pipeline": 0, "value": "a2"`, `"pipeline": 1, "ci": 1, "method": "ReadLine"`, `"pipeline": 2, "value": "c"`},
			[]string{"--parallel", "--max-runspaces", "3", "--script", "echo a; Start-Sleep -Seconds 1; echo a2", "--script", "Read-Host", "--script", "echo c"}},
		{"multifragment", 0, []string{`"state": "Completed"`}, []string{"--fragment-size", "200", "--script", "'x' * 100000"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			server := []string{pwshsimBin(), "-s"}
			if c.name == "multifragment" {
				server = append(server, "-fragment-size", "500")
			}
			args := append([]string{client, "--timeout", "60"}, c.args...)
			args = append(append(args, "--"), server...)
			cmd := command(python(), args...)
			cmd.Env = append(os.Environ(), "PSRPCORE_SRC="+src)
			out, err := cmd.CombinedOutput()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != c.want {
				t.Fatalf("exit %d, want %d:\n%s", code, c.want, out)
			}
			for _, p := range c.pats {
				if !strings.Contains(string(out), p) {
					t.Fatalf("output lacks %s:\n%s", p, out)
				}
			}
		})
	}
}
