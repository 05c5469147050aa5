package mux

import (
	"bytes"
	"context"
	"hash/maphash"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/psmux/psmux/sessions"
	"github.com/psmux/psmux/sessions/clixml"
	"github.com/psmux/psmux/sessions/psrp"
	"github.com/psmux/psmux/ssh"
)

// Event kinds.
const (
	KindMsg     = "msg"     // a pipeline message: output or a record (Type, XML)
	KindHost    = "host"    // a void host call: Write*, progress (Method, XML = parameters)
	KindInput   = "input"   // a command as typed (Text)
	KindState   = "state"   // a command ended (Text = PSInvocationState, HadErrors, Reason XML)
	KindSession = "session" // the session changed (Text: Opened, Broken: …, Reconnected …)
	KindNoise   = "noise"   // remote noise or stderr (Text)
	KindPrompt  = "prompt"  // a prompt was shown to a client (Text: what it asked)
)

// Event is one entry of a session's log. The log keeps it encoded; its
// sequence number travels beside it in the ev frame.
type Event struct {
	TS        int64  `json:"ts"`               // unix milliseconds
	Cmd       int    `json:"cmd,omitempty"`    // the command (job) id
	Kind      string `json:"kind"`             // see the Kind constants
	Type      int    `json:"type,omitempty"`   // msg: psrp.MessageType
	Method    int    `json:"method,omitempty"` // host: psrp.HostMethod
	XML       string `json:"xml,omitempty"`    // msg: the value; host: the parameters; state: the reason
	Text      string `json:"text,omitempty"`   // input, state, session, noise, prompt
	HadErrors bool   `json:"had_errors,omitempty"`
	Client    string `json:"client,omitempty"` // input: who typed it
}

// Seq is an event with its sequence number, as clients receive it.
type Seq struct {
	Seq uint64
	Event
}

func encodeEvent(e Event) []byte {
	if e.TS == 0 {
		e.TS = time.Now().UnixMilli()
	}
	// the log keeps what this returns, and counts its length: exactly
	// that much, not the spare room of a growing buffer
	s := scratch.Get().(*[]byte)
	b := appendEvent((*s)[:0], e)
	out := bytes.Clone(b)
	if cap(b) <= 4*maxEventText { // a buffer larger than the pieces of a long write is not kept
		*s = b
		scratch.Put(s)
	}
	return out
}

var scratch = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// appendEvent appends e's JSON to dst, the fields in Event's order and
// with its tags' names and omitempty (TestAppendEventIsJSON), at a third
// of encoding/json's cost: every event a session logs is encoded once,
// on the server's hot path. Without HTML escapes an event's XML is a
// third shorter, and quicker to decode, than with every < and > as
// \u003c and \u003e.
func appendEvent(dst []byte, e Event) []byte {
	dst = append(dst, `{"ts":`...)
	dst = strconv.AppendInt(dst, e.TS, 10)
	if e.Cmd != 0 {
		dst = append(dst, `,"cmd":`...)
		dst = strconv.AppendInt(dst, int64(e.Cmd), 10)
	}
	dst = append(dst, `,"kind":`...)
	dst = clixml.AppendJSONString(dst, e.Kind)
	if e.Type != 0 {
		dst = append(dst, `,"type":`...)
		dst = strconv.AppendInt(dst, int64(e.Type), 10)
	}
	if e.Method != 0 {
		dst = append(dst, `,"method":`...)
		dst = strconv.AppendInt(dst, int64(e.Method), 10)
	}
	if e.XML != "" {
		dst = append(dst, `,"xml":`...)
		dst = clixml.AppendJSONString(dst, e.XML)
	}
	if e.Text != "" {
		dst = append(dst, `,"text":`...)
		dst = clixml.AppendJSONString(dst, e.Text)
	}
	if e.HadErrors {
		dst = append(dst, `,"had_errors":true`...)
	}
	if e.Client != "" {
		dst = append(dst, `,"client":`...)
		dst = clixml.AppendJSONString(dst, e.Client)
	}
	return append(dst, '}')
}

// eventHead reads an encoded event's command id and kind from the front
// of its JSON, where encodeEvent puts them ({"ts":…,"cmd":…,"kind":…}),
// so following one command's output does not decode every value. Any
// other shape is decoded in full.
func eventHead(b []byte) (cmd int, kind string) {
	rest, ok := bytes.CutPrefix(b, []byte(`{"ts":`))
	for ok && len(rest) > 0 && rest[0] >= '0' && rest[0] <= '9' {
		rest = rest[1:]
	}
	if ok {
		if r, has := bytes.CutPrefix(rest, []byte(`,"cmd":`)); has {
			for len(r) > 0 && r[0] >= '0' && r[0] <= '9' {
				cmd = cmd*10 + int(r[0]-'0')
				r = r[1:]
			}
			rest = r
		}
		if r, has := bytes.CutPrefix(rest, []byte(`,"kind":"`)); has {
			if i := bytes.IndexByte(r, '"'); i >= 0 {
				return cmd, string(r[:i])
			}
		}
	}
	var e Event
	if decodeEvent(b, &e) != nil {
		return 0, ""
	}
	return e.Cmd, e.Kind
}

