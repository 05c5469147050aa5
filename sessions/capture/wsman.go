package capture

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// maxSkippedIDs bounds the set of WS-Addressing MessageIDs of skipped
// (non-PowerShell) requests remembered to skip their responses.
const maxSkippedIDs = 1 << 16

// psrpElements maps the local names of the elements that carry base64
// PSRP to the names Position uses.
var psrpElements = map[string]string{
	"creationXml":        "creationXml",
	"connectXml":         "connectXml",
	"connectResponseXml": "connectResponseXml",
	"Arguments":          "rsp:Arguments",
	"Stream":             "rsp:Stream",
}

// wsmanScan is the state of one WSMan input.
type wsmanScan struct {
	d    *Decoder
	a    *assembler
	data []byte

	envelopes int // envelopes seen so far
	env       *envelope
	skipped   map[string]bool // MessageIDs of skipped requests

	// the PSRP element being collected, if any
	el      *element
	text    []byte
	textBad bool

	// the header field whose text is being collected, if any
	field     string
	fieldText []byte
}

// envelope is what is known about the SOAP envelope being scanned.
type envelope struct {
	index     int
	counts    map[string]int // elements seen, by Position name
	skip      bool           // a non-PowerShell shell
	messageID string
	commandID string // CommandId of the latest rsp:CommandLine
}

type element struct {
	name      string
	index     int
	line      int
	dir       Direction
	stream    string
	commandID string
	depth     int
}

// decodeWSMan runs the WSMan framing: the whole input is read (capped) so
// that after an XML syntax error scanning resumes at the next '<'.
func (d *Decoder) decodeWSMan(r io.Reader, a *assembler) error {
	max := d.maxInput()
	data, err := io.ReadAll(io.LimitReader(r, int64(max)+1))
	if err != nil {
		return err
	}
	if len(data) > max {
		return fmt.Errorf("capture: WSMan input longer than %d bytes", max)
	}
	s := &wsmanScan{d: d, a: a, data: data, skipped: make(map[string]bool)}
	off, line := 0, 1
	for off < len(data) {
		next, err := s.run(off, line)
		if err != nil {
			return err
		}
		if next <= off || next >= len(data) {
			break
		}
		line += bytes.Count(data[off:next], []byte{'\n'})
		off = next
	}
	return nil
}

// run scans data[off:], whose first byte is on line baseLine, until the
// end or an XML error. It returns the offset to resume at (len(data) when
// done) or an emit error.
func (s *wsmanScan) run(off, baseLine int) (int, error) {
	dec := xml.NewDecoder(bytes.NewReader(s.data[off:]))
	dec.Strict = false
	depth := 0
	for {
		tok, err := dec.RawToken()
		if errors.Is(err, io.EOF) {
			return len(s.data), nil
		}
		if err != nil {
			at := off + int(dec.InputOffset())
			line, _ := dec.InputPos()
			s.d.warn(baseLine+line-1, fmt.Errorf("XML: %v", trimXMLError(err)))
			s.el, s.field, s.env = nil, "", nil
			i := bytes.IndexByte(s.data[min(at+1, len(s.data)):], '<')
			if i < 0 {
				return len(s.data), nil
			}
			return min(at+1, len(s.data)) + i, nil
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			line, _ := dec.InputPos()
			s.start(t, depth, baseLine+line-1)
		case xml.EndElement:
			if err := s.end(t, depth); err != nil {
				return 0, err
			}
			depth--
		case xml.CharData:
			if s.el != nil && !s.textBad {
				if len(s.text)+len(t) > s.d.maxLine() {
					s.textBad = true
					s.text = s.text[:0]
				} else {
					s.text = append(s.text, t...)
				}
			}
			if s.field != "" && len(s.fieldText)+len(t) <= 4096 {
				s.fieldText = append(s.fieldText, t...)
			}
		}
	}
}

func trimXMLError(err error) string {
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		return se.Msg
	}
	return err.Error()
}

func attr(t xml.StartElement, name string) (string, bool) {
	for _, a := range t.Attr {
		if a.Name.Local == name {
			return a.Value, true
		}
	}
	return "", false
}

