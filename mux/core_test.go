package mux

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/psmux/psmux/mux/store"
	"github.com/psmux/psmux/sessions"
	"github.com/psmux/psmux/testenv/pwshsim"
)

// memOpener opens every session on an in-memory pwshsim: no process,
// no socket, so a whole server runs inside a synctest bubble.
type memOpener struct{}

func (memOpener) Open(_, _ context.Context, _ Target, _ func(sessions.DiagKind, string)) (sessions.Transport, Where, error) {
	return pwshsim.StartPipe(pwshsim.ServerOptions{}), Where{Computer: "localhost", Transport: "Process"}, nil
}

// memServer is a server whose sessions run on memOpener; it is shut
// down when the test ends.
func memServer(t *testing.T, cfg Config) *Server {
	t.Helper()
	cfg.Version = "test"
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv.opener = memOpener{}
	t.Cleanup(func() {
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return srv
}

// Block policy, a full log and no client: rm, kill-server and the idle
// close each return at once (within 2 s of the bubble's clock), and the
// log's last event says the session closed.
func TestCloseWithAFullBlockLogAndNoClient(t *testing.T) {
	for _, how := range []string{"rm", "kill-server", "idle"} {
		t.Run(how, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := memServer(t, Config{IdleCheck: time.Second})
				ctx := t.Context()
				a := NewArgs{Name: "full", Pwsh: []string{"pwsh"}, Policy: "Block", Budget: 4096, IdleTimeout: -1}
				if how == "idle" {
					// no command runs (or it would not be idle): the
					// "Opened" event alone is over a 1-byte budget
					a.Budget, a.IdleTimeout = 1, time.Minute
				}
				x, err := srv.create(ctx, a)
				if err != nil {
					t.Fatal(err)
				}
				if how != "idle" {
					if _, err := x.start(ctx, nil, ExecArgs{Script: "1..100000", Async: true}); err != nil {
						t.Fatal(err)
					}
					synctest.Wait()
					if st := x.log.Stats(); !st.Waiting {
						t.Fatalf("the command is not blocked on the full log: %+v", st)
					}
				}
				done := make(chan struct{})
				go func() {
					defer close(done)
					switch how {
					case "rm":
						srv.remove(x, "removed")
					case "kill-server":
						if err := srv.Shutdown(ctx); err != nil {
							t.Error(err)
						}
					case "idle": // closed by the idle check, a minute in
						for !x.closed() || x.info().State != "Closed" {
							time.Sleep(time.Second)
						}
					}
				}()
				wait := 2 * time.Second
				if how == "idle" {
					wait += time.Minute
				}
				select {
				case <-done:
				case <-time.After(wait):
					x.log.Close() // unblock it, so that the test ends
					<-done
					t.Fatalf("%s did not return within 2 s", how)
				}
				if st := x.info().State; st != "Closed" {
					t.Fatalf("after %s the session is %s", how, st)
				}
				evs, _, _ := x.log.Read(0, 0, nil)
				var last Event
				if err := json.Unmarshal(evs[len(evs)-1].Data, &last); err != nil || last.Kind != KindSession || !strings.HasPrefix(last.Text, "Closed: ") {
					t.Fatalf("last event %s", evs[len(evs)-1].Data)
				}
			})
		})
	}
}

// Many sessions with a small server-wide budget: what all their logs
// hold together stays under it.
func TestServerMemoryBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const budget = 64 << 10
		srv := memServer(t, Config{MaxMemory: budget})
		ctx := t.Context()
		var xs []*Session
		for i := range 10 {
			x, err := srv.create(ctx, NewArgs{Name: fmt.Sprint("s", i), Pwsh: []string{"pwsh"}, Policy: "Drop", IdleTimeout: -1})
			if err != nil {
				t.Fatal(err)
			}
			xs = append(xs, x)
		}
		var jobs []*job
		for _, x := range xs {
			j, err := x.start(ctx, nil, ExecArgs{Script: "1..1000", Async: true})
			if err != nil {
				t.Fatal(err)
			}
			jobs = append(jobs, j)
		}
		for _, j := range jobs {
			<-j.done
		}
		var sum int64
		var dropped uint64
		for _, x := range xs {
			st := x.log.Stats()
			sum += st.Bytes
			dropped += st.Dropped
		}
		if sum > budget || srv.mem.Bytes() != sum {
			t.Fatalf("the logs hold %d bytes (the budget counts %d); budget %d", sum, srv.mem.Bytes(), budget)
		}
		if dropped == 0 {
			t.Fatal("nothing was dropped: the test did not reach the budget")
		}
		t.Logf("10 sessions × 1000 lines: %d bytes held, %d events dropped, budget %d", sum, dropped, budget)
		srv.remove(xs[0], "removed")
		var rest int64
		for _, x := range xs[1:] {
			rest += x.log.Stats().Bytes
		}
		if got := srv.mem.Bytes(); got != rest {
			t.Fatalf("after rm the budget counts %d, the other logs hold %d", got, rest)
		}
	})
}

// slowOpener opens as memOpener does after a delay: an open over a slow
// link, or on a loaded machine.
type slowOpener struct{ delay time.Duration }

func (o slowOpener) Open(ctx, life context.Context, tg Target, diag func(sessions.DiagKind, string)) (sessions.Transport, Where, error) {
	time.Sleep(o.delay)
	return memOpener{}.Open(ctx, life, tg, diag)
}

// A session's idle time starts when it opens: an open that takes longer
// than the IdleTimeout does not end in an idle close (it did, under
// load, with a 6 s IdleTimeout and a pwsh that took longer to open).
func TestIdleTimeStartsWhenOpened(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := memServer(t, Config{IdleCheck: 100 * time.Millisecond})
		srv.opener = slowOpener{10 * time.Second}
		x, err := srv.create(t.Context(), NewArgs{Name: "slow", Pwsh: []string{"pwsh"}, IdleTimeout: 2 * time.Second})
		if err != nil {
			t.Fatalf("an open that outlasts the IdleTimeout: %v", err)
		}
		if st := x.info().State; st != "Opened" {
			t.Fatalf("after a 10 s open: %s; want Opened", st)
		}
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if st := x.info().State; st != "Closed" {
			t.Fatalf("3 s after it opened: %s; want Closed by its 2 s IdleTimeout", st)
		}
	})
}

// A save that comes while the server shuts down (a reconnect or the
// healer ending then) keeps the registry as it was: the sessions closing
// with the server are the ones to come back, with their logs on disk.
func TestSaveDuringShutdownKeepsTheRegistry(t *testing.T) {
	state := filepath.Join(t.TempDir(), "sessions.json")
	srv := memServer(t, Config{StateFile: state})
	if _, err := srv.create(t.Context(), NewArgs{Name: "kept", Pwsh: []string{"pwsh"}, IdleTimeout: -1}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	srv.save()
	reg, err := store.Load(state)
	if err != nil || len(reg.Sessions) != 1 || reg.Sessions[0].Name != "kept" {
		t.Fatalf("the registry after a save during shutdown: %+v %v; want the session kept", reg.Sessions, err)
	}
}