func msgEvent(cmd int, t psrp.MessageType, v clixml.Value) Event {
	return Event{Cmd: cmd, Kind: KindMsg, Type: int(t), XML: encodeLogged(v)}
}

func hostEvent(cmd int, c psrp.HostCallMsg) Event {
	ps := hostParams(c)
	return Event{Cmd: cmd, Kind: KindHost, Method: int(c.Method), XML: string(appendParams(nil, ps))}
}

// hostParams are c's parameters as the log keeps them.
func hostParams(c psrp.HostCallMsg) []clixml.Value {
	ps := make([]clixml.Value, len(c.Params))
	for i, p := range c.Params {
		ps[i] = withoutSecrets(p)
	}
	return ps
}

// maxEventText is the most text one host write event carries. A longer
// write (a 60 MB line) is logged as several events, Write pieces and
// then the call with the rest, which print as the one call did: no event
// outgrows a frame, and no encoding of the whole text is made.
const maxEventText = 1 << 20

// writeText returns the index of a host write's text parameter, or -1
// for any other call.
func writeText(c psrp.HostCallMsg) int {
	if i := c.WriteText(); i >= 0 && c.Params[i].Kind == clixml.String {
		return i
	}
	return -1
}

// hostEvents calls fn with the events of a void host call: its event or,
// for a write of more than maxEventText, those of its pieces. The XML of
// a piece's event is valid only during fn (the next piece reuses it):
// fn encodes it, and the pieces leave no garbage the size of the text.
func hostEvents(cmd int, c psrp.HostCallMsg, fn func(Event)) {
	i := writeText(c)
	if i < 0 || len(c.Params[i].Text) <= maxEventText {
		fn(hostEvent(cmd, c))
		return
	}
	piece := psrp.Write1 // Write2 keeps the colours of Write2 and WriteLine3
	if i == 2 {
		piece = psrp.Write2
	}
	text := c.Params[i].Text
	var scratch []byte // the parameters of one piece, encoded
	with := func(m psrp.HostMethod, s string) Event {
		ps := hostParams(c)
		ps[i] = clixml.Str(s)
		scratch = appendParams(scratch[:0], ps)
		return Event{Cmd: cmd, Kind: KindHost, Method: int(m), XML: unsafe.String(unsafe.SliceData(scratch), len(scratch))}
	}
	for len(text) > maxEventText {
		n := maxEventText
		for n > maxEventText-utf8.UTFMax && !utf8.RuneStart(text[n]) {
			n-- // not inside a character
		}
		fn(with(piece, text[:n]))
		text = text[n:]
	}
	fn(with(c.Method, text))
}

// longTwin remembers the last long Write-Host text one side logged, so
// that its twin from the other side (psrp-brief §8.4) is not logged too:
// a client could not match a text that was split in pieces with its
// twin, and would show it twice. Short texts are matched by the client
// (repl.Renderer), as they always were.
type longTwin struct {
	seed     maphash.Seed
	sum      uint64
	size     int
	fromHost bool
}

// twin reports whether s, a text longer than maxEventText from the host
// call (fromHost) or from the record, is the twin of the last one
// remembered; it forgets that one when it is, and otherwise remembers s.
func (t *longTwin) twin(s string, fromHost bool) bool {
	if t.seed == (maphash.Seed{}) {
		t.seed = maphash.MakeSeed()
	}
	sum := maphash.String(t.seed, s)
	if t.size == len(s) && t.sum == sum && t.fromHost != fromHost {
		t.size = -1
		return true
	}
	t.sum, t.size, t.fromHost = sum, len(s), fromHost
	return false
}

// encodeLogged encodes a value for the log.
func encodeLogged(v clixml.Value) string {
	return string(clixml.Encode(nil, withoutSecrets(v)))
}

// withoutSecrets returns v with every SecureString emptied: the log (and
// every client that reads it) keeps that there was one, never its
// plaintext or ciphertext.
func withoutSecrets(v clixml.Value) clixml.Value {
	return psrp.MapSecureStrings(v, func(string) string { return "" })
}

// encodeParams encodes host call parameters as one <Objs> document.
func encodeParams(ps []clixml.Value) string {
	return string(appendParams(nil, ps))
}

func appendParams(b []byte, ps []clixml.Value) []byte {
	b = append(b, "<Objs>"...)
	for _, p := range ps {
		b = clixml.Encode(b, p)
	}
	return append(b, "</Objs>"...)
}

