package server_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/psmux/psmux/internal/e2e"
)

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
	pid := m.ServerPID()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	e2e.WaitGone(t, pid)
	m.Must("start-server")
	t.Cleanup(func() { m.Run("kill-server") })
	const restarted = "a new runspace here; the variables and state from before are gone, the output above is from before"
	a := m.Attach("-t", "r", "--since", "1")
	a.WaitErr(t, restarted) // session events go to stderr
	a.Stdin.Close()
	a.Wait()
	c := m.Must("capture", "-t", "r")
	if !strings.Contains(c.Stderr, restarted) || !strings.Contains(c.Stdout, "PS> 'before'\nbefore\n") {
		t.Fatalf("capture of a restored session: stdout %q, stderr %q; want the output from before and the restart line", c.Stdout, c.Stderr)
	}
	m.Must("exec", "-t", "r", "--", "'after'")
	if c := m.Must("capture", "-t", "r").Stdout; !strings.Contains(c, "before\nPS> 'after'\nafter\n") {
		t.Fatalf("capture after a command in the restored session:\n%s", c)
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
