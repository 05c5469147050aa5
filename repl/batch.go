package repl

import (
	"io"
	"sync"
	"time"
)

// BatchSize and BatchLinger bound what Batch holds back: it passes its
// output on once it holds BatchSize bytes, and BatchLinger after the
// first byte it holds at the latest.
const (
	BatchSize   = 64 << 10
	BatchLinger = 2 * time.Millisecond
)

// Batch returns the writers a command prints its output and its errors
// through: output passes on in batches (one write(2) for many lines,
// not one a line), never held longer than BatchLinger, however long the
// command pauses after it; what is written to errors passes on after
// all output written before it, so the two interleave as they were
// written. flush passes on what is held (call it before the command
// ends) and returns the first error a write met.
func Batch(out, errs io.Writer) (o, e io.Writer, flush func() error) {
	b := &batcher{w: out}
	return b, afterOutput{b, errs}, b.Flush
}

// batcher holds writes to w for a batch.
type batcher struct {
	mu    sync.Mutex
	w     io.Writer
	buf   []byte
	timer *time.Timer // passes buf on BatchLinger after its first byte
	armed bool
	err   error // the first error w returned
}

func (b *batcher) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return 0, b.err
	}
	if len(b.buf)+len(p) > BatchSize {
		if err := b.flushLocked(); err != nil {
			return 0, err
		}
		if len(p) >= BatchSize { // a large write goes as it is
			n, err := b.w.Write(p)
			b.err = err
			return n, err
		}
	}
	b.buf = append(b.buf, p...)
	if !b.armed && len(b.buf) > 0 {
		b.armed = true
		if b.timer == nil {
			b.timer = time.AfterFunc(BatchLinger, func() { _ = b.Flush() })
		} else {
			b.timer.Reset(BatchLinger)
		}
	}
	return len(p), nil
}

// Flush passes on what is held.
func (b *batcher) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.flushLocked()
}

func (b *batcher) flushLocked() error {
	if b.armed {
		b.timer.Stop()
		b.armed = false
	}
	if b.err == nil && len(b.buf) > 0 {
		_, b.err = b.w.Write(b.buf)
	}
	b.buf = b.buf[:0]
	return b.err
}

// afterOutput writes to w after the batcher's output written before.
type afterOutput struct {
	b *batcher
	w io.Writer
}

func (a afterOutput) Write(p []byte) (int, error) {
	_ = a.b.Flush() // its error is the output's, reported there
	return a.w.Write(p)
}
