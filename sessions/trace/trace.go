package trace

import (
	"bytes"
	"io"
	"regexp"
	"strings"
	"sync"

	"github.com/google/uuid"
	"github.com/psmux/psmux/sessions/clixml"
	"github.com/psmux/psmux/sessions/psrp"
)

// Mask is what a masked secret reads as: base64 of "masked", so that
// a masked SecureString or session key still decodes as base64.
const Mask = "bWFza2Vk"

// maxLine bounds one buffered line; a longer line is dropped with a note.
const maxLine = 64 << 20

// Recorder writes both directions of one session to w.
type Recorder struct {
	mu     sync.Mutex
	w      io.Writer
	client side
	server side
	err    error // the first write error; recording stops after it
}

type side struct {
	prefix string
	line   []byte
	long   bool // dropping the rest of a too-long line
	defrag map[streamKey]*psrp.Defragmenter
}

type streamKey struct {
	guid   uuid.UUID
	prompt bool
}

// NewRecorder returns a Recorder writing to w.
func NewRecorder(w io.Writer) *Recorder {
	return &Recorder{w: w, client: side{prefix: "C> "}, server: side{prefix: "S> "}}
}

// Client records bytes psmux wrote to PowerShell.
func (r *Recorder) Client(b []byte) { r.feed(&r.client, b) }

// Server records bytes PowerShell wrote to psmux.
func (r *Recorder) Server(b []byte) { r.feed(&r.server, b) }

// Err returns the first error writing the trace.
func (r *Recorder) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

func (r *Recorder) feed(s *side, b []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		chunk := b
		if i >= 0 {
			chunk = b[:i]
		}
		if !s.long {
			if len(s.line)+len(chunk) > maxLine {
				s.long, s.line = true, s.line[:0]
				r.write([]byte("# trace: a line longer than 64 MiB was left out\n"))
			} else {
				s.line = append(s.line, chunk...)
			}
		}
		if i < 0 {
			return
		}
		if !s.long {
			r.line(s, bytes.TrimSuffix(s.line, []byte{'\r'}))
		}
		s.line, s.long = s.line[:0], false
		b = b[i+1:]
	}
}

func (r *Recorder) write(b []byte) {
	if r.err != nil {
		return
	}
	if _, err := r.w.Write(b); err != nil {
		r.err = err
	}
}

// line records one complete line of s.
func (r *Recorder) line(s *side, line []byte) {
	p, err := psrp.ParsePacket(line)
	if err != nil || p.Kind != psrp.Data {
		// Not a data packet: nothing secret can be in it (or it is noise
		// the decoder skips), so it goes out as it came.
		r.raw(s, line)
		return
	}
	key := streamKey{p.GUID, p.PromptResponse}
	if s.defrag == nil {
		s.defrag = map[streamKey]*psrp.Defragmenter{}
	}
	d := s.defrag[key]
	if d == nil {
		d = &psrp.Defragmenter{}
		s.defrag[key] = d
	}
	single := wholeFragment(p.Payload)
	var out []byte
	err = d.Write(p.Payload, func(a psrp.Assembled) error {
		masked, changed := MaskMessage(a.Message)
		if single && !changed {
			out = append(out, s.prefix...)
			out = append(out, line...)
			out = append(out, '\n')
			return nil
		}
		frag := psrp.AppendFragment(nil, psrp.Fragment{ObjectID: a.ObjectID, Start: true, End: true, Blob: masked})
		out = append(out, s.prefix...)
		out = psrp.AppendPacket(out, psrp.Packet{Kind: psrp.Data, GUID: p.GUID, PromptResponse: p.PromptResponse, Payload: frag})
		return nil
	})
	if err != nil {
		// A broken fragment stream: record the line (it cannot be
		// decoded into a message, so it holds no readable secret) and
		// start the stream afresh.
		delete(s.defrag, key)
		r.raw(s, line)
		return
	}
	r.write(out)
}

func (r *Recorder) raw(s *side, line []byte) {
	r.write(append(append([]byte(s.prefix), line...), '\n'))
}

// wholeFragment reports whether payload is exactly one fragment that is
// a whole message.
func wholeFragment(payload []byte) bool {
	if len(payload) < psrp.FragmentHeaderLen || payload[16]&3 != 3 {
		return false
	}
	n := int(uint32(payload[17])<<24 | uint32(payload[18])<<16 | uint32(payload[19])<<8 | uint32(payload[20]))
	return len(payload) == psrp.FragmentHeaderLen+n
}

var (
	// <SS>…</SS> and <SS N="…">…</SS>
	ssRE = regexp.MustCompile(`(<SS(?:\s[^>]*)?>)[^<]*(</SS>)`)
	// the session key
	keyRE = regexp.MustCompile(`(<S N="EncryptedSessionKey">)[^<]*(</S>)`)
	// every string of a CREATE_PIPELINE body
	strRE = regexp.MustCompile(`(<S(?:\s[^>]*)?>)([^<]*)(</S>)`)
	// a quoted literal in script text (after XML unescaping)
	quotedRE = regexp.MustCompile(`'(?:[^']|'')*'|"(?:[^"` + "`" + `]|` + "`" + `.)*"`)
	plainRE  = regexp.MustCompile(`(?i)-asplaintext`)
)

// MaskMessage returns msg (a PSRP message, header included) with its
// secrets masked, and whether anything changed.
func MaskMessage(msg []byte) ([]byte, bool) {
	m, err := psrp.ParseMessage(msg)
	if err != nil {
		return msg, false
	}
	body := m.Data
	out := ssRE.ReplaceAll(body, []byte("${1}"+Mask+"${2}"))
	if m.Type == psrp.EncryptedSessionKey {
		out = keyRE.ReplaceAll(out, []byte("${1}"+Mask+"${2}"))
	}
	if m.Type == psrp.CreatePipeline && plainRE.Match(out) {
		out = strRE.ReplaceAllFunc(out, maskScript)
	}
	if bytes.Equal(out, body) {
		return msg, false
	}
	m.Data = out
	return psrp.AppendMessage(nil, m), true
}

// maskScript masks the quoted literals of one <S> whose text mentions
// -AsPlainText.
func maskScript(el []byte) []byte {
	sm := strRE.FindSubmatch(el)
	text := clixml.DecodeString(xmlUnescape(string(sm[2])))
	if !plainRE.MatchString(text) {
		return el
	}
	text = quotedRE.ReplaceAllString(text, "'***'")
	return append(append(append([]byte(nil), sm[1]...), xmlEscape(clixml.EncodeString(text))...), sm[3]...)
}

var (
	unescaper = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&quot;", `"`, "&apos;", "'", "&#39;", "'", "&#34;", `"`, "&amp;", "&")
	escaper   = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
)

func xmlUnescape(s string) string { return unescaper.Replace(s) }
func xmlEscape(s string) string   { return escaper.Replace(s) }
