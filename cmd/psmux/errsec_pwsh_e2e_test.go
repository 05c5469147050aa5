package main

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/psmux/psmux/mux"
	"github.com/psmux/psmux/testenv/opensshd"
	req "github.com/psmux/psmux/testenv/require"
)

// What pwsh 7.6.9's Enter-PSSession prints for a failed command: its
// console sends the failure's error record to the server's Out-Default
// (ConsoleHost.ReportException), which finds a deserialized record and
// writes "Error: " and the exception's message.
const (
	midScript = `"before"; throw "mid"; "after"`
	midError  = "Error: mid\n"
)

var pwshFailures = []struct{ script, stderr, reason string }{
	{`throw "bad"`, "Error: bad\n", "bad"},
	{`Get-Item /nope -ErrorAction Stop`, "Error: Cannot find path '/nope' because it does not exist.\n",
		"Cannot find path '/nope' because it does not exist."},
	{`1 +* 2`, "Error: At line:1 char:4\n+ 1 +* 2\n+    ~\nYou must provide a value expression following the '+' operator.\n",
		"At line:1 char:4\n+ 1 +* 2\n+    ~\nYou must provide a value expression following the '+' operator."},
	{`}`, "Error: At line:1 char:1\n+ }\n+ ~\nUnexpected token '}' in expression or statement.\n",
		"At line:1 char:1\n+ }\n+ ~\nUnexpected token '}' in expression or statement."},
}

// errServers are pwshsim and real pwsh (psrpcore's peer has no throw).
func errServers(t *testing.T) map[string]string {
	out := servers(t)
	delete(out, "psrpcore")
	return out
}

