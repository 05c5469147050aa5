package invoke_test

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/psmux/psmux/internal/e2e"
	req "github.com/psmux/psmux/testenv/require"
)

// textScripts mix what psmux's text-lines filter prints itself (strings
// and integers before any other object) with what it hands to
// Out-Default: tables, lists, errors, host writes, nulls, dates.
var textScripts = []string{
	`'a'; Get-Item /; 'b'`,
	`Get-Item /; 'x'; Get-Item /`,
	`1; [pscustomobject]@{a=1}; 2; [pscustomobject]@{a=2}`,
	`Write-Error e1; 'x'; Get-Item /; Write-Error e2`,
	"'x'*300; \"m`nn\"; ''; $null; 5; -3; $true; 1.5",
	`Write-Host hi; 1; Write-Host -NoNewline no; 2`,
	`Get-ChildItem / | Select-Object -First 3; 'end'`,
	`throw 'boom'`,
	`1..3 | ForEach-Object { Start-Sleep -Milliseconds 100; $_ }`,
	`Get-Date -Year 2020 -Month 1 -Day 2 -Hour 3 -Minute 4 -Second 5; 'x'`,
	`@{a=1}; 'x'; @{b=2}`,
	`[int64]5; [int16]3; [byte]7; 'x'`,
	`1..3 | ForEach-Object { [pscustomobject]@{n=$_} }; 'x'; 1..2 | ForEach-Object { [pscustomobject]@{n=$_} }`,
	`$x = 5; $x`,
	`Get-Item / | Format-List Name; 'x'`,
	`'a' | Out-String`,
	"\"tab`there\"; \" lead\"; \"trail \"",
	`[char]'c'; [double]2.5; [decimal]1.25`,
	`'a'; 'b'; Get-Item /; 'c'; 5`,
	`Get-Content /etc/hostname; Get-Content /etc/os-release | Select-Object -First 2`,
	`$null; 'x'; $null`,
	`Write-Output 0x10 10L -5 7; 'x'`,
	`-3; [cultureinfo]::CurrentCulture = 'sv-SE'; -7; Write-Output -5 0x10; 'x'`,
	"\"a`r`nb\"; 'c'",
	"\"`e[31mred`e[0m\"; 'x'",
	"$PSStyle.OutputRendering = 'PlainText'; \"`e[31mred`e[0m\"; 'x'",
	// he-IL's minus sign is a direction mark and '-', which -eq takes for '-'
	`[cultureinfo]::CurrentCulture = 'he-IL'; -5; 'x'`,
	// the filter's refusal is recognised by a token, not by these words
	`'out'; throw 'psmux-text-lines-unavailable'`,
	// a transcript the script starts gets what it prints
	`$f = [IO.Path]::GetTempFileName(); Start-Transcript $f | Out-Null; 'a'; 'b'; Stop-Transcript | Out-Null; (Get-Content $f | Select-String '^(a|b)$').Count; Remove-Item $f`,
	// a ToString of the type's own, which Out-Default uses
	`Update-TypeData -TypeName System.Int32 -MemberType ScriptMethod -MemberName ToString -Value { 'int!' } -Force; 5; $true`,
}

// TestTextLikePwsh runs each script through `psmux invoke` to real pwsh
// and through `pwsh -c`, and wants the same stdout, byte for byte (the
// colours of tables included): the text-lines filter, which prints a
// leading run of strings and numbers without Out-Default, must not
// change a character of what Out-Default would have printed.
func TestTextLikePwsh(t *testing.T) {
	server := e2e.RealPwsh(t)
	if server == "" {
		t.Skip("no real pwsh: see ../shared/pwsh")
	}
	for _, script := range textScripts {
		t.Run(script, func(t *testing.T) {
			t.Parallel()
			got := e2e.Invoke(t, server, "--", script)
			cmd := e2e.Command(req.PwshBin(), "-NoProfile", "-NonInteractive", "-c", script)
			want, _ := cmd.Output() // some fail on purpose; stdout is compared
			if got.Stdout != string(want) {
				t.Fatalf("psmux printed\n%q\npwsh -c printed\n%q", got.Stdout, want)
			}
		})
	}
}

