package repl_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/psmux/psmux/internal/e2e"
	"github.com/psmux/psmux/mux"
	"github.com/psmux/psmux/testenv/opensshd"
)

func TestREPLDetachAttachKeepsState(t *testing.T) {
	opensshd.Require(t)
	e2e.EachSubsystem(t, func(t *testing.T, server, sub string) {
		x, w := e2e.ReplWithSession(t, sub)
		x.Line(w, "$x = 7")
		x.WaitPrompt(w, e2e.W1Prompt)
		x.Keys(w, "C-b", "d")
		x.WaitFor(w, "[detached (from session w1)]")
		x.WaitFor(w, "psmux-exited-0")
		if rows := x.M.Ls(); len(rows) != 1 || rows[0].State != "Opened" {
			t.Fatalf("after detach: %+v", rows)
		}
		w2 := x.Start("two", "attach", "-t", "w1")
		x.WaitPrompt(w2, e2e.W1Prompt)
		// f: Up shows the command typed in the first client
		x.Keys(w2, "Up")
		x.Wait(w2, "$x = 7 from history", func(s string) bool { return strings.HasSuffix(e2e.LastLine(s), "> $x = 7") })
		x.Keys(w2, "C-u")
		x.Line(w2, "$x")
		x.Wait(w2, "7", func(s string) bool { return regexp.MustCompile(`(?m)^7$`).MatchString(s) })
		x.WaitPrompt(w2, e2e.W1Prompt) // typed after the prompt, as a user does (type-ahead is issue 13's)

		// b: a block runs once
		x.Line(w2, "if ($true) {")
		x.WaitPrompt(w2, `^>>$`)
		x.Line(w2, "'yes'")
		x.Line(w2, "}")
		s := x.Wait(w2, "yes", func(s string) bool { return regexp.MustCompile(`(?m)^yes$`).MatchString(s) })
		x.WaitPrompt(w2, e2e.W1Prompt)
		if n := len(regexp.MustCompile(`(?m)^yes$`).FindAllString(x.Screen(w2, false), -1)); n != 1 {
			t.Fatalf("yes %d times:\n%s", n, s)
		}

		// c: Tab in the session
		x.Tmux("send-keys", "-t", w2, "-l", "Get-Loc")
		x.Keys(w2, "Tab")
		x.Wait(w2, "Get-Location", func(s string) bool { return strings.HasSuffix(strings.TrimSpace(e2e.LastLine(s)), "Get-Location") })
		x.Keys(w2, "C-c")
		x.WaitPrompt(w2, e2e.W1Prompt)

		// d: Ctrl-C stops a running command, the session stays Opened
		x.Line(w2, "Start-Sleep 100")
		x.WaitBusy("w1") // Ctrl-C before the command starts would only clear a line
		x.Keys(w2, "C-c")
		x.WaitPrompt(w2, e2e.W1Prompt)
		if rows := x.M.Ls(); len(rows) != 1 || rows[0].State != "Opened" || rows[0].Availability != "Available" {
			t.Fatalf("after Ctrl-C: %+v; want the session Opened and Available", rows)
		}
		var jobs []mux.JobInfo
		if err := json.Unmarshal([]byte(x.M.Must("jobs", "-t", "w1", "--json").Stdout), &jobs); err != nil || len(jobs) == 0 {
			t.Fatalf("jobs --json: %v %+v", err, jobs)
		}
		if last := jobs[len(jobs)-1]; last.Command != "Start-Sleep 100" || last.State != "Stopped" {
			t.Fatalf("after Ctrl-C the last job is %+v; want Start-Sleep 100 Stopped", last)
		}

		// Ctrl-D leaves the session; at the local prompt it exits
		x.Keys(w2, "C-d")
		x.WaitPrompt(w2, `^PS psmux>$`)
		x.Keys(w2, "Enter-PS", "Tab")
		x.Wait(w2, "Enter-PSSession", func(s string) bool { return strings.HasSuffix(e2e.LastLine(s), "PS psmux> Enter-PSSession") })
	})
}

func TestREPLLocalTabCompletion(t *testing.T) {
	x := e2e.NewTmux(t, nil)
	w := x.Start("one")
	x.WaitPrompt(w, `^PS psmux>$`)
	x.Tmux("send-keys", "-t", w, "-l", "Enter-PS")
	x.Keys(w, "Tab")
	x.Wait(w, "Enter-PSSession", func(s string) bool { return strings.HasSuffix(e2e.LastLine(s), "PS psmux> Enter-PSSession") })
	x.Keys(w, "C-u")
	x.Line(w, "help")
	x.WaitFor(w, "Copy-Item")
	x.Keys(w, "C-d")
	x.WaitFor(w, "psmux-exited-0")
}

