package outlog

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultBudget is the budget used when Options.Budget is 0 or less:
// 64 MiB, as SPEC S7 says.
const DefaultBudget int64 = 64 << 20

// EventOverhead is what each retained event costs on top of len(Data)
// when counting against the budget. It covers the slot that holds the
// event and the slice header the caller allocated, so a flood of tiny
// events cannot hold far more memory than the budget suggests.
const EventOverhead int64 = 64

// ErrClosed is returned by Append after Close, and by Wait once the log
// is closed and holds nothing at or after the sequence number waited for.
var ErrClosed = errors.New("outlog: closed")

// Policy says what Append does when the budget is full. The names and
// meanings are those of WinRM's OutputBufferingMode.
type Policy int

const (
	// Block: when full, Append evicts the oldest acknowledged events
	// and, if that is not enough, waits until more are acknowledged.
	// Nothing unacknowledged is ever evicted. This is WinRM's default.
	Block Policy = iota
	// Drop: when full, the oldest events are evicted even if no client
	// has acknowledged them; they are counted in Stats.Dropped. (With a
	// store, an Append still waits for a store MaxBehind behind.)
	Drop
)

// ParsePolicy returns the policy named s, "Block" or "Drop", in any case.
func ParsePolicy(s string) (Policy, error) {
	switch {
	case strings.EqualFold(s, "Block"):
		return Block, nil
	case strings.EqualFold(s, "Drop"):
		return Drop, nil
	}
	return 0, fmt.Errorf("outlog: unknown output buffering policy %q: expected Block or Drop", s)
}

// String returns "Block" or "Drop" (or "Policy(n)" for any other value).
func (p Policy) String() string {
	switch p {
	case Block:
		return "Block"
	case Drop:
		return "Drop"
	}
	return "Policy(" + strconv.Itoa(int(p)) + ")"
}

// MarshalText returns the policy's name, so a Policy can be saved in
// JSON (the session registry) and used with flag.TextVar.
func (p Policy) MarshalText() ([]byte, error) {
	if p != Block && p != Drop {
		return nil, fmt.Errorf("outlog: cannot marshal unknown policy %d", int(p))
	}
	return []byte(p.String()), nil
}

// UnmarshalText parses a policy name as ParsePolicy does.
func (p *Policy) UnmarshalText(b []byte) error {
	v, err := ParsePolicy(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// Options configures a Log. The zero value is a 64 MiB Block log.
type Options struct {
	// Budget is the number of bytes of retained event data, counting
	// len(Data)+EventOverhead per event. 0 (or less) means DefaultBudget.
	Budget int64
	// Policy is what Append does when the budget is full.
	Policy Policy
	// Shared, when set, is a budget the log shares with others (the
	// server-wide --max-memory): an Append that would take the total
	// past it first evicts acknowledged events of any of its logs, then
	// applies the policy to its own log.
	Shared *Shared
	// LagGrace is how long an Append held back only by attached
	// readers that have not read what another client acknowledged
	// waits for them before it cuts them off (Reader.Lagged); 0 means
	// DefaultLagGrace. A reader that keeps reading, only slower than
	// another, acknowledges within it and is never cut off.
	LagGrace time.Duration
	// First is the sequence number of the first event (0: 1), for a
	// log restored from disk, whose numbering continues.
	First uint64
}

// DefaultLagGrace is Options.LagGrace's default.
const DefaultLagGrace = 2 * time.Second

// Shared is a memory budget shared by several logs. Its methods are
// safe for concurrent use.
type Shared struct {
	limit int64

	mu    sync.Mutex // protects what follows; taken after a Log's mu, never before
	total int64
	logs  map[*Log]struct{}
	// wake is closed when bytes are freed or acknowledged in any of
	// the logs, to wake a blocked Append of another.
	wake chan struct{}
}

// NewShared returns a budget of limit bytes (counted as Budget is).
func NewShared(limit int64) *Shared {
	return &Shared{limit: limit, logs: map[*Log]struct{}{}}
}

// Bytes returns what the logs sharing b retain now.
func (b *Shared) Bytes() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.total
}

// Limit returns the budget.
func (b *Shared) Limit() int64 { return b.limit }

func (b *Shared) add(n int64) {
	b.mu.Lock()
	b.total += n
	if n < 0 {
		b.wakeLocked()
	}
	b.mu.Unlock()
}

func (b *Shared) wakeLocked() {
	if b.wake != nil {
		close(b.wake)
		b.wake = nil
	}
}

func (b *Shared) signal() {
	b.mu.Lock()
	b.wakeLocked()
	b.mu.Unlock()
}

func (b *Shared) fits(need int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.total+need <= b.limit
}

func (b *Shared) waitCh() chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.wake == nil {
		b.wake = make(chan struct{})
	}
	return b.wake
}

