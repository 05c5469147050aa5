package repl_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/psmux/psmux/internal/e2e"
	"github.com/psmux/psmux/mux"
	"github.com/psmux/psmux/testenv/opensshd"
)

// The PSSession cmdlets as a PowerShell user types them at the psmux
// prompt (issue 13 item 1), against a real sshd whose subsystem is
// pwshsim or real pwsh: New-PSSession over two hosts into a variable,
// the ssh_config from $env:PSMUX_SSH_CONFIG and -ConfigFile, names
// case-insensitive, Get-PSSession's filters and Format-List,
// Invoke-Command with $s, ( … ), -HostName, -ArgumentList, -FilePath and
// -ThrottleLimit, Enter-PSSession -HostName (removed on exit),
// Remove-PSSession and a pipeline into it, Get-Help and -?, cls, and
// the aliases.
func TestREPLCmdletForms(t *testing.T) {
	opensshd.Require(t)
	e2e.EachSubsystem(t, func(t *testing.T, server, sub string) {
		sshd := e2e.StartSshd(t, sub)
		// no ~/.ssh/config: the alias resolves only through the named file
		x := e2e.NewTmux(t, nil, "PSMUX_SSH_CONFIG="+sshd.SSHConfig)
		w := x.Start("one")
		prompt := `^PS psmux>$`
		x.WaitPrompt(w, prompt)
		line := func(s string) string { return x.LocalCommand(w, s) }
		must := func(scr, what string, re string) {
			t.Helper()
			if !regexp.MustCompile(re).MatchString(scr) {
				t.Fatalf("%s: no match for %s in\n%s", what, re, scr)
			}
		}
		mustNot := func(scr, what string, re string) {
			t.Helper()
			if regexp.MustCompile(re).MatchString(scr) {
				t.Fatalf("%s: %s shows in\n%s", what, re, scr)
			}
		}

		// one session per host, named in order, kept in $s
		line("$s = nsn -HostName psmux-test, psmux-test -Name alpha,Beta")
		if n := len(x.M.Ls()); n != 2 {
			t.Fatalf("New-PSSession -HostName a,b made %d sessions; want 2", n)
		}
		scr := line("$s")
		must(scr, "$s", `(?m)^ *\d+ alpha +SSH .*Opened`)
		must(scr, "$s", `(?m)^ *\d+ Beta +SSH .*Opened`)

		// Get-PSSession: names case-insensitive and wildcards, -State,
		// PowerShell's error, Format-List with InstanceId and LastActivity
		scr = line("Get-PSSession -Name BETA")
		must(scr, "-Name BETA", `(?m)^ *\d+ Beta `)
		mustNot(scr, "-Name BETA", `alpha`)
		scr = line("gsn -Name al*")
		must(scr, "gsn -Name al*", `(?m)^ *\d+ alpha `)
		mustNot(scr, "gsn -Name al*", `Beta`)
		scr = line("Get-PSSession -State Opened")
		must(scr, "-State Opened", `(?s)alpha.*Beta`)
		scr = line("Get-PSSession -Name nosuch")
		must(scr, "-Name nosuch", `The remote session with the name nosuch is not available\.`)
		scr = line("Get-PSSession -Name alpha | Format-List")
		must(scr, "| Format-List", `(?m)^InstanceId +: [0-9a-f-]{36}$`)
		must(scr, "| Format-List", `(?m)^LastActivity +: \d{4}-`)
		must(scr, "| Format-List", `(?m)^Name +: alpha$`)
		byName := map[string]mux.Info{}
		for _, r := range x.M.Ls() {
			byName[r.Name] = r
		}
		scr = line("gsn -InstanceId " + byName["Beta"].InstanceID + " -Full")
		must(scr, "-InstanceId -Full", `(?m)^Name +: Beta$`)
		mustNot(scr, "-InstanceId -Full", `alpha`)
		scr = line("Get-PSSession -ComputerName psmux-* -Id " + strconv.Itoa(byName["alpha"].ID))
		must(scr, "-ComputerName -Id", `(?m)^ *\d+ alpha `)
		mustNot(scr, "-ComputerName -Id", `Beta`)

		// a list of variables; a variable by position
		line("$a = gsn -Name alpha")
		line("$b = Get-PSSession -Name beta")
		scr = line("icm -Session $a, $b { 'two variables' }")
		must(scr, "-Session $a, $b", `(?m)^\[alpha\] two variables$`)
		must(scr, "-Session $a, $b", `(?m)^\[Beta\] two variables$`)
		x.Line(w, "Enter-PSSession $a")
		x.WaitPrompt(w, `^\[alpha\]: PS .*> ?$`)
		x.Line(w, "exit")
		x.WaitPrompt(w, prompt)

		// Enter-PSSession -Id, Exit-PSSession, and back
		x.Line(w, "Enter-PSSession -Id "+strconv.Itoa(byName["alpha"].ID))
		x.WaitPrompt(w, `^\[alpha\]: PS .*> ?$`)
		x.Line(w, "exit")
		x.WaitPrompt(w, prompt)

		// the ssh_config named with -ConfigFile (here the same file)
		scr = line("New-PSSession psmux-test -Name gamma -ConfigFile " + sshd.SSHConfig)
		must(scr, "-ConfigFile", `(?m)^ *\d+ gamma +SSH .*Opened`)
		// no alias: the address, with -UserName, -Port, -KeyFilePath,
		// -Subsystem and the known_hosts file through -Options
		scr = line(fmt.Sprintf("nsn -HostName 127.0.0.1 -Name delta -UserName %s -Port %d -KeyFilePath %s -Subsystem powershell -Options @{UserKnownHostsFile='%s'}",
			sshd.User, sshd.Port, sshd.ClientKey, sshd.KnownHosts))
		must(scr, "-UserName -Port -KeyFilePath -Subsystem", `(?m)^ *\d+ delta +SSH +127\.0\.0\.1 .*Opened`)
		line("Remove-PSSession -Name delta")

		// Invoke-Command: $s with -ArgumentList, ( … ), a wildcard with
		// -ThrottleLimit, -FilePath, -HostName (a temporary session)
		scr = line(`Invoke-Command -Session $s -ScriptBlock { param($n) "got $n" } -ArgumentList 7`)
		must(scr, "icm $s -ArgumentList", `(?m)^\[alpha\] got 7$`)
		must(scr, "icm $s -ArgumentList", `(?m)^\[Beta\] got 7$`)
		mustNot(scr, "icm $s", `gamma`)
		scr = line("icm -Session (Get-PSSession -Name gamma) { 'from a subexpression' }")
		must(scr, "icm (gsn)", `(?m)^\[gamma\] from a subexpression$`)
		// an assignment without spaces, a value joined by a colon, a
		// comma inside quotes, $null
		line("$g=gsn -Name gamma")
		scr = line(`icm -Session:$g { param($a, $b) "$a|$b" } -ArgumentList 'x,y','z'`)
		must(scr, "-Session:$g, a quoted comma", `(?m)^\[gamma\] x,y\|z$`)
		line("$g = $null")
		scr = line("$g")
		mustNot(scr, "$g = $null", `gamma`)
		scr = line("Invoke-Command -Session * -ThrottleLimit 1 -ScriptBlock { 'one at a time' }")
		for _, n := range []string{"alpha", "Beta", "gamma"} {
			must(scr, "-Session * -ThrottleLimit 1", `(?m)^\[`+n+`\] one at a time$`)
		}
		file := filepath.Join(t.TempDir(), "script.ps1")
		if err := os.WriteFile(file, []byte("'from the file'\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		scr = line("icm -Session alpha -FilePath " + file)
		must(scr, "-FilePath", `(?m)^\[alpha\] from the file$`)
		scr = line("Invoke-Command -HostName psmux-test -ScriptBlock { 'on a temporary session' }")
		must(scr, "icm -HostName", `(?m)^\[psmux-test\] on a temporary session$`)
		if n := len(x.M.Ls()); n != 3 {
			t.Fatalf("after Invoke-Command -HostName there are %d sessions; want the 3 from before (the temporary one removed)", n)
		}

		// Enter-PSSession -HostName: a temporary session, removed on exit
		x.Line(w, "etsn -HostName psmux-test")
		x.WaitPrompt(w, `^\[Runspace\d+\]: PS .*> ?$`)
		if n := len(x.M.Ls()); n != 4 {
			t.Fatalf("in Enter-PSSession -HostName: %d sessions; want 4", n)
		}
		x.Line(w, "exsn")
		x.WaitPrompt(w, prompt)
		if n := len(x.M.Ls()); n != 3 {
			t.Fatalf("after leaving Enter-PSSession -HostName: %d sessions; want 3 (the temporary one removed)", n)
		}

		// -Port and -Options reach ssh; Reconnect-PSSession reopens a
		// session whose connection was reset
		proxy, kh := e2e.Proxied(t, sshd)
		scr = line(fmt.Sprintf("New-PSSession -HostName psmux-test -Name flaky -Port %d -Options @{UserKnownHostsFile='%s'; ServerAliveInterval=1; ServerAliveCountMax=3}", proxy.Port(), kh))
		must(scr, "-Port -Options", `(?m)^ *\d+ flaky +SSH .*Opened`)
		proxy.ResetAll()
		x.M.WaitState("flaky", "Broken")
		scr = line("Reconnect-PSSession -Name flaky")
		must(scr, "Reconnect-PSSession", `reconnected: a new runspace`)
		must(scr, "Reconnect-PSSession", `(?m)^ *\d+ flaky +SSH .*Opened`)

		// Remove-PSSession by -Id and by name, and a pipeline into it
		line("rsn -Id " + strconv.Itoa(byName["alpha"].ID))
		if rows := x.M.Ls(); len(rows) != 3 || rows[0].Name == "alpha" {
			t.Fatalf("after Remove-PSSession -Id: %+v", rows)
		}
		// $s still holds alpha, now removed: the rest of $s runs
		scr = line("icm -Session $s { 'the rest' }")
		must(scr, "$s with a removed session", `(?m)^\[Beta\] the rest$`)
		mustNot(scr, "$s with a removed session", `alpha|not available`)
		line("Remove-PSSession -Name beta")
		scr = line("$s")
		must(scr, "$s after removing Beta", `(?m)^ *\d+ Beta +.*Closed`)
		line("Get-PSSession | rsn")
		if n := len(x.M.Ls()); n != 0 {
			t.Fatalf("after Get-PSSession | Remove-PSSession: %d sessions left", n)
		}

		// help
		scr = line("Get-Help New-PSSession")
		for _, p := range []string{"-HostName", "-Name", "-UserName", "-Port", "-KeyFilePath", "-Subsystem", "-Options", "-ConfigFile"} {
			must(scr, "Get-Help New-PSSession", `(?m)^ +`+regexp.QuoteMeta(p)+`\b`)
		}
		scr = line("Invoke-Command -?")
		must(scr, "Invoke-Command -?", `(?m)^ +-ThrottleLimit`)
		must(scr, "Invoke-Command -?", `(?m)^ +icm`)
		x.Line(w, "'marker' | Out-Null") // not a psmux command: an error on the screen
		x.WaitFor(w, "not a psmux command")
		x.Line(w, "clear")
		x.Wait(w, "a clear screen", func(s string) bool {
			return !strings.Contains(s, "not a psmux command") && e2e.LastLine(s) == "PS psmux>"
		})
	})
}
