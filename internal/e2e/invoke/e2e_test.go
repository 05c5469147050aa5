package invoke_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/psmux/psmux/internal/e2e"
)

func TestInvokeLocal(t *testing.T) {
	for name, server := range e2e.Servers(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			script := `$x = 40 + 2; "answer: $x"`
			if name == "psrpcore" { // a scripted server: no variables
				script = `'answer: 42'`
			}
			r := e2e.Invoke(t, server, "--", script)
			if r.Code != 0 || strings.TrimSpace(r.Stdout) != "answer: 42" || r.Stderr != "" {
				t.Fatalf("%s: exit %d stdout %q stderr %q", script, r.Code, r.Stdout, r.Stderr)
			}
			r = e2e.Invoke(t, server, "--", "Write-Error boom")
			if r.Code != 1 || !strings.Contains(r.Stderr, "boom") || strings.Contains(r.Stdout, "boom") {
				t.Fatalf("Write-Error: exit %d stdout %q stderr %q", r.Code, r.Stdout, r.Stderr)
			}
			r = e2e.Invoke(t, server, "--", `throw "bad"`)
			if r.Code != 1 || !strings.Contains(r.Stderr, "bad") {
				t.Fatalf("throw: exit %d stderr %q", r.Code, r.Stderr)
			}
			r = e2e.Invoke(t, server, "--json", "--", "1..3")
			if r.Code != 0 {
				t.Fatalf("--json: exit %d stderr %q", r.Code, r.Stderr)
			}
			var values []string
			var final map[string]any
			sc := bufio.NewScanner(strings.NewReader(r.Stdout))
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
				t.Fatalf("--json 1..3: values %v final %v\n%s", values, final, r.Stdout)
			}
		})
	}
}

// TestInvokeCtrlCStops sends SIGINT while Start-Sleep 30 runs: psmux must
// stop the pipeline with a Signal (the pipeline ends Stopped) and exit 4.
func TestInvokeCtrlCStops(t *testing.T) {
	for name, server := range e2e.Servers(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e2e.InvokeInterrupted(t, "--local", "--pwsh", server)
		})
	}
}

func TestInvokeUsageAndMissingPwsh(t *testing.T) {
	r := e2e.Invoke(t, e2e.PwshsimBin()+" -s")
	if r.Code != e2e.ExitUsage || !strings.Contains(r.Stderr, "no script") {
		t.Fatalf("no script: %d %q", r.Code, r.Stderr)
	}
	cmd := e2e.Command(e2e.PsmuxBin(), "invoke", "--local", "--", "1")
	cmd.Env = append(os.Environ(), "PATH=/nonexistent", "PSMUX_PWSH=")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != e2e.ExitConnect || !strings.Contains(string(out), "install PowerShell") {
		t.Fatalf("without pwsh: %v %q", err, out)
	}
	r = e2e.Invoke(t, "/bin/echo not-a-psrp-server", "--", "1")
	if r.Code != e2e.ExitConnect || !strings.Contains(r.Stderr, "psmux:") {
		t.Fatalf("bogus server: %d %q", r.Code, r.Stderr)
	}
}

// TestPeerRendering checks that objects from a server that does not
// format (psrpcore's) are formatted locally the way pwsh shows them.
func TestPeerRendering(t *testing.T) {
	src := e2e.PsrpcoreSrc(t, true)
	server := e2e.PeerServer(src)
	r := e2e.Invoke(t, server, "--", "Get-Service")
	for _, want := range []string{"Status", "Name", "DisplayName", "------", "Running", "sshd"} {
		if !strings.Contains(r.Stdout, want) {
			t.Fatalf("Get-Service output lacks %q:\n%s", want, r.Stdout)
		}
	}
	r = e2e.Invoke(t, server, "--", "Get-Process")
	for _, want := range []string{"ProcessName", "Id"} {
		if !strings.Contains(r.Stdout, want) {
			t.Fatalf("Get-Process output lacks %q:\n%s", want, r.Stdout)
		}
	}
	r = e2e.Invoke(t, server, "--", "@{a=1}")
	for _, want := range []string{"Name", "Value", "----", "nested"} {
		if !strings.Contains(r.Stdout, want) {
			t.Fatalf("hashtable output lacks %q:\n%s", want, r.Stdout)
		}
	}
	r = e2e.Invoke(t, server, "--", "Write-Warning careful")
	if !strings.Contains(r.Stderr, "WARNING: careful") || r.Code != 0 {
		t.Fatalf("warning: %d %q", r.Code, r.Stderr)
	}
	r = e2e.Invoke(t, server, "--", "Write-Progress -Activity A; 'done'")
	if r.Code != 0 || !strings.Contains(r.Stdout, "done") {
		t.Fatalf("progress: %d %q %q", r.Code, r.Stdout, r.Stderr)
	}
}

// TestPsrpcoreClientDrivesPwshsim runs psrpcore's independent client
// against pwshsim -s through the scenarios of the peers' self-test.
func TestPsrpcoreClientDrivesPwshsim(t *testing.T) {
	src := e2e.PsrpcoreSrc(t, true)
	client, _ := filepath.Abs(filepath.Join(e2e.SharedDir(), "peers", "psrpcore_oop_client.py"))
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
			server := []string{e2e.PwshsimBin(), "-s"}
			if c.name == "multifragment" {
				server = append(server, "-fragment-size", "500")
			}
			args := append([]string{client, "--timeout", "60"}, c.args...)
			args = append(append(args, "--"), server...)
			cmd := e2e.Command(e2e.Python(), args...)
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
