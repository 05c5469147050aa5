package main

import (
	"bytes"
	"fmt"
	req "github.com/psmux/psmux/testenv/require"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/psmux/psmux/testenv/opensshd"
)

// The REPL end to end: the real binary in a real tmux, driven with
// send-keys and observed with capture-pane.

type tmuxEnv struct {
	t    *testing.T
	sock string
	m    *muxEnv
	home string
	env  []string
	// patience bounds each wait (30s when zero); tests that start
	// several pwsh processes at once give more.
	patience time.Duration
}

func newTmux(t *testing.T, sshd *opensshd.Sshd, extraEnv ...string) *tmuxEnv {
	t.Helper()
	req.Tool(t, req.Tmux, "tmux", "apt-get install tmux")
	m := newMuxEnv(t)
	home := t.TempDir()
	if sshd != nil {
		os.MkdirAll(filepath.Join(home, ".ssh"), 0o700)
		cfg, err := os.ReadFile(sshd.SSHConfig)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(home, ".ssh", "config"), cfg, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	x := &tmuxEnv{t: t, sock: fmt.Sprintf("psmux-repl-%d-%d", os.Getpid(), time.Now().UnixNano()), m: m, home: home}
	x.env = append([]string{"HOME=" + home, "PSMUX_SOCKET=" + m.sock, "XDG_STATE_HOME=" + m.state, "XDG_RUNTIME_DIR=", "TERM=xterm"}, extraEnv...)
	x.tmux("-f", "/dev/null", "new-session", "-d", "-x", "160", "-y", "50", "-s", "main", "sh")
	t.Cleanup(func() { exec.Command("tmux", "-L", x.sock, "kill-server").Run() })
	return x
}

func (x *tmuxEnv) tmux(args ...string) string {
	x.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", x.sock}, args...)...).CombinedOutput()
	if err != nil {
		x.t.Fatalf("tmux %q: %v: %s", args, err, out)
	}
	return string(out)
}

// start runs psmux with args in a new window and returns its target.
func (x *tmuxEnv) start(window string, args ...string) string {
	x.t.Helper()
	cmd := "env " + strings.Join(x.env, " ") + " " + psmuxBin() + " " + strings.Join(args, " ") + "; echo psmux-exited-$?; sleep 600"
	x.tmux("new-window", "-t", "main", "-n", window, cmd)
	return "main:" + window
}

func (x *tmuxEnv) keys(target string, keys ...string) {
	x.t.Helper()
	x.tmux(append([]string{"send-keys", "-t", target}, keys...)...)
}

// line types text literally and presses Enter.
func (x *tmuxEnv) line(target, text string) {
	x.t.Helper()
	x.tmux("send-keys", "-t", target, "-l", text)
	x.tmux("send-keys", "-t", target, "Enter")
}

func (x *tmuxEnv) screen(target string, escapes bool) string {
	args := []string{"capture-pane", "-p", "-t", target}
	if escapes {
		args = append(args, "-e")
	}
	return x.tmux(args...)
}

// wait polls the pane until ok holds (there is no other way to observe
// a terminal); it fails after a generous deadline.
func (x *tmuxEnv) wait(target, what string, ok func(string) bool) string {
	x.t.Helper()
	patience := x.patience
	if patience == 0 {
		patience = 2 * time.Minute // a loaded CI machine
	}
	deadline := time.Now().Add(patience)
	for {
		s := x.screen(target, false)
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			x.t.Fatalf("waiting for %s; the screen:\n%s\nserver log (with the goroutines of each server still running):\n%s", what, s, x.m.dumpServers())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitBusy polls psmux ls until the session runs a command.
func (x *tmuxEnv) waitBusy(session string) {
	x.t.Helper()
	deadline := time.Now().Add(2 * time.Minute) // a loaded CI machine
	for {
		for _, r := range x.m.ls() {
			if r.Name == session && r.Availability == "Busy" {
				return
			}
		}
		if time.Now().After(deadline) {
			x.t.Fatalf("%s never became Busy", session)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (x *tmuxEnv) waitFor(target, text string) string {
	x.t.Helper()
	return x.wait(target, fmt.Sprintf("%q", text), func(s string) bool { return strings.Contains(s, text) })
}

// lastLine is the last non-empty line on the screen.
func lastLine(s string) string {
	ls := strings.Split(strings.TrimRight(s, "\n "), "\n")
	return strings.TrimRight(ls[len(ls)-1], " ")
}

func (x *tmuxEnv) waitPrompt(target, re string) string {
	x.t.Helper()
	rx := regexp.MustCompile(re)
	return x.wait(target, "prompt "+re, func(s string) bool { return rx.MatchString(lastLine(s)) })
}

const w1Prompt = `^\[w1\]: PS .*> ?$`

// replWithSession starts the REPL in tmux with session w1 on an sshd
// whose powershell subsystem is sub, and enters w1 (replOver).
func replWithSession(t *testing.T, sub string, extraEnv ...string) (*tmuxEnv, string) {
	t.Helper()
	return replOver(t, sub, extraEnv...)
}

func TestREPLDetachAttachKeepsState(t *testing.T) {
	opensshd.Require(t)
	eachSubsystem(t, func(t *testing.T, server, sub string) {
		x, w := replWithSession(t, sub)
		x.line(w, "$x = 7")
		x.waitPrompt(w, w1Prompt)
		x.keys(w, "C-b", "d")
		x.waitFor(w, "[detached (from session w1)]")
		x.waitFor(w, "psmux-exited-0")
		if rows := x.m.ls(); len(rows) != 1 || rows[0].State != "Opened" {
			t.Fatalf("after detach: %+v", rows)
		}
		w2 := x.start("two", "attach", "-t", "w1")
		x.waitPrompt(w2, w1Prompt)
		// f: Up shows the command typed in the first client
		x.keys(w2, "Up")
		x.wait(w2, "$x = 7 from history", func(s string) bool { return strings.HasSuffix(lastLine(s), "> $x = 7") })
		x.keys(w2, "C-u")
		x.line(w2, "$x")
		x.wait(w2, "7", func(s string) bool { return regexp.MustCompile(`(?m)^7$`).MatchString(s) })

		// b: a block runs once
		x.line(w2, "if ($true) {")
		x.waitPrompt(w2, `^>>$`)
		x.line(w2, "'yes'")
		x.line(w2, "}")
		s := x.wait(w2, "yes", func(s string) bool { return regexp.MustCompile(`(?m)^yes$`).MatchString(s) })
		x.waitPrompt(w2, w1Prompt)
		if n := len(regexp.MustCompile(`(?m)^yes$`).FindAllString(x.screen(w2, false), -1)); n != 1 {
			t.Fatalf("yes %d times:\n%s", n, s)
		}

		// c: Tab in the session
		x.tmux("send-keys", "-t", w2, "-l", "Get-Loc")
		x.keys(w2, "Tab")
		x.wait(w2, "Get-Location", func(s string) bool { return strings.HasSuffix(strings.TrimSpace(lastLine(s)), "Get-Location") })
		x.keys(w2, "C-c")
		x.waitPrompt(w2, w1Prompt)

		// d: Ctrl-C stops a running command, the session stays Opened
		x.line(w2, "Start-Sleep 100")
		x.waitBusy("w1") // Ctrl-C before the command starts would only clear a line
		x.keys(w2, "C-c")
		x.waitPrompt(w2, w1Prompt)
		if rows := x.m.ls(); len(rows) != 1 || rows[0].State != "Opened" {
			t.Fatalf("after Ctrl-C: %+v", rows)
		}

		// Ctrl-D leaves the session; at the local prompt it exits
		x.keys(w2, "C-d")
		x.waitPrompt(w2, `^PS psmux>$`)
		x.keys(w2, "Enter-PS", "Tab")
		x.wait(w2, "Enter-PSSession", func(s string) bool { return strings.HasSuffix(lastLine(s), "PS psmux> Enter-PSSession") })
	})
}

func TestREPLLocalTabCompletion(t *testing.T) {
	x := newTmux(t, nil)
	w := x.start("one")
	x.waitPrompt(w, `^PS psmux>$`)
	x.tmux("send-keys", "-t", w, "-l", "Enter-PS")
	x.keys(w, "Tab")
	x.wait(w, "Enter-PSSession", func(s string) bool { return strings.HasSuffix(lastLine(s), "PS psmux> Enter-PSSession") })
	x.keys(w, "C-u")
	x.line(w, "help")
	x.waitFor(w, "Copy-Item")
	x.keys(w, "C-d")
	x.waitFor(w, "psmux-exited-0")
}

func TestREPLBusyReattachPromptsAndColours(t *testing.T) {
	opensshd.Require(t)
	eachSubsystem(t, func(t *testing.T, server, sub string) {
		x, w := replWithSession(t, sub)
		// e: a command left running keeps running; re-attaching shows the
		// busy text and every line the first client did not show, once. The command holds until the test
		// creates a file, so it is still running when the client attaches.
		release := filepath.Join(t.TempDir(), "release")
		x.line(w, fmt.Sprintf("1..2; while (-not (Test-Path '%s')) { Start-Sleep -Milliseconds 50 }; 3..5", release))
		x.wait(w, "the first lines", func(s string) bool { return regexp.MustCompile(`(?m)^2$`).MatchString(s) })
		x.keys(w, "C-b", "d")
		x.waitFor(w, "[detached (from session w1)]")
		w2 := x.start("two", "attach", "-t", "w1")
		x.waitFor(w2, "You have entered a session that is busy")
		if err := os.WriteFile(release, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		s := x.waitPrompt(w2, w1Prompt)
		// 1 and 2 were shown by the first client; 3..5 came after
		for n, want := range map[string]int{"1": 0, "2": 0, "3": 1, "4": 1, "5": 1} {
			if c := len(regexp.MustCompile(`(?m)^`+n+`$`).FindAllString(s, -1)); c != want {
				t.Fatalf("%s shown %d times, want %d:\n%s", n, c, want, s)
			}
		}

		// g: Read-Host, Get-Credential (no echo), PromptForChoice
		x.line(w2, "$n = Read-Host 'name'; \"hello $n\"")
		x.waitFor(w2, "name:")
		x.line(w2, "bob")
		x.waitFor(w2, "hello bob")
		x.waitPrompt(w2, w1Prompt)
		x.line(w2, "$c = Get-Credential")
		x.wait(w2, "a user prompt", func(s string) bool { return strings.Contains(strings.ToLower(lastLine(s)), "user") })
		x.line(w2, "alice")
		x.wait(w2, "a password prompt", func(s string) bool { return strings.Contains(strings.ToLower(lastLine(s)), "password") })
		x.line(w2, "s3cret-pw")
		x.waitPrompt(w2, w1Prompt)
		if strings.Contains(x.screen(w2, false), "s3cret-pw") {
			t.Fatalf("the password was echoed:\n%s", x.screen(w2, false))
		}
		x.line(w2, "$host.UI.PromptForChoice('t','m',@('&Yes','&No'),0)")
		x.waitFor(w2, "[N] No")
		x.line(w2, "N")
		x.wait(w2, "the index", func(s string) bool { return regexp.MustCompile(`(?m)^1$`).MatchString(s) })
		x.waitPrompt(w2, w1Prompt)

		// h: errors are red
		x.line(w2, "Write-Error 'boom'")
		x.waitFor(w2, "boom")
		x.waitPrompt(w2, w1Prompt)
		red := false
		for _, l := range strings.Split(x.screen(w2, true), "\n") {
			if strings.Contains(l, "boom") && !strings.Contains(l, "PS /") && (strings.Contains(l, "\x1b[91m") || strings.Contains(l, "\x1b[31m")) {
				red = true
			}
		}
		if !red {
			t.Fatalf("the error is not red:\n%q", x.screen(w2, true))
		}
	})
}

func TestREPLNoColor(t *testing.T) {
	opensshd.Require(t)
	eachSubsystem(t, func(t *testing.T, server, sub string) {
		x, w := replWithSession(t, sub, "NO_COLOR=1")
		x.line(w, "Write-Error 'boom'")
		x.waitFor(w, "boom")
		x.waitPrompt(w, w1Prompt)
		if e := x.screen(w, true); strings.Contains(e, "\x1b[") {
			t.Fatalf("escape codes under NO_COLOR:\n%q", e)
		}
	})
}

// i and j: Invoke-Command across sessions, -AsJob with Receive-Job, and
// Copy-Item over SFTP.
func TestREPLInvokeCommandJobsAndCopy(t *testing.T) {
	opensshd.Require(t)
	eachSubsystem(t, func(t *testing.T, server, sub string) {
		x, w := replWithSession(t, sub)
		x.keys(w, "C-d")
		x.waitPrompt(w, `^PS psmux>$`)
		x.line(w, "New-PSSession -HostName psmux-test -Name w2")
		x.wait(w, "the w2 row", func(s string) bool { return regexp.MustCompile(`\d+ w2 +SSH`).MatchString(s) })
		x.waitPrompt(w, `^PS psmux>$`)
		x.line(w, "Invoke-Command -Session w1,w2 -ScriptBlock { 'icm says hi' }")
		x.wait(w, "tagged output", func(s string) bool {
			return strings.Contains(s, "[w1] icm says hi") && strings.Contains(s, "[w2] icm says hi")
		})
		x.waitPrompt(w, `^PS psmux>$`)
		x.line(w, "Invoke-Command -Session w1 -ScriptBlock { 'from a job' } -AsJob")
		x.waitPrompt(w, `^PS psmux>$`)
		x.line(w, "Receive-Job -Id 1 -Wait")
		x.wait(w, "the job's output", func(s string) bool { return regexp.MustCompile(`(?m)^(\[w1\] )?from a job$`).MatchString(s) })
		x.waitPrompt(w, `^PS psmux>$`)

		x.tmux("send-keys", "-t", w, "C-l")
		x.line(w, "Receive-PSSession w2")
		x.wait(w, "w2's log", func(s string) bool { return regexp.MustCompile(`(?m)^icm says hi$`).MatchString(s) })
		x.waitPrompt(w, `^PS psmux>$`)
		x.line(w, "Disconnect-PSSession w2")
		x.wait(w, "the row and the note", func(s string) bool {
			return regexp.MustCompile(`\d+ w2 +SSH`).MatchString(s) && strings.Contains(s, "stay open in the server")
		})
		x.waitPrompt(w, `^PS psmux>$`)

		dir := t.TempDir()
		src := filepath.Join(dir, "src.bin")
		data := bytes.Repeat([]byte("copy\x00\xfe"), 50000)
		os.WriteFile(src, data, 0o600)
		remote := filepath.Join(t.TempDir(), "remote.bin")
		back := filepath.Join(dir, "back.bin")
		// The screen may still show the previous prompt when the line is
		// sent, so each copy is awaited by its file (written under a
		// temporary name, then renamed: there means whole).
		arrived := func(p string) func(string) bool {
			return func(string) bool { st, err := os.Stat(p); return err == nil && st.Size() == int64(len(data)) }
		}
		x.line(w, fmt.Sprintf("Copy-Item %s -Destination %s -ToSession w1", src, remote))
		x.wait(w, "the upload", arrived(remote))
		x.line(w, fmt.Sprintf("Copy-Item %s -Destination %s -FromSession w1", remote, back))
		x.wait(w, "the download", arrived(back))
		x.waitPrompt(w, `^PS psmux>$`)
		for _, p := range []string{remote, back} {
			got, err := os.ReadFile(p)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("%s: %v (%d bytes, want %d)\n%s", p, err, len(got), len(data), x.screen(w, false))
			}
		}
	})
}

// h: Write-Progress draws a bar that is redrawn in place, not scrolled.
func TestREPLProgressBarReplaced(t *testing.T) {
	opensshd.Require(t)
	eachSubsystem(t, func(t *testing.T, server, sub string) {
		x, w := replWithSession(t, sub)
		// The command holds after its last step until the test creates a
		// file, so the bar is on the screen when the test looks.
		release := filepath.Join(t.TempDir(), "release")
		x.line(w, fmt.Sprintf("1..4 | %% { Write-Progress -Activity 'Copying' -Status \"step $_\" -PercentComplete ($_ * 25) }; while (-not (Test-Path '%s')) { Start-Sleep -Milliseconds 50 }; 'copied'", release))
		drawn := regexp.MustCompile(`step [1-4]`) // the typed line says "step $_"
		s := x.wait(w, "the bar at step 4", func(s string) bool { return strings.Contains(s, "step 4") })
		if n := len(drawn.FindAllString(s, -1)); n != 1 {
			t.Fatalf("the progress bar shows %d times (scrolled, not replaced):\n%s", n, s)
		}
		if err := os.WriteFile(release, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		s = x.wait(w, "the end", func(s string) bool { return regexp.MustCompile(`(?m)^copied$`).MatchString(s) })
		if n := len(drawn.FindAllString(s, -1)); n > 1 {
			t.Fatalf("the progress bar shows %d times (scrolled, not replaced):\n%s", n, s)
		}
		x.waitPrompt(w, w1Prompt)
	})
}
