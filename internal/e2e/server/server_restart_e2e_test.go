package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/psmux/psmux/internal/e2e"
	"github.com/psmux/psmux/mux"
)

// history asks the server for a session's command history, as the REPL
// does when it enters the session.
func history(t *testing.T, m *e2e.MuxEnv, session string) []string {
	t.Helper()
	cl := m.Client("history-test", false)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	data, err := cl.Call(ctx, "history", mux.HistoryArgs{Target: session}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var h []string
	if err := json.Unmarshal(data, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

// A server that stops listening as its shutdown begins lets a client start
// the next server on the same socket; when the old one exits it must leave
// the new server's socket alone, or the new server runs on where no client
// reaches it and the next client starts a second server beside it.
func TestStoppingServerLeavesNewerServersSocket(t *testing.T) {
	m := e2e.NewMuxEnv(t)
	m.Must("start-server") // the first server
	// The first server's shutdown window, made to last: its socket file is
	// gone while it still runs, so the next client starts a second server.
	if err := os.Remove(m.Sock); err != nil {
		t.Fatal(err)
	}
	m.Must("start-server")
	pids := m.ServerPids()
	if len(pids) != 2 {
		t.Fatalf("want two servers started, the log says %v:\n%s", pids, m.Log())
	}
	t.Cleanup(func() { // whatever the outcome, no server is left behind
		for _, pid := range pids {
			if !e2e.Gone(pid) {
				syscall.Kill(pid, syscall.SIGTERM)
			}
		}
	})
	if err := syscall.Kill(pids[0], syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	e2e.WaitGone(t, pids[0])
	if e2e.Gone(pids[1]) {
		t.Fatalf("the second server exited with the first:\n%s", m.Log())
	}
	// kill-server does not start a server: it must reach the second one.
	if r := m.Run("kill-server"); r.Code != e2e.ExitOK {
		t.Fatalf("after the first server exited, the second is unreachable: kill-server = %d %s\n%s", r.Code, r.Stderr, m.Log())
	}
	e2e.WaitGone(t, pids[1])
}

// kill-server while a restored session is still opening returns only
// once that server has exited, and a server started right after keeps
// its socket (the old one, exiting late, used to remove it).
func TestKillServerDuringRestore(t *testing.T) {
	m := e2e.NewMuxEnv(t)
	// Its PowerShell answers the first time; after the restart it hangs,
	// so the restored session stays Opening.
	dir := t.TempDir()
	hang := filepath.Join(dir, "hang")
	script := filepath.Join(dir, "pwsh.sh")
	body := fmt.Sprintf("#!/bin/sh\nif [ -e %s ]; then exec sleep 100000; fi\nexec %s -s\n", hang, e2e.PwshsimBin())
	if err := os.WriteFile(script, []byte(body), 0o700); err != nil {
		t.Fatal(err)
	}
	m.Must("new", "-n", "r", "--local", "--pwsh", script)
	first := m.ServerPID()
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	e2e.WaitGone(t, first)
	if err := os.WriteFile(hang, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	m.Must("start-server")
	second := m.ServerPID()
	if rows := m.Ls(); len(rows) != 1 || rows[0].State != "Opening" {
		t.Fatalf("after the restart: %+v, want r Opening", rows)
	}
	m.Must("kill-server")
	if !e2e.Gone(second) {
		t.Fatalf("kill-server returned while the server (pid %d) still runs", second)
	}
	m.Must("start-server")
	third := m.ServerPID()
	t.Cleanup(func() { _ = syscall.Kill(third, syscall.SIGTERM) })
	if third == second {
		t.Fatal("no new server started")
	}
	if r := m.Run("ls"); r.Code != e2e.ExitOK {
		t.Fatalf("the server started after kill-server lost its socket: ls = %d %s\n%s", r.Code, r.Stderr, m.Log())
	}
}

// A session restored after the server died keeps what it printed (its
// log is on disk), and says, to whoever attaches or captures it, that
// its runspace is new: the restart line follows the old output.
func TestRestoredSessionKeepsItsLog(t *testing.T) {
	m := e2e.NewMuxEnv(t)
	m.Must("new", "-n", "r", "--local", "--pwsh", e2e.PwshsimBin()+" -s")
	m.Must("exec", "-t", "r", "--", "'before'")
	// a command still running when the server dies, its output shown
	a := m.Attach("-t", "r", "--since", "1")
	m.Must("exec", "--async", "-t", "r", "--", "'started'; Start-Sleep 600")
	a.Until(t, "the running command's output", func(l string) bool { return l == "started" })
	a.Stdin.Close()
	a.Wait()
	before := m.Must("jobs", "-t", "r", "--json").Stdout
	pid := m.ServerPID()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	e2e.WaitGone(t, pid)
	m.Must("start-server")
	t.Cleanup(func() { m.Run("kill-server") })
	const restarted = "a new runspace here; the variables and state from before are gone, the output above is from before"
	// its commands, with their ended states, and its history are back
	var jobs []mux.JobInfo
	if err := json.Unmarshal([]byte(m.Must("jobs", "-t", "r", "--json").Stdout), &jobs); err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 2 || jobs[0].Command != "'before'" || jobs[0].State != "Completed" ||
		jobs[1].Command != "'started'; Start-Sleep 600" || jobs[1].State != "Failed" {
		t.Fatalf("jobs of the restored session: %+v; before the kill: %s\nwant 'before' Completed and the running one Failed (it ended with the server)", jobs, before)
	}
	if out := m.Must("capture", "-t", "r", "--job", strconv.Itoa(jobs[1].ID)).Stdout; !strings.Contains(out, "started") {
		t.Fatalf("capture --job %d of the restored session: %q", jobs[1].ID, out)
	}
	if h := history(t, m, "r"); !slices.Equal(h, []string{"'before'", "'started'; Start-Sleep 600"}) {
		t.Fatalf("the restored session's history: %q", h)
	}
	a = m.Attach("-t", "r", "--since", "1")
	a.WaitErr(t, restarted) // session events go to stderr
	a.Stdin.Close()
	a.Wait()
	c := m.Must("capture", "-t", "r")
	if !strings.Contains(c.Stderr, restarted) || !strings.Contains(c.Stdout, "PS> 'before'\nbefore\n") {
		t.Fatalf("capture of a restored session: stdout %q, stderr %q; want the output from before and the restart line", c.Stdout, c.Stderr)
	}
	m.Must("exec", "-t", "r", "--", "'after'")
	if c := m.Must("capture", "-t", "r").Stdout; !strings.Contains(c, "started\nPS> 'after'\nafter\n") {
		t.Fatalf("capture after a command in the restored session:\n%s", c)
	}
	if err := json.Unmarshal([]byte(m.Must("jobs", "-t", "r", "--json").Stdout), &jobs); err != nil || len(jobs) != 3 || jobs[2].ID <= jobs[1].ID {
		t.Fatalf("jobs after a new command: %+v %v; want a third whose Id follows the restored ones", jobs, err)
	}
	// rm removes the log on disk too
	logs := filepath.Join(m.State, "psmux", "*", "logs", "*")
	if dirs, _ := filepath.Glob(logs); len(dirs) != 1 {
		t.Fatalf("logs on disk before rm: %q; want the session's", dirs)
	}
	m.Must("rm", "-t", "r")
	if dirs, _ := filepath.Glob(logs); len(dirs) != 0 {
		t.Fatalf("logs on disk after rm: %q", dirs)
	}
}