// evictAcked evicts acknowledged events, oldest first, log by log (own
// first), until need more bytes fit or none is left; no Log's mu is
// held by the caller. It reports whether it evicted anything.
func (b *Shared) evictAcked(need int64, own *Log) bool {
	b.mu.Lock()
	logs := make([]*Log, 0, len(b.logs))
	logs = append(logs, own)
	for l := range b.logs {
		if l != own {
			logs = append(logs, l)
		}
	}
	b.mu.Unlock()
	evicted := false
	for _, l := range logs {
		l.mu.Lock()
		if l.shared == b && l.spillLocked(0, -1) {
			evicted = true // a log with a store gives up its memory, not its history
		}
		for l.shared == b && !l.stored() && l.first <= l.floorLocked() && l.first < l.next && !b.fits(need) {
			l.evictLocked()
			evicted = true
		}
		l.mu.Unlock()
		if b.fits(need) {
			break
		}
	}
	return evicted
}

// Event is one entry of the log.
type Event struct {
	// Seq is the event's sequence number: 1, 2, 3 … per log, never reused.
	Seq uint64
	// Data is the caller's encoded event. It is shared by the log and
	// every reader and must not be modified.
	Data []byte
}

// Stats is a snapshot of a log's counters.
type Stats struct {
	// First is the sequence number of the oldest retained event, or
	// Last+1 when nothing is retained.
	First uint64
	// Last is the sequence number of the newest event ever appended
	// (0 before the first Append).
	Last uint64
	// Events and Bytes are what is retained now, in memory or in the
	// store; Bytes counts len(Data)+EventOverhead per event.
	Events int
	Bytes  int64
	// Memory is the part of Bytes held in memory.
	Memory int64
	// Kept is the last event the store holds (UseStore).
	Kept uint64
	// Peak is the highest Bytes has been.
	Peak int64
	// Budget is the budget in force.
	Budget int64
	// Acked is the highest sequence number acknowledged.
	Acked uint64
	// Evicted counts every event evicted, acknowledged or not.
	Evicted uint64
	// Dropped and DroppedBytes count the events evicted before they
	// were acknowledged (only under Drop).
	Dropped      uint64
	DroppedBytes int64
	// Waiting is true while an Append is blocked for space (Block).
	Waiting bool
	// Closed is true once Close has been called.
	Closed bool
}

// segSize is the number of event slots per segment.
const segSize = 64

type segment [segSize][]byte

// Log is a session's output log. It is safe for concurrent use.
type Log struct {
	budget   int64
	policy   Policy
	lagGrace time.Duration
	shared   *Shared // nil, or set once and cleared by Release (under mu)

	mu sync.Mutex // protects everything below

	// segs is a ring of segments: segs[(head+i)%len(segs)] for i in
	// [0, nseg). The event with sequence number first is in slot off of
	// the head segment; later events follow contiguously.
	segs []*segment
	head int
	nseg int
	off  int

	first uint64 // oldest retained sequence number
	next  uint64 // sequence number the next Append gets
	bytes int64  // what the retained events count against the budget
	peak  int64
	acked uint64

	// With a store (UseStore), memory holds the events from mfirst on;
	// those in [first, mfirst) are in the store only, described by
	// spans. Without one, mfirst == first and spans is empty.
	store     Store
	tail      int64  // the memory the log keeps for events the store has
	kept      uint64 // every event up to it is in the store
	storeDead bool   // the store failed: it holds nothing more
	mfirst    uint64
	mbytes    int64 // what the events in memory count
	spans     []Span
	keptCh    chan struct{} // closed by the next Keep that advances
	want      uint64        // the highest event a WaitKept waits for
	wantCh    chan struct{} // closed by the next WaitKept, or the Append of due (KeepWanted)
	due       uint64        // the event whose Append closes wantCh

	evicted      uint64
	dropped      uint64
	droppedBytes int64

	readers map[*Reader]struct{} // attached clients' cursors

	waiting int  // Appends blocked for space
	closed  bool // set once by Close

	// dataCh is closed by the next Append (or Close) to wake readers
	// in Wait; spaceCh by the next Ack that advances (or Close) to wake
	// a blocked Append. Each is made only when someone is about to
	// wait on it, so appending with nobody waiting allocates nothing.
	dataCh  chan struct{}
	spaceCh chan struct{}
}

