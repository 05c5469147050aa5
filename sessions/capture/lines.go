package capture

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"

	"github.com/psmux/psmux/sessions/psrp"
)

// lineReader splits input into lines ('\n', an optional '\r' before it,
// and a last line without a terminator), each capped at max bytes. A
// longer line is skipped to its end and reported as errLineTooLong.
type lineReader struct {
	br   *bufio.Reader
	max  int
	n    int // number of the line last returned
	line []byte
}

var errLineTooLong = errors.New("line too long")

func newLineReader(r io.Reader, max int) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(r, 64<<10), max: max}
}

// next returns the next line without its terminator; it is valid until
// the next call. It returns io.EOF after the last line.
func (lr *lineReader) next() ([]byte, error) {
	lr.line = lr.line[:0]
	tooLong := false
	for {
		chunk, err := lr.br.ReadSlice('\n')
		if !tooLong {
			if len(lr.line)+len(chunk) > lr.max+2 { // room for "\r\n"
				tooLong = true
				lr.line = lr.line[:0]
			} else {
				lr.line = append(lr.line, chunk...)
			}
		}
		switch {
		case err == nil:
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if len(lr.line) == 0 && !tooLong && len(chunk) == 0 {
				return nil, io.EOF
			}
		default:
			return nil, err
		}
		lr.n++
		if tooLong {
			return nil, errLineTooLong
		}
		line := bytes.TrimSuffix(lr.line, []byte{'\n'})
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(line) > lr.max {
			return nil, errLineTooLong
		}
		return line, nil
	}
}

// splitDirection strips a "C> " or "S> " prefix (the space optional).
func splitDirection(line []byte) (Direction, []byte) {
	if len(line) >= 2 && line[1] == '>' {
		var d Direction
		switch line[0] {
		case 'C':
			d = ClientToServer
		case 'S':
			d = ServerToClient
		default:
			return UnknownDirection, line
		}
		line = line[2:]
		if len(line) > 0 && line[0] == ' ' {
			line = line[1:]
		}
		return d, line
	}
	return UnknownDirection, line
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// decodeLines runs the OutOfProc and Fragments framings.
func (d *Decoder) decodeLines(r io.Reader, a *assembler) error {
	lr := newLineReader(r, d.maxLine())
	var payload []byte
	for {
		line, err := lr.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if errors.Is(err, errLineTooLong) {
			d.warn(lr.n, fmt.Errorf("line longer than %d bytes: skipped", lr.max))
			continue
		}
		if err != nil {
			return err
		}
		if lr.n == 1 {
			line = bytes.TrimPrefix(line, utf8BOM)
		}
		dir, rest := splitDirection(line)
		rest = bytes.TrimSpace(rest)
		if len(rest) == 0 {
			continue
		}
		if d.Format == OutOfProc {
			if rest[0] != '<' {
				continue // noise: banners, __NamedPipeError__ lines, comments
			}
			p, err := psrp.ParsePacket(rest)
			if err != nil {
				d.warn(lr.n, err)
				continue
			}
			if p.Kind != psrp.Data {
				continue
			}
			stream := "Default"
			if p.PromptResponse {
				stream = "PromptResponse"
			}
			key := streamKey{dir: dir, guid: p.GUID, name: stream}
			pos := Position{Line: lr.n, Envelope: -1, Stream: stream, GUID: p.GUID}
			if err := a.feed(key, p.Payload, pos); err != nil {
				return err
			}
			continue
		}
		payload, err = decodeBase64(payload[:0], rest)
		if err != nil {
			d.warn(lr.n, err)
			continue
		}
		if err := a.feed(streamKey{dir: dir}, payload, Position{Line: lr.n, Envelope: -1}); err != nil {
			return err
		}
	}
}

// decodeBase64 appends the bytes of the base64 text s (padded or not;
// ASCII whitespace inside is ignored) to dst.
func decodeBase64(dst, s []byte) ([]byte, error) {
	if bytes.ContainsAny(s, " \t\r\n") {
		s = bytes.Map(func(r rune) rune {
			switch r {
			case ' ', '\t', '\r', '\n':
				return -1
			}
			return r
		}, s)
	}
	enc := base64.StdEncoding
	if len(s)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	n := enc.DecodedLen(len(s))
	if cap(dst) < n {
		dst = make([]byte, n)
	}
	m, err := enc.Decode(dst[:n], s)
	if err != nil {
		return dst[:0], fmt.Errorf("not base64: %w", err)
	}
	return dst[:m], nil
}
