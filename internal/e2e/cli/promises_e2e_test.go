package cli_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/psmux/psmux/internal/e2e"
	"github.com/psmux/psmux/mux"
	"github.com/psmux/psmux/testenv/reap"
)

// The promises of the README's command table and SPEC S5/S8 that no
// other test held: exec --timeout, --throttle and --json, capture
// --since and --json, new --max-runspaces, Restored until the first
// command, and a corrupt registry at start.

// heldScript is a command held until release exists.
func heldScript(release string) string {
	return fmt.Sprintf("while (-not (Test-Path '%s')) { Start-Sleep -Milliseconds 20 }; 'released'", release)
}

// lsUntil polls `ls --json` until ok holds for its rows, failing after
// two minutes; it returns the rows that satisfied ok.
func lsUntil(t *testing.T, m *e2e.MuxEnv, what string, ok func([]mux.Info) bool) []mux.Info {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		rows := m.Ls()
		if ok(rows) {
			return rows
		}
		if time.Now().After(deadline) {
			t.Fatalf("ls never showed %s; last %+v", what, rows)
		}
	}
}

// runWithin is m.Run that fails the test when psmux has not exited
// after d (a command the test holds would otherwise hang it).
func runWithin(t *testing.T, m *e2e.MuxEnv, d time.Duration, args ...string) e2e.Result {
	t.Helper()
	cmd := m.Cmd(args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		reap.KillGroup(cmd)
		<-done
		t.Fatalf("psmux %q still running after %v; stdout %q, stderr %q", args, d, out.String(), errb.String())
	}
	return e2e.Result{Code: cmd.ProcessState.ExitCode(), Stdout: out.String(), Stderr: errb.String()}
}

func jobsOf(t *testing.T, m *e2e.MuxEnv, s string) []mux.JobInfo {
	t.Helper()
	var jobs []mux.JobInfo
	r := m.Must("jobs", "-t", s, "--json")
	if err := json.Unmarshal([]byte(r.Stdout), &jobs); err != nil {
		t.Fatalf("jobs -t %s --json: %v: %q", s, err, r.Stdout)
	}
	return jobs
}

func busy(rows []mux.Info) int {
	n := 0
	for _, r := range rows {
		if r.Availability == "Busy" {
			n++
		}
	}
	return n
}

func newLocal(m *e2e.MuxEnv, name string, extra ...string) {
	m.T.Helper()
	m.Must(append(append([]string{"new", "-n", name}, extra...), "--local", "--pwsh", e2e.PwshsimBin()+" -s")...)
}

// exec --timeout D stops a command held on a condition after D: exit 4
// with a line saying why, the session Opened and Available again, the
// job Stopped.
func TestExecTimeoutStopsHeldCommand(t *testing.T) {
	m := e2e.NewMuxEnv(t)
	newLocal(m, "w1")
	never := filepath.Join(t.TempDir(), "never")
	r := runWithin(t, m, time.Minute, "exec", "-t", "w1", "--timeout", "300ms", "--", heldScript(never))
	if r.Code != e2e.ExitStopped || r.Stderr != "psmux: w1: stopped: the command ran longer than --timeout 300ms\n" {
		t.Fatalf("exec --timeout: exit %d, stdout %q, stderr %q; want %d (stopped) and why", r.Code, r.Stdout, r.Stderr, e2e.ExitStopped)
	}
	rows := lsUntil(t, m, "w1 Opened and Available", func(rows []mux.Info) bool {
		return rows[0].State == "Opened" && rows[0].Availability == "Available"
	})
	jobs := jobsOf(t, m, "w1")
	if len(jobs) != 1 || jobs[0].State != "Stopped" {
		t.Fatalf("jobs %+v: want the one job Stopped (ls %+v)", jobs, rows)
	}
	if r := m.Must("exec", "-t", "w1", "--", "'still here'"); r.Stdout != "still here\n" {
		t.Fatalf("after the timeout: %q", r.Stdout)
	}
}