// New returns an empty log. It panics if o.Policy is neither Block nor
// Drop, which is a programming error (parse user input with ParsePolicy).
func New(o Options) *Log {
	if o.Policy != Block && o.Policy != Drop {
		panic(fmt.Sprintf("outlog: New with unknown policy %d", int(o.Policy)))
	}
	b := o.Budget
	if b <= 0 {
		b = DefaultBudget
	}
	grace := o.LagGrace
	if grace <= 0 {
		grace = DefaultLagGrace
	}
	first := max(o.First, 1)
	l := &Log{budget: b, policy: o.Policy, first: first, mfirst: first, next: first, shared: o.Shared, lagGrace: grace}
	if l.shared != nil {
		l.shared.mu.Lock()
		l.shared.logs[l] = struct{}{}
		l.shared.mu.Unlock()
	}
	return l
}

// Release takes the log out of its Shared budget: what it retains no
// longer counts (the log of a removed session). The log stays readable.
func (l *Log) Release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.shared == nil {
		return
	}
	l.shared.mu.Lock()
	if _, ok := l.shared.logs[l]; ok {
		delete(l.shared.logs, l)
		l.shared.total -= l.mbytes
		l.shared.wakeLocked()
	}
	l.shared.mu.Unlock()
	l.shared = nil
}

// Append adds one event and returns its sequence number. The log keeps
// data itself (no copy); the caller must not modify it afterwards.
//
// When the retained bytes plus this event would exceed the budget,
// Append first evicts the oldest events. Under Drop it evicts whatever
// it must, counting unacknowledged events as dropped, and never waits.
// Under Block it evicts only acknowledged events; if that is not
// enough it waits for Ack, Close or ctx, and then tries again. An event
// larger than the whole budget is accepted once everything retained has
// been acknowledged (and so evicted), so progress is always possible.
// ctx is only consulted when Append has to wait: with a cancelled ctx
// Append still succeeds if there is room.
//
// After Close, Append returns ErrClosed. If ctx ends while waiting it
// returns ctx.Err().
func (l *Log) Append(ctx context.Context, data []byte) (uint64, error) {
	need := int64(len(data)) + EventOverhead
	l.mu.Lock()
	cut := false // the lag grace has passed: cut lagging readers off
	for {
		if l.closed {
			l.mu.Unlock()
			return 0, ErrClosed
		}
		if l.behindLocked(need) {
			// the store is a memory's worth behind: wait for it, and
			// tell its writer someone does
			l.wantLocked(l.next - 1)
			l.waiting++
			err := l.waitLocked(ctx, &l.spaceCh)
			l.waiting--
			if err != nil {
				l.mu.Unlock()
				return 0, err
			}
			continue
		}
		var shared chan struct{}
		made := l.makeRoomLocked(need, cut)
		cut = false
		if made {
			sh := l.shared
			if sh == nil || sh.fits(need) {
				break
			}
			// Over the shared budget: acknowledged history first,
			// in any log, then this log's policy.
			l.mu.Unlock()
			freed := sh.evictAcked(need, l)
			l.mu.Lock()
			if freed || l.closed {
				continue
			}
			if l.policy == Drop {
				l.spillLocked(0, -1)
				for !sh.fits(need) && l.first < l.next && !l.stored() {
					l.evictLocked()
				}
				break
			}
			shared = sh.waitCh()
			if sh.fits(need) { // freed since
				continue
			}
		}
		if l.spaceCh == nil {
			l.spaceCh = make(chan struct{})
		}
		ch := l.spaceCh
		var lag <-chan time.Time
		if !made && l.oldestLocked() <= l.acked && !l.heldLocked() && len(l.readers) > 0 { // held back by readers alone
			t := time.NewTimer(l.lagGrace)
			defer t.Stop()
			lag = t.C
		}
		l.waiting++
		l.mu.Unlock()
		select {
		case <-ch:
			l.mu.Lock()
			l.waiting--
		case <-shared: // nil unless waiting for the shared budget
			l.mu.Lock()
			l.waiting--
		case <-lag:
			l.mu.Lock()
			l.waiting--
			cut = true
		case <-ctx.Done():
			l.mu.Lock()
			l.waiting--
			l.mu.Unlock()
			return 0, ctx.Err()
		}
	}
	seq := l.pushLocked(data, need)
	wake(&l.dataCh)
	l.mu.Unlock()
	return seq, nil
}