// DecodeParams decodes what encodeParams encoded (a Prompt's XML).
func DecodeParams(s string) ([]clixml.Value, error) {
	return clixml.DecodeAll([]byte(s))
}

// Value decodes a msg event's value.
func (e *Event) Value() (clixml.Value, error) {
	return clixml.Decode([]byte(e.XML))
}

// HostCall rebuilds a host event's call.
func (e *Event) HostCall() (psrp.HostCallMsg, error) {
	ps, err := DecodeParams(e.XML)
	if err != nil {
		return psrp.HostCallMsg{}, err
	}
	return psrp.HostCallMsg{CI: psrp.VoidCallID, Method: psrp.HostMethod(e.Method), Params: ps}, nil
}

// Render hands a msg or host event to h as the pipeline first did
// (output and records to Message, void host calls to HostCall), so a
// replayed event renders like a live one. It reports whether the event
// was one of those two kinds.
func (e *Event) Render(ctx context.Context, h sessions.Handler) bool {
	switch e.Kind {
	case KindMsg:
		if v, err := e.Value(); err == nil {
			h.Message(psrp.MessageType(e.Type), v)
		}
	case KindHost:
		if c, err := e.HostCall(); err == nil {
			h.HostCall(ctx, c)
		}
	default:
		return false
	}
	return true
}

// Prompt is a question for one interactive client: a host call that
// needs an answer (Read-Host, Get-Credential, PromptForChoice …) or an
// SSH question (password, passphrase, 2FA, host key).
type Prompt struct {
	Session string `json:"session"`
	Dest    string `json:"dest,omitempty"`
	// host call
	Computer string `json:"computer,omitempty"` // the session's remote computer
	Method   int    `json:"method,omitempty"`
	XML      string `json:"xml,omitempty"` // the parameters
	// ssh question
	SSH *SSHPrompt `json:"ssh,omitempty"`
}

// SSHPrompt is an SSH question relayed to a client.
type SSHPrompt struct {
	Kind        int           `json:"kind"`
	Name        string        `json:"name,omitempty"`
	Instruction string        `json:"instruction,omitempty"`
	Questions   []SSHQuestion `json:"questions"`
}

// SSHQuestion is one line to answer.
type SSHQuestion struct {
	Text string `json:"text"`
	Echo bool   `json:"echo"`
}

func newSSHPrompt(req ssh.PromptRequest) *SSHPrompt {
	sp := &SSHPrompt{Kind: int(req.Kind), Name: req.Name, Instruction: req.Instruction}
	for _, q := range req.Questions {
		sp.Questions = append(sp.Questions, SSHQuestion{Text: q.Text, Echo: q.Echo})
	}
	return sp
}

func (sp *SSHPrompt) request(dest string) ssh.PromptRequest {
	req := ssh.PromptRequest{Dest: dest, Kind: ssh.PromptKind(sp.Kind), Name: sp.Name, Instruction: sp.Instruction}
	for _, q := range sp.Questions {
		req.Questions = append(req.Questions, ssh.Question{Text: q.Text, Echo: q.Echo})
	}
	return req
}

// Reply answers p on this client: a host call through h (a Renderer
// asks on the terminal), an SSH question through sp. Either may be nil;
// a prompt nobody here can answer gets an Answer that says why.
func (p *Prompt) Reply(ctx context.Context, h sessions.Handler, sp ssh.Prompter) Answer {
	if p.SSH != nil {
		if sp == nil {
			return Answer{Error: "psmux: no terminal to answer on"}
		}
		ans, err := sp.Prompt(ctx, p.SSH.request(p.Dest))
		if err != nil {
			return Answer{Error: err.Error()}
		}
		return Answer{Answers: ans}
	}
	if h == nil {
		return Answer{Error: "psmux: this client cannot answer prompts"}
	}
	ps, err := DecodeParams(p.XML)
	if err != nil {
		return Answer{Error: "psmux: the prompt could not be read: " + err.Error()}
	}
	if cs, ok := h.(interface{ SetComputer(string) }); ok {
		cs.SetComputer(p.Computer) // for the warnings of pwsh's client
	}
	v, errRec := h.HostCall(ctx, psrp.HostCallMsg{Method: psrp.HostMethod(p.Method), Params: ps})
	if errRec != nil {
		return Answer{ErrXML: string(clixml.Encode(nil, *errRec))}
	}
	return Answer{XML: string(clixml.Encode(nil, v))}
}

// Answer is a client's reply to a Prompt.
type Answer struct {
	Prompt  uint64   `json:"prompt"`
	XML     string   `json:"xml,omitempty"`     // host call result
	ErrXML  string   `json:"err_xml,omitempty"` // host call error record
	Answers []string `json:"answers,omitempty"` // ssh answers
	Error   string   `json:"error,omitempty"`   // the client could not answer
}