// exec --throttle N runs at most N sessions at once: with 1, never more
// than one Busy and the jobs do not overlap; with 3, all three are Busy
// at once.
func TestExecThrottle(t *testing.T) {
	m := e2e.NewMuxEnv(t)
	for _, n := range []string{"w1", "w2", "w3"} {
		newLocal(m, n)
	}
	run := func(throttle string, whileHeld func()) {
		t.Helper()
		release := filepath.Join(t.TempDir(), "release")
		cmd := m.Cmd("exec", "-t", "w*", "--throttle", throttle, "--", heldScript(release))
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waited := false
		t.Cleanup(func() { // a failure while it is held leaves nothing running
			if !waited {
				reap.KillGroup(cmd)
				cmd.Wait()
			}
		})
		whileHeld()
		if err := os.WriteFile(release, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		err := cmd.Wait()
		waited = true
		if err != nil || strings.Count(out.String(), "released") != 3 {
			t.Fatalf("exec --throttle %s: %v, stdout %q, stderr %q", throttle, err, out.String(), errb.String())
		}
	}
	run("1", func() {
		lsUntil(t, m, "one session Busy", func(rows []mux.Info) bool {
			if b := busy(rows); b > 1 {
				t.Fatalf("--throttle 1: %d sessions Busy at once: %+v", b, rows)
			}
			return busy(rows) == 1
		})
		// the others must still be waiting their turn
		for range 5 {
			if rows := m.Ls(); busy(rows) != 1 {
				t.Fatalf("--throttle 1 while the first is held: %+v", rows)
			}
		}
	})
	type span struct{ start, end time.Time }
	var spans []span
	for _, n := range []string{"w1", "w2", "w3"} {
		jobs := jobsOf(t, m, n)
		j := jobs[len(jobs)-1]
		if j.State != "Completed" {
			t.Fatalf("%s: %+v", n, jobs)
		}
		spans = append(spans, span{j.Start, j.End})
	}
	sort.Slice(spans, func(i, k int) bool { return spans[i].start.Before(spans[k].start) })
	for i := 1; i < len(spans); i++ {
		if spans[i].start.Before(spans[i-1].end) {
			t.Fatalf("--throttle 1: jobs overlap: %+v", spans)
		}
	}
	run("3", func() {
		lsUntil(t, m, "all three Busy", func(rows []mux.Info) bool { return busy(rows) == 3 })
	})
}

// exec --json over two sessions: NDJSON events with session, computer,
// seq, stream and value, a closing state line per session, and a failing
// command's state line carries the reason.
func TestExecJSONTwoSessions(t *testing.T) {
	m := e2e.NewMuxEnv(t)
	newLocal(m, "a")
	newLocal(m, "b")
	lines := func(r e2e.Result) []map[string]any {
		t.Helper()
		var out []map[string]any
		for _, l := range strings.Split(strings.TrimSuffix(r.Stdout, "\n"), "\n") {
			var v map[string]any
			if err := json.Unmarshal([]byte(l), &v); err != nil {
				t.Fatalf("not a JSON line: %q (%v) in\n%s", l, err, r.Stdout)
			}
			out = append(out, v)
		}
		return out
	}
	r := m.Must("exec", "-t", "a,b", "--json", "--", "1; 'two'")
	values := map[string][]any{}
	states := map[string]string{}
	for _, v := range lines(r) {
		s, _ := v["session"].(string)
		if st, ok := v["state"]; ok {
			if _, dup := states[s]; dup {
				t.Fatalf("two state lines for %s:\n%s", s, r.Stdout)
			}
			states[s] = st.(string)
			if _, ok := v["duration_ms"]; !ok {
				t.Fatalf("state line without duration_ms: %v", v)
			}
			continue
		}
		if _, done := states[s]; done {
			t.Fatalf("an event of %s after its state line:\n%s", s, r.Stdout)
		}
		for _, k := range []string{"session", "computer", "seq", "stream", "value"} {
			if _, ok := v[k]; !ok {
				t.Fatalf("event line lacks %q: %v", k, v)
			}
		}
		if v["computer"] == "" || v["stream"] != "Output" {
			t.Fatalf("event line %v", v)
		}
		values[s] = append(values[s], v["value"])
	}
	for _, s := range []string{"a", "b"} {
		if states[s] != "Completed" || fmt.Sprint(values[s]) != "[1 two]" {
			t.Fatalf("session %s: state %q values %v; stdout\n%s", s, states[s], values[s], r.Stdout)
		}
	}
	r = m.Run("exec", "-t", "a,b", "--json", "--", `throw "boom"`)
	if r.Code != e2e.ExitErrors {
		t.Fatalf("failing --json: exit %d %q %q", r.Code, r.Stdout, r.Stderr)
	}
	failed := 0
	for _, v := range lines(r) {
		if v["state"] == "Failed" && strings.Contains(fmt.Sprint(v["reason"]), "boom") {
			failed++
		}
	}
	if failed != 2 {
		t.Fatalf("want a Failed state line with reason boom per session:\n%s", r.Stdout)
	}
}

// capture --since N prints only the events from N on; capture --json is
// NDJSON closing each command with a state line (a failed one with its
// reason).
func TestCaptureSinceAndJSON(t *testing.T) {
	m := e2e.NewMuxEnv(t)
	newLocal(m, "a")
	m.Must("exec", "-t", "a", "--", "'one'")
	m.Run("exec", "-t", "a", "--", `throw "boom"`)
	m.Must("exec", "-t", "a", "--", "'three'")
	full := m.Must("capture", "-t", "a").Stdout
	for _, want := range []string{"one", "boom", "three"} {
		if !strings.Contains(full, want) {
			t.Fatalf("capture lacks %q:\n%s", want, full)
		}
	}
	prev, cut := full, 0
	for n := 1; n < 64; n++ {
		got := m.Must("capture", "-t", "a", "--since", fmt.Sprint(n)).Stdout
		if !strings.HasSuffix(full, got) || len(got) > len(prev) {
			t.Fatalf("capture --since %d is not a later part of the log:\n%s\nfull:\n%s", n, got, full)
		}
		if !strings.Contains(got, "one") && strings.Contains(got, "three") {
			cut = n
		}
		prev = got
		if got == "" {
			break
		}
	}
	if cut == 0 || prev != "" {
		t.Fatalf("no --since N left out the first command (cut %d), or the log never ended (%q)", cut, prev)
	}
	r := m.Must("capture", "-t", "1", "--json") // by id: the lines still name the session
	var states []map[string]any
	for _, l := range strings.Split(strings.TrimSuffix(r.Stdout, "\n"), "\n") {
		var v map[string]any
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("capture --json: not JSON: %q in\n%s", l, r.Stdout)
		}
		if _, ok := v["state"]; ok {
			states = append(states, v)
			continue
		}
		if v["session"] != "a" || v["computer"] != "localhost" || v["stream"] == nil || v["seq"] == nil {
			t.Fatalf("capture --json event line %v: want session a, computer localhost, seq and stream", v)
		}
	}
	if len(states) != 3 || states[0]["state"] != "Completed" || states[1]["state"] != "Failed" ||
		!strings.Contains(fmt.Sprint(states[1]["reason"]), "boom") || states[2]["state"] != "Completed" {
		t.Fatalf("capture --json: want Completed, Failed (boom), Completed state lines:\n%s", r.Stdout)
	}
}