func TestREPLBusyReattachPromptsAndColours(t *testing.T) {
	opensshd.Require(t)
	e2e.EachSubsystem(t, func(t *testing.T, server, sub string) {
		x, w := e2e.ReplWithSession(t, sub)
		// e: a command left running keeps running; re-attaching shows the
		// busy text and every line the first client did not show, once. The command holds until the test
		// creates a file, so it is still running when the client attaches.
		release := filepath.Join(t.TempDir(), "release")
		x.Line(w, fmt.Sprintf("1..2; while (-not (Test-Path '%s')) { Start-Sleep -Milliseconds 50 }; 3..5", release))
		x.Wait(w, "the first lines", func(s string) bool { return regexp.MustCompile(`(?m)^2$`).MatchString(s) })
		x.Keys(w, "C-b", "d")
		x.WaitFor(w, "[detached (from session w1)]")
		w2 := x.Start("two", "attach", "-t", "w1")
		x.WaitFor(w2, "You have entered a session that is busy")
		if err := os.WriteFile(release, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		s := x.WaitPrompt(w2, e2e.W1Prompt)
		// 1 and 2 were shown by the first client; 3..5 came after
		for n, want := range map[string]int{"1": 0, "2": 0, "3": 1, "4": 1, "5": 1} {
			if c := len(regexp.MustCompile(`(?m)^`+n+`$`).FindAllString(s, -1)); c != want {
				t.Fatalf("%s shown %d times, want %d:\n%s", n, c, want, s)
			}
		}

		// g: Read-Host, Get-Credential (no echo), PromptForChoice
		x.Line(w2, "$n = Read-Host 'name'; \"hello $n\"")
		x.WaitFor(w2, "name:")
		x.Line(w2, "bob")
		x.WaitFor(w2, "hello bob")
		x.WaitPrompt(w2, e2e.W1Prompt)
		x.Line(w2, "$c = Get-Credential")
		x.Wait(w2, "a user prompt", func(s string) bool { return strings.Contains(strings.ToLower(e2e.LastLine(s)), "user") })
		x.Line(w2, "alice")
		x.Wait(w2, "a password prompt", func(s string) bool { return strings.Contains(strings.ToLower(e2e.LastLine(s)), "password") })
		x.Line(w2, "s3cret-pw")
		x.WaitPrompt(w2, e2e.W1Prompt)
		if strings.Contains(x.Screen(w2, false), "s3cret-pw") {
			t.Fatalf("the password was echoed:\n%s", x.Screen(w2, false))
		}
		x.Line(w2, "$host.UI.PromptForChoice('t','m',@('&Yes','&No'),0)")
		x.WaitFor(w2, "[N] No")
		x.Line(w2, "N")
		x.Wait(w2, "the index", func(s string) bool { return regexp.MustCompile(`(?m)^1$`).MatchString(s) })
		x.WaitPrompt(w2, e2e.W1Prompt)

		// h: errors are red
		x.Line(w2, "Write-Error 'boom'")
		x.WaitFor(w2, "boom")
		x.WaitPrompt(w2, e2e.W1Prompt)
		red := false
		for _, l := range strings.Split(x.Screen(w2, true), "\n") {
			if strings.Contains(l, "boom") && !strings.Contains(l, "PS /") && (strings.Contains(l, "\x1b[91m") || strings.Contains(l, "\x1b[31m")) {
				red = true
			}
		}
		if !red {
			t.Fatalf("the error is not red:\n%q", x.Screen(w2, true))
		}
	})
}

func TestREPLNoColor(t *testing.T) {
	opensshd.Require(t)
	e2e.EachSubsystem(t, func(t *testing.T, server, sub string) {
		x, w := e2e.ReplWithSession(t, sub, "NO_COLOR=1")
		x.Line(w, "Write-Error 'boom'")
		x.WaitFor(w, "boom")
		x.WaitPrompt(w, e2e.W1Prompt)
		if e := x.Screen(w, true); strings.Contains(e, "\x1b[") {
			t.Fatalf("escape codes under NO_COLOR:\n%q", e)
		}
	})
}

// i and j: Invoke-Command across sessions, -AsJob with Receive-Job, and
// Copy-Item over SFTP.
func TestREPLInvokeCommandJobsAndCopy(t *testing.T) {
	opensshd.Require(t)
	e2e.EachSubsystem(t, func(t *testing.T, server, sub string) {
		x, w := e2e.ReplWithSession(t, sub)
		x.Keys(w, "C-d")
		x.WaitPrompt(w, `^PS psmux>$`)
		x.Line(w, "New-PSSession -HostName psmux-test -Name w2")
		x.Wait(w, "the w2 row", func(s string) bool { return regexp.MustCompile(`\d+ w2 +SSH`).MatchString(s) })
		x.WaitPrompt(w, `^PS psmux>$`)
		x.Line(w, "Invoke-Command -Session w1,w2 -ScriptBlock { 'icm says hi' }")
		x.Wait(w, "tagged output", func(s string) bool {
			return strings.Contains(s, "[w1] icm says hi") && strings.Contains(s, "[w2] icm says hi")
		})
		x.WaitPrompt(w, `^PS psmux>$`)
		x.Line(w, "Invoke-Command -Session w1 -ScriptBlock { 'from a job' } -AsJob")
		row := regexp.MustCompile(`(?m)^(\d+) +Job\d+ +RemoteJob +\w+ +\w+ +w1 `)
		id := row.FindStringSubmatch(x.Wait(w, "the job's row", row.MatchString))[1]
		x.WaitPrompt(w, `^PS psmux>$`)
		x.Line(w, "Receive-Job -Id "+id+" -Wait")
		x.Wait(w, "the job's output", func(s string) bool { return regexp.MustCompile(`(?m)^(\[w1\] )?from a job$`).MatchString(s) })
		x.WaitPrompt(w, `^PS psmux>$`)

		x.Tmux("send-keys", "-t", w, "C-l")
		x.Line(w, "Receive-PSSession w2")
		x.Wait(w, "w2's log", func(s string) bool { return regexp.MustCompile(`(?m)^icm says hi$`).MatchString(s) })
		x.WaitPrompt(w, `^PS psmux>$`)
		x.Line(w, "Disconnect-PSSession w2")
		x.Wait(w, "the row and the note", func(s string) bool {
			return regexp.MustCompile(`\d+ w2 +SSH`).MatchString(s) && strings.Contains(s, "stay open in the server")
		})
		x.WaitPrompt(w, `^PS psmux>$`)

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
		x.Line(w, fmt.Sprintf("Copy-Item %s -Destination %s -ToSession w1", src, remote))
		x.Wait(w, "the upload", arrived(remote))
		x.Line(w, fmt.Sprintf("Copy-Item %s -Destination %s -FromSession w1", remote, back))
		x.Wait(w, "the download", arrived(back))
		x.WaitPrompt(w, `^PS psmux>$`)
		for _, p := range []string{remote, back} {
			got, err := os.ReadFile(p)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("%s: %v (%d bytes, want %d)\n%s", p, err, len(got), len(data), x.Screen(w, false))
			}
		}
	})
}

