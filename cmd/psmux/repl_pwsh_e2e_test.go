package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/psmux/psmux/testenv/opensshd"
	req "github.com/psmux/psmux/testenv/require"
)

// REPL behaviours checked against pwsh's own Enter-PSSession: each test
// runs the REPL in real tmux over the real sshd, its Subsystem real pwsh
// (and pwshsim beside it where pwshsim can do the same).

// replOver is replWithSession over an sshd whose Subsystem is subsystem.
func replOver(t *testing.T, subsystem string, extraEnv ...string) (*tmuxEnv, string) {
	t.Helper()
	opensshd.Require(t)
	sshd := startSshd(t, subsystem)
	x := newTmux(t, sshd, extraEnv...)
	w := x.start("one")
	x.waitPrompt(w, `^PS psmux>$`)
	x.line(w, "New-PSSession -HostName psmux-test -Name w1")
	x.wait(w, "the row", func(s string) bool { return regexp.MustCompile(`\d+ w1 +SSH`).MatchString(s) })
	x.waitPrompt(w, `^PS psmux>$`)
	x.line(w, "Enter-PSSession w1")
	x.waitPrompt(w, w1Prompt)
	return x, w
}

// replPwsh is replOver with real pwsh as the Subsystem; it skips without
// pwsh, and fails under PSMUX_REQUIRE=pwsh.
func replPwsh(t *testing.T, extraEnv ...string) (*tmuxEnv, string) {
	t.Helper()
	p := realPwsh(t)
	if p == "" {
		req.Missing(t, req.Pwsh, "no pwsh: . shared/pwsh/env.sh")
	}
	return replOver(t, req.SSHS(p), extraEnv...)
}

// forSubsystems runs f against real pwsh and pwshsim.
func forSubsystems(t *testing.T, f func(t *testing.T, x *tmuxEnv, w string)) {
	t.Run("pwsh", func(t *testing.T) { x, w := replPwsh(t); f(t, x, w) })
	t.Run("pwshsim", func(t *testing.T) { x, w := replOver(t, subsystemCommand(t)); f(t, x, w) })
}

const localPromptRe = `^PS psmux>$`

// exit, exit N and Exit-PSSession inside a function leave the session as
// Enter-PSSession does (SetShouldExit / PopRunspace); the session stays.
func TestREPLExitInSessionLeaves(t *testing.T) {
	forSubsystems(t, func(t *testing.T, x *tmuxEnv, w string) {
		for _, cmd := range []string{"if ($true) { exit }", "exit 3", "function bye { Exit-PSSession }; bye"} {
			x.line(w, cmd)
			s := x.waitPrompt(w, localPromptRe)
			if strings.Contains(s, "positional parameter") {
				t.Fatalf("%s: %s", cmd, s)
			}
			if rows := x.m.ls(); len(rows) != 1 || rows[0].State != "Opened" {
				t.Fatalf("%s: the session did not stay: %+v", cmd, rows)
			}
			x.line(w, "Enter-PSSession w1")
			x.waitPrompt(w, w1Prompt)
		}
	})
}

