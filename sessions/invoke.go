package sessions

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/psmux/psmux/sessions/clixml"
	"github.com/psmux/psmux/sessions/psrp"
)

// Handler receives what a pipeline produces. Calls come from the
// goroutine that called Invoke, in wire order.
type Handler interface {
	// Message receives output and records (PIPELINE_OUTPUT,
	// ERROR_RECORD, WARNING_RECORD, …, and unknown pipeline messages).
	Message(t psrp.MessageType, v clixml.Value)
	// HostCall receives host calls. For a non-void method the result
	// answers it (SecureStrings in plaintext); a non-nil errRecord
	// answers with an error instead. ctx ends when the pipeline is stopped.
	HostCall(ctx context.Context, call psrp.HostCallMsg) (result clixml.Value, errRecord *clixml.Value)
}

// Result is how a pipeline ended.
type Result struct {
	ID        uuid.UUID
	State     psrp.PSInvocationState
	Reason    clixml.Value // ExceptionAsErrorRecord for Failed/Stopped
	HadErrors bool         // an ERROR_RECORD arrived, or the state is Failed
}

type runEnd struct{ err error }

// pipeRun is the queue between the owner goroutine and Invoke's caller.
type pipeRun struct {
	mu     sync.Mutex
	q      []any
	notify chan struct{}
}

func (p *pipeRun) push(ev any) {
	p.mu.Lock()
	p.q = append(p.q, ev)
	p.mu.Unlock()
	select {
	case p.notify <- struct{}{}:
	default:
	}
}

func (p *pipeRun) take() []any {
	p.mu.Lock()
	q := p.q
	p.q = nil
	p.mu.Unlock()
	return q
}

type againKey struct{}

// WithStop returns a context for Invoke and the function that stops the
// pipeline: its first call cancels the context (a Signal, like Ctrl-C),
// each later call sends the Signal again (a second Ctrl-C).
func WithStop(parent context.Context) (context.Context, func()) {
	again := make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(context.WithValue(parent, againKey{}, again))
	var once sync.Once
	return ctx, func() {
		first := false
		once.Do(func() { first = true; cancel() })
		if !first {
			select {
			case again <- struct{}{}:
			default:
			}
		}
	}
}

// Invoke runs one pipeline to its end. input, when not nil, is sent as
// PIPELINE_INPUT (spec.NoInput must then be false). Cancelling ctx stops
// the pipeline with a Signal, like Ctrl-C, sent once the pipeline exists
// on the server (see WithStop for asking again); Invoke still waits for
// the server to confirm, unless the connection ends.
//
// When an interactive pipeline (one ending in Out-Default) fails, its
// error is shown the way pwsh's console shows it: the failure's record
// (ReportedRecord) goes to the server's Out-Default, whose output reaches
// h before Invoke returns. If the server cannot show it, h receives the
// record as an ERROR_RECORD.
//
// A pipeline from TextPipeline whose filter refuses to run, before the
// script has (psrp.LinesUnavailable: the server began transcribing, or
// its language mode changed, since the connection was asked), runs
// again with Out-Default, as every later one on this connection does.
//
// A ctx already done starts nothing: the result is Stopped, with pwsh's
// reason (Ctrl-C while TextPipeline asked the server, for one).
func (c *Conn) Invoke(ctx context.Context, spec psrp.CreatePipelineMsg, input []clixml.Value, h Handler) (Result, error) {
	if ctx.Err() != nil {
		return Result{State: psrp.Stopped, Reason: StoppedRecord()}, nil
	}
	res, err := c.invoke(ctx, spec, input, h)
	if err == nil && res.State == psrp.Failed && spec.EndsInLinesFilter() && psrp.LinesUnavailableReason(res.Reason) {
		c.lines.Store(-1)
		spec = spec.OutDefault()
		res, err = c.invoke(ctx, spec, input, h)
	}
	if err != nil || res.State != psrp.Failed || !spec.Interactive() || res.Reason.Kind == clixml.Nil {
		return res, err
	}
	c.Report(ctx, res.Reason, h)
	return res, nil
}

// Report shows reason, the ErrorRecord a pipeline ended with, the way
// pwsh's console shows it: through the server's Out-Default, whose output
// reaches h as error lines before Report returns. If the server cannot
// show it (the report fails, or shows nothing, as a scripted server may),
// h receives the record as an ERROR_RECORD. Enter-PSSession does
// this for a failed command and for one stopped with Ctrl-C ("The
// pipeline has been stopped.").
func (c *Conn) Report(ctx context.Context, reason clixml.Value, h Handler) {
	ae := asErrors{Handler: h, shown: new(atomic.Bool)}
	rep, err := c.invoke(ctx, psrp.ReportPipeline(), []clixml.Value{ReportedRecord(reason)}, ae)
	if err != nil || rep.State != psrp.Completed || !ae.shown.Load() {
		h.Message(psrp.ErrorRecord, reason)
	}
}

// asErrors hands the lines of a failure's report to h as error lines.
// pwsh's Out-Default writes a re-sent record with WriteLine, as plain
// output (pwsh's console prints it uncoloured, on stdout); psmux shows a
// failure as an error: on stderr, in red (SPEC S8, S9).
type asErrors struct {
	Handler
	shown *atomic.Bool // the server's Out-Default wrote something
}

