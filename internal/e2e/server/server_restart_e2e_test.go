package server_test

import (
	"os"
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
