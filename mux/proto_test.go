package mux

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"runtime"
	"testing"
	"unicode/utf8"
)

func TestCodecRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	c := NewCodec(&buf, &buf)
	in := &Frame{T: "req", ID: 7, Op: "ls"}
	if err := c.Write(in); err != nil {
		t.Fatal(err)
	}
	out, err := c.Read()
	if err != nil || out.T != "req" || out.ID != 7 || out.Op != "ls" {
		t.Fatalf("got %+v, %v", out, err)
	}
	if _, err := c.Read(); !errors.Is(err, io.EOF) {
		t.Fatalf("at the end: %v, want EOF", err)
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
	c.Write(&Frame{T: "hello", V: 1, Name: "psmux"})
	c.Write(&Frame{T: "req", ID: 1, Op: "exec", Args: marshal(ExecArgs{Target: "web*", Script: "1..3"})})
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
			if fr.T == "" {
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
				var want Frame
				if err := json.Unmarshal(frames[4:], &want); err != nil {
					t.Fatal(err)
				}
				if f.T != "ev" || f.ID != id || f.Seq != seq || !bytes.Equal(f.Ev, ev) || want.ID != id || want.Seq != seq {
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
		var want Frame
		if err := json.Unmarshal(body, &want); err != nil {
			t.Fatalf("%s: read as an event frame, but the decoder refuses it: %v", body, err)
		}
		if want.T != fast.T || want.ID != fast.ID || want.Seq != fast.Seq || !bytes.Equal(want.Ev, fast.Ev) {
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