// TestTextLineBeforeAPauseIsShownAtOnce: a line the command printed
// before it pauses is on psmux's stdout while the command still sleeps
// (the text-lines filter sends each line as it comes, batching none).
func TestTextLineBeforeAPauseIsShownAtOnce(t *testing.T) {
	for name, server := range e2e.PwshServers(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cmd := e2e.Command(e2e.PsmuxBin(), "invoke", "--local", "--pwsh", server, "--", "'before'; Start-Sleep 120; 'after'")
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			first := make(chan string, 1)
			exited := make(chan struct{})
			go func() {
				r := bufio.NewReader(out)
				line, _ := r.ReadString('\n')
				first <- line
				io.Copy(io.Discard, r)
				cmd.Wait()
				close(exited)
			}()
			t.Cleanup(func() {
				cmd.Process.Kill()
				<-exited
			})
			select {
			case line := <-first:
				if line != "before\n" {
					t.Fatalf("first line %q; want \"before\"", line)
				}
			case <-time.After(100 * time.Second): // a bound, well inside the 120 s sleep
				t.Fatal("no line in 100 s")
			}
			select {
			case <-exited:
				t.Fatal("psmux exited before the sleep ended")
			default: // the command still sleeps: the line came before its end
			}
		})
	}
}

// filterSession is a server with a session p on server (a real pwsh)
// whose connection has run the text-lines filter once, with first.
func filterSession(t *testing.T, server, first string) *e2e.MuxEnv {
	t.Helper()
	m := e2e.NewMuxEnv(t)
	m.Must("new", "-n", "p", "--local", "--pwsh", server)
	m.Must("exec", "-t", "p", "--", first)
	return m
}

// fencedScript prints a table between a string and a number: what the
// text-lines filter prints itself and what it hands to Out-Default.
const fencedScript = `'a'; Get-Variable PSEdition; 5`

// pwshPrints is what pwsh -c prints for script on its stdout.
func pwshPrints(t *testing.T, script string) string {
	t.Helper()
	want, err := e2e.Command(req.PwshBin(), "-NoProfile", "-NonInteractive", "-c", script).Output()
	if err != nil {
		t.Fatalf("pwsh -c %q: %v", script, err)
	}
	return string(want)
}

// TestTextWhileTranscribing: a server that transcribes (a policy in its
// powershell.config.json, or Start-Transcript run in the session) makes
// pwsh append Out-Default -Transcript to every pipeline, which mutes
// every other Out-Default's output; the text-lines filter must then
// give way to Out-Default, and psmux print what pwsh -c prints, the
// transcript getting it too.
func TestTextWhileTranscribing(t *testing.T) {
	server := e2e.RealPwsh(t)
	if server == "" {
		t.Skip("no real pwsh: see ../shared/pwsh")
	}
	want := pwshPrints(t, fencedScript)
	t.Run("policy", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		out := filepath.Join(dir, "transcripts")
		cfg := filepath.Join(dir, "powershell")
		if err := os.MkdirAll(cfg, 0o700); err != nil {
			t.Fatal(err)
		}
		policy := `{"PowerShellPolicies": {"Transcription": {"EnableTranscripting": true, "OutputDirectory": "` + out + `"}}}`
		if err := os.WriteFile(filepath.Join(cfg, "powershell.config.json"), []byte(policy), 0o600); err != nil {
			t.Fatal(err)
		}
		got := e2e.Invoke(t, "env XDG_CONFIG_HOME="+dir+" "+server, "--", fencedScript)
		if got.Stdout != want {
			t.Fatalf("psmux printed\n%q\npwsh -c printed\n%q", got.Stdout, want)
		}
		files, _ := filepath.Glob(filepath.Join(out, "*", "*"))
		if len(files) != 1 {
			t.Fatalf("transcripts %q; want one (is the policy read?)", files)
		}
		if data, _ := os.ReadFile(files[0]); !regexp.MustCompile(`\nPSEdition +Core\n`).Match(data) {
			t.Fatalf("the transcript has no table:\n%s", data)
		}
	})
	t.Run("Start-Transcript", func(t *testing.T) {
		t.Parallel()
		m := filterSession(t, server, "'before'")
		m.Must("exec", "-t", "p", "--", "Start-Transcript -Path '"+filepath.Join(t.TempDir(), "t.txt")+"' | Out-Null")
		for i := range 2 { // the first finds the filter refused, the second knows
			if got := m.Must("exec", "-t", "p", "--", fencedScript); got.Stdout != want {
				t.Fatalf("exec %d printed\n%q\npwsh -c printed\n%q", i, got.Stdout, want)
			}
		}
	})
}

