package psrp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
)

// MaxLineDefault caps one OutOfProc line (SPEC S4).
const MaxLineDefault = 1 << 20

// namedPipeErrorPrefix starts the error lines pwsh -sshs ≥ 7.3 writes on stdout.
const namedPipeErrorPrefix = "__namedpipeerror__:"

// Item is what a Reader yields: a packet, a noise line before the first
// packet, or an error line the remote process wrote on stdout.
type Item struct {
	Packet    Packet
	Noise     string // a line before the first packet that is not one
	PipeError string // text after __NamedPipeError__:
}

// LineTooLongError reports a line over the cap.
type LineTooLongError struct{ Limit int }

func (e *LineTooLongError) Error() string {
	return fmt.Sprintf("psrp: OutOfProc line longer than %d bytes", e.Limit)
}

// Reader reads OutOfProc lines. It is not safe for concurrent use.
//
// A Reader waiting for its peer holds no read buffer: it reads into a
// small array of its own, and takes a buffer from a pool only once data
// comes, giving it back when every byte in it is used; payload and line
// buffers a large fragment grew go then too. An idle session costs a
// few hundred bytes here, not a read buffer.
type Reader struct {
	src     io.Reader
	buf     *[readSize]byte // from readBufs while data flows; nil when idle
	r, w    int             // buf[r:w] is read and not yet used
	srcErr  error           // the source's error, after the bytes before it
	empty   int             // reads in a row that returned nothing
	small   [smallRead]byte // an idle Reader's read lands here
	max     int
	started bool
	strict  bool
	line    []byte
	payload []byte
	err     error // sticky after a line over the cap
}

const (
	// readSize is what a Reader asks its source for while data flows.
	readSize = 64 << 10
	// smallRead is the read of a Reader waiting for its peer.
	smallRead = 512
	// keepBuf is the largest payload or line buffer an idle Reader keeps.
	keepBuf = 4 << 10
)

var readBufs = sync.Pool{New: func() any { return new([readSize]byte) }}

// errPartial is readSlice's word for "part of a line; more follows".
var errPartial = errors.New("psrp: part of a line")

// NewReader returns a client-side reader: lines before the first packet
// that are not packets come back as Noise, blank lines are skipped.
func NewReader(r io.Reader) *Reader {
	return &Reader{src: r, max: MaxLineDefault}
}

// NewStrictReader returns a server-side reader that, like pwsh, accepts
// nothing but packets (a blank line is ErrEmptyLine).
func NewStrictReader(r io.Reader) *Reader {
	rd := NewReader(r)
	rd.strict = true
	return rd
}

// Next returns the next item. The packet payload is valid until the next
// call. At the end of input it returns io.EOF (io.ErrUnexpectedEOF when
// the input ends inside a line).
func (r *Reader) Next() (Item, error) {
	if r.err != nil {
		return Item{}, r.err
	}
	for {
		line, err := r.readLine()
		if err != nil {
			return Item{}, err
		}
		if len(line) > 0 && line[0] == '_' && len(line) >= len(namedPipeErrorPrefix) &&
			bytes.EqualFold(line[:len(namedPipeErrorPrefix)], []byte(namedPipeErrorPrefix)) {
			return Item{PipeError: string(line[len(namedPipeErrorPrefix):])}, nil
		}
		if len(bytes.TrimSpace(line)) == 0 && !r.strict {
			continue
		}
		p, perr := parsePacket(line, r.payload[:0])
		if perr == nil {
			if cap(p.Payload) > cap(r.payload) {
				r.payload = p.Payload[:0]
			}
			r.started = true
			return Item{Packet: p}, nil
		}
		if !r.started && !r.strict {
			return Item{Noise: string(bytes.TrimSuffix(line, []byte{'\r'}))}, nil
		}
		return Item{}, perr
	}
}

