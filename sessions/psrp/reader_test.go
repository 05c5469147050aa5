package psrp

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"

	"github.com/google/uuid"
)

// Lines of every size, some larger than the read buffer, come out whole
// and in order however the source cuts them, and its error comes after
// the last of them.
func TestReaderLinesAcrossReads(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var in bytes.Buffer
	var want [][]byte
	for i := range 60 {
		n := rng.IntN(4 << 10)
		if i%7 == 0 {
			n = readSize - 100 + rng.IntN(3*readSize) // past one buffer
		}
		payload := bytes.Repeat([]byte{byte('a' + i%26)}, n)
		p := Packet{Kind: Data, GUID: uuid.New(), Payload: payload}
		in.Write(AppendPacket(nil, p))
		want = append(want, payload)
	}
	sources := map[string]func(io.Reader) io.Reader{
		"whole":       func(r io.Reader) io.Reader { return r },
		"one byte":    iotest.OneByteReader,
		"halves":      iotest.HalfReader,
		"data+EOF":    iotest.DataErrReader,
		"odd lengths": func(r io.Reader) io.Reader { return &choppy{r: r, rng: rand.New(rand.NewPCG(3, 4))} },
	}
	for name, src := range sources {
		t.Run(name, func(t *testing.T) {
			r := NewReader(src(bytes.NewReader(in.Bytes())))
			for i, w := range want {
				it, err := r.Next()
				if err != nil {
					t.Fatalf("item %d: %v", i, err)
				}
				if !bytes.Equal(it.Packet.Payload, w) {
					t.Fatalf("item %d: %d bytes of payload, want %d", i, len(it.Packet.Payload), len(w))
				}
			}
			if _, err := r.Next(); err != io.EOF {
				t.Fatalf("after the last line: %v, want EOF", err)
			}
		})
	}
}

// choppy returns reads of random lengths.
type choppy struct {
	r   io.Reader
	rng *rand.Rand
}

func (c *choppy) Read(p []byte) (int, error) {
	return c.r.Read(p[:min(len(p), 1+c.rng.IntN(100<<10))])
}

// A Reader waiting for its peer holds no read buffer: the read that
// waits is a small one into the Reader's own array, after every line
// that came before it was used.
func TestIdleReaderHoldsNoBuffer(t *testing.T) {
	line := AppendPacket(nil, Packet{Kind: Data, GUID: uuid.New(), Payload: bytes.Repeat([]byte("x"), 20<<10)})
	src := &recording{data: bytes.Repeat(line, 3)}
	r := NewReader(src)
	for i := range 3 {
		if _, err := r.Next(); err != nil {
			t.Fatalf("item %d: %v", i, err)
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("after the last line: %v, want EOF", err)
	}
	last := src.sizes[len(src.sizes)-1]
	if last != smallRead || r.buf != nil {
		t.Fatalf("reads %v: the last, waiting for more, asked for %d bytes (holding a buffer: %v); want a %d-byte read and no buffer",
			src.sizes, last, r.buf != nil, smallRead)
	}
	if cap(r.payload) > keepBuf {
		t.Fatalf("an idle reader keeps a %d-byte payload buffer; want at most %d", cap(r.payload), keepBuf)
	}
}

// recording serves data in reads of at most 16 KiB and records the
// length of each read asked for.
type recording struct {
	data  []byte
	sizes []int
}

func (s *recording) Read(p []byte) (int, error) {
	s.sizes = append(s.sizes, len(p))
	if len(s.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), 16<<10)], s.data)
	s.data = s.data[n:]
	return n, nil
}

// A source that returns nothing, again and again, ends the Reader with
// io.ErrNoProgress instead of spinning.
func TestReaderGivesUpOnASourceThatReturnsNothing(t *testing.T) {
	r := NewReader(nothing{})
	if _, err := r.Next(); err != io.ErrNoProgress {
		t.Fatalf("Next on a source that returns nothing: %v, want io.ErrNoProgress", err)
	}
}

type nothing struct{}

func (nothing) Read([]byte) (int, error) { return 0, nil }