// TestTextWhileTracing: with Set-PSDebug -Trace on, pwsh traces every
// line of a script it runs, but none of Out-Default's (a cmdlet): none
// of the text-lines filter's lines may be traced either, whether tracing
// was on before the pipeline or the script turns it on, and the output
// is the script's.
func TestTextWhileTracing(t *testing.T) {
	server := e2e.RealPwsh(t)
	if server == "" {
		t.Skip("no real pwsh: see ../shared/pwsh")
	}
	untraced := func(t *testing.T, what string, got e2e.Result) {
		t.Helper()
		for _, filterLine := range []string{"[string]$_", "IndexOfAny", "$od.", "$on", "PipelinePosition"} {
			if all := got.Stdout + got.Stderr; strings.Contains(all, filterLine) {
				t.Fatalf("%s traced the text-lines filter's %q:\n%s", what, filterLine, all)
			}
		}
	}
	t.Run("before", func(t *testing.T) {
		t.Parallel()
		m := filterSession(t, server, "'before'")
		untraced(t, "Set-PSDebug", m.Must("exec", "-t", "p", "--", "Set-PSDebug -Trace 1"))
		for i := range 2 {
			got := m.Must("exec", "-t", "p", "--", "1..3")
			if !strings.HasPrefix(got.Stdout, "1\n2\n3\n") {
				t.Fatalf("exec %d printed %q; want 1, 2, 3", i, got.Stdout)
			}
			untraced(t, fmt.Sprintf("exec %d", i), got)
		}
	})
	t.Run("in the script", func(t *testing.T) {
		t.Parallel()
		got := e2e.Invoke(t, server, "--", "Set-PSDebug -Trace 1; 'a'; 'b'")
		if got.Stdout != "a\nb\n" {
			t.Fatalf("printed %q; want a, b", got.Stdout)
		}
		untraced(t, "invoke", got)
	})
}

// TestTextFilterRunsNothingTwice: where the text-lines filter refuses
// (here: a transcript started in an earlier command), psmux sends the
// pipeline again with Out-Default; whatever of the script runs before the
// filter's begin block (the script's own begin block) must then not run
// twice: such a script gets Out-Default from the start. Its parameters'
// defaults, which pwsh evaluates after the filter's begin block, are
// checked too. Each command here counts its runs.
func TestTextFilterRunsNothingTwice(t *testing.T) {
	server := e2e.RealPwsh(t)
	if server == "" {
		t.Skip("no real pwsh: see ../shared/pwsh")
	}
	for _, script := range []string{
		`begin { $global:n++ } end { 'e' }`,
		`param($x = $global:n++) 'e'`,
	} {
		t.Run(script, func(t *testing.T) {
			t.Parallel()
			m := filterSession(t, server, "$global:n = 0; 'before'")
			// the filter's next begin block refuses (and the connection
			// knows it after that)
			m.Must("exec", "-t", "p", "--", "Start-Transcript -Path '"+filepath.Join(t.TempDir(), "t.txt")+"' | Out-Null")
			if got := m.Must("exec", "-t", "p", "--", script); got.Stdout != "e\n" {
				t.Fatalf("printed %q; want e", got.Stdout)
			}
			if got := m.Must("exec", "-t", "p", "--", "$global:n"); got.Stdout != "1\n" {
				t.Fatalf("its begin ran %q times; want 1", strings.TrimSpace(got.Stdout))
			}
		})
	}
}

