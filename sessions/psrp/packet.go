package psrp

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/google/uuid"
)

// PacketKind is the element name of an OutOfProc packet (psrp-brief §1.1).
type PacketKind uint8

// Packet kinds.
const (
	Data PacketKind = iota + 1
	DataAck
	Command
	CommandAck
	Signal
	SignalAck
	Close
	CloseAck
)

var packetNames = [...]string{"", "Data", "DataAck", "Command", "CommandAck", "Signal", "SignalAck", "Close", "CloseAck"}

func (k PacketKind) String() string {
	if int(k) < len(packetNames) && k > 0 {
		return packetNames[k]
	}
	return fmt.Sprintf("PacketKind(%d)", uint8(k))
}

// NilGUID is the PSGuid of the session (runspace pool) channel.
var NilGUID uuid.UUID

// Packet is one OutOfProc line.
type Packet struct {
	Kind           PacketKind
	GUID           uuid.UUID
	PromptResponse bool   // Data only: Stream='PromptResponse'
	Payload        []byte // Data only: the decoded fragment bytes
}

// ErrEmptyLine is returned for a blank line, which pwsh treats as the end
// of the session.
var ErrEmptyLine = errors.New("psrp: empty line where an OutOfProc packet was expected")

// PacketError describes a line that is not an OutOfProc packet.
type PacketError struct {
	Line   string // the start of the offending line, for the message
	Reason string
}

func (e *PacketError) Error() string {
	return fmt.Sprintf("psrp: bad OutOfProc packet %q: %s", e.Line, e.Reason)
}

func packetErr(line []byte, format string, args ...any) error {
	s := line
	if len(s) > 80 {
		s = s[:80]
	}
	return &PacketError{Line: string(s), Reason: fmt.Sprintf(format, args...)}
}

// ParsePacket parses one line (without its terminator; a trailing '\r' is
// allowed). It accepts exactly the grammar pwsh accepts: one element, the
// attribute counts of §1.1 (Data two, every other one), single or double
// quotes. Payload aliases a fresh buffer; it is safe to keep.
func ParsePacket(line []byte) (Packet, error) {
	return parsePacket(line, nil)
}

// parsePacket decodes the payload into buf's storage when it is large enough.
func parsePacket(line []byte, buf []byte) (Packet, error) {
	line = bytes.TrimSuffix(line, []byte{'\r'})
	if len(line) == 0 {
		return Packet{}, ErrEmptyLine
	}
	var p Packet
	if line[0] != '<' {
		return p, packetErr(line, "expected '<' at the start of the line")
	}
	i := 1
	j := i
	for j < len(line) && isNameByte(line[j]) {
		j++
	}
	switch string(line[i:j]) {
	case "Data":
		p.Kind = Data
	case "DataAck":
		p.Kind = DataAck
	case "Command":
		p.Kind = Command
	case "CommandAck":
		p.Kind = CommandAck
	case "Signal":
		p.Kind = Signal
	case "SignalAck":
		p.Kind = SignalAck
	case "Close":
		p.Kind = Close
	case "CloseAck":
		p.Kind = CloseAck
	default:
		return p, packetErr(line, "unknown element %q: expected Data, DataAck, Command, CommandAck, Signal, SignalAck, Close or CloseAck", line[i:j])
	}
	i = j
	var haveGUID, haveStream bool
	nattr := 0
	for {
		// skip whitespace
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		if i >= len(line) {
			return p, packetErr(line, "unterminated element")
		}
		if line[i] == '/' || line[i] == '>' {
			break
		}
		j = i
		for j < len(line) && isNameByte(line[j]) {
			j++
		}
		name := line[i:j]
		if len(name) == 0 || j+1 >= len(line) || line[j] != '=' || (line[j+1] != '\'' && line[j+1] != '"') {
			return p, packetErr(line, "expected an attribute name='value'")
		}
		q := line[j+1]
		k := bytes.IndexByte(line[j+2:], q)
		if k < 0 {
			return p, packetErr(line, "unterminated attribute value")
		}
		val := line[j+2 : j+2+k]
		i = j + 3 + k
		nattr++
		switch string(name) {
		case "PSGuid":
			if haveGUID {
				return p, packetErr(line, "duplicate PSGuid attribute")
			}
			g, err := uuid.ParseBytes(bytes.Trim(val, "{}"))
			if err != nil {
				return p, packetErr(line, "PSGuid %q is not a GUID", val)
			}
			p.GUID, haveGUID = g, true
		case "Stream":
			if p.Kind != Data || haveStream {
				return p, packetErr(line, "unexpected Stream attribute")
			}
			haveStream = true
			p.PromptResponse = bytes.EqualFold(val, []byte("PromptResponse"))
		default:
			return p, packetErr(line, "unexpected attribute %q: expected PSGuid%s", name, map[bool]string{true: " or Stream"}[p.Kind == Data])
		}
	}
	if !haveGUID {
		return p, packetErr(line, "missing PSGuid attribute")
	}
	if p.Kind == Data {
		if nattr != 2 || !haveStream {
			return p, packetErr(line, "Data needs exactly the Stream and PSGuid attributes")
		}
		if line[i] != '>' {
			return p, packetErr(line, "Data must carry base64 text")
		}
		i++
		end := bytes.LastIndex(line, []byte("</Data>"))
		if end < i || end+len("</Data>") != len(line) {
			return p, packetErr(line, "expected </Data> at the end of the line")
		}
		text := line[i:end]
		if len(text) == 0 {
			return p, packetErr(line, "empty Data element")
		}
		n := base64.StdEncoding.DecodedLen(len(text))
		if cap(buf) < n {
			buf = make([]byte, n)
		}
		m, err := base64.StdEncoding.Decode(buf[:n], text)
		if err != nil {
			return p, packetErr(line, "Data is not base64: %v", err)
		}
		p.Payload = buf[:m]
		return p, nil
	}
	if nattr != 1 {
		return p, packetErr(line, "%s takes exactly one attribute", p.Kind)
	}
	rest := bytes.TrimLeft(line[i:], " ")
	if !bytes.Equal(rest, []byte("/>")) && !bytes.Equal(rest, []byte("></"+p.Kind.String()+">")) {
		return p, packetErr(line, "expected '/>' after the attributes")
	}
	return p, nil
}

func isNameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == ':'
}

// AppendPacket writes p as pwsh does (single quotes, a space before "/>",
// lowercase GUID) followed by '\n'.
func AppendPacket(dst []byte, p Packet) []byte {
	dst = append(dst, '<')
	dst = append(dst, p.Kind.String()...)
	if p.Kind == Data {
		if p.PromptResponse {
			dst = append(dst, " Stream='PromptResponse'"...)
		} else {
			dst = append(dst, " Stream='Default'"...)
		}
	}
	dst = append(dst, " PSGuid='"...)
	dst = appendGUIDText(dst, p.GUID)
	dst = append(dst, '\'')
	if p.Kind == Data {
		dst = append(dst, '>')
		dst = base64.StdEncoding.AppendEncode(dst, p.Payload)
		dst = append(dst, "</Data>\n"...)
		return dst
	}
	return append(dst, " />\n"...)
}

func appendGUIDText(dst []byte, g uuid.UUID) []byte {
	var b [36]byte
	hex := "0123456789abcdef"
	j := 0
	for i, c := range g {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b[j] = '-'
			j++
		}
		b[j], b[j+1] = hex[c>>4], hex[c&15]
		j += 2
	}
	return append(dst, b[:]...)
}
