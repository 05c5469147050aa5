package repl_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/psmux/psmux/internal/e2e"
	"github.com/psmux/psmux/mux"
	"github.com/psmux/psmux/testenv/opensshd"
)

// Jobs belong to the server (issue 12 item 4): Invoke-Command -AsJob
// over two sessions in one REPL is one parent job; a second REPL, a
// client of its own, lists it with Get-Job and receives it; `psmux
// jobs` lists it; after Remove-Job a new job never gets an Id used
// before.
func TestREPLJobsBelongToTheServer(t *testing.T) {
	opensshd.Require(t)
	e2e.EachSubsystem(t, func(t *testing.T, server, sub string) {
		x, w := e2e.ReplWithSession(t, sub)
		x.Keys(w, "C-d")
		x.WaitPrompt(w, `^PS psmux>$`)
		x.Line(w, "New-PSSession -HostName psmux-test -Name w2")
		x.Wait(w, "the w2 row", func(s string) bool { return regexp.MustCompile(`\d+ w2 +SSH`).MatchString(s) })
		x.WaitPrompt(w, `^PS psmux>$`)
		release := filepath.Join(t.TempDir(), "release")
		x.Line(w, fmt.Sprintf("Invoke-Command -Session w1,w2 -ScriptBlock { 'part one'; while (-not (Test-Path '%s')) { Start-Sleep -Milliseconds 50 }; 'part two' } -AsJob", release))
		parent := regexp.MustCompile(`(?m)^(\d+) +(Job\d+) +RemoteJob +Running +\w+ +w1, w2 +'part one'`)
		m := parent.FindStringSubmatch(x.Wait(w, "one parent job over w1 and w2", parent.MatchString))
		id, name := m[1], m[2]
		x.WaitPrompt(w, `^PS psmux>$`)

		// psmux jobs, from the shell: the same job, a child per session.
		var rows []mux.JobRow
		if err := json.Unmarshal([]byte(x.M.Must("jobs", "--json").Stdout), &rows); err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 || strconv.Itoa(rows[0].ID) != id || len(rows[0].Children) != 2 ||
			rows[0].Children[0].Session != "w1" || rows[0].Children[1].Session != "w2" {
			t.Fatalf("psmux jobs --json: %+v; want job %s with a child in w1 and in w2", rows, id)
		}
		if out := x.M.Must("jobs").Stdout; !regexp.MustCompile(`(?m)^` + id + ` +` + name + ` +RemoteJob +\w+ +\w+ +w1, w2`).MatchString(out) {
			t.Fatalf("psmux jobs:\n%s", out)
		}

		// Another REPL: Get-Job lists it; Receive-Job -Wait gets each
		// session's output once.
		w2 := x.Start("two")
		x.WaitPrompt(w2, `^PS psmux>$`)
		x.Line(w2, "gjb")
		x.Wait(w2, "the job in the other REPL", regexp.MustCompile(`(?m)^`+id+` +`+name+` +RemoteJob +\w+ +\w+ +w1, w2`).MatchString)
		x.WaitPrompt(w2, `^PS psmux>$`)
		if err := os.WriteFile(release, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		x.Line(w2, "Receive-Job -Id "+id+" -Wait")
		x.Wait(w2, "both sessions' output", func(s string) bool {
			for _, l := range []string{"[w1] part one", "[w1] part two", "[w2] part one", "[w2] part two"} {
				if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(l) + `$`).MatchString(s) {
					return false
				}
			}
			return true
		})
		x.WaitPrompt(w2, `^PS psmux>$`)
		x.Line(w2, "Get-Job -Name "+name)
		x.Wait(w2, "Completed, no more data", regexp.MustCompile(`(?m)^`+id+` +`+name+` +RemoteJob +Completed +False +w1, w2`).MatchString)
		x.WaitPrompt(w2, `^PS psmux>$`)

		// Back in the first REPL: received already, so nothing; then
		// Remove-Job, and the next job's Id is new.
		s := x.LocalCommand(w, "rcjb "+id) // on a cleared screen: the old one has the job's command
		if strings.Contains(s, "part") {
			t.Fatalf("a second Receive-Job printed output received already:\n%s", s)
		}
		x.Line(w, "Remove-Job "+id)
		x.WaitPrompt(w, `^PS psmux>$`)
		x.Line(w, "Invoke-Command -Session w2 -ScriptBlock { 'again' } -AsJob")
		next := regexp.MustCompile(`(?m)^(\d+) +Job\d+ +RemoteJob +\w+ +\w+ +w2 +'again'`)
		n, _ := strconv.Atoi(next.FindStringSubmatch(x.Wait(w, "the next job", next.MatchString))[1])
		first, _ := strconv.Atoi(id)
		if n <= rows[0].Children[1].ID || n == first {
			t.Fatalf("the job after Remove-Job has Id %d; Ids %s, %d and %d were used before", n, id, rows[0].Children[0].ID, rows[0].Children[1].ID)
		}
		if err := json.Unmarshal([]byte(x.M.Must("jobs", "--json").Stdout), &rows); err != nil || len(rows) != 1 || rows[0].ID != n {
			t.Fatalf("psmux jobs after Remove-Job: %+v %v; want only job %d", rows, err, n)
		}
		x.WaitPrompt(w, `^PS psmux>$`)

		// wjb, rcjb -Keep (twice the same), rcjb (then nothing), spjb, rjb
		ns := strconv.Itoa(n)
		line := func(cmd string) string { return x.LocalCommand(w, cmd) }
		if s := line("wjb " + ns); !regexp.MustCompile(`(?m)^` + ns + ` +Job\d+ +RemoteJob +Completed +True +w2`).MatchString(s) {
			t.Fatalf("Wait-Job:\n%s", s)
		}
		again := regexp.MustCompile(`(?m)^again$`)
		for i, cmd := range []string{"rcjb " + ns + " -Keep", "rcjb " + ns + " -Keep", "rcjb " + ns} {
			if s := line(cmd); !again.MatchString(s) {
				t.Fatalf("%s (%d): no output\n%s", cmd, i, s)
			}
		}
		if s := line("rcjb " + ns); again.MatchString(s) {
			t.Fatalf("Receive-Job after a receive without -Keep printed it again:\n%s", s)
		}
		os.Remove(release)
		s = line(fmt.Sprintf("icm -Session w2 { while (-not (Test-Path '%s')) { Start-Sleep -Milliseconds 50 } } -AsJob", release))
		held := regexp.MustCompile(`(?m)^(\d+) +Job\d+ +RemoteJob +Running `).FindStringSubmatch(s)
		if held == nil {
			t.Fatalf("the held job's row:\n%s", s)
		}
		line("spjb " + held[1])
		if s := line("gjb " + held[1]); !regexp.MustCompile(`(?m)^` + held[1] + ` +Job\d+ +RemoteJob +Stopped `).MatchString(s) {
			t.Fatalf("Get-Job after Stop-Job:\n%s", s)
		}
		line("rjb " + held[1])
		if err := json.Unmarshal([]byte(x.M.Must("jobs", "--json").Stdout), &rows); err != nil || len(rows) != 1 || rows[0].ID != n {
			t.Fatalf("psmux jobs after Remove-Job %s: %+v %v; want only job %d", held[1], rows, err, n)
		}
	})
}

