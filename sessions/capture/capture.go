package capture

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/google/uuid"

	"github.com/psmux/psmux/sessions/clixml"
	"github.com/psmux/psmux/sessions/psrp"
)

// Caps applied to input lengths.
const (
	// DefaultMaxLine caps one input line (OutOfProc, Fragments) and the
	// text of one WSMan element.
	DefaultMaxLine = 16 << 20
	// DefaultMaxInput caps the whole input of the WSMan framing, which is
	// held in memory so that scanning can resume after an XML error.
	DefaultMaxInput = 256 << 20
)

// Format is an input framing.
type Format uint8

// Formats, named as `psmux debug decode --format` spells them.
const (
	OutOfProc Format = iota + 1 // "outofproc"
	Fragments                   // "fragments"
	WSMan                       // "wsman"
)

var formatNames = [...]string{"", "outofproc", "fragments", "wsman"}

func (f Format) String() string {
	if f > 0 && int(f) < len(formatNames) {
		return formatNames[f]
	}
	return fmt.Sprintf("Format(%d)", uint8(f))
}

// ParseFormat returns the Format named s (case-insensitive).
func ParseFormat(s string) (Format, error) {
	for f := OutOfProc; f <= WSMan; f++ {
		if strings.EqualFold(s, formatNames[f]) {
			return f, nil
		}
	}
	return 0, fmt.Errorf("capture: unknown format %q: expected outofproc, fragments or wsman", s)
}

// Direction says who sent a message.
type Direction uint8

// Directions.
const (
	UnknownDirection Direction = iota
	ClientToServer
	ServerToClient
)

func (d Direction) String() string {
	switch d {
	case ClientToServer:
		return "ClientToServer"
	case ServerToClient:
		return "ServerToClient"
	}
	return "Unknown"
}

// Position says where in the input the fragment that completed a message
// was.
type Position struct {
	// Line is the 1-based input line: the OutOfProc or Fragments line,
	// or for WSMan the line on which the element's start tag ends.
	Line int
	// Fragment is the 0-based index of the message's final fragment among
	// the fragments that end inside the same unit (an OutOfProc Data
	// payload, a Fragments line, a WSMan element's decoded bytes). A
	// fragment that began in an earlier unit counts in the unit where it
	// ends.
	Fragment int
	// Envelope is the 0-based index of the enclosing SOAP Envelope among
	// all envelopes of the input (WSMan; -1 elsewhere or outside any).
	Envelope int
	// Element is the WSMan element: "creationXml", "connectXml",
	// "connectResponseXml", "rsp:Arguments" or "rsp:Stream" (the
	// conventional prefix, whatever prefix the input used).
	Element string
	// ElementIndex is the 0-based index of the element among the
	// elements of the same name in its envelope (WSMan).
	ElementIndex int
	// Stream is the OutOfProc Stream ("Default", "PromptResponse") or
	// the WSMan rsp:Stream Name ("stdin", "pr", "stdout").
	Stream string
	// GUID is the OutOfProc PSGuid.
	GUID uuid.UUID
	// CommandID is the WSMan CommandId attribute, as written.
	CommandID string
}

// Record is one complete PSRP message.
type Record struct {
	Direction   Direction
	Destination psrp.Destination
	Type        psrp.MessageType
	RPID, PID   uuid.UUID
	ObjectID    uint64
	FragmentIDs []uint64
	// Data is the message data after the 40-byte header, a UTF-8 BOM
	// included when one was sent. The record owns it.
	Data []byte
	// Value is the decoded body. It is the zero Value (Kind Nil) when the
	// body is empty or did not decode.
	Value clixml.Value
	// Err says why a non-empty body did not decode; nil otherwise.
	Err error
	// Pos is where the message's final fragment was.
	Pos Position
}

// Body returns Data without a leading UTF-8 BOM.
func (r *Record) Body() []byte {
	return psrp.Message{Data: r.Data}.Body()
}

// BOM reports whether Data starts with a UTF-8 BOM.
func (r *Record) BOM() bool { return len(r.Data) != len(r.Body()) }

// InputError is a problem in the input that the decoder stepped over: a
// line that is not a packet, bad base64, a broken fragment stream, a
// message too short for its header, malformed XML.
type InputError struct {
	Line int // 1-based input line; 0 when there is none (end of input)
	Err  error
}

func (e *InputError) Error() string {
	if e.Line <= 0 {
		return "capture: " + e.Err.Error()
	}
	return fmt.Sprintf("capture: line %d: %v", e.Line, e.Err)
}

// Unwrap returns the cause.
func (e *InputError) Unwrap() error { return e.Err }

// Decoder decodes one input. The zero value of every field but Format is
// a useful default. A Decoder is not safe for concurrent use; it may be
// reused for another input.
type Decoder struct {
	Format Format
	// Warn receives every *InputError; nil discards them.
	Warn func(error)
	// MaxLine caps a line and a WSMan element's text (0 = DefaultMaxLine).
	MaxLine int
	// MaxMessage caps a reassembled message (0 = psrp.MaxMessageDefault).
	MaxMessage int
	// MaxInput caps the whole WSMan input (0 = DefaultMaxInput).
	MaxInput int
}

// Decode reads r to the end and calls emit with each complete message, in
// the order the input completes them. It returns nil at the end of input,
// an I/O error, an error for a WSMan input over MaxInput, or the first
// error emit returns (which stops decoding).
func (d *Decoder) Decode(r io.Reader, emit func(Record) error) error {
	a := newAssembler(d, emit)
	var err error
	switch d.Format {
	case OutOfProc, Fragments:
		err = d.decodeLines(r, a)
	case WSMan:
		err = d.decodeWSMan(r, a)
	default:
		return fmt.Errorf("capture: unknown format %v", d.Format)
	}
	var ee *emitError
	if errors.As(err, &ee) {
		return ee.err
	}
	if err != nil {
		return err
	}
	a.finish()
	return nil
}

func (d *Decoder) maxLine() int {
	if d.MaxLine > 0 {
		return d.MaxLine
	}
	return DefaultMaxLine
}

func (d *Decoder) maxMessage() int {
	if d.MaxMessage > 0 {
		return d.MaxMessage
	}
	return psrp.MaxMessageDefault
}

func (d *Decoder) maxInput() int {
	if d.MaxInput > 0 {
		return d.MaxInput
	}
	return DefaultMaxInput
}

func (d *Decoder) warn(line int, err error) {
	if d.Warn != nil {
		d.Warn(&InputError{Line: line, Err: err})
	}
}

// emitError carries an error returned by the emit callback out through
// the Defragmenter, so that it stops decoding instead of being reported
// as a broken stream.
type emitError struct{ err error }

func (e *emitError) Error() string { return e.err.Error() }
