package mux

import (
	"context"
	"errors"
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
			// closing the file ends a write that waits; never as the
			// server's controlling terminal (it is a session leader)
			files[i], err = os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
		}
		if err == nil { // what was checked is what was opened
			if got, serr := files[i].Stat(); serr != nil || !os.SameFile(got, st) {
				files[i].Close()
				err = fmt.Errorf("%s changed while it was opened", path)
			}
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

// print writes a print frame's bytes, then acknowledges its event. On
// a write error (the reader of a pipe gone) the rest is dropped, nothing
// is acknowledged, and the client is told to write for itself again
// (printoff), as it did before: it meets the error itself (SIGPIPE).
func (p *peer) print(a PrintArgs) {
	p.mu.Lock()
	files := p.printTo
	p.mu.Unlock()
	for _, c := range a.Chunks {
		if c.FD != 1 && c.FD != 2 || files[c.FD-1] == nil {
			return
		}
		if _, err := files[c.FD-1].Write(c.Data); err != nil {
			p.closePrint()
			_ = p.send(&PrintOff{})
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
	local  [2]io.Writer // where the client writes when the server cannot

	mu     sync.Mutex
	chunks []PrintChunk
	held   bool
}

// Printer returns a Printer for the session target; stdout and stderr
// are where the client writes for itself if the server says it can no
// longer (printoff) or a frame cannot be sent.
func (c *Client) Printer(target string, stdout, stderr io.Writer) *Printer {
	return &Printer{c: c, target: target, local: [2]io.Writer{stdout, stderr}}
}

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

// printFrame bounds the bytes one print frame carries (base64 makes
// them a third larger; MaxFrame caps the frame).
const printFrame = 4 << 20

func (p *Printer) flushLocked(seq uint64) error {
	chunks := p.chunks
	p.chunks = nil
	if len(chunks) == 0 && seq == 0 {
		return nil
	}
	if !p.c.printOff.Load() {
		// in frames of at most printFrame bytes; the event's seq goes
		// with the last, so it is acknowledged once all are written
		var frame []PrintChunk
		size := 0
		send := func(seq uint64) error {
			if err := p.c.codec.Write(&Request{Op: "print", Args: marshal(PrintArgs{Target: p.target, Seq: seq, Chunks: frame})}); err != nil {
				return err
			}
			frame, size = nil, 0
			return nil
		}
		var err error
		i := 0
		for i < len(chunks) && err == nil {
			c := &chunks[i]
			n := min(len(c.Data), printFrame-size)
			frame = append(frame, PrintChunk{FD: c.FD, Data: c.Data[:n]})
			size += n
			if c.Data = c.Data[n:]; len(c.Data) == 0 {
				i++
			}
			if size == printFrame {
				err = send(0)
			}
		}
		if err == nil {
			if err = send(seq); err == nil {
				return nil
			}
		}
		var fe *FrameError
		if !errors.As(err, &fe) {
			// the connection is gone: what went before may be lost with
			// the server too, so this is not shown either (an attach
			// resumes after the last event the server wrote)
			return err
		}
		chunks = append(frame, chunks[i:]...) // what was not sent
	}
	// the server cannot print for this client: it writes for itself
	for _, c := range chunks {
		if len(c.Data) > 0 {
			if _, err := p.local[c.FD-1].Write(c.Data); err != nil {
				return err
			}
		}
	}
	if seq > 0 {
		return p.c.Ack(p.target, seq)
	}
	return nil
}

// Sync returns once the server has written everything printed before
// it (the server handles print frames in order, ahead of any request
// that follows them).
func (p *Printer) Sync(ctx context.Context) error {
	_, err := p.c.Call(ctx, "ping", nil, nil)
	return err
}
