package outlog

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// mapStore is a Store in memory that the test feeds as a journal would.
type mapStore struct {
	mu  sync.Mutex
	evs map[uint64][]byte
}

func (s *mapStore) Load(from uint64, max int, dst []Event) ([]Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for seq := from; max <= 0 || len(dst) < max; seq++ {
		d, ok := s.evs[seq]
		if !ok {
			break
		}
		dst = append(dst, Event{Seq: seq, Data: d})
	}
	return dst, nil
}

// keep copies l's events from..to into s and tells l.
func (s *mapStore) keep(l *Log, from, to uint64) {
	evs, _, _ := l.Read(from, int(to-from+1), nil)
	s.mu.Lock()
	for _, e := range evs {
		s.evs[e.Seq] = e.Data
	}
	s.mu.Unlock()
	l.Keep(to)
}

func data(i int) []byte { return fmt.Appendf(nil, "event %04d %s", i, make([]byte, 100)) }

// Under Drop with a store, memory keeps a tail of what the store has,
// an event the store has not taken never leaves memory, older events
// read back from the store, and a failed store leaves the log in
// memory alone.
func TestStoreKeepsATailAndFailsToMemory(t *testing.T) {
	ctx := context.Background()
	const tail = 2048
	l := New(Options{Policy: Drop, Budget: 1 << 20})
	st := &mapStore{evs: map[uint64][]byte{}}
	if err := l.UseStore(st, tail, nil); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 200; i++ {
		l.Append(ctx, data(i))
	}
	if s := l.Stats(); s.Memory != s.Bytes || s.Kept != 0 {
		t.Fatalf("nothing kept yet: %+v; every event must still be in memory", s)
	}
	st.keep(l, 1, 150)
	l.Append(ctx, data(201))
	s := l.Stats()
	// what the store has not taken (151..201) plus at most twice the tail
	unkept := int64(51) * (int64(len(data(1))) + EventOverhead)
	if s.Memory > unkept+2*tail || s.Kept != 150 || s.Events != 201 || s.Dropped != 0 {
		t.Fatalf("after Keep(150): %+v; want 151..201 and at most %d bytes more in memory", s, 2*tail)
	}
	for from := uint64(1); from <= 201; {
		evs, next, lost := l.Read(from, 7, nil)
		if lost != 0 || len(evs) == 0 {
			t.Fatalf("Read(%d): %d events, lost %d", from, len(evs), lost)
		}
		for _, e := range evs {
			if e.Seq != from || string(e.Data) != string(data(int(from))) {
				t.Fatalf("Read: seq %d %q; want %d", e.Seq, e.Data[:10], from)
			}
			from++
		}
		if next != from {
			t.Fatalf("Read: next %d, want %d", next, from)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := l.WaitKept(wctx, 201); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitKept(201) before the store has it: %v", err)
	}
	l.StoreFailed()
	if err := l.WaitKept(ctx, 201); !errors.Is(err, ErrStoreFailed) {
		t.Fatalf("WaitKept after StoreFailed: %v", err)
	}
	before := l.Stats().Memory
	for i := 202; i <= 260; i++ {
		l.Append(ctx, data(i))
	}
	if s := l.Stats(); s.Memory-before != 59*(int64(len(data(1)))+EventOverhead) {
		t.Fatalf("after the store failed, memory grew %d; want every new event in memory", s.Memory-before)
	}
}

// A log with a store and a tiny budget under Drop evicts history in
// spans and counts what nobody acknowledged as dropped; a Block log
// waits for the store before it evicts an event only memory holds.
func TestStoreEvictionFollowsThePolicy(t *testing.T) {
	ctx := context.Background()
	l := New(Options{Policy: Drop, Budget: 8192})
	st := &mapStore{evs: map[uint64][]byte{}}
	l.UseStore(st, 0, nil)
	for i := 1; i <= 100; i++ {
		l.Append(ctx, data(i))
		st.keep(l, uint64(i), uint64(i))
	}
	s := l.Stats()
	if s.Bytes > 8192 || s.Dropped == 0 || s.Dropped+uint64(s.Events) != 100 || s.First != 101-uint64(s.Events) {
		t.Fatalf("Drop over the budget: %+v", s)
	}
	b := New(Options{Policy: Block, Budget: 1024})
	b.UseStore(&mapStore{evs: map[uint64][]byte{}}, 0, nil)
	b.Ack(1 << 40)
	n := 0
	for {
		wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		_, err := b.Append(wctx, data(n+1))
		cancel()
		if err != nil {
			break
		}
		n++
		b.Ack(uint64(n))
	}
	if s := b.Stats(); s.First != 1 || s.Evicted != 0 {
		t.Fatalf("Block evicted what the store did not have: %+v", s)
	}
}

// A store that falls behind holds the output back once memory holds
// MaxBehind of what it has not taken (beyond twice the tail), well
// before the budget, and the store's writer is told someone waits.
func TestAppendWaitsForAStoreFarBehind(t *testing.T) {
	ctx := context.Background()
	l := New(Options{Policy: Block, Budget: 1 << 30})
	st := &mapStore{evs: map[uint64][]byte{}}
	l.UseStore(st, 4096, nil)
	wanted := l.KeepWanted(1, 1<<30)
	big := make([]byte, 64<<10)
	n := 0
	for {
		wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		_, err := l.Append(wctx, big)
		cancel()
		if err != nil {
			break
		}
		n++
		if n > 1000 {
			t.Fatal("Append never waited for a store that takes nothing")
		}
	}
	if s := l.Stats(); s.Memory > 2*4096+MaxBehind+int64(len(big))+EventOverhead {
		t.Fatalf("memory %d with the store behind; want at most %d", s.Memory, 2*4096+MaxBehind)
	}
	select {
	case <-wanted:
	default:
		t.Fatal("the store's writer was not told an Append waits for it")
	}
	st.keep(l, 1, uint64(n))
	if _, err := l.Append(ctx, big); err != nil {
		t.Fatalf("after the store caught up: %v", err)
	}
}

// An Append waiting for the shared memory budget, full of another
// log's events its store had not taken, goes on once that store takes
// them (they may then leave memory).
func TestKeepWakesAnAppendWaitingForTheSharedBudget(t *testing.T) {
	ctx := context.Background()
	sh := NewShared(20 << 10)
	b := New(Options{Policy: Block, Shared: sh})
	st := &mapStore{evs: map[uint64][]byte{}}
	b.UseStore(st, 16<<10, nil) // a tail that holds them all: Keep frees nothing itself
	for i := 1; i <= 110; i++ {
		b.Append(ctx, data(i))
	}
	a := New(Options{Policy: Block, Shared: sh})
	appended := make(chan error, 1)
	go func() {
		_, err := a.Append(ctx, make([]byte, 2000))
		appended <- err
	}()
	select {
	case err := <-appended:
		t.Fatalf("Append did not wait for the full shared budget: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	st.keep(b, 1, 110)
	select {
	case err := <-appended:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the Append still waits after the other log's store took its events")
	}
}

// The store's writer, gathering a batch, is woken once the log holds n
// events it has not been asked for (KeepWanted), not only by its timer:
// output that streams is taken a batch at a time, before it piles up in
// memory past the tail.
func TestKeepWantedOnceABatchIsThere(t *testing.T) {
	l := New(Options{Policy: Block, Budget: 1 << 30})
	l.UseStore(&mapStore{evs: map[uint64][]byte{}}, 1<<20, nil)
	closed := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	ch := l.KeepWanted(1, 3)
	for i := range 3 {
		if closed(ch) {
			t.Fatalf("woken with %d events of 3", i)
		}
		if _, err := l.Append(context.Background(), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if !closed(ch) {
		t.Fatal("not woken once 3 events were there")
	}
	if !closed(l.KeepWanted(2, 2)) {
		t.Fatal("KeepWanted(2, 2) with events 2 and 3 there: not closed at once")
	}
	if closed(l.KeepWanted(2, 3)) {
		t.Fatal("KeepWanted(2, 3) with events 2 and 3 there: closed")
	}
}
