package sessions_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/psmux/psmux/sessions"
	"github.com/psmux/psmux/sessions/clixml"
	"github.com/psmux/psmux/sessions/psrp"
)

// openPrepared opens a connection whose Invokes prepare the next
// pipeline's Command (Options.PrepareNext, as the server's sessions do),
// and closes it at the end within 20 s: a close with an unused prepared
// pipeline got no CloseAck from pwsh unless that pipeline is closed
// first (issue 15).
func openPrepared(t *testing.T, tr sessions.Transport) *sessions.Conn {
	t.Helper()
	c, err := sessions.Open(context.Background(), tr, sessions.Options{Host: psrp.NoHost(), PrepareNext: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := c.Close(ctx); err != nil {
			t.Errorf("Close with a prepared pipeline unused: %v", err)
		}
	})
	return c
}

// TestPreparedCommands: commands in a row on prepared pipelines each get
// their own output, and a stop asked before the pipeline starts and one
// asked while it runs each stop it, after which the next command runs.
func TestPreparedCommands(t *testing.T) {
	for name, mk := range transports(t) {
		t.Run(name, func(t *testing.T) {
			c := openPrepared(t, mk(t))
			for i, script := range []string{"'a'", "'b'", "1+1"} {
				h := &recorder{}
				if res := run(t, c, script, h); res.State != psrp.Completed || len(h.outputs()) != 1 {
					t.Fatalf("command %d: %v %q", i, res.State, h.outputs())
				}
			}
			// stopped before it starts (a Ctrl-C at once)
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			res, err := c.Invoke(ctx, psrp.ScriptPipeline(`Start-Sleep 3; 'after'`, false), nil, &recorder{})
			if err != nil || res.State != psrp.Stopped {
				t.Fatalf("stopped before it started: %v %v", res.State, err)
			}
			// stopped while it runs, once it printed
			ctx, cancel = context.WithCancel(context.Background())
			defer cancel()
			h := &recorder{}
			res, err = c.Invoke(ctx, psrp.ScriptPipeline(`'started'; Start-Sleep 30; 'after'`, false), nil, cancelOnOutput{h, cancel})
			if err != nil || res.State != psrp.Stopped {
				t.Fatalf("stopped while running: %v %v %q", res.State, err, h.outputs())
			}
			h = &recorder{}
			if res := run(t, c, "'next'", h); res.State != psrp.Completed || len(h.outputs()) != 1 || h.outputs()[0] != "next" {
				t.Fatalf("the command after the stops: %v %q", res.State, h.outputs())
			}
		})
	}
}

// cancelOnOutput cancels its command's context at the first output.
type cancelOnOutput struct {
	*recorder
	cancel func()
}

func (h cancelOnOutput) Message(t psrp.MessageType, v clixml.Value) {
	h.recorder.Message(t, v)
	if t == psrp.PipelineOutput {
		h.cancel()
	}
}

// TestPreparedCommandIdle: a pipeline prepared and left unused still
// runs the next command (pwsh keeps a command transport with no
// CREATE_PIPELINE), against real pwsh: 10 s idle, 10 minutes with
// PSMUX_LONG=1.
func TestPreparedCommandIdle(t *testing.T) {
	argv := pwshArgv(t)
	if argv == nil {
		t.Skip("no real pwsh")
	}
	idle := 10 * time.Second
	if os.Getenv("PSMUX_LONG") != "" {
		idle = 10 * time.Minute
	}
	c := openPrepared(t, startProcess(t, argv))
	run(t, c, "'first'", &recorder{})
	time.Sleep(idle) // the idle time is what is tested
	h := &recorder{}
	if res := run(t, c, "'after'", h); res.State != psrp.Completed || len(h.outputs()) != 1 {
		t.Fatalf("after %v idle: %v %q", idle, res.State, h.outputs())
	}
}
