package repl_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/psmux/psmux/internal/e2e"
)

// exit, exit N and Exit-PSSession inside a function leave the session as
// Enter-PSSession does (SetShouldExit / PopRunspace); the session stays.
func TestREPLExitInSessionLeaves(t *testing.T) {
	e2e.ForSubsystems(t, func(t *testing.T, x *e2e.TmuxEnv, w string) {
		for _, cmd := range []string{"if ($true) { exit }", "exit 3", "function bye { Exit-PSSession }; bye"} {
			x.Line(w, cmd)
			s := x.WaitPrompt(w, e2e.LocalPromptRe)
			if strings.Contains(s, "positional parameter") {
				t.Fatalf("%s: %s", cmd, s)
			}
			if rows := x.M.Ls(); len(rows) != 1 || rows[0].State != "Opened" {
				t.Fatalf("%s: the session did not stay: %+v", cmd, rows)
			}
			x.Line(w, "Enter-PSSession w1")
			x.WaitPrompt(w, e2e.W1Prompt)
		}
	})
}

// Write-Host's colours reach the terminal.
func TestREPLWriteHostColours(t *testing.T) {
	e2e.ForSubsystems(t, func(t *testing.T, x *e2e.TmuxEnv, w string) {
		x.Line(w, "Write-Host -ForegroundColor Green ('gr'+'een'); Write-Host -BackgroundColor Red ('on'+'red')")
		x.WaitFor(w, "onred")
		x.WaitPrompt(w, e2e.W1Prompt)
		e := x.Screen(w, true)
		if !regexp.MustCompile(`\x1b\[(\d+;)*(92|32)(;\d+)*m(\x1b\[[0-9;]*m)*green`).MatchString(e) {
			t.Fatalf("green is not green:\n%q", e)
		}
		if !regexp.MustCompile(`\x1b\[(\d+;)*(101|41)(;\d+)*m(\x1b\[[0-9;]*m)*onred`).MatchString(e) {
			t.Fatalf("onred has no red background:\n%q", e)
		}
	})
}

// $Host.UI.RawUI.WindowSize and BufferSize are the pane's size, in
// commands and in the prompt function, and follow it when it changes.
func TestREPLHostSizeIsTerminal(t *testing.T) {
	x, w := e2e.ReplPwsh(t)
	x.Line(w, `function prompt { "W$($Host.UI.RawUI.WindowSize.Width)> " }`)
	check := func() {
		t.Helper()
		size := strings.TrimSpace(x.Tmux("display", "-p", "-t", w, "#{pane_width}x#{pane_height}"))
		// tmux resizes the pane's terminal in its own time after
		// resize-window returns: a command may still see the old size
		for deadline := time.Now().Add(30 * time.Second); ; {
			x.Tmux("send-keys", "-t", w, "C-l")
			x.Line(w, `$r = $Host.UI.RawUI; "size=$($r.WindowSize.Width)x$($r.WindowSize.Height) buffer=$($r.BufferSize.Width)x$($r.BufferSize.Height)"`)
			s := x.Wait(w, "the size", func(s string) bool {
				return regexp.MustCompile(`(?m)^size=`).MatchString(s) && strings.HasPrefix(e2e.LastLine(s), "[w1]: W")
			})
			if want := "size=" + size + " buffer=" + size; strings.Contains(s, want) {
				break
			} else if time.Now().After(deadline) {
				t.Fatalf("want %s:\n%s", want, s)
			}
		}
		x.WaitPrompt(w, `^\[w1\]: W`+strings.Split(size, "x")[0]+`>$`)
	}
	check()
	x.Tmux("resize-window", "-t", w, "-x", "97", "-y", "31")
	check()
}

