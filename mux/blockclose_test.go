package mux_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/psmux/psmux/mux"
	"github.com/psmux/psmux/sessions"
	"github.com/psmux/psmux/testenv/pwshsim"
)

// openInMemory is a Config.Open that serves every session from a
// pwshsim of its own, in this process.
func openInMemory(ctx, life context.Context, tg mux.Target, diag func(sessions.DiagKind, string)) (sessions.Transport, mux.Where, error) {
	return pwshsim.StartPipe(pwshsim.ServerOptions{}), mux.Where{Computer: "localhost", HostName: "localhost", Transport: "Process"}, nil
}

// With the Block policy, a log full of output nobody has read and no
// client attached, `rm` and the server's shutdown (kill-server) each end
// the session within 2 s: nothing they wait for may block on a reader
// that is not there. The budgets differ by less than an event's size, so
// that in some of them what room is left cannot hold even the session's
// last event ("Closed: …").
func TestBlockFullLogNoClientClosesPromptly(t *testing.T) {
	for _, how := range []string{"rm", "kill-server"} {
		for budget := int64(64 << 10); budget < 64<<10+256; budget += 16 {
			t.Run(fmt.Sprintf("%s/budget=%d", how, budget), func(t *testing.T) { blockFullLogClose(t, how, budget) })
		}
	}
}

func blockFullLogClose(t *testing.T, how string, budget int64) {
	synctest.Test(t, func(t *testing.T) {
		srv, dial := serveConfig(t, mux.Config{Version: "test", Open: openInMemory})
		c := dial(false, nil)
		ctx := context.Background()
		if _, err := c.Call(ctx, "new", mux.NewArgs{Name: "w", Pwsh: []string{"pwshsim"}, Budget: budget, Policy: "Block"}, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Call(ctx, "exec", mux.ExecArgs{Target: "w", Script: "1..100000", Async: true}, nil); err != nil {
			t.Fatal(err)
		}
		synctest.Wait() // the pipeline's output is blocked on the full log
		data, err := c.Call(ctx, "ls", nil, nil)
		if err != nil || !strings.Contains(string(data), `"Busy"`) {
			t.Fatalf("ls before the close: %s %v; want the session busy with its blocked command", data, err)
		}
		closed := make(chan error, 1)
		go func() {
			switch how {
			case "rm":
				_, err := c.Call(ctx, "rm", mux.TargetArgs{Target: "w"}, nil)
				closed <- err
			case "kill-server":
				srv.Shutdown()
				closed <- nil
			}
		}()
		select {
		case err := <-closed:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("%s has not returned after 2s with a full Block log and no client", how)
		}
	})
}
