package mux

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"runtime"
	"sync"
	"syscall"

	"github.com/psmux/psmux/mux/sock"
)

// PrintArgs is what a client prints through the server (a "print"
// frame, once the attach reply said ServerPrints): the bytes for its
// stdout (fd 1) and stderr (fd 2), in order, and the event they show,
// acknowledged once they are written.
type PrintArgs struct {
	Target string       `json:"target"`
	Seq    uint64       `json:"seq,omitempty"`
	Chunks []PrintChunk `json:"chunks,omitempty"`
}

// PrintChunk is bytes for one of the client's outputs.
type PrintChunk struct {
	FD   int    `json:"fd"`
	Data []byte `json:"data"`
}

// openPrint opens the stdout and stderr of the client process pid, if
// pid is this connection's peer and they are pipes or terminals (a
// file would be written from its start): the server then writes what
// the client prints and moves its cursor with the same step, so a
// client killed at any moment resumes right after what reached its
// terminal, neither a line twice nor one missing (SPEC S12). It
// reports whether it could; Linux only (/proc and SO_PEERCRED).
func (p *peer) openPrint(pid int) bool {
	uc, ok := p.rwc.(*net.UnixConn)
	if runtime.GOOS != "linux" || pid <= 0 || !ok {
		return false
	}
	if got, err := sock.PeerPID(uc); err != nil || got != pid {
		return false // through a proxy, or not the process it says
	}
	var files [2]*os.File
	for i := range files {
		path := fmt.Sprintf("/proc/%d/fd/%d", pid, i+1)
		st, err := os.Stat(path)
		if err == nil && st.Mode()&(fs.ModeNamedPipe|fs.ModeCharDevice) == 0 {
			err = fmt.Errorf("%s is not a pipe or a terminal", path)
		}
		if err == nil {
			// non-blocking: the runtime's poller waits for a reader, and
			// closing the file ends a write that waits
			files[i], err = os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0)
		}
		if err != nil {
			for _, f := range files[:i] {
				f.Close()
			}
			return false
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.printTo[0] != nil || p.isClosed() {
		files[0].Close()
		files[1].Close()
		return p.printTo[0] != nil
	}
	p.printTo = files
	return true
}

// print writes a print frame's bytes, then acknowledges its event; on
// a write error the rest is dropped and nothing is acknowledged.
func (p *peer) print(a PrintArgs) {
	p.mu.Lock()
	files := p.printTo
	p.mu.Unlock()
	for _, c := range a.Chunks {
		if c.FD != 1 && c.FD != 2 || files[c.FD-1] == nil {
			return
		}
		if _, err := files[c.FD-1].Write(c.Data); err != nil {
			return
		}
	}
	if a.Seq > 0 {
		p.ack(AckArgs{Target: a.Target, Seq: a.Seq})
	}
}

// closePrint closes the client's outputs (a write waiting on them ends).
func (p *peer) closePrint() {
	p.mu.Lock()
	files := p.printTo
	p.printTo = [2]*os.File{}
	p.mu.Unlock()
	for _, f := range files {
		if f != nil {
			f.Close()
		}
	}
}

// Printer writes what a client prints through the server (see
// AttachReply.ServerPrints): Writer(1) and Writer(2) stand for its
// stdout and stderr. Between Hold and Release the writes of one event
// gather, and go with the event's sequence number, so they are written
// and acknowledged together; other writes go at once.
type Printer struct {
	c      *Client
	target string

	mu     sync.Mutex
	chunks []PrintChunk
	held   bool
}

// Printer returns a Printer for the session target.
func (c *Client) Printer(target string) *Printer { return &Printer{c: c, target: target} }

// Writer returns the writer for fd 1 (stdout) or 2 (stderr).
func (p *Printer) Writer(fd int) io.Writer { return printWriter{p, fd} }

type printWriter struct {
	p  *Printer
	fd int
}

func (w printWriter) Write(b []byte) (int, error) {
	p := w.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.chunks); n > 0 && p.chunks[n-1].FD == w.fd {
		p.chunks[n-1].Data = append(p.chunks[n-1].Data, b...)
	} else {
		p.chunks = append(p.chunks, PrintChunk{FD: w.fd, Data: append([]byte(nil), b...)})
	}
	if p.held {
		return len(b), nil
	}
	return len(b), p.flushLocked(0)
}

// Hold gathers the writes that follow, until Release.
func (p *Printer) Hold() {
	p.mu.Lock()
	p.held = true
	p.mu.Unlock()
}

// Release sends what was gathered as the event seq: the server writes
// it and acknowledges seq.
func (p *Printer) Release(seq uint64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.held = false
	return p.flushLocked(seq)
}

func (p *Printer) flushLocked(seq uint64) error {
	if len(p.chunks) == 0 && seq == 0 {
		return nil
	}
	a := PrintArgs{Target: p.target, Seq: seq, Chunks: p.chunks}
	p.chunks = nil
	return p.c.codec.Write(&Frame{T: "req", Op: "print", Args: marshal(a)})
}

// Sync returns once the server has written everything printed before
// it (the server handles print frames in order, ahead of any request
// that follows them).
func (p *Printer) Sync(ctx context.Context) error {
	_, err := p.c.Call(ctx, "ping", nil, nil)
	return err
}
