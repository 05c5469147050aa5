package outlog

import (
	"context"
	"errors"
)

// Store holds a log's events beyond memory (a session's log on disk).
// The log hands each event to it in order through its own follower
// (the store reads the log and calls Keep); the log asks it back for
// events it no longer holds in memory.
type Store interface {
	// Load appends to dst up to max events from seq from on, in order
	// and without gaps; events it no longer has at the start are
	// simply absent (the first returned Seq is later than from).
	Load(from uint64, max int, dst []Event) ([]Event, error)
}

// Span describes events that are in the store only: First..Last, which
// count Bytes against the budget (len(Data)+EventOverhead each).
type Span struct {
	First, Last uint64
	Bytes       int64
}

// spanEvents is how many events one span describes at most (and, in a
// log, a sixteenth of the budget how many bytes): the granularity at
// which history in the store is evicted.
const spanEvents = 1024

// AppendSpan adds event seq, which counts cost, to spans: to the last
// span if seq follows it and it holds fewer than 1024 events and fewer
// than maxBytes (0: any), else as a span of its own.
func AppendSpan(spans []Span, seq uint64, cost, maxBytes int64) []Span {
	return appendRun(spans, Span{First: seq, Last: seq, Bytes: cost}, maxBytes)
}

// appendRun adds the events of run to spans as AppendSpan does, all to
// the last span or all to a new one.
func appendRun(spans []Span, run Span, maxBytes int64) []Span {
	if k := len(spans); k > 0 {
		sp := &spans[k-1]
		if sp.Last+1 == run.First && sp.Last-sp.First+1 < spanEvents && (maxBytes <= 0 || sp.Bytes < maxBytes) {
			sp.Last = run.Last
			sp.Bytes += run.Bytes
			return spans
		}
	}
	return append(spans, run)
}

// ErrStoreFailed is returned by WaitKept once the store has failed.
var ErrStoreFailed = errors.New("outlog: the store failed")

// UseStore makes the log keep in memory only a tail of about tail
// bytes of the events st has taken (Keep); older events stay in the
// log, counted against its budget and under its policy as before, and
// are read back from st. history describes the events st already holds
// before the log's first (a log restored from disk): they are taken as
// acknowledged, and the oldest go if they exceed the budget. UseStore
// is called once, on an empty log.
func (l *Log) UseStore(st Store, tail int64, history []Span) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.store != nil || l.next != l.first {
		return errors.New("outlog: UseStore on a log that has a store or events")
	}
	if n := len(history); n > 0 && history[n-1].Last+1 != l.first {
		return errors.New("outlog: the store's history does not end where the log begins")
	}
	l.store, l.tail, l.kept = st, max(tail, 0), l.next-1
	for _, sp := range history {
		l.spans = append(l.spans, sp)
		l.bytes += sp.Bytes
	}
	if len(history) > 0 {
		l.first = history[0].First
		l.acked = max(l.acked, l.next-1)
	}
	for l.bytes > l.budget && l.first < l.mfirst {
		l.evictLocked()
	}
	return nil
}

// MaxBehind is how many bytes of events the store has not taken yet
// memory holds, beyond twice the tail, before Append waits for the
// store (a disk slower than the output holds the output back, rather
// than memory growing to the whole budget).
const MaxBehind = 4 << 20

// behindLocked reports whether an Append of need bytes must wait for
// the store: events it has not taken are in memory, and with this one
// memory would pass twice the tail plus MaxBehind.
func (l *Log) behindLocked(need int64) bool {
	return l.stored() && l.kept+1 < l.next && l.mbytes+need > 2*l.tail+MaxBehind
}

// wantLocked records that someone waits for the store to take every
// event up to seq, and wakes the store's writer (KeepWanted).
func (l *Log) wantLocked(seq uint64) {
	if seq > l.want {
		l.want = seq
		wake(&l.wantCh) // the store's writer: someone waits now
	}
}

// stored reports whether the log has a store that works.
func (l *Log) stored() bool { return l.store != nil && !l.storeDead }

// heldLocked reports whether the oldest event waits for the store:
// it is in memory only, and the store has not taken it yet.
func (l *Log) heldLocked() bool {
	return l.stored() && l.first == l.mfirst && l.first > l.kept && l.first < l.next
}