// Buffered reports whether Next will return without reading from the
// source: a line it returns (not one it skips) is already in the buffer,
// or the source has ended or failed. A reader hands over what Buffered
// says is there in one batch, and waits for the source only after.
func (r *Reader) Buffered() bool {
	if r.err != nil || r.srcErr != nil {
		return true
	}
	if r.buf == nil {
		return false
	}
	data := r.buf[r.r:r.w]
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return false
		}
		if r.strict || len(bytes.TrimSpace(data[:i])) > 0 {
			return true
		}
		data = data[i+1:] // a blank line Next skips
	}
}

// readLine returns one line without '\n', enforcing the cap. The line
// is valid until the next call.
func (r *Reader) readLine() ([]byte, error) {
	r.line = r.line[:0]
	for {
		chunk, err := r.readSlice()
		if len(r.line)+len(chunk) > r.max+1 {
			// Stop reading here: draining an endless line would hang.
			// The stream cannot be resynchronised, so the error sticks.
			r.line = r.line[:0]
			r.err = &LineTooLongError{Limit: r.max}
			return nil, r.err
		}
		if err == nil {
			if len(r.line) == 0 {
				return chunk[:len(chunk)-1], nil
			}
			r.line = append(r.line, chunk[:len(chunk)-1]...)
			return r.line, nil
		}
		r.line = append(r.line, chunk...)
		if err == errPartial {
			continue
		}
		if errors.Is(err, io.EOF) {
			if len(r.line) == 0 {
				return nil, io.EOF
			}
			if r.strict {
				return nil, io.ErrUnexpectedEOF // pwsh's server never sees a partial line as a packet
			}
			return r.line, nil // a last line without its newline
		}
		return nil, err
	}
}

// readSlice returns the bytes up to and including the next '\n' (err
// nil), or the bytes read before an error: errPartial when a full
// buffer holds no '\n' (the line goes on), or the source's error. The
// bytes are valid until the next call.
func (r *Reader) readSlice() ([]byte, error) {
	for {
		var data []byte
		if r.buf != nil {
			data = r.buf[r.r:r.w]
		}
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			r.r += i + 1
			return data[:i+1], nil
		}
		if r.srcErr != nil {
			if len(data) == 0 { // nothing more will come
				r.release()
			}
			r.r = r.w
			return data, r.srcErr
		}
		switch {
		case len(data) == 0 && r.buf != nil && len(r.line) > 0:
			// in the middle of a line longer than the buffer: data
			// flows, read on into it
			n, err := r.src.Read(r.buf[:])
			r.r, r.w = 0, n
			r.noted(n, err)
		case len(data) == 0:
			r.release()           // every byte used: the peer may be quiet for long
			if len(r.line) == 0 { // between lines: what a large fragment grew goes too
				if cap(r.payload) > keepBuf {
					r.payload = nil
				}
				if cap(r.line) > keepBuf {
					r.line = nil
				}
			}
			r.readIdle()
		case r.r == 0 && r.w == len(r.buf):
			r.w = 0 // the caller keeps it
			return data, errPartial
		default:
			if r.w == len(r.buf) { // the line so far to the front
				r.w, r.r = copy(r.buf[:], data), 0
			}
			n, err := r.src.Read(r.buf[r.w:])
			r.w += n
			r.noted(n, err)
		}
	}
}

// release gives the read buffer back to the pool.
func (r *Reader) release() {
	if r.buf != nil {
		readBufs.Put(r.buf)
		r.buf, r.r, r.w = nil, 0, 0
	}
}

// readIdle waits for the source's next bytes in the Reader's own small
// array, and moves what came into a pooled buffer.
func (r *Reader) readIdle() {
	n, err := r.src.Read(r.small[:])
	if n > 0 {
		r.buf = readBufs.Get().(*[readSize]byte)
		r.r, r.w = 0, copy(r.buf[:], r.small[:n])
	}
	r.noted(n, err)
}

// noted records a read's error, and gives up on a source that returns
// nothing again and again (as bufio does).
func (r *Reader) noted(n int, err error) {
	if n > 0 || err != nil {
		r.empty = 0
	} else {
		r.empty++
	}
	switch {
	case err != nil:
		r.srcErr = err
	case r.empty >= 100:
		r.srcErr = io.ErrNoProgress
	}
}
