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

// chunks returns its chunks in order, each in as many reads as the
// reader's buffer needs, then EOF; it counts the reads.
type chunks struct {
	c     [][]byte
	reads int
}

func (s *chunks) Read(p []byte) (int, error) {
	s.reads++
	if len(s.c) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.c[0])
	if s.c[0] = s.c[0][n:]; len(s.c[0]) == 0 {
		s.c = s.c[1:]
	}
	return n, nil
}

// Buffered says true exactly when Next has a line to return without
// reading: the packets that came in one read are taken without another
// (a client hands them over in one batch); a blank line Next would skip
// does not count (a batch waiting on it would hold the packets before
// it until more came), except for the strict reader, which returns it
// as an error; an ended source counts.
func TestReaderBuffered(t *testing.T) {
	pkt := func(s string) []byte {
		return AppendPacket(nil, Packet{Kind: Data, GUID: uuid.New(), Payload: bytes.Repeat([]byte(s), 1000)}) // past the idle reader's small read
	}
	last := pkt("d")
	first := bytes.Join([][]byte{pkt("a"), pkt("b"), pkt("c"), []byte("  \n\n"), last[:40]}, nil)
	src := &chunks{c: [][]byte{first, last[40:]}}
	r := NewReader(src)
	if r.Buffered() {
		t.Fatal("a new reader says a line is buffered")
	}
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	reads := src.reads
	for _, want := range []string{"b", "c"} {
		if !r.Buffered() {
			t.Fatalf("packet %q came in the first chunk; Buffered says false", want)
		}
		it, err := r.Next()
		if err != nil || string(it.Packet.Payload[:1]) != want {
			t.Fatalf("got %q, %v; want packet %q", it.Packet.Payload[:1], err, want)
		}
	}
	if src.reads != reads {
		t.Fatalf("Next read the source %d more times for buffered packets", src.reads-reads)
	}
	if r.Buffered() {
		t.Fatal("only blank lines and part of a packet are buffered; Buffered says true")
	}
	if it, err := r.Next(); err != nil || string(it.Packet.Payload[:1]) != "d" {
		t.Fatalf("got %v, %v; want packet d", it, err)
	}
	if src.reads == reads {
		t.Fatal("the last packet needed a read")
	}
	if r.Next(); !r.Buffered() {
		t.Fatal("after the source ended, Buffered says false (Next returns at once)")
	}

	strict := NewStrictReader(&chunks{c: [][]byte{append(pkt("a"), '\n')}})
	if _, err := strict.Next(); err != nil {
		t.Fatal(err)
	}
	if !strict.Buffered() {
		t.Fatal("strict reader: a blank line is returned (as an error), so Buffered is true")
	}
}
