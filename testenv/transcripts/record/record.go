// Package record drives a PowerShell OutOfProc server through a
// transcripts.Scenario with psmux's own client and records the traffic
// with sessions/trace: the generator of testenv/transcripts, and the
// way pwshsim's replay is compared with it.
package record

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/psmux/psmux/repl"
	"github.com/psmux/psmux/sessions"
	"github.com/psmux/psmux/sessions/clixml"
	"github.com/psmux/psmux/sessions/psrp"
	"github.com/psmux/psmux/sessions/trace"
	"github.com/psmux/psmux/testenv/transcripts"
)

// Run runs sc's steps in one session over tr (an OutOfProc server's
// stdio) and writes the masked traffic to w. logf, when set, hears each
// step's end state.
func Run(ctx context.Context, tr sessions.Transport, sc transcripts.Scenario, w io.Writer, logf func(string, ...any)) error {
	conn, err := sessions.Open(ctx, trace.Wrap(tr, nopCloser{w}), sessions.Options{Host: psrp.TerminalHost(120, 50)})
	if err != nil {
		_ = tr.Close()
		return fmt.Errorf("record: %s: %w", sc.Name, err)
	}
	for _, st := range sc.Steps {
		var mu sync.Mutex
		answers := append([]string(nil), st.Answers...)
		h := &handler{Renderer: repl.Renderer{Out: io.Discard, Err: io.Discard, Width: 120, ReadLine: func(hidden bool) (string, error) {
			mu.Lock()
			defer mu.Unlock()
			if hidden {
				return "typed-secret", nil
			}
			if len(answers) == 0 {
				return "", errors.New("record: no answer left for a prompt")
			}
			a := answers[0]
			answers = answers[1:]
			return a, nil
		}}}
		sctx, stop := context.WithCancel(ctx)
		if st.Stop {
			h.first = stop
		}
		res, err := conn.Invoke(sctx, psrp.ScriptPipeline(st.Script, st.Interactive), nil, h)
		stop()
		if err != nil && !st.Stop {
			_ = conn.Close(ctx)
			return fmt.Errorf("record: %s: %q: %w", sc.Name, st.Script, err)
		}
		if logf != nil {
			logf("%q: %v", st.Script, res.State)
		}
	}
	if err := conn.Close(ctx); err != nil && logf != nil {
		logf("close: %v", err)
	}
	return nil
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// handler answers prompts as the REPL does and, for a Stop step, stops
// the pipeline at its first output.
type handler struct {
	repl.Renderer
	once  sync.Once
	first func()
}

func (h *handler) Message(t psrp.MessageType, v clixml.Value) {
	if h.first != nil && t == psrp.PipelineOutput {
		h.once.Do(h.first)
	}
	h.Renderer.Message(t, v)
}
