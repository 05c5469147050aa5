package mux_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/psmux/psmux/mux"
	"github.com/psmux/psmux/testenv/opensshd"
)

// heldExec starts, on a new pwshsim session w1 of a server with cfg, an
// async command held until the returned release function runs.
func heldExec(t *testing.T, cfg mux.Config) (*mux.Client, func()) {
	t.Helper()
	pwshsim := opensshd.BuildPwshsim(t)
	_, dial := serveConfig(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := dial(false, nil)
	if _, err := c.Call(ctx, "new", mux.NewArgs{Name: "w1", Pwsh: []string{pwshsim, "-s"}}, nil); err != nil {
		t.Fatal(err)
	}
	release := filepath.Join(t.TempDir(), "release")
	held := fmt.Sprintf("while (-not (Test-Path '%s')) { Start-Sleep -Milliseconds 20 }; 'released'", release)
	if _, err := c.Call(ctx, "exec", mux.ExecArgs{Target: "w1", Script: held, Async: true}, nil); err != nil {
		t.Fatal(err)
	}
	return c, func() {
		if err := os.WriteFile(release, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// A synchronous command to a busy session fails with PowerShell's busy
// text once the server's SyncWait has passed (SPEC S5).
func TestSyncWaitFailsBusyAfterSyncWait(t *testing.T) {
	c, release := heldExec(t, mux.Config{Version: "test", SyncWait: 100 * time.Millisecond})
	defer release()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := c.Call(ctx, "exec", mux.ExecArgs{Target: "w1", Script: "'after'"}, nil)
	var e *mux.Error
	if !errors.As(err, &e) || e.Code != mux.CodeBusy || !strings.Contains(e.Msg, "a pipeline is already running") {
		t.Fatalf("sync exec to a busy session after SyncWait: %v, want %s with PowerShell's busy text", err, mux.CodeBusy)
	}
}

// A synchronous command that arrives while the session is busy runs once
// the session frees within SyncWait.
func TestSyncWaitRunsWhenFreedInTime(t *testing.T) {
	reqs := make(chan string, 64)
	logf := func(format string, args ...any) {
		select {
		case reqs <- fmt.Sprintf(format, args...):
		default:
		}
	}
	c, release := heldExec(t, mux.Config{Version: "test", SyncWait: time.Hour, Trace: true, Logf: logf})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	type result struct {
		res mux.ExecResult
		err error
	}
	done := make(chan result, 1)
	go func() {
		data, err := c.Call(ctx, "exec", mux.ExecArgs{Target: "w1", Script: "'after'"}, nil)
		var r mux.ExecResult
		json.Unmarshal(data, &r)
		done <- result{r, err}
	}()
	for arrived := false; !arrived; { // the server has the request while w1 is busy
		select {
		case l := <-reqs:
			arrived = strings.Contains(l, "'after'")
		case <-ctx.Done():
			t.Fatal("the synchronous exec never reached the server")
		}
	}
	select {
	case r := <-done:
		t.Fatalf("the synchronous exec ended while the session was busy: %+v %v", r.res, r.err)
	default:
	}
	release()
	select {
	case r := <-done:
		if r.err != nil || r.res.State != "Completed" {
			t.Fatalf("sync exec after the session freed: %+v %v", r.res, r.err)
		}
	case <-ctx.Done():
		t.Fatal("the synchronous exec did not end after the session freed")
	}
}