// jsonLines decodes NDJSON output.
func jsonLines(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not JSON: %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

// stateLines are the NDJSON lines that close a command.
func stateLines(t *testing.T, s string) []map[string]any {
	var out []map[string]any
	for _, m := range jsonLines(t, s) {
		if _, ok := m["state"]; ok {
			out = append(out, m)
		}
	}
	return out
}

func wantFailedState(t *testing.T, what, out, reason string) {
	t.Helper()
	st := stateLines(t, out)
	if len(st) == 0 {
		t.Fatalf("%s: no state line in %q", what, out)
	}
	last := st[len(st)-1]
	if last["state"] != "Failed" || last["had_errors"] != true || last["reason"] != reason {
		t.Fatalf("%s: state line %v; want Failed with reason %q", what, last, reason)
	}
}

// TestFailedPipelineShownLikePwsh: a terminating error prints what
// pwsh's own client prints, through invoke, a live server's exec, and
// capture replaying the server's log; --json state lines carry the
// failure as reason.
func TestFailedPipelineShownLikePwsh(t *testing.T) {
	for name, server := range errServers(t) {
		t.Run(name, func(t *testing.T) {
			r := invoke(t, server, "--", midScript)
			if r.code != 1 || r.stdout != "before\n" || r.stderr != midError {
				t.Fatalf("invoke: exit %d, stdout %q, stderr %q; want 1, %q, %q", r.code, r.stdout, r.stderr, "before\n", midError)
			}
			r = invoke(t, server, "--json", "--", midScript)
			if r.code != 1 || strings.Contains(r.stdout, "after") {
				t.Fatalf("invoke --json: exit %d, stdout %q", r.code, r.stdout)
			}
			wantFailedState(t, "invoke --json", r.stdout, "mid")

			m := newMuxEnv(t)
			m.must("new", "-n", "a", "--local", "--pwsh", server)
			r = m.run("exec", "-t", "a", "--", midScript)
			if r.code != 1 || r.stdout != "before\n" || r.stderr != midError {
				t.Fatalf("exec: exit %d, stdout %q, stderr %q; want 1, %q, %q", r.code, r.stdout, r.stderr, "before\n", midError)
			}
			r = m.run("exec", "--json", "-t", "a", "--", midScript)
			if r.code != 1 {
				t.Fatalf("exec --json: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
			wantFailedState(t, "exec --json", r.stdout, "mid")

			c := m.must("capture", "-t", "a")
			if !strings.Contains(c.stdout, "PS> "+midScript+"\nbefore\n") || !strings.Contains(c.stderr, midError) {
				t.Fatalf("capture: stdout %q, stderr %q; want the command, before, and %q", c.stdout, c.stderr, midError)
			}
			c = m.must("capture", "--json", "-t", "a")
			st := stateLines(t, c.stdout)
			if len(st) != 2 || st[0]["reason"] != "mid" || st[1]["reason"] != "mid" || st[0]["state"] != "Failed" {
				t.Fatalf("capture --json: state lines %v; want two Failed with reason mid\n%s", st, c.stdout)
			}
			if !strings.Contains(c.stdout, `"stream":"Host","value":"Error: mid"`) {
				t.Fatalf("capture --json does not replay the error:\n%s", c.stdout)
			}
		})
	}
}

// TestFailedPipelineTextsOfPwsh: the texts of pwsh 7.6.9's
// Enter-PSSession for a throw, a cmdlet's terminating error and parse
// errors, through invoke and exec.
func TestFailedPipelineTextsOfPwsh(t *testing.T) {
	server := req.PwshServer(t)
	m := newMuxEnv(t)
	m.must("new", "-n", "a", "--local", "--pwsh", server)
	for _, f := range pwshFailures {
		r := invoke(t, server, "--", f.script)
		if r.code != 1 || r.stdout != "" || r.stderr != f.stderr {
			t.Errorf("invoke %s: exit %d, stdout %q, stderr %q; want 1, \"\", %q", f.script, r.code, r.stdout, r.stderr, f.stderr)
		}
		r = m.run("exec", "-t", "a", "--", f.script)
		if r.code != 1 || r.stdout != "" || r.stderr != f.stderr {
			t.Errorf("exec %s: exit %d, stdout %q, stderr %q; want 1, \"\", %q", f.script, r.code, r.stdout, r.stderr, f.stderr)
		}
		r = m.run("exec", "--json", "-t", "a", "--", f.script)
		wantFailedState(t, "exec --json "+f.script, r.stdout, f.reason)
	}
}

// TestREPLFailedCommandIsRed: throw typed in the REPL inside a session
// shows pwsh's text, in red.
func TestREPLFailedCommandIsRed(t *testing.T) {
	opensshd.Require(t)
	for name, sub := range subsystems(t) {
		t.Run(name, func(t *testing.T) {
			x := newTmux(t, startSshd(t, sub))
			w := x.start("one")
			x.waitPrompt(w, `^PS psmux>$`)
			x.line(w, "New-PSSession -HostName psmux-test -Name w1")
			x.waitPrompt(w, `^PS psmux>$`)
			x.line(w, "Enter-PSSession w1")
			x.waitPrompt(w, w1Prompt)
			x.line(w, `"before"; throw "xyzzy"; "after"`)
			x.waitFor(w, "Error: xyzzy")
			x.waitPrompt(w, w1Prompt)
			red := false
			for _, l := range strings.Split(x.screen(w, true), "\n") {
				if strings.Contains(l, "Error: xyzzy") && !strings.Contains(l, "throw") &&
					(strings.Contains(l, "\x1b[91m") || strings.Contains(l, "\x1b[31m")) {
					red = true
				}
			}
			if !red {
				t.Fatalf("the error is not red:\n%q", x.screen(w, true))
			}
			if s := x.screen(w, false); !strings.Contains(s, "\nbefore\n") || strings.Contains(s, "\nafter\n") {
				t.Fatalf("want before and no after:\n%s", s)
			}
		})
	}
}

// secretOut makes SecureStrings: alone, in a hashtable, in a property
// and, with real pwsh, in a PSCredential.
const secretOut = `ConvertTo-SecureString "abc" -AsPlainText; @{s = ConvertTo-SecureString "abc" -AsPlainText}; [pscustomobject]@{s = ConvertTo-SecureString "abc" -AsPlainText; n = 1}`

// secretB64 is "abc" as pwsh sends a SecureString without a session key
// (UTF-16LE, base64).
const secretB64 = "YQBiAGMA"

func checkSecretJSON(t *testing.T, what, out string, pscred bool) {
	t.Helper()
	const ss = "System.Security.SecureString"
	if strings.Contains(out, secretB64) || strings.Contains(out, `"SecureString"`) {
		t.Fatalf("%s shows the SecureString's contents:\n%s", what, out)
	}
	var vals []any
	for _, m := range jsonLines(t, out) {
		if v, ok := m["value"]; ok && m["stream"] == "Output" {
			vals = append(vals, v)
		}
	}
	want := []any{ss, map[string]any{"s": ss}, map[string]any{"s": ss, "n": float64(1)}}
	if pscred {
		want = append(want, map[string]any{"UserName": "u", "Password": ss})
	}
	got, _ := json.Marshal(vals)
	exp, _ := json.Marshal(want)
	if string(got) != string(exp) {
		t.Fatalf("%s values %s; want %s\n%s", what, got, exp, out)
	}
}

// TestSecureStringNeverShown: SecureStrings (alone and nested) show as
// System.Security.SecureString in text and JSON, through invoke and a
// live server, and the server's log and state keep neither their
// plaintext nor their ciphertext.
func TestSecureStringNeverShown(t *testing.T) {
	for name, server := range errServers(t) {
		t.Run(name, func(t *testing.T) {
			script, pscred := secretOut, name == "pwsh"
			if pscred {
				script += `; New-Object PSCredential "u", (ConvertTo-SecureString "abc" -AsPlainText)`
			}
			r := invoke(t, server, "--json", "--", script)
			if r.code != 0 {
				t.Fatalf("invoke --json: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
			checkSecretJSON(t, "invoke --json", r.stdout, pscred)
			r = invoke(t, server, "--", script)
			if r.code != 0 || strings.Count(r.stdout, "System.Security.SecureString") < 3 || strings.Contains(r.stdout, secretB64) {
				t.Fatalf("invoke: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}

			m := newMuxEnv(t)
			m.must("new", "-n", "a", "--local", "--pwsh", server)
			r = m.must("exec", "--json", "-t", "a", "--", script)
			checkSecretJSON(t, "exec --json", r.stdout, pscred)
			m.must("exec", "-t", "a", "--", script)
			m.run("exec", "-t", "a", "--", `throw (ConvertTo-SecureString "abc" -AsPlainText)`)
			m.run("exec", "--json", "-t", "a", "--", `throw (ConvertTo-SecureString "abc" -AsPlainText)`)
			c := m.must("capture", "--json", "-t", "a")
			if strings.Contains(c.stdout, secretB64) || strings.Contains(c.stdout, `"SecureString"`) {
				t.Fatalf("capture --json shows the SecureString's contents:\n%s", c.stdout)
			}
			c = m.must("capture", "-t", "a")
			if strings.Contains(c.stdout+c.stderr, secretB64) {
				t.Fatalf("capture shows the SecureString's contents:\n%s%s", c.stdout, c.stderr)
			}

			// The log itself, as the socket serves it: every SecureString
			// in it is empty.
			conn, err := net.Dial("unix", m.sock)
			if err != nil {
				t.Fatal(err)
			}
			cl, err := mux.NewClient(conn, "errsec-test", false)
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var logged []string
			if _, err := cl.Call(ctx, "capture", mux.CaptureArgs{Target: "a"}, func(e mux.Seq) {
				logged = append(logged, e.XML)
			}); err != nil {
				t.Fatal(err)
			}
			all := strings.Join(logged, "\n")
			if !strings.Contains(all, "<SS") {
				t.Fatalf("no SecureString in the log at all:\n%s", all)
			}
			for _, x := range logged {
				for rest := x; strings.Contains(rest, "<SS>"); {
					i := strings.Index(rest, "<SS>")
					rest = rest[i+4:]
					if !strings.HasPrefix(rest, "</SS>") {
						t.Fatalf("the log keeps a SecureString's contents: %s", x)
					}
				}
			}
			// Nothing the server wrote to disk holds it either.
			filepath.Walk(m.state, func(p string, fi os.FileInfo, err error) error {
				if err != nil || fi.IsDir() {
					return nil
				}
				if data, _ := os.ReadFile(p); strings.Contains(string(data), secretB64) {
					t.Errorf("%s holds the SecureString", p)
				}
				return nil
			})
		})
	}
}
