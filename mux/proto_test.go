package mux

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"testing"
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
