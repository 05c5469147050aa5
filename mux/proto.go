package mux

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
)

// ProtocolVersion is the version a Hello carries. A peer with another
// major version is refused.
const ProtocolVersion = 1

// MaxFrame caps one frame; a longer length prefix is refused before
// anything is allocated.
const MaxFrame = 16 << 20

// MaxEventFrame caps a frame that carries one event of a log, which is
// as large as the object a PowerShell server sent (up to
// psrp.MaxMessageDefault, 200 MB) once encoded. A client reads frames
// from its server up to this size (Codec.ReadEvents); a server reads
// its clients' frames up to MaxFrame.
const MaxEventFrame = 256 << 20

// Error codes a client can branch on.
const (
	CodeNotFound = "not_found" // can't find session
	CodeBusy     = "busy"      // a pipeline is already running
	CodeUsage    = "usage"     // bad arguments
	CodeConnect  = "connect"   // the host could not be reached or authenticated
	CodeBroken   = "broken"    // the session is Broken
	CodeReadOnly = "read_only" // a read-only client tried to act
	CodeInternal = "internal"
	CodeExists   = "exists" // a session with that name exists
	CodeStopped  = "stopped"
	CodeFailed   = "failed" // the work failed where it ran (a missing file, a remote error)
)

// Error is a failed request's reason.
type Error struct {
	Code string `json:"code"`
	Msg  string `json:"msg"`
}

func (e *Error) Error() string { return e.Msg }

// errorf builds an *Error.
func errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// FrameError says a peer sent something that is not a frame.
type FrameError struct{ Reason string }

func (e *FrameError) Error() string { return "mux: bad frame: " + e.Reason }

// Codec reads and writes length-prefixed frames: a 4-byte big-endian
// length, then that many bytes of JSON. Writes are safe from several
// goroutines; reads are for one.
type Codec struct {
	r   *bufio.Reader
	max uint32 // the longest frame Read accepts
	wm  sync.Mutex
	w   io.Writer
	rb  []byte
	wb  []byte
}

// NewCodec frames rw.
func NewCodec(r io.Reader, w io.Writer) *Codec {
	return &Codec{r: bufio.NewReaderSize(r, 64<<10), max: MaxFrame, w: w}
}

// ReadEvents lets Read accept event frames up to MaxEventFrame (a
// client reading its server).
func (c *Codec) ReadEvents() { c.max = MaxEventFrame }

// denied reports whether the server refused this client before any
// frame: it then writes one plain line starting with sock.DeniedPrefix.
func (c *Codec) denied() (string, bool) {
	const prefix = "psmux: access denied"
	b, _ := c.r.Peek(len(prefix))
	if string(b) != prefix {
		return "", false
	}
	line, _ := c.r.ReadString('\n')
	return strings.TrimSpace(line), true
}

// Read returns the next message.
func (c *Codec) Read() (Message, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(c.r, hdr[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, &FrameError{Reason: "truncated length"}
		}
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > c.max {
		return nil, &FrameError{Reason: fmt.Sprintf("length %d over the %d-byte cap", n, c.max)}
	}
	if cap(c.rb) < int(n) {
		c.rb = make([]byte, n)
	}
	b := c.rb[:n]
	if n > MaxFrame {
		c.rb = nil // a large event's buffer is not kept for the small frames after it
	}
	if _, err := io.ReadFull(c.r, b); err != nil {
		return nil, &FrameError{Reason: fmt.Sprintf("truncated frame (%v)", err)}
	}
	if f, ok := readEvFrame(b); ok {
		return f, nil
	}
	var w wireFrame
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, &FrameError{Reason: fmt.Sprintf("want a JSON object: %v", err)}
	}
	if w.T == "" {
		return nil, &FrameError{Reason: `no "t" (frame type)`}
	}
	return w.message(), nil
}

// Write sends one message.
func (c *Codec) Write(m Message) error {
	body, err := json.Marshal(toWire(m))
	if err != nil {
		return fmt.Errorf("mux: encode frame: %w", err)
	}
	return c.WriteRaw(body)
}

// evPrefix starts every event frame the server writes (evFrameSeq).
const evPrefix = `{"t":"ev","id":`

// readEvFrame reads an event frame in the shape evFrameSeq writes
// without a pass of the JSON decoder over the event (which the client
// decodes anyway), and reports false for any other frame, which the
// decoder then reads (or refuses).
func readEvFrame(b []byte) (*EventFrame, bool) {
	rest, ok := bytes.CutPrefix(b, []byte(evPrefix))
	if !ok {
		return nil, false
	}
	id, rest, ok := readUint(rest)
	if rest, ok = cutAfter(rest, ok, `,"seq":`); !ok {
		return nil, false
	}
	seq, rest, ok := readUint(rest)
	if rest, ok = cutAfter(rest, ok, `,"ev":`); !ok || len(rest) < 3 || rest[0] != '{' || rest[len(rest)-2] != '}' || rest[len(rest)-1] != '}' {
		return nil, false
	}
	return &EventFrame{ID: id, Seq: seq, Ev: bytes.Clone(rest[:len(rest)-1])}, true
}

// cutAfter cuts sep from the front of b, after a read that went well.
func cutAfter(b []byte, ok bool, sep string) ([]byte, bool) {
	if !ok {
		return nil, false
	}
	return bytes.CutPrefix(b, []byte(sep))
}

// appendFrame appends one frame to dst: its length, then the body build
// appends; a body over limit is an error, and dst is left as it was.
func appendFrame(dst []byte, limit int, build func([]byte) []byte) ([]byte, error) {
	at := len(dst)
	dst = build(append(dst, 0, 0, 0, 0))
	n := len(dst) - at - 4
	if n > limit {
		return dst[:at], overCap(n)
	}
	binary.BigEndian.PutUint32(dst[at:], uint32(n))
	return dst, nil
}

func overCap(n int) error {
	return &FrameError{Reason: fmt.Sprintf("outgoing frame of %d bytes over the cap", n)}
}

// WriteFrames sends frames appendFrame put together (each body after its length),
// in one write.
func (c *Codec) WriteFrames(frames []byte) error {
	c.wm.Lock()
	defer c.wm.Unlock()
	_, err := c.w.Write(frames)
	return err
}

// WriteRaw sends an encoded frame body.
func (c *Codec) WriteRaw(body []byte) error {
	if len(body) > MaxFrame { // before copying it
		return overCap(len(body))
	}
	c.wm.Lock()
	defer c.wm.Unlock()
	c.wb, _ = appendFrame(c.wb[:0], MaxFrame, func(dst []byte) []byte { return append(dst, body...) })
	_, err := c.w.Write(c.wb)
	if cap(c.wb) > 1<<20 {
		c.wb = nil
	}
	return err
}

// decoding it again.
