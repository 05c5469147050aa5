package mux

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/psmux/psmux/sessions/clixml"
)

// fuzzConn is a client's byte stream: it reads the fuzz input and keeps
// count of what the server answers.
type fuzzConn struct {
	r  io.Reader
	mu sync.Mutex
	n  int
}

func (c *fuzzConn) Read(b []byte) (int, error) { return c.r.Read(b) }
func (c *fuzzConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n += len(b)
	return len(b), nil
}
func (c *fuzzConn) Close() error { return nil }

// unsafeOps start programs or reach other hosts: the fuzz target leaves
// them out (a mutated "new" could run any command line).
var unsafeOps = map[string]bool{"new": true, "reconnect": true, "cp": true, "kill-server": true}

// fuzzFrames returns a hello and then data's length-prefixed frames, less
// requests for unsafeOps; what does not split into frames is kept as it
// is, so the server's codec sees it.
func fuzzFrames(data []byte) []byte {
	var out bytes.Buffer
	c := NewCodec(nil, &out)
	_ = c.Write(&Hello{V: ProtocolVersion, Args: json.RawMessage(`{"client":"fuzz","interactive":true}`)})
	for len(data) >= 4 {
		n := binary.BigEndian.Uint32(data)
		if n > MaxFrame || int(n) > len(data)-4 {
			break
		}
		var f wireFrame
		if json.Unmarshal(data[4:4+n], &f) == nil && unsafeOps[f.Op] {
			data = data[4+n:]
			continue
		}
		out.Write(data[:4+n])
		data = data[4+n:]
	}
	out.Write(data)
	return out.Bytes()
}

// FuzzServeConn sends a server any frames after a hello: it answers, never
// panics, returns when the client's stream ends, and writes a bounded
// amount.
func FuzzServeConn(f *testing.F) {
	frame := func(fs ...Message) []byte {
		var b bytes.Buffer
		c := NewCodec(nil, &b)
		for _, x := range fs {
			_ = c.Write(x)
		}
		return b.Bytes()
	}
	for _, fs := range [][]Message{
		{&Request{ID: 1, Op: "ping"}, &Request{ID: 2, Op: "ls"}},
		{&Request{ID: 1, Op: "exec", Args: json.RawMessage(`{"target":"w1","script":"1"}`)}},
		{&Request{ID: 1, Op: "attach", Args: json.RawMessage(`{"target":"w1"}`)}, &Request{ID: 1, Op: "cancel", Args: json.RawMessage(`1`)}},
		{&Request{ID: 3, Op: "answer", Args: json.RawMessage(`{"prompt":1,"xml":"<S>x</S>"}`)}, &Request{Op: "ack", Args: json.RawMessage(`{"target":"1","seq":4}`)}},
		{&Request{ID: 1, Op: "capture", Args: json.RawMessage(`{"target":"@1","job":2}`)}, &Request{ID: 2, Op: "jobs"}, &Request{ID: 3, Op: "history", Args: json.RawMessage(`{"target":"x"}`)}},
		{&Response{ID: 1}},
	} {
		f.Add(frame(fs...))
	}
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		srv, err := NewServer(Config{Version: "fuzz", IdleCheck: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Shutdown(context.Background())
		in := fuzzFrames(data)
		c := &fuzzConn{r: bytes.NewReader(in)}
		done := make(chan struct{})
		go func() {
			defer close(done)
			srv.ServeConn(c)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("ServeConn did not return after the client's %d bytes ended", len(in))
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		// Each frame in gets one response at most, and a response is
		// small with no session to report on.
		if c.n > 64<<10+64*len(in) {
			t.Fatalf("%d bytes written for %d bytes in", c.n, len(in))
		}
	})
}

// FuzzPromptParams decodes a prompt's or host event's parameters as a
// client receives them: an error, or values that re-encode and decode to
// as many.
func FuzzPromptParams(f *testing.F) {
	f.Add(encodeParams([]clixml.Value{clixml.Str("caption"), clixml.Str("message"), clixml.I32(1)}))
	f.Add(encodeParams([]clixml.Value{{Kind: clixml.SecureString, Text: "AAAA"}}))
	f.Add("<Objs><Obj RefId=\"0\"><LST><S>a</S></LST></Obj><Ref RefId=\"0\" /></Objs>")
	f.Fuzz(func(t *testing.T, xml string) {
		e := Event{Kind: KindHost, XML: xml}
		c, err := e.HostCall()
		if err != nil {
			return
		}
		again, err := DecodeParams(encodeParams(c.Params))
		if err != nil || len(again) != len(c.Params) {
			t.Fatalf("%d parameters re-decode as %d (%v)", len(c.Params), len(again), err)
		}
	})
}
