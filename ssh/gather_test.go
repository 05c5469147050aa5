package ssh

import (
	"testing"
	"time"
)

// TestReadPacer: reads in quick succession that bring kilobytes start a
// stream, in which the next read waits out the linger from the last;
// spaced reads never do, nor quick small ones (a command's exchange); a
// read that found nothing gathered, or a full buffer, reads at once.
func TestReadPacer(t *testing.T) {
	t0 := time.Unix(1000, 0)
	ms := func(f float64) time.Time { return t0.Add(time.Duration(f * float64(time.Millisecond))) }

	p := newReadPacer()
	for i := range 20 { // one read every 2 ms: no stream
		if p.read(ms(2*float64(i)), 4096, gatherBuffer) || p.wait(ms(2*float64(i))) != 0 {
			t.Fatalf("read %d, 2 ms apart, started a stream", i)
		}
	}
	for i := range 100 { // small reads every 0.1 ms: no stream
		if p.read(ms(50+0.1*float64(i)), 100, gatherBuffer) || p.wait(ms(50+0.1*float64(i))) != 0 {
			t.Fatalf("read %d of 100 bytes, 0.1 ms apart, started a stream", i)
		}
	}

	p = newReadPacer()
	started := -1
	for i := range 12 { // 4 KiB every 0.3 ms
		if p.read(ms(100+0.3*float64(i)), 4096, gatherBuffer) {
			started = i
		}
	}
	if started != gatherStreak {
		t.Fatalf("the stream started at read %d, want %d (the first quick one after %d)", started, gatherStreak, gatherStreak)
	}
	last := ms(100 + 0.3*11)
	if w := p.wait(last.Add(time.Millisecond)); w != gatherLinger-time.Millisecond {
		t.Errorf("wait 1 ms after the last read in a stream = %v, want %v", w, gatherLinger-time.Millisecond)
	}
	if w := p.wait(last.Add(gatherLinger + time.Millisecond)); w != 0 {
		t.Errorf("wait past the linger = %v, want 0", w)
	}
	if p.read(last.Add(gatherLinger), gatherBuffer, gatherBuffer) {
		t.Error("a read in a stream started another")
	}
	if w := p.wait(last.Add(gatherLinger)); w != 0 {
		t.Errorf("after a full buffer, wait = %v, want 0 (more is waiting)", w)
	}
	p.read(last.Add(gatherLinger), 10, gatherBuffer)
	p.idle()
	if w := p.wait(last.Add(gatherLinger)); w != 0 || p.streaming {
		t.Errorf("after a read that found nothing: wait %v streaming %v, want 0 false", w, p.streaming)
	}
}
