package failures_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/psmux/psmux/internal/e2e"
	"github.com/psmux/psmux/mux"
	"github.com/psmux/psmux/testenv/opensshd"
	req "github.com/psmux/psmux/testenv/require"
)

// TestFailedPipelineShownLikePwsh: a terminating error prints what
// pwsh's own client prints, through invoke, a live server's exec, and
// capture replaying the server's log; --json state lines carry the
// failure as reason.
func TestFailedPipelineShownLikePwsh(t *testing.T) {
	for name, server := range e2e.ErrServers(t) {
		t.Run(name, func(t *testing.T) {
			r := e2e.Invoke(t, server, "--", e2e.MidScript)
			if r.Code != 1 || r.Stdout != "before\n" || r.Stderr != e2e.MidError {
				t.Fatalf("invoke: exit %d, stdout %q, stderr %q; want 1, %q, %q", r.Code, r.Stdout, r.Stderr, "before\n", e2e.MidError)
			}
			r = e2e.Invoke(t, server, "--json", "--", e2e.MidScript)
			if r.Code != 1 || strings.Contains(r.Stdout, "after") {
				t.Fatalf("invoke --json: exit %d, stdout %q", r.Code, r.Stdout)
			}
			e2e.WantFailedState(t, "invoke --json", r.Stdout, "mid")

			m := e2e.NewMuxEnv(t)
			m.Must("new", "-n", "a", "--local", "--pwsh", server)
			r = m.Run("exec", "-t", "a", "--", e2e.MidScript)
			if r.Code != 1 || r.Stdout != "before\n" || r.Stderr != e2e.MidError {
				t.Fatalf("exec: exit %d, stdout %q, stderr %q; want 1, %q, %q", r.Code, r.Stdout, r.Stderr, "before\n", e2e.MidError)
			}
			r = m.Run("exec", "--json", "-t", "a", "--", e2e.MidScript)
			if r.Code != 1 {
				t.Fatalf("exec --json: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
			}
			e2e.WantFailedState(t, "exec --json", r.Stdout, "mid")

			c := m.Must("capture", "-t", "a")
			if !strings.Contains(c.Stdout, "PS> "+e2e.MidScript+"\nbefore\n") || !strings.Contains(c.Stderr, e2e.MidError) {
				t.Fatalf("capture: stdout %q, stderr %q; want the command, before, and %q", c.Stdout, c.Stderr, e2e.MidError)
			}
			c = m.Must("capture", "--json", "-t", "a")
			st := e2e.StateLines(t, c.Stdout)
			if len(st) != 2 || st[0]["reason"] != "mid" || st[1]["reason"] != "mid" || st[0]["state"] != "Failed" {
				t.Fatalf("capture --json: state lines %v; want two Failed with reason mid\n%s", st, c.Stdout)
			}
			if !strings.Contains(c.Stdout, `"stream":"Host","value":"Error: mid"`) {
				t.Fatalf("capture --json does not replay the error:\n%s", c.Stdout)
			}
		})
	}
}

// TestFailedPipelineTextsOfPwsh: the texts of pwsh 7.6.9's
// Enter-PSSession for a throw, a cmdlet's terminating error and parse
// errors, through invoke and exec.
func TestFailedPipelineTextsOfPwsh(t *testing.T) {
	server := req.PwshServer(t)
	m := e2e.NewMuxEnv(t)
	m.Must("new", "-n", "a", "--local", "--pwsh", server)
	for _, f := range e2e.PwshFailures {
		r := e2e.Invoke(t, server, "--", f.Script)
		if r.Code != 1 || r.Stdout != "" || r.Stderr != f.Stderr {
			t.Errorf("invoke %s: exit %d, stdout %q, stderr %q; want 1, \"\", %q", f.Script, r.Code, r.Stdout, r.Stderr, f.Stderr)
		}
		r = m.Run("exec", "-t", "a", "--", f.Script)
		if r.Code != 1 || r.Stdout != "" || r.Stderr != f.Stderr {
			t.Errorf("exec %s: exit %d, stdout %q, stderr %q; want 1, \"\", %q", f.Script, r.Code, r.Stdout, r.Stderr, f.Stderr)
		}
		r = m.Run("exec", "--json", "-t", "a", "--", f.Script)
		e2e.WantFailedState(t, "exec --json "+f.Script, r.Stdout, f.Reason)
	}
}

// TestREPLFailedCommandIsRed: throw typed in the REPL inside a session
// shows pwsh's text, in red.
func TestREPLFailedCommandIsRed(t *testing.T) {
	opensshd.Require(t)
	for name, sub := range e2e.Subsystems(t) {
		t.Run(name, func(t *testing.T) {
			x := e2e.NewTmux(t, e2e.StartSshd(t, sub))
			w := x.Start("one")
			x.WaitPrompt(w, `^PS psmux>$`)
			x.Line(w, "New-PSSession -HostName psmux-test -Name w1")
			x.WaitPrompt(w, `^PS psmux>$`)
			x.Line(w, "Enter-PSSession w1")
			x.WaitPrompt(w, e2e.W1Prompt)
			x.Line(w, `"before"; throw "xyzzy"; "after"`)
			x.WaitFor(w, "Error: xyzzy")
			x.WaitPrompt(w, e2e.W1Prompt)
			red := false
			for _, l := range strings.Split(x.Screen(w, true), "\n") {
				if strings.Contains(l, "Error: xyzzy") && !strings.Contains(l, "throw") &&
					(strings.Contains(l, "\x1b[91m") || strings.Contains(l, "\x1b[31m")) {
					red = true
				}
			}
			if !red {
				t.Fatalf("the error is not red:\n%q", x.Screen(w, true))
			}
			if s := x.Screen(w, false); !strings.Contains(s, "\nbefore\n") || strings.Contains(s, "\nafter\n") {
				t.Fatalf("want before and no after:\n%s", s)
			}
		})
	}
}

// TestSecureStringNeverShown: SecureStrings (alone and nested) show as
// System.Security.SecureString in text and JSON, through invoke and a
// live server, and the server's log and state keep neither their
// plaintext nor their ciphertext.
func TestSecureStringNeverShown(t *testing.T) {
	for name, server := range e2e.ErrServers(t) {
		t.Run(name, func(t *testing.T) {
			script, pscred := e2e.SecretOut, name == "pwsh"
			if pscred {
				script += `; New-Object PSCredential "u", (ConvertTo-SecureString "abc" -AsPlainText)`
			}
			r := e2e.Invoke(t, server, "--json", "--", script)
			if r.Code != 0 {
				t.Fatalf("invoke --json: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
			}
			e2e.CheckSecretJSON(t, "invoke --json", r.Stdout, pscred)
			r = e2e.Invoke(t, server, "--", script)
			if r.Code != 0 || strings.Count(r.Stdout, "System.Security.SecureString") < 3 || strings.Contains(r.Stdout, e2e.SecretB64) {
				t.Fatalf("invoke: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
			}

			m := e2e.NewMuxEnv(t)
			m.Must("new", "-n", "a", "--local", "--pwsh", server)
			r = m.Must("exec", "--json", "-t", "a", "--", script)
			e2e.CheckSecretJSON(t, "exec --json", r.Stdout, pscred)
			m.Must("exec", "-t", "a", "--", script)
			m.Run("exec", "-t", "a", "--", `throw (ConvertTo-SecureString "abc" -AsPlainText)`)
			m.Run("exec", "--json", "-t", "a", "--", `throw (ConvertTo-SecureString "abc" -AsPlainText)`)
			c := m.Must("capture", "--json", "-t", "a")
			if strings.Contains(c.Stdout, e2e.SecretB64) || strings.Contains(c.Stdout, `"SecureString"`) {
				t.Fatalf("capture --json shows the SecureString's contents:\n%s", c.Stdout)
			}
			c = m.Must("capture", "-t", "a")
			if strings.Contains(c.Stdout+c.Stderr, e2e.SecretB64) {
				t.Fatalf("capture shows the SecureString's contents:\n%s%s", c.Stdout, c.Stderr)
			}

			// The log itself, as the socket serves it: every SecureString
			// in it is empty.
			cl := m.Client("errsec-test", false)
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
			filepath.Walk(m.State, func(p string, fi os.FileInfo, err error) error {
				if err != nil || fi.IsDir() {
					return nil
				}
				if data, _ := os.ReadFile(p); strings.Contains(string(data), e2e.SecretB64) {
					t.Errorf("%s holds the SecureString", p)
				}
				return nil
			})
		})
	}
}

// TestExecColoursLikeInvoke: on a terminal, exec shows errors in red
// and warnings in yellow, as invoke (and pwsh's console) does; with
// NO_COLOR, neither does.
func TestExecColoursLikeInvoke(t *testing.T) {
	for name, server := range e2e.PwshServers(t) {
		t.Run(name, func(t *testing.T) {
			for _, noColor := range []bool{false, true} {
				var env []string
				if noColor {
					env = []string{"NO_COLOR=1"}
				}
				x := e2e.NewTmux(t, nil, env...)
				x.M.Must("new", "-n", "a", "--local", "--pwsh", server)
				const script = `'Write-Error bad; Write-Warning careful'`
				for _, cmd := range [][]string{{"exec", "-t", "a", "--", script}, {"invoke", "--local", "--pwsh", "'" + server + "'", "--", script}} {
					w := x.Start(cmd[0], cmd...)
					x.WaitFor(w, "psmux-exited-")
					var red, yellow, plain bool
					for _, l := range strings.Split(x.Screen(w, true), "\n") {
						red = red || strings.Contains(l, "Write-Error: bad") && strings.Contains(l, "\x1b[91m")
						yellow = yellow || strings.Contains(l, "WARNING: careful") && strings.Contains(l, "\x1b[93m")
						plain = plain || strings.Contains(l, "WARNING: careful") && !strings.Contains(l, "\x1b[")
					}
					if noColor && (red || yellow || !plain) || !noColor && !(red && yellow) {
						t.Fatalf("%s (NO_COLOR %v): red error %v, yellow warning %v:\n%q", cmd[0], noColor, red, yellow, x.Screen(w, true))
					}
				}
			}
		})
	}
}