// makeRoomLocked evicts oldest events until need more bytes fit in the
// budget or nothing is left. It reports false when the policy is Block
// and the oldest event is not yet acknowledged.
func (l *Log) makeRoomLocked(need int64, cut bool) bool {
	for l.bytes+need > l.budget && l.first < l.next {
		if l.heldLocked() {
			return false // the store has yet to take the oldest event
		}
		if l.policy == Block && l.oldestLocked() > l.floorLocked() {
			// Held back only by attached readers that have not read
			// what another client already acknowledged, for longer than
			// the lag grace (cut): they are too far behind and are cut
			// off, rather than slow the session.
			if !cut || l.oldestLocked() > l.acked || !l.cutLaggingLocked() {
				return false
			}
			continue
		}
		l.evictLocked()
	}
	return true
}

// pushLocked stores data as the next event; there is room.
func (l *Log) pushLocked(data []byte, need int64) uint64 {
	i := int(l.next-l.mfirst) + l.off
	if i == l.nseg*segSize {
		l.growLocked()
	}
	seg := l.segs[(l.head+i/segSize)%len(l.segs)]
	seg[i%segSize] = data
	seq := l.next
	l.next++
	if l.wantCh != nil && seq >= l.due { // the store's writer has a batch to take
		wake(&l.wantCh)
	}
	l.bytes += need
	l.mbytes += need
	if l.shared != nil {
		l.shared.add(need)
	}
	if l.bytes > l.peak {
		l.peak = l.bytes
	}
	if l.mbytes > l.tail && l.stored() {
		// the appender takes what the store has out of memory, a run
		// of events (up to a segment's) per Append, as a log without a
		// store evicts
		l.spillLocked(l.tail, 1)
	}
	return seq
}

// growLocked adds an empty segment at the tail of the ring.
func (l *Log) growLocked() {
	if l.nseg == len(l.segs) {
		n := 2 * len(l.segs)
		if n == 0 {
			n = 4
		}
		segs := make([]*segment, n)
		for i := 0; i < l.nseg; i++ {
			segs[i] = l.segs[(l.head+i)%len(l.segs)]
		}
		l.segs, l.head = segs, 0
	}
	l.segs[(l.head+l.nseg)%len(l.segs)] = segments.Get().(*segment)
	l.nseg++
}

// evictLocked removes the oldest retained event, or the oldest span of
// events that are in the store only.
func (l *Log) evictLocked() {
	if l.first < l.mfirst {
		sp := l.spans[0]
		l.spans = l.spans[1:]
		if len(l.spans) == 0 {
			l.spans = nil // let the backing array go
		}
		l.bytes -= sp.Bytes
		n := sp.Last - sp.First + 1
		l.evicted += n
		if sp.Last > l.acked {
			d := sp.Last - max(sp.First, l.acked+1) + 1
			l.dropped += d
			l.droppedBytes += sp.Bytes * int64(d) / int64(n)
		}
		l.first = sp.Last + 1
		return
	}
	n := l.popLocked()
	l.bytes -= n
	l.evicted++
	if l.first > l.acked {
		l.dropped++
		l.droppedBytes += n
	}
	l.first++
}

// popLocked takes the oldest event in memory out of it and returns
// what it counted.
func (l *Log) popLocked() int64 {
	seg := l.segs[l.head]
	n := int64(len(seg[l.off])) + EventOverhead
	seg[l.off] = nil // let the data go
	l.mbytes -= n
	if l.shared != nil {
		l.shared.add(-n)
	}
	l.mfirst++
	l.off++
	if l.off == segSize {
		l.recycleHeadLocked()
	}
	return n
}

// popRunLocked takes the oldest events in memory out of it, up to the
// end of the head segment, up to event last, and until they count
// maxBytes (0: any); there is at least one. It returns them as a span.
// Taking a segment's events at once costs an appender that spills a
// few nanoseconds per event rather than a pass each.
func (l *Log) popRunLocked(last uint64, maxBytes int64) Span {
	seg := l.segs[l.head]
	end := min(segSize, l.off+int(min(last, l.next-1)-l.mfirst)+1)
	run := Span{First: l.mfirst}
	i := l.off
	for i < end && (i == l.off || maxBytes <= 0 || run.Bytes < maxBytes) {
		run.Bytes += int64(len(seg[i])) + EventOverhead
		i++
	}
	clear(seg[l.off:i]) // let the data go
	n := uint64(i - l.off)
	run.Last = run.First + n - 1
	l.mbytes -= run.Bytes
	if l.shared != nil {
		l.shared.add(-run.Bytes)
	}
	l.mfirst += n
	l.off = i
	if l.off == segSize {
		l.recycleHeadLocked()
	}
	return run
}