// Write-Host's colours reach the terminal.
func TestREPLWriteHostColours(t *testing.T) {
	forSubsystems(t, func(t *testing.T, x *tmuxEnv, w string) {
		x.line(w, "Write-Host -ForegroundColor Green ('gr'+'een'); Write-Host -BackgroundColor Red ('on'+'red')")
		x.waitFor(w, "onred")
		x.waitPrompt(w, w1Prompt)
		e := x.screen(w, true)
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
	x, w := replPwsh(t)
	x.line(w, `function prompt { "W$($Host.UI.RawUI.WindowSize.Width)> " }`)
	check := func() {
		t.Helper()
		size := strings.TrimSpace(x.tmux("display", "-p", "-t", w, "#{pane_width}x#{pane_height}"))
		x.tmux("send-keys", "-t", w, "C-l")
		x.line(w, `$r = $Host.UI.RawUI; "size=$($r.WindowSize.Width)x$($r.WindowSize.Height) buffer=$($r.BufferSize.Width)x$($r.BufferSize.Height)"`)
		s := x.wait(w, "the size", func(s string) bool { return regexp.MustCompile(`(?m)^size=`).MatchString(s) })
		if want := "size=" + size + " buffer=" + size; !strings.Contains(s, want) {
			t.Fatalf("want %s:\n%s", want, s)
		}
		x.waitPrompt(w, `^\[w1\]: W`+strings.Split(size, "x")[0]+`>$`)
	}
	check()
	x.tmux("resize-window", "-t", w, "-x", "97", "-y", "31")
	check()
}

// secret answers a hidden prompt, checking that it shows a * for each
// character as pwsh's console does.
func (x *tmuxEnv) secret(w, prompt, answer string) {
	x.t.Helper()
	x.wait(w, prompt, func(s string) bool { return strings.HasPrefix(lastLine(s), prompt) })
	x.tmux("send-keys", "-t", w, "-l", answer)
	masked := prompt + " " + strings.Repeat("*", len(answer))
	x.wait(w, masked, func(s string) bool { return lastLine(s) == masked })
	x.keys(w, "Enter")
}

// Secure and credential prompts carry pwsh's client warnings, secure
// input echoes *, and an array field is asked until an empty line.
func TestREPLSecurePromptsAsPwshClient(t *testing.T) {
	x, w := replPwsh(t)
	x.line(w, `$s = Read-Host -AsSecureString 'pw'; "len=$($s.Length)"`)
	x.waitFor(w, "WARNING: A script or application on the remote computer PSMUX-TEST is sending a prompt request.")
	x.secret(w, "pw:", "abc")
	x.waitFor(w, "len=3")
	x.waitPrompt(w, w1Prompt)

	x.tmux("send-keys", "-t", w, "C-l")
	x.line(w, `$c = Get-Credential -Message 'msgtext'; "user=$($c.UserName)"`)
	x.wait(w, "User:", func(s string) bool { return strings.HasPrefix(lastLine(s), "User:") })
	s := x.screen(w, false)
	for _, want := range []string{"PowerShell Credential Request: PowerShell credential request",
		"Warning: A script or application on the remote computer PSMUX-TEST is requesting your credentials.", "msgtext"} {
		if !strings.Contains(strings.ReplaceAll(s, "\n", ""), want) {
			t.Fatalf("no %q:\n%s", want, s)
		}
	}
	x.line(w, "bob")
	x.secret(w, "Password for user bob:", "pw12")
	x.waitFor(w, "user=bob")
	x.waitPrompt(w, w1Prompt)

	x.tmux("send-keys", "-t", w, "C-l")
	x.line(w, `$f = [System.Management.Automation.Host.FieldDescription]::new('names'); $f.SetParameterType([string[]]); $r = $Host.UI.Prompt('cap', 'msg', [System.Management.Automation.Host.FieldDescription[]]@($f)); 'got=' + ($r['names'] -join '|')`)
	for i, a := range []string{"a", "b", ""} {
		x.wait(w, fmt.Sprintf("names[%d]:", i), func(s string) bool { return lastLine(s) == fmt.Sprintf("names[%d]:", i) })
		x.line(w, a)
	}
	s = x.waitFor(w, "got=a|b")
	x.waitPrompt(w, w1Prompt)
	if strings.Contains(s, "not recognized") {
		t.Fatalf("answers ran as commands:\n%s", s)
	}
}

// Tab completes after a character outside the BMP (TabExpansion2
// counts UTF-16 code units), and on a line with PowerShell's other
// quote characters.
func TestREPLTabCompletionUnicode(t *testing.T) {
	forSubsystems(t, func(t *testing.T, x *tmuxEnv, w string) {
		for _, typed := range []string{"'😀😀😀😀😀😀😀😀'; Get-Loc", "'it’’s'; Get-Loc", "“it’s”; Get-Loc"} {
			x.tmux("send-keys", "-t", w, "-l", typed)
			x.keys(w, "Tab")
			want := strings.TrimSuffix(typed, "Get-Loc") + "Get-Location"
			x.wait(w, want, func(s string) bool { return strings.HasSuffix(lastLine(s), want) })
			x.keys(w, "C-u")
			x.waitPrompt(w, w1Prompt)
		}
	})
	// pwsh completes a file whose name has ’ to a quoted path, ’ doubled
	t.Run("pwsh path", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "it’s-a-file.txt"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		x, w := replPwsh(t)
		x.tmux("send-keys", "-t", w, "-l", "Get-Item '"+filepath.Join(dir, "it’’s-a-f"))
		x.keys(w, "Tab")
		want := "'" + filepath.Join(dir, "it'’s-a-file.txt") + "'"
		x.wait(w, want, func(s string) bool { return strings.HasSuffix(lastLine(s), want) })
	})
}

// A prompt function's Write-Host output shows before the prompt, in its
// colour, as pwsh's client shows it.
func TestREPLPromptFunctionWriteHost(t *testing.T) {
	forSubsystems(t, func(t *testing.T, x *tmuxEnv, w string) {
		x.line(w, `function prompt { Write-Host 'above'; Write-Host -NoNewline -ForegroundColor Cyan '[x] '; 'PS> ' }`)
		x.waitPrompt(w, `^\[x\] \[w1\]: PS>$`)
		s := x.screen(w, true)
		if !regexp.MustCompile(`(?m)^above\n\x1b\[(\d+;)*(96|36)(;\d+)*m\[x\] `).MatchString(s) {
			t.Fatalf("the prompt's host output:\n%q", s)
		}
	})
}
