package sessions_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/psmux/psmux/sessions"
	"github.com/psmux/psmux/sessions/psrp"
	req "github.com/psmux/psmux/testenv/require"
)

// A real pwsh that exits in the middle of a pipeline: its output ends and
// its exit status is reported by the transport.
func TestBrokenWhenPwshExits(t *testing.T) {
	cmd := req.PwshServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p, err := sessions.StartProcess(ctx, strings.Fields(cmd), func(k sessions.DiagKind, s string) { t.Logf("diag %d: %s", k, s) })
	if err != nil {
		t.Fatal(err)
	}
	c, err := sessions.Open(ctx, p, sessions.Options{})
	if err != nil {
		p.Close()
		t.Fatal(err)
	}
	_, err = c.Invoke(ctx, psrp.ScriptPipeline("[Environment]::Exit(3)", false), nil, &recorder{})
	var be *sessions.BrokenError
	if !errors.As(err, &be) {
		t.Fatalf("Invoke of a pipeline that ends the server: %v, want a BrokenError", err)
	}
	wantEndedByEOF(ctx, t, c)
	if err := c.Close(ctx); !errors.As(err, &be) {
		t.Fatalf("Close after the break: %v, want the BrokenError", err)
	}
	if err := p.Close(); err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("transport Close: %v, want pwsh's exit status 3", err)
	}
}

// A real pwsh behind a launcher that turns its exit status into its own
// (go run prints "exit status 160" and exits 1): after a clean close the
// session's Close reports nothing, so `go run`'s normal end is no error.
func TestCleanCloseIgnoresALaunchersExitStatus(t *testing.T) {
	cmd := req.PwshServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p, err := sessions.StartProcess(ctx, []string{"sh", "-c", cmd + "; exit 1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := sessions.Open(ctx, p, sessions.Options{})
	if err != nil {
		p.Close()
		t.Fatal(err)
	}
	if _, err := c.Invoke(ctx, psrp.ScriptPipeline("'hi'", false), nil, &recorder{}); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(ctx); err != nil {
		t.Fatalf("Close after a clean close: %v, want nil", err)
	}
	if err := p.Close(); err == nil || !strings.Contains(err.Error(), "exit status 1") {
		t.Fatalf("the transport still knows the launcher's status: %v", err)
	}
}
