package psrp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
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
type Reader struct {
	br      *bufio.Reader
	max     int
	started bool
	strict  bool
	line    []byte
	payload []byte
	err     error // sticky after a line over the cap
}

// NewReader returns a client-side reader: lines before the first packet
// that are not packets come back as Noise, blank lines are skipped.
func NewReader(r io.Reader) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, 16<<10), max: MaxLineDefault}
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

// readLine returns one line without '\n', enforcing the cap.
func (r *Reader) readLine() ([]byte, error) {
	r.line = r.line[:0]
	for {
		chunk, err := r.br.ReadSlice('\n')
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
		if errors.Is(err, bufio.ErrBufferFull) {
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