// h: Write-Progress draws a bar that is redrawn in place, not scrolled.
func TestREPLProgressBarReplaced(t *testing.T) {
	opensshd.Require(t)
	e2e.EachSubsystem(t, func(t *testing.T, server, sub string) {
		x, w := e2e.ReplWithSession(t, sub)
		// The command holds after its last step until the test creates a
		// file, so the bar is on the screen when the test looks.
		release := filepath.Join(t.TempDir(), "release")
		x.Line(w, fmt.Sprintf("1..4 | %% { Write-Progress -Activity 'Copying' -Status \"step $_\" -PercentComplete ($_ * 25) }; while (-not (Test-Path '%s')) { Start-Sleep -Milliseconds 50 }; 'copied'", release))
		// the bar itself: "Copying step N [ooo   ]  NN%"
		bar := regexp.MustCompile(`Copying step [1-4] \[o* *\] +\d+%`)
		s := x.Wait(w, "the bar at step 4", func(s string) bool { return regexp.MustCompile(`Copying step 4 \[o+\] 100%`).MatchString(s) })
		if n := len(bar.FindAllString(s, -1)); n != 1 {
			t.Fatalf("the progress bar shows %d times (scrolled, not replaced):\n%s", n, s)
		}
		if err := os.WriteFile(release, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		s = x.Wait(w, "the end", func(s string) bool { return regexp.MustCompile(`(?m)^copied$`).MatchString(s) })
		if n := len(bar.FindAllString(s, -1)); n > 1 {
			t.Fatalf("the progress bar shows %d times (scrolled, not replaced):\n%s", n, s)
		}
		x.WaitPrompt(w, e2e.W1Prompt)
	})
}