func (s *wsmanScan) start(t xml.StartElement, depth, line int) {
	local := t.Name.Local
	if local == "Envelope" {
		s.env = &envelope{index: s.envelopes, counts: make(map[string]int)}
		s.envelopes++
		return
	}
	if s.el != nil {
		return // nothing nests inside a PSRP element
	}
	switch local {
	case "ResourceURI", "MessageID", "RelatesTo":
		if s.env != nil {
			s.field, s.fieldText = local, s.fieldText[:0]
		}
		return
	case "CommandLine":
		if s.env != nil {
			s.env.commandID, _ = attr(t, "CommandId")
		}
		return
	}
	name, ok := psrpElements[local]
	if !ok {
		return
	}
	el := &element{name: name, line: line, depth: depth, index: -1}
	if s.env != nil {
		el.index = s.env.counts[name]
		s.env.counts[name]++
	}
	switch name {
	case "creationXml", "connectXml":
		el.dir, el.stream = ClientToServer, "stdin"
	case "connectResponseXml":
		el.dir, el.stream = ServerToClient, "stdout"
	case "rsp:Arguments":
		el.dir, el.stream = ClientToServer, "stdin"
		if s.env != nil {
			el.commandID = s.env.commandID
		}
	case "rsp:Stream":
		el.stream, _ = attr(t, "Name")
		el.commandID, _ = attr(t, "CommandId")
		switch strings.ToLower(el.stream) {
		case "stdin", "pr":
			el.dir = ClientToServer
		case "stdout":
			el.dir = ServerToClient
		default:
			el.dir = UnknownDirection // stderr or anything else: no PSRP
		}
	}
	s.el, s.text, s.textBad = el, s.text[:0], false
}

func (s *wsmanScan) end(t xml.EndElement, depth int) error {
	local := t.Name.Local
	if s.field != "" && local == s.field {
		s.endField()
		return nil
	}
	if local == "Envelope" {
		if s.env != nil && s.env.skip && s.env.messageID != "" && len(s.skipped) < maxSkippedIDs {
			s.skipped[s.env.messageID] = true
		}
		s.env, s.el = nil, nil
		return nil
	}
	el := s.el
	if el == nil || depth != el.depth {
		return nil
	}
	s.el = nil
	if el.dir == UnknownDirection || (s.env != nil && s.env.skip) {
		return nil
	}
	if s.textBad {
		s.d.warn(el.line, fmt.Errorf("%s: text longer than %d bytes: skipped", el.name, s.d.maxLine()))
		return nil
	}
	text := bytes.TrimSpace(s.text)
	if len(text) == 0 {
		return nil // e.g. <rsp:Stream Name="stdout" End="true"/>
	}
	payload, err := decodeBase64(nil, text)
	if err != nil {
		s.d.warn(el.line, fmt.Errorf("%s: %w", el.name, err))
		return nil
	}
	envIndex := -1
	if s.env != nil {
		envIndex = s.env.index
	}
	key := streamKey{dir: el.dir, name: strings.ToLower(el.commandID) + "/" + strings.ToLower(el.stream)}
	pos := Position{
		Line:         el.line,
		Envelope:     envIndex,
		Element:      el.name,
		ElementIndex: el.index,
		Stream:       el.stream,
		CommandID:    el.commandID,
	}
	if el.name != "rsp:Stream" {
		pos.Stream = ""
	}
	return s.a.feed(key, payload, pos)
}

// endField applies a header field: a ResourceURI that names no PowerShell
// endpoint marks the envelope skipped, and so does a RelatesTo naming a
// skipped request.
func (s *wsmanScan) endField() {
	v := strings.TrimSpace(string(s.fieldText))
	f := s.field
	s.field = ""
	if s.env == nil {
		return
	}
	switch f {
	case "ResourceURI":
		if v != "" && !strings.Contains(strings.ToLower(v), "/powershell") {
			s.env.skip = true
		}
	case "MessageID":
		s.env.messageID = strings.ToLower(v)
	case "RelatesTo":
		if s.skipped[strings.ToLower(v)] {
			s.env.skip = true
		}
	}
}
