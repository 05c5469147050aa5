package mux

import (
	"testing"
)

// A log written by servers that numbered commands from 1 at each start
// has Ids used again: the restored commands keep the later of each,
// every listed Id has its command, and the bounds hold.
func TestPastCommandsWithIdsUsedAgain(t *testing.T) {
	p := &pastCommands{jobs: map[int]*job{}}
	seq := uint64(0)
	for range 2 { // two server lifetimes, Ids 1..600 each
		for id := 1; id <= 600; id++ {
			seq++
			p.visit(seq, encodeEvent(Event{Cmd: id, Kind: KindInput, Text: "cmd"}))
			seq++
			p.visit(seq, encodeEvent(Event{Cmd: id, Kind: KindState, Text: "Completed"}))
		}
	}
	p.finish()
	if len(p.order) != 600 || len(p.jobs) != 600 {
		t.Fatalf("%d in order, %d commands; want the 600 Ids once each", len(p.order), len(p.jobs))
	}
	for _, id := range p.order {
		if j := p.jobs[id]; j == nil || j.firstSeq <= 1200 {
			t.Fatalf("command %d: %+v; want the later one", id, j)
		}
	}
}