// TestTextQuestionMark: $? in a command is whether the previous one's
// last statement succeeded, as pwsh's Out-Default leaves it; the
// text-lines filter's own statements must not change it, nor add to
// $Error. The values are pwsh's (Enter-PSSession, or psmux with
// Out-Default in place of the filter).
func TestTextQuestionMark(t *testing.T) {
	server := e2e.RealPwsh(t)
	if server == "" {
		t.Skip("no real pwsh: see ../shared/pwsh")
	}
	m := filterSession(t, server, "'before'")
	for _, tc := range []struct{ script, want string }{
		{`Write-Error x`, "False"},
		{`'a'`, "True"},
		{`Get-Item /nonexistent`, "False"},
		{`Write-Error x; 'after'`, "True"},
		{`1/0`, "False"},
	} {
		m.Run("exec", "-t", "p", "--", tc.script)
		if got := m.Must("exec", "-t", "p", "--", "$?"); strings.TrimSpace(got.Stdout) != tc.want {
			t.Errorf("$? after %s: %q; want %s", tc.script, strings.TrimSpace(got.Stdout), tc.want)
		}
	}
	m.Must("exec", "-t", "p", "--", "$Error.Clear()")
	m.Run("exec", "-t", "p", "--", "Write-Error x")
	if got := m.Must("exec", "-t", "p", "--", "$Error.Count"); got.Stdout != "1\n" {
		t.Errorf("$Error holds %q errors after one; want 1", strings.TrimSpace(got.Stdout))
	}
}

// TestTextAfterUpdateTypeData: a ToString given to integers in one
// command is used by Out-Default in every later one; the text-lines
// filter's string conversion would not, so psmux gives it up for the
// connection.
func TestTextAfterUpdateTypeData(t *testing.T) {
	server := e2e.RealPwsh(t)
	if server == "" {
		t.Skip("no real pwsh: see ../shared/pwsh")
	}
	m := filterSession(t, server, "'before'")
	m.Must("exec", "-t", "p", "--", "Update-TypeData -TypeName System.Int32 -MemberType ScriptMethod -MemberName ToString -Value { 'int!' } -Force")
	if got := m.Must("exec", "-t", "p", "--", "5"); got.Stdout != "int!\n" {
		t.Fatalf("printed %q; want pwsh's int!", got.Stdout)
	}
}

// TestTextInConstrainedLanguage: a session switched to
// ConstrainedLanguage cannot make the steppable pipeline the text-lines
// filter needs; psmux must print what pwsh -c prints, with the
// command run once.
func TestTextInConstrainedLanguage(t *testing.T) {
	server := e2e.RealPwsh(t)
	if server == "" {
		t.Skip("no real pwsh: see ../shared/pwsh")
	}
	want := pwshPrints(t, fencedScript)
	m := e2e.NewMuxEnv(t)
	m.Must("new", "-n", "p", "--local", "--pwsh", server)
	m.Must("exec", "-t", "p", "--", "$global:runs = 0")
	m.Must("exec", "-t", "p", "--", "$ExecutionContext.SessionState.LanguageMode = 'ConstrainedLanguage'")
	for i := range 2 {
		if got := m.Must("exec", "-t", "p", "--", "$global:runs++; "+fencedScript); got.Stdout != want {
			t.Fatalf("exec %d printed\n%q\npwsh -c printed\n%q", i, got.Stdout, want)
		}
	}
	if got := m.Must("exec", "-t", "p", "--", "$global:runs"); got.Stdout != "2\n" {
		t.Fatalf("the command ran %q times; want 2", got.Stdout)
	}
}
