package server_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/psmux/psmux/internal/e2e"
)

// With the default Block policy, a small log full of output nobody has
// read and no client attached, `rm` and `kill-server` return and the
// session is gone (mux's TestBlockFullLogNoClientClosesPromptly holds
// them to 2 s of the server's time; here a hang is what fails).
func TestBlockFullLogRmAndKillServerReturn(t *testing.T) {
	for _, how := range []string{"rm", "kill-server"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			m := e2e.NewMuxEnv(t)
			m.Must("new", "-n", "w", "--budget", "65536", "--local", "--pwsh", e2e.PwshsimBin()+" -s")
			m.Must("exec", "--async", "-t", "w", "--", "1..100000")
			waitBlocked(t, m, "w")
			pid := m.ServerPID()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := m.Cmd(how)
			if how == "rm" {
				cmd = m.Cmd("rm", "-t", "w")
			}
			start := time.Now()
			done := make(chan error, 1)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("psmux %s: %v\nserver log:\n%s", how, err, m.Log())
				}
			case <-ctx.Done():
				cmd.Process.Kill()
				t.Fatalf("psmux %s hung with a full Block log and no client\nserver log:\n%s", how, m.Log())
			}
			t.Logf("%s returned after %s", how, time.Since(start))
			if how == "rm" {
				if rows := m.Ls(); len(rows) != 0 {
					t.Fatalf("after rm: %+v", rows)
				}
				return
			}
			for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) { // polling /proc
				if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the server (pid %d) still runs a minute after kill-server\nserver log:\n%s", pid, m.Log())
				}
			}
		})
	}
}

// waitBlocked polls ls until session name's log is full and its
// command waits for a reader.
func waitBlocked(t *testing.T, m *e2e.MuxEnv, name string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		for _, r := range m.Ls() {
			if r.Name == name && r.Blocked {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("session %s never blocked on its full log: %+v", name, m.Ls())
		}
		time.Sleep(50 * time.Millisecond) // polling the server: nothing to wait on
	}
}