func (a asErrors) Message(t psrp.MessageType, v clixml.Value) {
	a.shown.Store(true)
	a.Handler.Message(t, v)
}

func (a asErrors) HostCall(ctx context.Context, c psrp.HostCallMsg) (clixml.Value, *clixml.Value) {
	if text := c.WriteText(); text >= 0 {
		c = psrp.HostCallMsg{CI: c.CI, Method: psrp.WriteErrorLine, Params: []clixml.Value{c.Params[text]}}
	}
	if c.Method == psrp.WriteErrorLine {
		a.shown.Store(true)
	}
	return a.Handler.HostCall(ctx, c)
}

// stopResend is how often a stop is asked again while the pipeline
// has not ended.
const stopResend = 2 * time.Second

func (c *Conn) invoke(ctx context.Context, spec psrp.CreatePipelineMsg, input []clixml.Value, h Handler) (Result, error) {
	var pid uuid.UUID
	pr := &pipeRun{notify: make(chan struct{}, 1)}
	if input != nil {
		spec.NoInput = false
	}
	var startErr error
	if !c.do(func() {
		pid, c.next = c.next, uuid.Nil
		if pid == uuid.Nil {
			pid = uuid.New()
		}
		if startErr = c.pool.Invoke(pid, spec); startErr != nil {
			return
		}
		if c.opts.PrepareNext { // as this one starts (when it ends gained nothing)
			if next := uuid.New(); c.pool.Prepare(next) == nil {
				c.next = next
			}
		}
		c.runs[pid] = pr
		if input != nil {
			for _, v := range input {
				if startErr = c.pool.Input(pid, v); startErr != nil {
					return
				}
			}
			startErr = c.pool.EndInput(pid)
		}
	}) {
		return Result{}, c.Err()
	}
	res := Result{ID: pid}
	if startErr != nil {
		return res, startErr
	}
	hctx, cancelHost := context.WithCancel(context.Background())
	defer cancelHost()
	stopped := false
	stop := ctx.Done()
	again, _ := ctx.Value(againKey{}).(chan struct{})
	var restop chan struct{} // again, once the first stop was sent
	var resend <-chan time.Time
	for {
		select {
		case <-pr.notify:
		case <-stop:
			stop, restop = nil, again
			stopped = true
			cancelHost()
			c.do(func() { _ = c.pool.Stop(pid) })
			// pwsh acks a Signal handled just before its pipeline
			// runs and stops nothing: asked again until it ends
			t := time.NewTicker(stopResend)
			defer t.Stop()
			resend = t.C
			continue
		case <-restop:
			c.do(func() { _ = c.pool.Stop(pid) })
			continue
		case <-resend:
			c.do(func() { _ = c.pool.Stop(pid) })
			continue
		}
		evs := pr.take()
		c.do(func() {
			c.queued -= len(evs)
			select {
			case c.drained <- struct{}{}:
			default:
			}
		})
		for i, ev := range evs {
			switch e := ev.(type) {
			case psrp.PipelineDataEvent:
				if e.Type == psrp.ErrorRecord {
					res.HadErrors = true
				}
				h.Message(e.Type, e.Value)
			case psrp.HostCallEvent:
				c.hostCall(hctx, pid, e, h)
			case psrp.PipelineStateEvent:
				res.State, res.Reason = e.State, e.Reason
				if e.State == psrp.Failed {
					res.HadErrors = true
				}
				if !e.State.Terminal() || stopped {
					// A stopped pipeline waits for its CloseAck: pwsh may
					// report a stop handled just before the pipeline ran
					// while it still runs, and the next command would find
					// it running (TestStopBeforeThePipelineExists).
					continue
				}
				// The end: nothing of the pipeline's follows its state.
				// Its Close and CloseAck (one round trip) go on in the
				// background; the runspace is free for the next command.
				c.do(func() { c.forget(pid, pr, evs[i+1:]) })
				return ended(res, stopped), nil
			case psrp.PipelineClosedEvent:
				return ended(res, stopped), nil
			case runEnd:
				if e.err == nil {
					return res, ErrClosed
				}
				return res, e.err
			}
		}
	}
}

// ended is the result of a pipeline that ended, stopped from here or not.
func ended(res Result, stopped bool) Result {
	if stopped && res.State == psrp.Completed {
		res.State = psrp.Stopped
	}
	if res.State == psrp.Stopped && res.Reason.Kind == clixml.Nil {
		// pwsh sends no reason when the stop came before the pipeline
		// ran; the stop reads the same either way
		res.Reason = StoppedRecord()
	}
	return res
}

func (c *Conn) hostCall(ctx context.Context, pid uuid.UUID, e psrp.HostCallEvent, h Handler) {
	if e.Call.Method.Void() || e.Call.CI == psrp.VoidCallID {
		h.HostCall(ctx, e.Call)
		return
	}
	result, errRec := h.HostCall(ctx, e.Call)
	r := psrp.HostResponseMsg{CI: e.Call.CI, Method: e.Call.Method, Error: errRec}
	if errRec == nil {
		r.Result = &result
	}
	c.do(func() {
		if err := c.pool.Respond(e.PID, r); err != nil {
			c.diag(DiagStderr, fmt.Sprintf("psmux: host response: %v", err))
		}
	})
}