// Secure and credential prompts carry pwsh's client warnings, secure
// input echoes *, and an array field is asked until an empty line.
func TestREPLSecurePromptsAsPwshClient(t *testing.T) {
	x, w := e2e.ReplPwsh(t)
	x.Line(w, `$s = Read-Host -AsSecureString 'pw'; "len=$($s.Length)"`)
	x.WaitFor(w, "WARNING: A script or application on the remote computer PSMUX-TEST is sending a prompt request.")
	x.Secret(w, "pw:", "abc")
	x.WaitFor(w, "len=3")
	x.WaitPrompt(w, e2e.W1Prompt)

	x.Tmux("send-keys", "-t", w, "C-l")
	x.Line(w, `$c = Get-Credential -Message 'msgtext'; "user=$($c.UserName)"`)
	x.Wait(w, "User:", func(s string) bool { return strings.HasPrefix(e2e.LastLine(s), "User:") })
	s := x.Screen(w, false)
	for _, want := range []string{"PowerShell Credential Request: PowerShell credential request",
		"Warning: A script or application on the remote computer PSMUX-TEST is requesting your credentials.", "msgtext"} {
		if !strings.Contains(strings.ReplaceAll(s, "\n", ""), want) {
			t.Fatalf("no %q:\n%s", want, s)
		}
	}
	x.Line(w, "bob")
	x.Secret(w, "Password for user bob:", "pw12")
	x.WaitFor(w, "user=bob")
	x.WaitPrompt(w, e2e.W1Prompt)

	x.Tmux("send-keys", "-t", w, "C-l")
	x.Line(w, `$f = [System.Management.Automation.Host.FieldDescription]::new('names'); $f.SetParameterType([string[]]); $r = $Host.UI.Prompt('cap', 'msg', [System.Management.Automation.Host.FieldDescription[]]@($f)); 'got=' + ($r['names'] -join '|')`)
	for i, a := range []string{"a", "b", ""} {
		x.Wait(w, fmt.Sprintf("names[%d]:", i), func(s string) bool { return e2e.LastLine(s) == fmt.Sprintf("names[%d]:", i) })
		x.Line(w, a)
	}
	s = x.WaitFor(w, "got=a|b")
	x.WaitPrompt(w, e2e.W1Prompt)
	if strings.Contains(s, "not recognized") {
		t.Fatalf("answers ran as commands:\n%s", s)
	}
}

// Tab completes after a character outside the BMP (TabExpansion2
// counts UTF-16 code units), and on a line with PowerShell's other
// quote characters.
func TestREPLTabCompletionUnicode(t *testing.T) {
	e2e.ForSubsystems(t, func(t *testing.T, x *e2e.TmuxEnv, w string) {
		for _, typed := range []string{"'😀😀😀😀😀😀😀😀'; Get-Loc", "'it’’s'; Get-Loc", "“it’s”; Get-Loc"} {
			x.Tmux("send-keys", "-t", w, "-l", typed)
			x.Keys(w, "Tab")
			want := strings.TrimSuffix(typed, "Get-Loc") + "Get-Location"
			x.Wait(w, want, func(s string) bool { return strings.HasSuffix(e2e.LastLine(s), want) })
			x.Keys(w, "C-u")
			x.WaitPrompt(w, e2e.W1Prompt)
		}
	})
	// pwsh completes a file whose name has ’ to a quoted path, ’ doubled
	t.Run("pwsh path", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "it’s-a-file.txt"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		x, w := e2e.ReplPwsh(t)
		x.Tmux("send-keys", "-t", w, "-l", "Get-Item '"+filepath.Join(dir, "it’’s-a-f"))
		x.Keys(w, "Tab")
		want := "'" + filepath.Join(dir, "it'’s-a-file.txt") + "'"
		x.Wait(w, want, func(s string) bool { return strings.HasSuffix(e2e.LastLine(s), want) })
	})
}

// A prompt function's Write-Host output shows before the prompt, in its
// colour, as pwsh's client shows it.
func TestREPLPromptFunctionWriteHost(t *testing.T) {
	e2e.ForSubsystems(t, func(t *testing.T, x *e2e.TmuxEnv, w string) {
		x.Line(w, `function prompt { Write-Host 'above'; Write-Host -NoNewline -ForegroundColor Cyan '[x] '; 'PS> ' }`)
		x.WaitPrompt(w, `^\[x\] \[w1\]: PS>$`)
		s := x.Screen(w, true)
		if !regexp.MustCompile(`(?m)^above\n\x1b\[(\d+;)*(96|36)(;\d+)*m\[x\] `).MatchString(s) {
			t.Fatalf("the prompt's host output:\n%q", s)
		}
	})
}

// Lines pasted in one go (plain and bracketed) run one at a time, and a
// line after a command that asks answers it, as typed-ahead lines do:
// Read-Host takes "Bob", which does not also run as a command.
func TestREPLPastedLineAnswersTheCommandBeforeIt(t *testing.T) {
	e2e.ForSubsystems(t, func(t *testing.T, x *e2e.TmuxEnv, w string) {
		for round, bracketed := range []bool{false, true} {
			x.Tmux("set-buffer", "-b", "ans", fmt.Sprintf("$a = Read-Host 'name'\nBob%d\n\"got $a\"\n", round))
			args := []string{"paste-buffer", "-b", "ans", "-t", w}
			if bracketed {
				args = append(args, "-p")
			}
			x.Tmux(args...)
			want := fmt.Sprintf("got Bob%d", round)
			x.Wait(w, want, func(s string) bool { return strings.Contains(s, want) || strings.Contains(s, "not recognized") })
			s := x.WaitPrompt(w, e2e.W1Prompt)
			if !strings.Contains(s, want) || strings.Contains(s, "not recognized") {
				t.Fatalf("round %d (bracketed %v): the pasted answer did not reach Read-Host:\n%s", round, bracketed, s)
			}
		}
	})
}