// recycleHeadLocked takes the head segment, every slot of which is nil
// again, out of the ring for reuse.
func (l *Log) recycleHeadLocked() {
	segments.Put(l.segs[l.head])
	l.segs[l.head] = nil
	l.head = (l.head + 1) % len(l.segs)
	l.nseg--
	l.off = 0
}

// segments holds emptied segments for the logs' next ones: a log whose
// output streams reuses them rather than make garbage for the GC, and
// an idle log holds none.
var segments = sync.Pool{New: func() any { return new(segment) }}

// Ack records that a client has received every event up to and
// including seq. It only moves forward: a seq at or below the current
// acknowledgement is ignored, and one beyond the last event is taken as
// the last event. Acknowledged events are kept for replay and capture
// until an Append needs their space.
//
// The acknowledgement is log-wide; when several clients are attached,
// the caller decides which of them speaks for the log.
func (l *Log) Ack(seq uint64) {
	l.mu.Lock()
	if last := l.next - 1; seq > last {
		seq = last
	}
	if seq > l.acked {
		l.acked = seq
		wake(&l.spaceCh)
		if l.shared != nil { // a blocked Append of another log may evict these now
			l.shared.signal()
		}
	}
	l.mu.Unlock()
}

// floorLocked is the highest sequence number that may be evicted as
// acknowledged: the log-wide acknowledgement, but never past what an
// attached reader has not acknowledged itself.
func (l *Log) floorLocked() uint64 {
	f := l.acked
	for r := range l.readers {
		f = min(f, r.acked)
	}
	return f
}

// cutLaggingLocked cuts off the readers that have not acknowledged the
// oldest event; it reports whether it cut any.
func (l *Log) cutLaggingLocked() bool {
	cut := false
	for r := range l.readers {
		if r.acked < l.oldestLocked() {
			delete(l.readers, r)
			close(r.lagged)
			cut = true
		}
	}
	return cut
}

// Reader is an attached client's cursor: while it is open, no event it
// has not acknowledged counts as acknowledged for eviction, whatever
// other clients acknowledge (tmux keeps an offset per client).
type Reader struct {
	l      *Log
	acked  uint64        // under l.mu
	lagged chan struct{} // closed when the reader is cut off
}

// Lagged is closed when the reader was cut off for being too far
// behind: under Block the budget was full of events another client had
// acknowledged and this one had not. Its cursor no longer holds
// anything back; the client re-attaches and replays what is left.
func (r *Reader) Lagged() <-chan struct{} { return r.lagged }

// NewReader opens a cursor for a client that will read from seq from
// on (everything before it counts as acknowledged by this client).
func (l *Log) NewReader(from uint64) *Reader {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := &Reader{l: l, acked: max(from, 1) - 1, lagged: make(chan struct{})}
	if l.readers == nil {
		l.readers = map[*Reader]struct{}{}
	}
	l.readers[r] = struct{}{}
	return r
}

// Ack records that this client has shown every event up to seq; it is
// also the log's acknowledgement (Log.Ack), the resume point of the
// next attach.
func (r *Reader) Ack(seq uint64) {
	l := r.l
	l.mu.Lock()
	if seq = min(seq, l.next-1); seq > r.acked {
		r.acked = seq
		wake(&l.spaceCh) // the floor may have moved
	}
	l.mu.Unlock()
	l.Ack(seq)
}

// Close drops the cursor: its unacknowledged events no longer hold
// back eviction beyond the log's own acknowledgement.
func (r *Reader) Close() {
	l := r.l
	l.mu.Lock()
	delete(l.readers, r)
	wake(&l.spaceCh)
	l.mu.Unlock()
}

