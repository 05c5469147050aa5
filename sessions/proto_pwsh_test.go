package sessions_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/psmux/psmux/sessions"
	"github.com/psmux/psmux/sessions/clixml"
	"github.com/psmux/psmux/sessions/psrp"
	"github.com/psmux/psmux/testenv/pwshsim"
)

// A stop asked for at once (exec --timeout 1ms, a quick Ctrl-C) stops
// the pipeline: the Signal waits until the pipeline exists on the server.
// A fresh session each time: pwsh acks the CREATE_PIPELINE just before it
// starts the pipeline, and a Signal handled in between is reported as a
// stop while the pipeline still runs, so that the next command on the
// session finds "a pipeline is already running" (seen about 1 in 20),
// and what it then sends for that pipeline after its CloseAck is dropped.
// (A ctx done before Invoke sends nothing: TestInvokeWithADoneContextRunsNothing.)
func TestStopBeforeThePipelineExists(t *testing.T) {
	for name, mk := range transports(t) {
		t.Run(name, func(t *testing.T) {
			for i := range 3 {
				c := open(t, mk(t), psrp.NoHost())
				ctx, cancel := context.WithCancel(context.Background())
				h := &recorder{}
				res, err := c.Invoke(&cancelledOnStart{ctx, cancel}, psrp.ScriptPipeline(`Start-Sleep 3; 'after'`, false), nil, h)
				if err != nil {
					t.Fatalf("run %d: %v", i, err)
				}
				if res.State != psrp.Stopped || len(h.outputs()) != 0 {
					t.Fatalf("run %d: state %v, output %q: want Stopped and no output", i, res.State, h.outputs())
				}
				// with a reason, as pwsh's console shows it, also when pwsh
				// sent none (a stop handled before the pipeline ran)
				if got := sessions.ErrorText(res.Reason); got != "The pipeline has been stopped." {
					t.Fatalf("run %d: reason %q, want \"The pipeline has been stopped.\"", i, got)
				}
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

// realPwsh opens a session with the real pwsh, or skips without one.
func realPwsh(t *testing.T, host psrp.HostInfo) *sessions.Conn {
	t.Helper()
	argv := pwshArgv(t)
	if argv == nil {
		t.Skip("no pwsh (PSMUX_REQUIRE=pwsh makes this a failure)")
	}
	return open(t, startProcess(t, argv), host)
}

// psmux sends a PSVersionTable in ApplicationArguments as pwsh's client
// does: scripts see it in $PSSenderInfo and pwsh makes its remote
// debugger (without one Wait-Debugger stopped the pipeline for good).
func TestSenderInfoVersionTable(t *testing.T) {
	c := realPwsh(t, psrp.NoHost())
	h := &recorder{}
	run(t, c, `$v = $PSSenderInfo.ApplicationArguments.PSVersionTable.PSVersion; "$($v.GetType().Name) $($v.Major)"; $Host.Runspace.Debugger.GetType().Name`, h)
	if got := strings.Join(h.outputs(), ","); got != "Version 7,ServerRemoteDebugger" {
		t.Fatalf("PSVersion and debugger: %q, want \"Version 7,ServerRemoteDebugger\"", got)
	}
}

// The interactive pipeline asks for no InvocationInfo on records
// (RemoteStreamOptions 0), as Enter-PSSession does; a non-interactive
// one asks for it (AddInvocationInfo), as Invoke-Command does.
func TestInteractiveRemoteStreamOptions(t *testing.T) {
	c := realPwsh(t, psrp.TerminalHost(80, 25))
	for _, interactive := range []bool{true, false} {
		h := &recorder{}
		if _, err := c.Invoke(context.Background(), psrp.ScriptPipeline(`Write-Warning w`, interactive), nil, h); err != nil {
			t.Fatal(err)
		}
		var rec clixml.Value
		for i, m := range h.msgs {
			if m == psrp.WarningRecord {
				rec = h.values[i]
			}
		}
		if rec.Obj == nil {
			t.Fatalf("interactive %v: no WARNING_RECORD (%v)", interactive, h.msgs)
		}
		_, hasInfo := rec.Obj.Get("InvocationInfo_BoundParameters")
		if hasInfo == interactive {
			t.Fatalf("interactive %v: InvocationInfo on the warning: %v, want %v", interactive, hasInfo, !interactive)
		}
	}
}

// A client that announces protocol 2.3 gets SecureStrings encrypted with
// the session key; pwsh (≥ 2.2) never starts the exchange itself, so the
// client sends PUBLIC_KEY when a SecureString arrives, as pwsh's client
// does when it deserializes one, and the value is delivered once the key
// opens it.
func TestSecureStringFromServerStartsKeyExchange(t *testing.T) {
	argv := pwshArgv(t)
	if argv == nil {
		t.Skip("no pwsh (PSMUX_REQUIRE=pwsh makes this a failure)")
	}
	c, err := sessions.Open(context.Background(), startProcess(t, argv), sessions.Options{Protocol: psrp.ProtocolVersion23})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	for i, want := range []string{"hunter2", "second"} { // the second one uses the key already there
		h := &recorder{}
		run(t, c, `ConvertTo-SecureString '`+want+`' -AsPlainText -Force`, h)
		if len(h.values) != 1 || h.values[0].Kind != clixml.SecureString {
			t.Fatalf("run %d: values %v, want one SecureString", i, h.values)
		}
		got, err := c.OpenSecure(h.values[0])
		if err != nil || got != want {
			t.Fatalf("run %d: the SecureString opens to %q, %v; want %q", i, got, err, want)
		}
	}
}

// A stop pwsh acks without stopping anything (a Signal handled just
// before the pipeline runs) is asked again until the pipeline ends.
func TestStopAskedAgainUntilThePipelineEnds(t *testing.T) {
	m, _ := startMem(t, pwshsim.ServerOptions{DropSignals: 1})
	c := open(t, m, psrp.NoHost())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	type out struct {
		res sessions.Result
		err error
	}
	done := make(chan out, 1)
	go func() {
		res, err := c.Invoke(ctx, psrp.ScriptPipeline(`Start-Sleep 600; 'after'`, false), nil, &recorder{})
		done <- out{res, err}
	}()
	select {
	case o := <-done:
		if o.err != nil || o.res.State != psrp.Stopped {
			t.Fatalf("state %v, err %v: want Stopped", o.res.State, o.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the pipeline did not end within 30 s of a stop whose first Signal was dropped")
	}
}

// cancelledOnStart is a context cancelled once Invoke first waits on it,
// after it has sent the pipeline: a stop asked for at once.
type cancelledOnStart struct {
	context.Context
	cancel context.CancelFunc
}

func (c *cancelledOnStart) Done() <-chan struct{} {
	c.cancel()
	return c.Context.Done()
}
