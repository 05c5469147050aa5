package mux

import (
	"fmt"
	"testing"
)

// The cursor table keeps at most maxCursors entries, dropping the one
// that moved least recently; a cursor only moves forward.
func TestCursorsBoundedAndForwardOnly(t *testing.T) {
	var c cursors
	c.move("s", "keep", 5)
	c.move("s", "keep", 3) // a late, older ack
	if seq, _ := c.at("s", "keep"); seq != 5 {
		t.Fatalf("cursor moved back to %d", seq)
	}
	c.move("s", "old", 1)
	for i := range maxCursors {
		c.move("s", "keep", uint64(6+i)) // keeps moving: recently used
		c.move("t", fmt.Sprint(i), 1)
	}
	if len(c.seq) > maxCursors {
		t.Fatalf("%d cursors, cap %d", len(c.seq), maxCursors)
	}
	if _, ok := c.at("s", "old"); ok {
		t.Fatal("the least recently moved cursor was kept past the cap")
	}
	if _, ok := c.at("s", "keep"); !ok {
		t.Fatal("a recently moved cursor was dropped")
	}
	if _, ok := c.at("s", ""); ok {
		t.Fatal("a client without an id has a cursor")
	}
	c.forget("s")
	if _, ok := c.at("s", "keep"); ok {
		t.Fatal("forget kept a removed session's cursor")
	}
}
