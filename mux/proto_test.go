package mux

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"runtime"
	"testing"
	"unicode/utf8"
)

// Every message type comes back as it went, as the same type, and its
// wire form is the object PROTOCOL.md shows; a type this version does
// not know reads as Unknown (a newer peer's, skipped), not an error.
func TestCodecRoundTrip(t *testing.T) {
	for _, c := range []struct {
		m    Message
		wire string
	}{
		{&Hello{V: 1, Name: "psmux 0.1", Args: json.RawMessage(`{"pid":9}`)}, `{"t":"hello","v":1,"name":"psmux 0.1","args":{"pid":9}}`},
		{&Request{ID: 7, Op: "ls"}, `{"t":"req","id":7,"op":"ls"}`},
		{&Request{Op: "ack", Args: json.RawMessage(`{"target":"w1","seq":4}`)}, `{"t":"req","op":"ack","args":{"target":"w1","seq":4}}`},
		{&Response{ID: 7, OK: true, Data: json.RawMessage(`[]`)}, `{"t":"res","id":7,"ok":true,"data":[]}`},
		{&Response{ID: 8, Err: &Error{Code: CodeNotFound, Msg: "can't find session: x"}}, `{"t":"res","id":8,"err":{"code":"not_found","msg":"can't find session: x"}}`},
		{&EventFrame{ID: 2, Seq: 10, Ev: json.RawMessage(`{"k":"out"}`)}, `{"t":"ev","id":2,"seq":10,"ev":{"k":"out"}}`},
		{&PromptFrame{ID: 3, Prompt: &Prompt{Session: "w1", Method: 11}}, ""},
		{&Detached{Msg: "[detached (from session w1)]"}, `{"t":"detached","msg":"[detached (from session w1)]"}`},
		{&Bye{Msg: "server exited"}, `{"t":"bye","msg":"server exited"}`},
		{&PrintOff{}, `{"t":"printoff"}`},
	} {
		var buf bytes.Buffer
		codec := NewCodec(&buf, &buf)
		if err := codec.Write(c.m); err != nil {
			t.Fatal(err)
		}
		if c.wire != "" && buf.String()[4:] != c.wire {
			t.Errorf("%T on the wire: %s; want %s", c.m, buf.String()[4:], c.wire)
		}
		out, err := codec.Read()
		if err != nil || !reflect.DeepEqual(out, c.m) {
			t.Errorf("%T %+v read back as %T %+v, %v", c.m, c.m, out, out, err)
		}
		if _, err := codec.Read(); !errors.Is(err, io.EOF) {
			t.Fatalf("at the end: %v, want EOF", err)
		}
	}
	var buf bytes.Buffer
	body := `{"t":"resize","id":1}`
	binary.Write(&buf, binary.BigEndian, uint32(len(body)))
	buf.WriteString(body)
	if out, err := NewCodec(&buf, io.Discard).Read(); err != nil || !reflect.DeepEqual(out, &Unknown{T: "resize"}) {
		t.Fatalf("a frame of an unknown type: %+v, %v; want Unknown", out, err)
	}
}

func TestCodecRefusesOversizeBeforeAllocating(t *testing.T) {
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], MaxFrame+1)
	c := NewCodec(bytes.NewReader(hdr[:]), io.Discard)
	// Bytes, not allocation counts: the race detector adds allocations of
	// its own, and one frame-sized buffer is a single allocation.
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := c.Read()
	runtime.ReadMemStats(&after)
	var fe *FrameError
	if !errors.As(err, &fe) {
		t.Fatalf("got %v, want a FrameError", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > MaxFrame/16 {
		t.Fatalf("%d bytes allocated for a refused %d-byte frame", n, MaxFrame+1)
	}
}

func TestCodecBadFrames(t *testing.T) {
	for name, body := range map[string][]byte{
		"not json":   []byte("hello"),
		"no type":    []byte(`{"id":1}`),
		"truncated":  []byte(`{"t":"req"`),
		"array":      []byte(`[1,2]`),
		"wrong type": []byte(`{"t":5}`),
	} {
		var buf bytes.Buffer
		binary.Write(&buf, binary.BigEndian, uint32(len(body)))
		buf.Write(body)
		_, err := NewCodec(&buf, io.Discard).Read()
		var fe *FrameError
		if !errors.As(err, &fe) {
			t.Errorf("%s: got %v, want a FrameError", name, err)
		}
	}
	var buf bytes.Buffer
	binary.Write(&buf, binary.BigEndian, uint32(100))
	buf.WriteString("short")
	if _, err := NewCodec(&buf, io.Discard).Read(); err == nil {
		t.Error("a frame shorter than its length was accepted")
	}
}

// FuzzCodec: whatever a client sends, Read returns a frame or an error;
// it never panics or allocates past the cap.
func FuzzCodec(f *testing.F) {
	var buf bytes.Buffer
	c := NewCodec(&buf, &buf)
	c.Write(&Hello{V: 1, Name: "psmux"})
	c.Write(&Request{ID: 1, Op: "exec", Args: marshal(ExecArgs{Target: "web*", Script: "1..3"})})
	f.Add(buf.Bytes())
	f.Add([]byte{0, 0, 0, 2, '{', '}'})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		c := NewCodec(bytes.NewReader(data), io.Discard)
		for range 100 {
			fr, err := c.Read()
			if err != nil {
				return
			}
			if fr.frameType() == "" {
				t.Fatal("a frame without a type was accepted")
			}
		}
	})
}

