package mux

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/psmux/psmux/sessions"
)

// holdOpener opens the first time as memOpener does; every later open
// hangs until its context ends, as an open to a host that never answers.
type holdOpener struct {
	opens    atomic.Int32
	returned atomic.Bool // a hanging open has returned
}

func (o *holdOpener) Open(ctx, life context.Context, tg Target, diag func(sessions.DiagKind, string)) (sessions.Transport, Where, error) {
	if o.opens.Add(1) == 1 {
		return memOpener{}.Open(ctx, life, tg, diag)
	}
	<-ctx.Done()
	o.returned.Store(true)
	return nil, Where{}, ctx.Err()
}

// The session's owner does its reopening: closing a session while a
// client's reconnect is under way ends that reconnect with the reason
// and returns only when the open it started has returned (nothing the
// session started outlives its close).
func TestCloseWaitsForAReconnectUnderWay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := memServer(t, Config{})
		o := &holdOpener{}
		srv.opener = o
		x, err := srv.create(t.Context(), NewArgs{Name: "r", Pwsh: []string{"pwsh"}, IdleTimeout: -1})
		if err != nil {
			t.Fatal(err)
		}
		errc := make(chan error, 1)
		go func() { errc <- x.reconnect(context.Background()) }()
		synctest.Wait() // the reconnect's open hangs
		if n := o.opens.Load(); n != 2 || x.info().State != "Opening" {
			t.Fatalf("%d opens, state %s; want the reconnect's open under way", n, x.info().State)
		}
		srv.remove(x, "removed")
		if !o.returned.Load() {
			t.Fatal("the session's close returned while the open its reconnect started still ran")
		}
		var ce *ClosedError
		if err := <-errc; !errors.As(err, &ce) || ce.Reason != "removed" {
			t.Fatalf("the reconnect under way: %v; want the session's close, removed", err)
		}
		if err := x.reconnect(context.Background()); !errors.As(err, &ce) {
			t.Fatalf("a reconnect after the close: %v; want the session's close", err)
		}
	})
}

// breakOpener opens on memOpener and keeps the transports it made, so
// that a test can break the link under a session.
type breakOpener struct {
	mu   sync.Mutex
	last sessions.Transport
}

func (o *breakOpener) Open(ctx, life context.Context, tg Target, diag func(sessions.DiagKind, string)) (sessions.Transport, Where, error) {
	t, w, err := memOpener{}.Open(ctx, life, tg, diag)
	o.mu.Lock()
	o.last = t
	o.mu.Unlock()
	return t, w, err
}

func (o *breakOpener) cut() {
	o.mu.Lock()
	defer o.mu.Unlock()
	_ = o.last.Close()
}

// A --reconnect session whose link breaks is seen Broken by its owner,
// which reopens it about a second later with nobody asking, and says so
// in the log; it is healed again after a second break, and a client's
// reconnect beside the healer leaves one Opened session.
func TestOwnerHealsABrokenLink(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := memServer(t, Config{})
		o := &breakOpener{}
		srv.opener = o
		x, err := srv.create(t.Context(), NewArgs{Name: "h", Pwsh: []string{"pwsh"}, IdleTimeout: -1, Reconnect: true})
		if err != nil {
			t.Fatal(err)
		}
		for round := 1; round <= 2; round++ {
			o.cut()
			synctest.Wait()
			if st := x.info().State; st != "Broken" {
				t.Fatalf("round %d: after the cut: %s; want Broken", round, st)
			}
			time.Sleep(2 * time.Second) // the first try comes within 1.2 s
			synctest.Wait()
			if st := x.info().State; st != "Opened" {
				t.Fatalf("round %d: 2 s after the cut: %s; want Opened by the healer", round, st)
			}
			if log := logText(x); strings.Count(log, "Reconnected by the server after the link broke (attempt 1") != round {
				t.Fatalf("round %d: the log does not say the server reconnected it:\n%s", round, log)
			}
		}
		o.cut()
		synctest.Wait()
		if err := x.reconnect(t.Context()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if st := x.info().State; st != "Opened" || strings.Count(logText(x), "Reconnected by the server") != 2 {
			t.Fatalf("a client's reconnect beside the healer: %s, log:\n%s", st, logText(x))
		}
	})
}

// logText is the session's log, one event per line.
func logText(x *Session) string {
	var b strings.Builder
	evs, _, _ := x.log.Read(0, 0, nil)
	for _, e := range evs {
		b.Write(e.Data)
		b.WriteByte('\n')
	}
	return b.String()
}