// Start-Job (sajb) runs its script block in a new local pwsh process, as
// PowerShell's does: a BackgroundJob of the server at localhost, which
// Get-PSSession does not list, whose process ends with the job, and
// which Receive-Job, Wait-Job and Remove-Job handle like any other.
func TestREPLStartJob(t *testing.T) {
	opensshd.Require(t)
	e2e.EachSubsystem(t, func(t *testing.T, server, sub string) {
		x, w := e2e.ReplWithSession(t, sub, "PSMUX_PWSH="+e2e.Servers(t)[server])
		x.Keys(w, "C-d")
		x.WaitPrompt(w, `^PS psmux>$`)
		line := func(cmd string) string { return x.LocalCommand(w, cmd) }
		release := filepath.Join(t.TempDir(), "release")
		s := line(fmt.Sprintf(`sajb { "pid $PID"; while (-not (Test-Path '%s')) { Start-Sleep -Milliseconds 50 }; 'done' } -Name bg`, release))
		row := regexp.MustCompile(`(?m)^(\d+) +bg +BackgroundJob +Running +\w+ +localhost `)
		m := row.FindStringSubmatch(s)
		if m == nil {
			t.Fatalf("Start-Job's row:\n%s", s)
		}
		id := m[1]
		if s := line("Get-PSSession"); strings.Contains(s, "localhost") || !strings.Contains(s, "w1") {
			t.Fatalf("Get-PSSession lists a background job's process, or not w1:\n%s", s)
		}
		// the job prints its pid soon after it starts (pwsh takes a while)
		var pm []string
		for deadline := time.Now().Add(time.Minute); pm == nil; {
			s = line("Receive-Job bg -Keep")
			if pm = regexp.MustCompile(`(?m)^pid (\d+)$`).FindStringSubmatch(s); pm == nil && time.Now().After(deadline) {
				t.Fatalf("Receive-Job of the running job:\n%s", s)
			}
		}
		if err := os.WriteFile(release, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if s := line("Wait-Job -Id " + id); !regexp.MustCompile(`(?m)^` + id + ` +bg +BackgroundJob +Completed +True +localhost `).MatchString(s) {
			t.Fatalf("Wait-Job:\n%s", s)
		}
		if s := line("rcjb " + id); !regexp.MustCompile(`(?m)^pid \d+\n(.*\n)*done$`).MatchString(s) {
			t.Fatalf("Receive-Job after the job ended:\n%s", s)
		}
		// the job's process ends with the job
		pid, _ := strconv.Atoi(pm[1])
		e2e.WaitGone(t, pid)
		line("Remove-Job " + id)
		if s := line("Get-Job"); strings.Contains(s, "bg") {
			t.Fatalf("Get-Job after Remove-Job:\n%s", s)
		}
		// a positional script block with -ArgumentList
		s = line(`Start-Job { param($a, $b) "sum $($a + $b)" } -ArgumentList 2,3`)
		m = regexp.MustCompile(`(?m)^(\d+) +(Job\d+) +BackgroundJob `).FindStringSubmatch(s)
		if m == nil {
			t.Fatalf("Start-Job -ArgumentList's row:\n%s", s)
		}
		if s := line("Receive-Job " + m[1] + " -Wait"); !regexp.MustCompile(`(?m)^sum 5$`).MatchString(s) {
			t.Fatalf("Receive-Job -Wait of %s:\n%s", m[2], s)
		}
	})
}
