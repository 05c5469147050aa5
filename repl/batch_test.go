package repl

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// sink records the writes that reach it, in order, and signals each.
type sink struct {
	mu     sync.Mutex
	writes []string
	wrote  chan struct{}
}

func newSink() *sink { return &sink{wrote: make(chan struct{}, 1<<16)} }

func (s *sink) Write(p []byte) (int, error) {
	s.mu.Lock()
	s.writes = append(s.writes, string(p))
	s.mu.Unlock()
	s.wrote <- struct{}{}
	return len(p), nil
}

func (s *sink) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.writes, "")
}

// A line printed before the command pauses reaches the terminal while
// it pauses: nobody flushes here, and the line still comes.
func TestBatchPassesALineOnWhileTheCommandPauses(t *testing.T) {
	s := newSink()
	out, _, _ := Batch(s, newSink())
	fmt.Fprintln(out, "before the pause")
	select {
	case <-s.wrote:
	case <-time.After(30 * time.Second): // a deadline, not a synchronisation
		t.Fatal("a line written before a pause was held back")
	}
	if got := s.text(); got != "before the pause\n" {
		t.Fatalf("passed on %q", got)
	}
}

// Many lines written at once reach the writer in few writes, and whole.
func TestBatchGathersLines(t *testing.T) {
	s := newSink()
	out, _, flush := Batch(s, newSink())
	var want bytes.Buffer
	for i := range 20000 {
		fmt.Fprintf(out, "line %d\n", i)
		fmt.Fprintf(&want, "line %d\n", i)
	}
	if err := flush(); err != nil {
		t.Fatal(err)
	}
	if s.text() != want.String() {
		t.Fatal("the lines passed on differ from those written")
	}
	if n := len(s.writes); n > 2000 {
		t.Fatalf("20000 lines reached the writer in %d writes; want them gathered", n)
	}
}

// What is written to errors comes after the output written before it,
// as on a terminal both go to.
func TestBatchKeepsOutputAndErrorsInOrder(t *testing.T) {
	s := newSink() // stdout and stderr are one terminal
	out, errs, flush := Batch(s, s)
	fmt.Fprintln(out, "1")
	fmt.Fprintln(errs, "2")
	fmt.Fprintln(out, "3")
	if err := flush(); err != nil {
		t.Fatal(err)
	}
	if got := s.text(); got != "1\n2\n3\n" {
		t.Fatalf("the terminal shows %q; want 1, 2, 3 in order", got)
	}
}
