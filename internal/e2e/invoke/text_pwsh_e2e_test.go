package invoke_test

import (
	"bufio"
	"io"
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