// Read copies out, without waiting for new events, up to max events
// with Seq >= from, in order, appending them to dst[:0] (pass a reused
// dst to avoid allocating). max <= 0 means no limit. from == 0 means
// "from the oldest retained event". Events that are in the store only
// come from it (one Read returns either those or events in memory,
// never both: read on from next), and under Block so do events evicted
// from the budget while the store still has them (a client cut off for
// lagging resumes from its own cursor without a gap; under Drop what
// was evicted is dropped, as the policy says).
//
// lost is the number of events in [from, First) that were evicted
// before this Read; they are skipped. next is the Seq to pass to the
// next Read (and to Wait). A from beyond the last event returns no
// events and next == from.
//
// The returned events' Data are the slices given to Append, shared and
// never modified by the log; they stay valid after eviction.
func (l *Log) Read(from uint64, max int, dst []Event) (evs []Event, next uint64, lost uint64) {
	evs = dst[:0]
	l.mu.Lock()
	if from == 0 {
		from = l.first
	}
	if from < l.first && (l.store == nil || l.policy == Drop) {
		lost = l.first - from
		from = l.first
	}
	if from < l.mfirst { // in the store only; evicted, but it may still have them
		st, end := l.store, l.mfirst
		l.mu.Unlock()
		return loadStored(st, from, end, max, evs, lost)
	}
	defer l.mu.Unlock()
	if from >= l.next {
		return evs, from, lost
	}
	n := l.next - from
	if max > 0 && uint64(max) < n {
		n = uint64(max)
	}
	i := int(from-l.mfirst) + l.off
	seq := from
	for n > 0 {
		seg := l.segs[(l.head+i/segSize)%len(l.segs)]
		j := i % segSize
		k := segSize - j
		if uint64(k) > n {
			k = int(n)
		}
		for _, d := range seg[j : j+k] {
			evs = append(evs, Event{Seq: seq, Data: d})
			seq++
		}
		i += k
		n -= uint64(k)
	}
	return evs, seq, lost
}

// Wait blocks until an event with Seq >= seq has been appended (it may
// since have been evicted; Read reports that as lost), the log is
// closed, or ctx ends. seq 0 is taken as 1. Events already appended win
// over Close: a reader can drain a closed log before seeing ErrClosed.
// It returns nil, ErrClosed, or ctx.Err().
func (l *Log) Wait(ctx context.Context, seq uint64) error {
	if seq == 0 {
		seq = 1
	}
	l.mu.Lock()
	for {
		if l.next > seq {
			l.mu.Unlock()
			return nil
		}
		if l.closed {
			l.mu.Unlock()
			return ErrClosed
		}
		if err := l.waitLocked(ctx, &l.dataCh); err != nil {
			l.mu.Unlock()
			return err
		}
	}
}

// waitLocked waits, with l.mu released, until *c is closed (made here
// if no other waiter made it) or ctx ends; l.mu is held again on return.
func (l *Log) waitLocked(ctx context.Context, c *chan struct{}) error {
	if *c == nil {
		*c = make(chan struct{})
	}
	ch := *c
	l.mu.Unlock()
	defer l.mu.Lock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stats returns a snapshot of the log's counters.
func (l *Log) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return Stats{
		First:        l.first,
		Last:         l.next - 1,
		Events:       int(l.next - l.first),
		Bytes:        l.bytes,
		Memory:       l.mbytes,
		Kept:         l.kept,
		Peak:         l.peak,
		Budget:       l.budget,
		Acked:        l.acked,
		Evicted:      l.evicted,
		Dropped:      l.dropped,
		DroppedBytes: l.droppedBytes,
		Waiting:      l.waiting > 0,
		Closed:       l.closed,
	}
}

// CloseWith appends data as the log's last event and closes it, without
// waiting: it evicts what the policy allows to make room and, under a
// full Block log, keeps the event over budget (one final event, such
// as "Closed", is worth more than the budget's last bytes). It returns
// the event's sequence number, or 0 when the log was already closed.
func (l *Log) CloseWith(data []byte) uint64 {
	need := int64(len(data)) + EventOverhead
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return 0
	}
	l.makeRoomLocked(need, true)
	seq := l.pushLocked(data, need)
	l.mu.Unlock()
	l.Close()
	return seq
}

// Close marks the log closed and wakes every waiter: blocked Appends
// return ErrClosed, and Waits return ErrClosed once nothing is left at
// or after their seq. Retained events stay readable. Close is
// idempotent.
func (l *Log) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	l.closed = true
	wake(&l.dataCh)
	wake(&l.spaceCh)
	wake(&l.keptCh)
}

// oldestLocked is the last sequence number the next evictLocked
// removes: the oldest event, or the end of the oldest span.
func (l *Log) oldestLocked() uint64 {
	if l.first < l.mfirst {
		return l.spans[0].Last
	}
	return l.first
}