// spillLocked takes the events the store holds out of memory, oldest
// first, until memory holds at most limit bytes or n runs went (n < 0:
// no bound); a run is what popRunLocked takes, up to a segment's worth.
// It reports whether it freed anything.
func (l *Log) spillLocked(limit int64, n int) bool {
	freed := false
	for ; n != 0 && l.stored() && l.mbytes > limit && l.mfirst <= l.kept && l.mfirst < l.next; n-- {
		run := l.popRunLocked(l.kept, l.budget/16)
		l.spans = appendRun(l.spans, run, l.budget/16)
		freed = true
	}
	return freed
}

// Keep records that the store holds every event up to seq: they may
// leave memory, and a WaitKept for them returns.
func (l *Log) Keep(seq uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if seq = min(seq, l.next-1); seq <= l.kept {
		return
	}
	l.kept = seq
	if l.mbytes > 2*l.tail {
		// an idle log, or one whose store fell behind: Appends take
		// the rest out a few at a time
		l.spillLocked(l.tail, -1)
	}
	wake(&l.spaceCh) // what the store has may be evicted now
	wake(&l.keptCh)
	if l.shared != nil { // and may leave memory for another log's Append
		l.shared.signal()
	}
}

// StoreFailed records that the store takes nothing more: the log goes
// on in memory alone (what the store already holds stays readable as
// far as it can be read).
func (l *Log) StoreFailed() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.storeDead = true
	wake(&l.spaceCh)
	wake(&l.keptCh)
}

// WaitKept waits until the store holds every event up to seq (or up
// to the last, if seq is past it). It returns nil at once without a
// store, ErrStoreFailed once the store has failed, and ctx's error
// when ctx ends (give it a deadline: a closed log's store that stopped
// short of seq is not waited out otherwise).
func (l *Log) WaitKept(ctx context.Context, seq uint64) error {
	l.mu.Lock()
	for {
		switch {
		case l.store == nil || l.kept >= min(seq, l.next-1):
			l.mu.Unlock()
			return nil
		case l.storeDead:
			l.mu.Unlock()
			return ErrStoreFailed
		}
		l.wantLocked(seq)
		if err := l.waitLocked(ctx, &l.keptCh); err != nil {
			l.mu.Unlock()
			return err
		}
	}
}

// KeepWanted returns a channel that is closed once a WaitKept waits
// for an event at or after from, or once the log holds n events from
// from on (already closed if either is so): the store's writer,
// gathering a batch, writes at once then. A writer that waited for
// time alone while output streams would find thousands of events in
// memory, more than the tail, which would then leave memory all at
// once at its Keep instead of a few at a time as they are appended.
func (l *Log) KeepWanted(from uint64, n int) <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	due := from + uint64(max(n, 1)) - 1
	if l.want >= from || l.next > due {
		return closedCh
	}
	l.due = due
	if l.wantCh == nil {
		l.wantCh = make(chan struct{})
	}
	return l.wantCh
}

var closedCh = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// loadStored reads events [from, end) from st, at most max, for Read;
// what st no longer has counts as lost.
func loadStored(st Store, from, end uint64, max int, evs []Event, lost uint64) ([]Event, uint64, uint64) {
	n := end - from
	if max > 0 && uint64(max) < n {
		n = uint64(max)
	}
	// An error (a damaged record) ends what comes back; the next Read
	// tries past it.
	got, _ := st.Load(from, int(n), evs)
	// in order from its first, and before what memory holds; what the
	// store no longer has before its first is lost
	k := 0
	for k < len(got) && got[k].Seq >= from && got[k].Seq < end && (k == 0 || got[k].Seq == got[k-1].Seq+1) {
		k++
	}
	got = got[:k]
	if len(got) == 0 { // none readable (gone, or damaged): memory's next
		return got, end, lost + (end - from)
	}
	lost += got[0].Seq - from
	return got, got[len(got)-1].Seq + 1, lost
}

// wake closes *c, if a waiter made it, so the next waiter makes another.
func wake(c *chan struct{}) {
	if *c != nil {
		close(*c)
		*c = nil
	}
}