// new --max-runspaces 2 lets two async commands run at once; with the
// default of 1 the second is refused busy (exit 5).
func TestMaxRunspacesTwoAsync(t *testing.T) {
	for name, server := range e2e.PwshServers(t) {
		t.Run(name, func(t *testing.T) {
			m := e2e.NewMuxEnv(t)
			m.Must("new", "-n", "two", "--max-runspaces", "2", "--local", "--pwsh", server)
			m.Must("new", "-n", "one", "--local", "--pwsh", server)
			release := filepath.Join(t.TempDir(), "release")
			for _, s := range []string{"two", "one"} {
				m.Must("exec", "--async", "-t", s, "--", heldScript(release))
			}
			// The second command runs to its end while the first is held
			// (it cannot end before the release file exists): they ran
			// at once, in pwsh as in psmux.
			if r := m.Run("exec", "--async", "-t", "two", "--", "'second'"); r.Code != 0 || !regexp.MustCompile(`job \d+ started in two`).MatchString(r.Stdout) {
				t.Fatalf("second async on --max-runspaces 2: exit %d %q %q", r.Code, r.Stdout, r.Stderr)
			}
			if r := m.Run("exec", "--async", "-t", "one", "--", "1"); r.Code != e2e.ExitBusy {
				t.Fatalf("second async on the default: exit %d %q %q; want %d", r.Code, r.Stdout, r.Stderr, e2e.ExitBusy)
			}
			for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(50 * time.Millisecond) { // polling the server
				jobs := jobsOf(t, m, "two")
				if len(jobs) == 2 && jobs[1].State == "Completed" {
					if jobs[0].State != "Running" {
						t.Fatalf("--max-runspaces 2: the held job is %s before its release: %+v", jobs[0].State, jobs)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("--max-runspaces 2: the second job did not end while the first was held: %+v", jobs)
				}
			}
			if err := os.WriteFile(release, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			m.Must("exec", "-t", "two", "--", "'done'") // waits for the held job
		})
	}
}

// After a restart every saved session is Restored until its first
// command (SPEC S5).
func TestRestoredUntilFirstCommand(t *testing.T) {
	m := e2e.NewMuxEnv(t)
	newLocal(m, "w1", "--init", "$restoredInit = 1") // the init script re-run at restore is not a first command
	if rows := m.Ls(); rows[0].Restored {
		t.Fatalf("a new session shows Restored: %+v", rows)
	}
	m.Must("kill-server")
	m.Serve()
	lsUntil(t, m, "w1 Opened and Restored", func(rows []mux.Info) bool {
		if len(rows) != 1 || !rows[0].Restored {
			t.Fatalf("after the restart: %+v, want w1 Restored", rows)
		}
		if rows[0].State != "Opened" {
			return false
		}
		// the init script, re-run at restore, has ended, after the
		// first run's record, kept from before the restart
		jobs := jobsOf(t, m, "w1")
		return len(jobs) == 2 && jobs[0].State == "Completed" && jobs[1].State == "Completed" && jobs[1].ID > jobs[0].ID
	})
	if r := m.Must("ls", "--json").Stdout; !strings.Contains(r, `"Restored":true`) {
		t.Fatalf("ls --json: %s", r)
	}
	if r := m.Must("exec", "-t", "w1", "--", "$restoredInit"); r.Stdout != "1\n" {
		t.Fatalf("the init script did not run at restore: %q", r.Stdout)
	}
	if rows := m.Ls(); rows[0].Restored || rows[0].State != "Opened" {
		t.Fatalf("after the first command: %+v, want Opened and no longer Restored", rows)
	}
}

// A registry the server cannot read is moved aside (its bytes kept in a
// .corrupt-* file, the quarantine logged) and the server starts empty;
// later sessions save fine.
func TestCorruptRegistryAtStart(t *testing.T) {
	m := e2e.NewMuxEnv(t)
	newLocal(m, "w1")
	m.Must("kill-server")
	files, _ := filepath.Glob(filepath.Join(m.State, "psmux", "*", "sessions.json"))
	if len(files) != 1 {
		t.Fatalf("registry files %v", files)
	}
	reg := files[0]
	garbage := []byte("{\"version\": 1, \"sessions\": [ this is not json\x00\xff")
	if err := os.WriteFile(reg, garbage, 0o600); err != nil {
		t.Fatal(err)
	}
	newLocal(m, "w2") // starts the server on demand
	if rows := m.Ls(); len(rows) != 1 || rows[0].Name != "w2" {
		t.Fatalf("after a corrupt registry: %+v, want only the new w2", rows)
	}
	aside, _ := filepath.Glob(reg + ".corrupt-*")
	if len(aside) != 1 {
		t.Fatalf("quarantined files %v", aside)
	}
	if kept, err := os.ReadFile(aside[0]); err != nil || !bytes.Equal(kept, garbage) {
		t.Fatalf("%s holds %q (%v), want the old bytes", aside[0], kept, err)
	}
	if log := m.Log(); !strings.Contains(log, "could not be read") || !strings.Contains(log, filepath.Base(aside[0])) {
		t.Fatalf("server.log does not say where the registry went:\n%s", log)
	}
	data, err := os.ReadFile(reg)
	if err != nil || !strings.Contains(string(data), `"w2"`) || strings.Contains(string(data), `"w1"`) {
		t.Fatalf("the registry after: %v %s", err, data)
	}
	m.Must("kill-server")
	m.Serve()
	lsUntil(t, m, "w2 restored", func(rows []mux.Info) bool {
		return len(rows) == 1 && rows[0].Name == "w2" && rows[0].State == "Opened"
	})
}