// Event frames, which the client reads without the JSON decoder, come
// out as the decoder reads them: their request id, number and event.
func TestEventFramesReadAsTheDecoderReadsThem(t *testing.T) {
	events := [][]byte{
		encodeEvent(Event{Kind: KindSession, Text: "Opened"}),
		encodeEvent(Event{Kind: "host", Text: `a "quoted" } brace`}),
		[]byte(`{}`),
	}
	for _, id := range []uint64{0, 1, 7, 1 << 62} {
		for _, seq := range []uint64{1, 42, 1<<64 - 1} {
			for _, ev := range events {
				frames, err := appendEvFrame(nil, id, seq, ev)
				if err != nil {
					t.Fatal(err)
				}
				f, err := NewCodec(bytes.NewReader(frames), io.Discard).Read()
				if err != nil {
					t.Fatal(err)
				}
				var want wireFrame
				if err := json.Unmarshal(frames[4:], &want); err != nil {
					t.Fatal(err)
				}
				if f, ok := f.(*EventFrame); !ok || f.ID != id || f.Seq != seq || !bytes.Equal(f.Ev, ev) || want.T != "ev" || want.ID != id || want.Seq != seq {
					t.Fatalf("frame %s read as %+v (the decoder: %+v)", frames[4:], f, want)
				}
			}
		}
	}
}

// Whatever a frame holds, the event-frame reader agrees with the JSON
// decoder on every frame it takes whose event is JSON.
func FuzzEventFrame(f *testing.F) {
	f.Add([]byte(`{"t":"ev","id":3,"seq":9,"ev":{"k":"host","p":[{"t":"x"}]}}`))
	f.Add([]byte(`{"t":"ev","id":03,"seq":9,"ev":{}}`))
	f.Add([]byte(`{"t":"ev","id":1,"seq":2,"ev":{"a":1},"x":{}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		fast, ok := readEvFrame(body)
		if !ok || !json.Valid(fast.Ev) {
			return
		}
		var want wireFrame
		if err := json.Unmarshal(body, &want); err != nil {
			t.Fatalf("%s: read as an event frame, but the decoder refuses it: %v", body, err)
		}
		if want.T != "ev" || want.ID != fast.ID || want.Seq != fast.Seq || !bytes.Equal(want.Ev, fast.Ev) {
			t.Fatalf("%s: read as %+v; the decoder reads %+v", body, fast, want)
		}
	})
}

// Events in encodeEvent's shape, with every kind of string, decode as
// encoding/json decodes them.
func TestDecodeEventAgreesWithEncodingJSON(t *testing.T) {
	texts := []string{"", "plain", `a "quoted" \ back\slash`, "tab\tnew\nline\r\x00\x1f", "<Obj RefId=\"0\"><S>x</S></Obj>",
		"é ü 漢字 😀", "\u2028\u2029", string([]byte{0xff, 'a', 0xc3}), "/slash/"}
	for _, text := range texts {
		for _, e := range []Event{
			{TS: 1764820000000, Cmd: 7, Kind: KindHost, Method: 16, XML: text},
			{TS: -5, Kind: KindState, Text: text, HadErrors: true, XML: text},
			{Kind: KindInput, Text: text, Client: text},
			{},
		} {
			b := encodeEvent(e)
			var fast, want Event
			if err := json.Unmarshal(b, &want); err != nil {
				t.Fatal(err)
			}
			if !readEvent(b, &fast) && utf8.ValidString(text) {
				t.Errorf("%s: not read directly", b)
			}
			if err := decodeEvent(b, &fast); err != nil || fast != want {
				t.Fatalf("%s: decoded %+v (%v); encoding/json: %+v", b, fast, err, want)
			}
		}
	}
}

// Whatever the bytes, an event read directly is the event
// encoding/json reads.
func FuzzDecodeEvent(f *testing.F) {
	f.Add([]byte(`{"ts":1,"cmd":2,"kind":"host","method":16,"xml":"<S>\"x\"\\u0041</S>"}`))
	f.Add([]byte(`{"ts":01}`))
	f.Add([]byte(`{"kind":"a","kind":"b","had_errors":true}`))
	f.Add([]byte(`{"text":"\ud83d\ude00"}`))
	f.Add([]byte(`{"ts":-9223372036854775808,"cmd":9223372036854775807}`))
	f.Add([]byte(`{"ts":9223372036854775808}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var fast Event
		if !readEvent(b, &fast) {
			return
		}
		var want Event
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatalf("%q: read directly as %+v, but encoding/json refuses it: %v", b, fast, err)
		}
		if fast != want {
			t.Fatalf("%q: read directly as %+v; encoding/json reads %+v", b, fast, want)
		}
	})
}
