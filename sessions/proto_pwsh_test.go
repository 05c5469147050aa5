package sessions_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/psmux/psmux/sessions"
	"github.com/psmux/psmux/sessions/psrp"
)

// A stop asked for at once (exec --timeout 1ms, a quick Ctrl-C) stops
// the pipeline: the Signal waits until the pipeline exists on the server.
func TestStopBeforeThePipelineExists(t *testing.T) {
	for name, mk := range transports(t) {
		t.Run(name, func(t *testing.T) {
			c := open(t, mk(t), psrp.NoHost())
			for i := range 4 {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				h := &recorder{}
				res, err := c.Invoke(ctx, psrp.ScriptPipeline(`Start-Sleep 3; 'after'`, false), nil, h)
				if err != nil {
					t.Fatalf("run %d: %v", i, err)
				}
				if res.State != psrp.Stopped || len(h.outputs()) != 0 {
					t.Fatalf("run %d: state %v, output %q: want Stopped and no output", i, res.State, h.outputs())
				}
			}
			if r := run(t, c, `'still here'`, &recorder{}); r.State != psrp.Completed {
				t.Fatalf("after the stops: %v", r.State)
			}
		})
	}
}

// diagLog keeps what the remote side wrote on stderr.
type diagLog struct {
	mu    sync.Mutex
	lines []string
}

func (d *diagLog) add(k sessions.DiagKind, s string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.lines = append(d.lines, s)
}

func (d *diagLog) text() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return strings.Join(d.lines, "\n")
}

// Closing the session right after starting a command, before the
// server's CommandAck, sends nothing for the pipeline after its Close;
// pwsh used to log a NullReferenceException for the CREATE_PIPELINE that
// followed the Close packets.
func TestCloseRightAfterInvoke(t *testing.T) {
	for name, argv := range serverArgvs(t) {
		t.Run(name, func(t *testing.T) {
			for i := range 3 {
				var d diagLog
				tr, err := sessions.StartProcess(context.Background(), argv, d.add)
				if err != nil {
					t.Fatal(err)
				}
				u := newPump(t, tr, psrp.NewClientPool())
				u.open()
				if err := u.pool.Invoke(uuid.New(), psrp.ScriptPipeline(`'x'`, false)); err != nil {
					t.Fatal(err)
				}
				u.flush() // the Command
				u.pool.Close()
				u.until("the session's CloseAck", func(ev any) bool {
					_, ok := ev.(psrp.SessionClosedEvent)
					return ok
				})
				_ = tr.CloseWrite()
				_ = tr.Close()
				// pwsh writes the exception's message and its .NET stack.
				if s := d.text(); strings.Contains(s, "Object reference not set") || strings.Contains(s, "   at System.") {
					t.Fatalf("run %d: the server logged an exception:\n%s", i, s)
				}
			}
		})
	}
}

// serverArgvs are the OutOfProc servers run as processes: pwshsim and,
// when there is one, real pwsh.
func serverArgvs(t *testing.T) map[string][]string {
	out := map[string][]string{"pwshsim": {pwshsimBinary(t), "-s"}}
	if argv := pwshArgv(t); argv != nil {
		out["pwsh"] = argv
	}
	return out
}
