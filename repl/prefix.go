package repl

import (
	"bytes"
	"io"
	"sync"
)

// LockedWriter serialises writes to W under Mu, which several writers
// (each session of a fan-out, stdout and stderr) may share.
type LockedWriter struct {
	Mu *sync.Mutex
	W  io.Writer
}

func (l *LockedWriter) Write(p []byte) (int, error) {
	l.Mu.Lock()
	defer l.Mu.Unlock()
	return l.W.Write(p)
}

// PrefixWriter writes whole lines to W, each starting with Prefix
// ("[web1] "), so lines from several sessions never interleave. A
// partial line waits for its newline or for Flush.
type PrefixWriter struct {
	W      io.Writer
	Prefix string
	buf    []byte
}

func (p *PrefixWriter) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	var out []byte
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			break
		}
		out = append(out, p.Prefix...)
		out = append(out, p.buf[:i+1]...)
		p.buf = p.buf[i+1:]
	}
	if len(out) > 0 {
		if _, err := p.W.Write(out); err != nil {
			return 0, err
		}
	}
	return len(b), nil
}

// Flush writes a last line that has no newline, ending it.
func (p *PrefixWriter) Flush() {
	if len(p.buf) > 0 {
		_, _ = p.W.Write(append([]byte(p.Prefix), append(p.buf, '\n')...))
		p.buf = nil
	}
}