// A command that waits for a session's open runs after its init script,
// which takes the pipeline slot before the waiting command is let go: a
// command sent to a restored session found the init script's variable
// unset when it won the race for the slot. The same for a reconnect.
func TestCommandWaitingForAnOpenRunsAfterTheInitScript(t *testing.T) {
	for _, how := range []string{"new", "reconnect"} {
		for round := range 100 {
			t.Run("", func(t *testing.T) {
				srv := memServer(t, Config{})
				ctx := t.Context()
				a := NewArgs{Name: "i", Pwsh: []string{"pwsh"}, IdleTimeout: -1, Init: "$g = 'set by init'"}
				opened := make(chan error, 1)
				seen := make(chan struct{})
				if how == "new" {
					srv.opener = seenOpener{seen}
					go func() { _, err := srv.create(ctx, a); opened <- err }()
				} else {
					x, err := srv.create(ctx, a)
					if err != nil {
						t.Fatal(err)
					}
					srv.opener = seenOpener{seen}
					go func() { opened <- x.reconnect(ctx) }()
				}
				// The opener holds the session Opening until this goroutine
				// has seen it so (a fixed 20 ms let a goroutine not
				// scheduled for that long, under -race on a busy machine,
				// spin for an Opening it had missed until the test timed
				// out), then 20 ms more, while the command waits.
				var x *Session
				for x == nil {
					if ss, err := srv.find("i"); err == nil && ss[0].info().State == "Opening" {
						x = ss[0]
					}
				}
				close(seen)
				started := startPrintingG(t, ctx, x)
				if err := <-opened; err != nil {
					t.Fatal(err)
				}
				j := <-started
				if j == nil {
					return
				}
				<-j.done
				if log := logText(x); !strings.Contains(log, "g=set by init") {
					t.Fatalf("%s, round %d: the command that waited for the open ran before the init script:\n%s", how, round, log)
				}
			})
		}
	}
}

// seenOpener opens once seen is closed, 20 ms later.
type seenOpener struct{ seen <-chan struct{} }

func (o seenOpener) Open(ctx, life context.Context, tg Target, diag func(sessions.DiagKind, string)) (sessions.Transport, Where, error) {
	select {
	case <-o.seen:
	case <-ctx.Done():
		return nil, Where{}, ctx.Err()
	}
	return slowOpener{20 * time.Millisecond}.Open(ctx, life, tg, diag)
}

// A command that comes while an open is under way, the session already
// Opened but its init script not yet started (an open waits there for
// room to log its events when a full Block log has no reader), waits
// for the open and runs after the init script.
func TestCommandDuringAnOpenWaitsForTheInitScript(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := memServer(t, Config{})
		ctx := t.Context()
		x, err := srv.create(ctx, NewArgs{Name: "o", Pwsh: []string{"pwsh"}, IdleTimeout: -1, Init: "$g = 'set by init'"})
		if err != nil {
			t.Fatal(err)
		}
		hold, held := make(chan struct{}), make(chan struct{})
		testHookOpened = func(*Session) { close(held); <-hold }
		defer func() { testHookOpened = nil }()
		reopened := make(chan error, 1)
		go func() { reopened <- x.reconnect(ctx) }()
		<-held // Opened, its init script not started
		if st := x.info().State; st != "Opened" {
			t.Fatalf("in the hook: %s", st)
		}
		started := startPrintingG(t, ctx, x)
		synctest.Wait() // the command has waited, or taken the slot
		close(hold)
		if err := <-reopened; err != nil {
			t.Fatal(err)
		}
		if j := <-started; j != nil {
			<-j.done
		}
		if log := logText(x); !strings.Contains(log, "g=set by init") {
			t.Fatalf("the command that came during the open ran before the init script:\n%s", log)
		}
	})
}

// A reconnect whose init script cannot start (the pipeline slot stays
// taken past SyncWait) says so; it does not report a clean reopen.
func TestReconnectReportsAnInitScriptThatCouldNotStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := memServer(t, Config{SyncWait: time.Second})
		x, err := srv.create(t.Context(), NewArgs{Name: "s", Pwsh: []string{"pwsh"}, IdleTimeout: -1, Init: "$g = 1"})
		if err != nil {
			t.Fatal(err)
		}
		x.slots <- struct{}{} // as a quiet pipeline holds it
		err = x.reconnect(t.Context())
		<-x.slots
		if err == nil || !strings.Contains(err.Error(), "the init script could not start") {
			t.Fatalf("reconnect with the slot taken: %v; want the init script's failure to start", err)
		}
	})
}

// Once the server shuts down, neither a new session nor Start-Job's
// process is made (a session made then would never be closed, and its
// owner goroutine would outlive the server: synctest reports it).
func TestNoSessionAfterShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := memServer(t, Config{})
		if err := srv.Shutdown(t.Context()); err != nil {
			t.Fatal(err)
		}
		if _, err := srv.create(t.Context(), NewArgs{Name: "late", Pwsh: []string{"pwsh"}, IdleTimeout: -1}); err == nil || !strings.Contains(err.Error(), "exiting") {
			t.Fatalf("new after shutdown: %v; want the server is exiting", err)
		}
		if _, err := srv.openBackground(t.Context(), []string{"pwsh"}); err == nil || !strings.Contains(err.Error(), "exiting") {
			t.Fatalf("Start-Job after shutdown: %v; want the server is exiting", err)
		}
	})
}

// startPrintingG starts, in a goroutine, a command that prints $g (set
// by the tests' init script), and hands over its job when it has one.
func startPrintingG(t *testing.T, ctx context.Context, x *Session) <-chan *job {
	started := make(chan *job, 1)
	go func() {
		j, err := x.start(ctx, nil, ExecArgs{Script: "\"g=$g\""})
		if err != nil {
			t.Error(err)
		}
		started <- j
	}()
	return started
}
