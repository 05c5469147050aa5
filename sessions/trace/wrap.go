package trace

import (
	"errors"
	"io"
	"sync"

	"github.com/psmux/psmux/sessions"
)

// Transport records t's traffic on a Recorder and closes w with t.
type Transport struct {
	t   sessions.Transport
	rec *Recorder
	w   io.Closer
	wo  sync.Once
}

// Wrap returns t recording both directions to w (masked); closing the
// result closes w too.
func Wrap(t sessions.Transport, w io.WriteCloser) *Transport {
	return &Transport{t: t, rec: NewRecorder(w), w: w}
}

func (x *Transport) Read(b []byte) (int, error) {
	n, err := x.t.Read(b)
	if n > 0 {
		x.rec.Server(b[:n])
	}
	return n, err
}

// Write records b and sends it: recorded first, so a reply, which the
// reading side may record before a write returns, never comes before
// what it answers in the trace. A write that fails is in the trace as it
// was meant.
func (x *Transport) Write(b []byte) (int, error) {
	x.rec.Client(b)
	return x.t.Write(b)
}

// CloseWrite sends EOF to the server.
func (x *Transport) CloseWrite() error { return x.t.CloseWrite() }

// Close closes the transport and the trace.
func (x *Transport) Close() error {
	err := x.t.Close()
	var werr error
	x.wo.Do(func() { werr = x.w.Close() })
	return errors.Join(err, werr)
}

// Abort ends the transport at once when it can (sessions.Aborter), else
// closes it, and closes the trace.
func (x *Transport) Abort() error {
	if a, ok := x.t.(sessions.Aborter); ok {
		_ = a.Abort()
	}
	return x.Close()
}
