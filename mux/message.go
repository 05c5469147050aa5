package mux

import "encoding/json"

// Message is one message of the client protocol (PROTOCOL.md): a
// *Hello, *Request, *Response, *EventFrame, *PromptFrame, *Detached,
// *Bye, *PrintOff, or *Unknown for a type this version does not know
// (a newer peer's; readers skip it). The interface is sealed: Codec
// reads and writes exactly these.
type Message interface {
	frameType() string
}

// Hello opens a connection, from either side: the protocol version,
// the program's name, and HelloArgs (client) or HelloReply (server).
type Hello struct {
	V    int
	Name string // "psmux 0.1.0"
	Args json.RawMessage
}

// Request is a client's request; ID 0 for one without a response
// (ack, answer, cancel, print).
type Request struct {
	ID   uint64
	Op   string
	Args json.RawMessage
}

// Response ends request ID: its data, or why it failed.
type Response struct {
	ID   uint64
	OK   bool
	Data json.RawMessage
	Err  *Error
}

// EventFrame is one event of a session's log (already encoded) with its
// sequence number, streamed for request ID.
type EventFrame struct {
	ID  uint64
	Seq uint64
	Ev  json.RawMessage
}

// PromptFrame is a question for this client; its Answer names ID.
type PromptFrame struct {
	ID     uint64
	Prompt *Prompt
}

// Detached tells an attached client it was detached, and why.
type Detached struct{ Msg string }

// Bye is the server's last word before it closes the connection.
type Bye struct{ Msg string }

// PrintOff says the server could not write this client's output to its
// terminal (psmux print) and the client prints it itself.
type PrintOff struct{}

// Unknown is a message of a type this version does not know.
type Unknown struct{ T string }

func (*Hello) frameType() string       { return "hello" }
func (*Request) frameType() string     { return "req" }
func (*Response) frameType() string    { return "res" }
func (*EventFrame) frameType() string  { return "ev" }
func (*PromptFrame) frameType() string { return "prompt" }
func (*Detached) frameType() string    { return "detached" }
func (*Bye) frameType() string         { return "bye" }
func (*PrintOff) frameType() string    { return "printoff" }
func (u *Unknown) frameType() string   { return u.T }

// wireFrame is a message as JSON on the wire: one object whose "t" names
// the type, with the fields that type uses.
type wireFrame struct {
	T      string          `json:"t"`
	ID     uint64          `json:"id,omitempty"`
	V      int             `json:"v,omitempty"`
	Name   string          `json:"name,omitempty"`
	Op     string          `json:"op,omitempty"`
	Args   json.RawMessage `json:"args,omitempty"`
	OK     bool            `json:"ok,omitempty"`
	Data   json.RawMessage `json:"data,omitempty"`
	Err    *Error          `json:"err,omitempty"`
	Seq    uint64          `json:"seq,omitempty"`
	Ev     json.RawMessage `json:"ev,omitempty"`
	Prompt *Prompt         `json:"prompt,omitempty"`
	Msg    string          `json:"msg,omitempty"`
}

func toWire(m Message) wireFrame {
	w := wireFrame{T: m.frameType()}
	switch m := m.(type) {
	case *Hello:
		w.V, w.Name, w.Args = m.V, m.Name, m.Args
	case *Request:
		w.ID, w.Op, w.Args = m.ID, m.Op, m.Args
	case *Response:
		w.ID, w.OK, w.Data, w.Err = m.ID, m.OK, m.Data, m.Err
	case *EventFrame:
		w.ID, w.Seq, w.Ev = m.ID, m.Seq, m.Ev
	case *PromptFrame:
		w.ID, w.Prompt = m.ID, m.Prompt
	case *Detached:
		w.Msg = m.Msg
	case *Bye:
		w.Msg = m.Msg
	}
	return w
}

func (w *wireFrame) message() Message {
	switch w.T {
	case "hello":
		return &Hello{V: w.V, Name: w.Name, Args: w.Args}
	case "req":
		return &Request{ID: w.ID, Op: w.Op, Args: w.Args}
	case "res":
		return &Response{ID: w.ID, OK: w.OK, Data: w.Data, Err: w.Err}
	case "ev":
		return &EventFrame{ID: w.ID, Seq: w.Seq, Ev: w.Ev}
	case "prompt":
		return &PromptFrame{ID: w.ID, Prompt: w.Prompt}
	case "detached":
		return &Detached{Msg: w.Msg}
	case "bye":
		return &Bye{Msg: w.Msg}
	case "printoff":
		return &PrintOff{}
	}
	return &Unknown{T: w.T}
}
