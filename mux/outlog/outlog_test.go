package outlog

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"
	"weak"
)

// ev returns an event payload of size bytes (at least 8) whose first 8
// bytes are seq, so a reader can check what it got.
func ev(seq uint64, size int) []byte {
	if size < 8 {
		size = 8
	}
	b := make([]byte, size)
	binary.LittleEndian.PutUint64(b, seq)
	return b
}

func seqOf(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }

// mustAppend appends and checks the sequence number it was given.
func mustAppend(t *testing.T, l *Log, want uint64, size int) {
	t.Helper()
	got, err := l.Append(context.Background(), ev(want, size))
	if err != nil {
		t.Fatalf("Append #%d: %v", want, err)
	}
	if got != want {
		t.Fatalf("Append returned seq %d, want %d", got, want)
	}
}

// checkRun checks that evs are exactly the events lo..hi, in order,
// with payloads that match.
func checkRun(t *testing.T, evs []Event, lo, hi uint64) {
	t.Helper()
	if hi < lo {
		if len(evs) != 0 {
			t.Fatalf("got %d events (first %d), want none", len(evs), evs[0].Seq)
		}
		return
	}
	if uint64(len(evs)) != hi-lo+1 {
		t.Fatalf("got %d events, want %d (%d..%d)", len(evs), hi-lo+1, lo, hi)
	}
	for i, e := range evs {
		want := lo + uint64(i)
		if e.Seq != want || seqOf(e.Data) != want {
			t.Fatalf("event %d: Seq %d payload %d, want %d", i, e.Seq, seqOf(e.Data), want)
		}
	}
}

func cancelled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

func TestParsePolicyIsCaseInsensitiveAndNamesWhatItExpects(t *testing.T) {
	for in, want := range map[string]Policy{"Block": Block, "block": Block, "BLOCK": Block, "Drop": Drop, "dROP": Drop} {
		got, err := ParsePolicy(in)
		if err != nil || got != want {
			t.Errorf("ParsePolicy(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "blocked", " Drop", "0"} {
		_, err := ParsePolicy(in)
		if err == nil {
			t.Errorf("ParsePolicy(%q) succeeded", in)
			continue
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "outlog: ") || !strings.Contains(msg, "Block or Drop") {
			t.Errorf("ParsePolicy(%q) error %q does not say what was expected", in, msg)
		}
	}
}

func TestPolicyStringAndTextRoundTrip(t *testing.T) {
	for _, p := range []Policy{Block, Drop} {
		b, err := p.MarshalText()
		if err != nil || string(b) != p.String() {
			t.Fatalf("%v.MarshalText() = %q, %v", p, b, err)
		}
		var q Policy
		if err := q.UnmarshalText(b); err != nil || q != p {
			t.Fatalf("UnmarshalText(%q) = %v, %v", b, q, err)
		}
	}
	if s := Policy(7).String(); s != "Policy(7)" {
		t.Errorf("Policy(7).String() = %q", s)
	}
	if _, err := Policy(7).MarshalText(); err == nil {
		t.Error("Policy(7).MarshalText succeeded")
	}
}

func TestNewDefaultsBudgetAndRejectsUnknownPolicy(t *testing.T) {
	if b := New(Options{}).Stats().Budget; b != 64<<20 {
		t.Errorf("zero Options budget = %d, want %d", b, DefaultBudget)
	}
	defer func() {
		if recover() == nil {
			t.Error("New with Policy(9) did not panic")
		}
	}()
	New(Options{Policy: 9})
}

func TestSequenceNumbersAreOneToNInOrder(t *testing.T) {
	l := New(Options{})
	const n = 3*segSize + 17 // several segments
	for i := uint64(1); i <= n; i++ {
		mustAppend(t, l, i, 8)
	}
	evs, next, lost := l.Read(0, 0, nil)
	checkRun(t, evs, 1, n)
	if next != n+1 || lost != 0 {
		t.Fatalf("next %d lost %d, want %d 0", next, lost, n+1)
	}
	st := l.Stats()
	if st.First != 1 || st.Last != n || st.Events != n || st.Bytes != n*(8+EventOverhead) {
		t.Fatalf("Stats %+v", st)
	}
}

func TestReadFromZeroOneMiddleAndAfterLast(t *testing.T) {
	l := New(Options{})
	const n = 2500
	for i := uint64(1); i <= n; i++ {
		mustAppend(t, l, i, 16)
	}
	dst := make([]Event, 0, n)
	for _, tc := range []struct {
		from, lo, hi, next uint64
	}{
		{0, 1, n, n + 1},
		{1, 1, n, n + 1},
		{1024, 1024, n, n + 1}, // last slot of the first segment
		{1025, 1025, n, n + 1}, // first slot of the second
		{1300, 1300, n, n + 1},
		{n, n, n, n + 1},
		{n + 1, 1, 0, n + 1},
		{n + 50, 1, 0, n + 50},
	} {
		evs, next, lost := l.Read(tc.from, 0, dst)
		checkRun(t, evs, tc.lo, tc.hi)
		if next != tc.next || lost != 0 {
			t.Fatalf("Read(%d): next %d lost %d, want %d 0", tc.from, next, lost, tc.next)
		}
	}
	// An empty log: nothing, and next is where the first event will be.
	evs, next, lost := New(Options{}).Read(0, 10, nil)
	if len(evs) != 0 || next != 1 || lost != 0 {
		t.Fatalf("empty log Read(0) = %d events, next %d, lost %d", len(evs), next, lost)
	}
}

func TestReadBatchesWithMax(t *testing.T) {
	l := New(Options{})
	const n = 5000
	for i := uint64(1); i <= n; i++ {
		mustAppend(t, l, i, 8)
	}
	for _, max := range []int{1, 7, 1000, 1024, 1025, 4999, 5000, 6000} {
		var dst []Event
		from, got := uint64(1), uint64(0)
		for calls := 0; ; calls++ {
			evs, next, lost := l.Read(from, max, dst)
			if lost != 0 {
				t.Fatalf("max %d: lost %d", max, lost)
			}
			if len(evs) > max {
				t.Fatalf("max %d: got %d events", max, len(evs))
			}
			if len(evs) == 0 {
				break
			}
			checkRun(t, evs, from, from+uint64(len(evs))-1)
			if next != from+uint64(len(evs)) {
				t.Fatalf("max %d: next %d after %d events from %d", max, next, len(evs), from)
			}
			got += uint64(len(evs))
			from, dst = next, evs
		}
		if got != n {
			t.Fatalf("max %d: read %d events, want %d", max, got, n)
		}
	}
}

func TestCaptureReadsAll100000EventsWithNoReader(t *testing.T) {
	for _, p := range []Policy{Block, Drop} {
		t.Run(p.String(), func(t *testing.T) {
			l := New(Options{Policy: p}) // 64 MiB holds 100 000 small events
			const n = 100_000
			for i := uint64(1); i <= n; i++ {
				mustAppend(t, l, i, 40)
			}
			evs, next, lost := l.Read(0, 0, nil)
			checkRun(t, evs, 1, n)
			if next != n+1 || lost != 0 {
				t.Fatalf("next %d lost %d", next, lost)
			}
			if st := l.Stats(); st.Evicted != 0 || st.Dropped != 0 || st.Waiting {
				t.Fatalf("Stats %+v", st)
			}
		})
	}
}

// TestBlockStreamsThroughSmallBudgetExactlyOnce pushes 1 GiB of 1 KiB
// events (1 048 576 of them; 128 MiB under -race or -short) through a
// 1 MiB Block log while a reader reads and acknowledges.
func TestBlockStreamsThroughSmallBudgetExactlyOnce(t *testing.T) {
	const budget = 1 << 20
	const size = 1024
	n := uint64(1 << 20)
	if raceEnabled || testing.Short() {
		n = 1 << 17
	}
	l := New(Options{Budget: budget, Policy: Block})

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse

	// The timeout only bounds a hang (a lost wake-up); it is not used
	// to synchronise anything.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	// The writer is stopped (Close) and waited for however the test ends.
	var writerErr error
	writerDone := make(chan struct{})
	defer func() {
		l.Close()
		<-writerDone
	}()
	go func() {
		defer close(writerDone)
		for i := uint64(1); i <= n; i++ {
			seq, err := l.Append(ctx, ev(i, size))
			if err != nil {
				writerErr = err
				return
			}
			if seq != i {
				writerErr = fmt.Errorf("writer: Append %d returned seq %d", i, seq)
				return
			}
		}
	}()

	var maxGrowth uint64
	dst := make([]Event, 0, 256)
	next := uint64(1)
	for next <= n {
		evs, nx, lost := l.Read(next, cap(dst), dst)
		if lost != 0 {
			t.Fatalf("lost %d events at %d", lost, next)
		}
		if len(evs) == 0 {
			if err := l.Wait(ctx, next); err != nil {
				t.Fatalf("Wait(%d): %v", next, err)
			}
			continue
		}
		for i, e := range evs {
			if e.Seq != next+uint64(i) || seqOf(e.Data) != e.Seq {
				t.Fatalf("got Seq %d payload %d, want %d", e.Seq, seqOf(e.Data), next+uint64(i))
			}
		}
		// Sample the heap each time the reader crosses a 4096-event mark.
		if (next-1)/4096 != (nx-1)/4096 {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > base && ms.HeapInuse-base > maxGrowth {
				maxGrowth = ms.HeapInuse - base
			}
		}
		l.Ack(nx - 1)
		next, dst = nx, evs
	}
	<-writerDone
	if writerErr != nil {
		t.Fatal(writerErr)
	}
	st := l.Stats()
	if st.Last != n || st.Dropped != 0 || st.Peak > budget {
		t.Fatalf("Stats %+v: want Last %d, no drops, Peak <= %d", st, n, budget)
	}
	if limit := uint64(budget + 64<<20); maxGrowth >= limit {
		t.Fatalf("HeapInuse grew by %d bytes, limit %d", maxGrowth, limit)
	}
	t.Logf("%d events of %d B (%d MiB) through a %d KiB budget: peak retained %d B, max HeapInuse growth %.1f MiB",
		n, size, n*size>>20, budget>>10, st.Peak, float64(maxGrowth)/(1<<20))
}

func TestBlockAppendWaitsWhenFullAndResumesAfterAck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Room for exactly 4 events of 36+64 bytes.
		l := New(Options{Budget: 400, Policy: Block})
		defer l.Close() // so a failing test leaves no goroutine blocked
		for i := uint64(1); i <= 4; i++ {
			mustAppend(t, l, i, 36)
		}
		done := make(chan uint64, 1)
		go func() {
			seq, err := l.Append(context.Background(), ev(5, 36))
			if err != nil {
				t.Errorf("blocked Append: %v", err)
			}
			done <- seq
		}()
		synctest.Wait()
		select {
		case <-done:
			t.Fatal("Append returned although the log is full and nothing is acknowledged")
		default:
		}
		if st := l.Stats(); !st.Waiting || st.Events != 4 {
			t.Fatalf("Stats %+v: want Waiting with 4 events", st)
		}
		// Acknowledging more than exists is clamped; reading does not free space.
		l.Read(0, 0, nil)
		synctest.Wait()
		if !l.Stats().Waiting {
			t.Fatal("Read alone released the writer")
		}
		l.Ack(1)
		if seq := <-done; seq != 5 {
			t.Fatalf("resumed Append got seq %d, want 5", seq)
		}
		st := l.Stats()
		if st.Waiting || st.First != 2 || st.Last != 5 || st.Evicted != 1 || st.Dropped != 0 {
			t.Fatalf("Stats after resume %+v", st)
		}
	})
}

func TestBlockAppendReturnsCtxErrOnCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := New(Options{Budget: 100, Policy: Block})
		defer l.Close() // so a failing test leaves no goroutine blocked
		mustAppend(t, l, 1, 36)
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() {
			_, err := l.Append(ctx, ev(2, 36))
			errc <- err
		}()
		synctest.Wait()
		if !l.Stats().Waiting {
			t.Fatal("Append is not waiting")
		}
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("Append after cancel: %v, want context.Canceled", err)
		}
		if st := l.Stats(); st.Waiting || st.Last != 1 {
			t.Fatalf("Stats %+v: the cancelled event must not be in the log", st)
		}
		// A cancelled ctx is not consulted while there is room.
		l.Ack(1)
		if seq, err := l.Append(cancelled(), ev(2, 36)); err != nil || seq != 2 {
			t.Fatalf("Append with room and a cancelled ctx = %d, %v", seq, err)
		}
	})
}

func TestDropNeverBlocksAndCountsWhatItEvicts(t *testing.T) {
	// Room for 10 events of 36+64 bytes. A cancelled ctx would make any
	// wait fail, so success proves Append never waited.
	l := New(Options{Budget: 1000, Policy: Drop})
	ctx := cancelled()
	for i := uint64(1); i <= 10; i++ {
		if _, err := l.Append(ctx, ev(i, 36)); err != nil {
			t.Fatal(err)
		}
	}
	l.Ack(5)
	for i := uint64(11); i <= 30; i++ {
		if _, err := l.Append(ctx, ev(i, 36)); err != nil {
			t.Fatalf("Append %d under Drop: %v", i, err)
		}
	}
	// 1..20 evicted; 1..5 had been acknowledged, 6..20 had not.
	st := l.Stats()
	if st.First != 21 || st.Last != 30 || st.Events != 10 || st.Bytes != 1000 ||
		st.Evicted != 20 || st.Dropped != 15 || st.DroppedBytes != 15*100 || st.Waiting {
		t.Fatalf("Stats %+v", st)
	}
	for _, tc := range []struct{ from, lost uint64 }{{1, 20}, {6, 15}, {20, 1}, {21, 0}, {0, 0}} {
		evs, next, lost := l.Read(tc.from, 0, nil)
		if lost != tc.lost || next != 31 {
			t.Fatalf("Read(%d): lost %d next %d, want %d 31", tc.from, lost, next, tc.lost)
		}
		checkRun(t, evs, 21, 30)
	}
}

func TestResumeAfterClientKilledMidReplayGetsTheRestExactlyOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Budget for ~100 events of 1 KiB; the writer produces 5000.
		const n = 5000
		const size = 1024
		l := New(Options{Budget: 100 * (size + EventOverhead), Policy: Block})
		defer l.Close() // so a failing test leaves no goroutine blocked
		writerDone := make(chan error, 1)
		go func() {
			for i := uint64(1); i <= n; i++ {
				if _, err := l.Append(context.Background(), ev(i, size)); err != nil {
					writerDone <- err
					return
				}
			}
			writerDone <- nil
		}()

		// First client: reads in batches of 30, acknowledges what it has
		// shown, and is killed in the middle of a batch after event k.
		const k = 1234
		var seen []uint64
		next := uint64(1)
		for next <= k {
			if err := l.Wait(context.Background(), next); err != nil {
				t.Fatal(err)
			}
			evs, nx, lost := l.Read(next, 30, nil)
			if lost != 0 {
				t.Fatalf("client 1 lost %d", lost)
			}
			for _, e := range evs {
				if e.Seq > k {
					break // killed: the rest of this batch never reached it
				}
				seen = append(seen, seqOf(e.Data))
			}
			l.Ack(min(nx-1, k))
			next = nx
		}

		// Nobody reads: the writer fills the budget and blocks.
		synctest.Wait()
		if st := l.Stats(); !st.Waiting || st.Acked != k {
			t.Fatalf("Stats %+v: want the writer blocked with Acked %d", st, k)
		}

		// Second client resumes from the last acknowledged event.
		next = k + 1
		for next <= n {
			evs, nx, lost := l.Read(next, 64, nil)
			if lost != 0 {
				t.Fatalf("client 2 lost %d events at %d", lost, next)
			}
			if len(evs) == 0 {
				if err := l.Wait(context.Background(), next); err != nil {
					t.Fatal(err)
				}
				continue
			}
			for _, e := range evs {
				seen = append(seen, seqOf(e.Data))
			}
			l.Ack(nx - 1)
			next = nx
		}
		if err := <-writerDone; err != nil {
			t.Fatal(err)
		}
		if len(seen) != n {
			t.Fatalf("saw %d events, want %d", len(seen), n)
		}
		for i, s := range seen {
			if s != uint64(i)+1 {
				t.Fatalf("event %d is %d: duplicate or gap", i+1, s)
			}
		}
	})
}

func TestCloseWakesWaitAndBlockedAppend(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := New(Options{Budget: 100, Policy: Block})
		defer l.Close() // so a failing test leaves no goroutine blocked
		mustAppend(t, l, 1, 36)
		appendErr := make(chan error, 1)
		go func() {
			_, err := l.Append(context.Background(), ev(2, 36))
			appendErr <- err
		}()
		waitErr := make(chan error, 2)
		for range 2 {
			go func() { waitErr <- l.Wait(context.Background(), 2) }()
		}
		synctest.Wait()
		if !l.Stats().Waiting {
			t.Fatal("Append is not waiting")
		}
		l.Close()
		l.Close() // idempotent
		if err := <-appendErr; !errors.Is(err, ErrClosed) {
			t.Fatalf("blocked Append after Close: %v", err)
		}
		for range 2 {
			if err := <-waitErr; !errors.Is(err, ErrClosed) {
				t.Fatalf("Wait after Close: %v", err)
			}
		}
		if _, err := l.Append(context.Background(), ev(2, 8)); !errors.Is(err, ErrClosed) {
			t.Fatalf("Append after Close: %v", err)
		}
		// What was appended stays readable, and Wait reports it first.
		if err := l.Wait(context.Background(), 1); err != nil {
			t.Fatalf("Wait(1) on a closed log holding 1: %v", err)
		}
		evs, _, _ := l.Read(0, 0, nil)
		checkRun(t, evs, 1, 1)
		if st := l.Stats(); !st.Closed || st.Waiting {
			t.Fatalf("Stats %+v", st)
		}
	})
}

func TestWaitReturnsOnAppendAndHonoursCtx(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := New(Options{})
		defer l.Close() // so a failing test leaves no goroutine blocked
		if err := l.Wait(cancelled(), 0); !errors.Is(err, context.Canceled) {
			t.Fatalf("Wait(0) on an empty log with a cancelled ctx: %v", err)
		}
		got := make(chan error, 3)
		go func() { got <- l.Wait(context.Background(), 0) }() // 0 means 1
		go func() { got <- l.Wait(context.Background(), 2) }()
		synctest.Wait()
		mustAppend(t, l, 1, 8)
		if err := <-got; err != nil {
			t.Fatalf("Wait(0) after the first Append: %v", err)
		}
		synctest.Wait()
		select {
		case err := <-got:
			t.Fatalf("Wait(2) returned %v with only event 1", err)
		default:
		}
		mustAppend(t, l, 2, 8)
		if err := <-got; err != nil {
			t.Fatal(err)
		}

		ctx, cancel := context.WithCancel(context.Background())
		go func() { got <- l.Wait(ctx, 3) }()
		synctest.Wait()
		cancel()
		if err := <-got; !errors.Is(err, context.Canceled) {
			t.Fatalf("Wait after cancel: %v", err)
		}
		// Waiting for something already there returns at once, even
		// with a cancelled ctx.
		if err := l.Wait(cancelled(), 2); err != nil {
			t.Fatal(err)
		}
	})
}

func TestAckIsMonotonicAndClampedToLast(t *testing.T) {
	l := New(Options{})
	for i := uint64(1); i <= 5; i++ {
		mustAppend(t, l, i, 8)
	}
	l.Ack(3)
	l.Ack(2)
	if a := l.Stats().Acked; a != 3 {
		t.Fatalf("Acked %d after Ack(3), Ack(2)", a)
	}
	l.Ack(100)
	if a := l.Stats().Acked; a != 5 {
		t.Fatalf("Acked %d after Ack(100) with 5 events", a)
	}
	// Event 6 does not exist yet: it must not count as acknowledged.
	mustAppend(t, l, 6, 8)
	if a := l.Stats().Acked; a != 5 {
		t.Fatalf("Acked %d after appending 6", a)
	}
}

func TestSingleEventLargerThanBudget(t *testing.T) {
	const budget = 1000
	t.Run("Block", func(t *testing.T) {
		l := New(Options{Budget: budget, Policy: Block})
		for i := uint64(1); i <= 3; i++ {
			mustAppend(t, l, i, 36)
		}
		big := ev(4, 3*budget)
		if _, err := l.Append(cancelled(), big); !errors.Is(err, context.Canceled) {
			t.Fatalf("big Append with unacknowledged events: %v, want to wait", err)
		}
		l.Ack(2)
		if _, err := l.Append(cancelled(), big); !errors.Is(err, context.Canceled) {
			t.Fatalf("big Append with event 3 unacknowledged: %v, want to wait", err)
		}
		l.Ack(3)
		if seq, err := l.Append(cancelled(), big); err != nil || seq != 4 {
			t.Fatalf("big Append once all acknowledged = %d, %v", seq, err)
		}
		st := l.Stats()
		if st.Events != 1 || st.Bytes != 3*budget+EventOverhead || st.Dropped != 0 {
			t.Fatalf("Stats %+v", st)
		}
		// The big event holds the log until it is acknowledged.
		if _, err := l.Append(cancelled(), ev(5, 36)); !errors.Is(err, context.Canceled) {
			t.Fatalf("Append behind an unacknowledged big event: %v", err)
		}
		evs, _, _ := l.Read(0, 0, nil)
		checkRun(t, evs, 4, 4)
		l.Ack(4)
		mustAppend(t, l, 5, 36)
		if st := l.Stats(); st.First != 5 || st.Bytes != 100 {
			t.Fatalf("Stats %+v", st)
		}
	})
	t.Run("Drop", func(t *testing.T) {
		l := New(Options{Budget: budget, Policy: Drop})
		for i := uint64(1); i <= 3; i++ {
			mustAppend(t, l, i, 36)
		}
		l.Ack(1)
		mustAppend(t, l, 4, 3*budget)
		st := l.Stats()
		if st.First != 4 || st.Events != 1 || st.Dropped != 2 || st.Evicted != 3 {
			t.Fatalf("Stats %+v", st)
		}
		mustAppend(t, l, 5, 36)
		if st := l.Stats(); st.First != 5 || st.Dropped != 3 {
			t.Fatalf("Stats %+v", st)
		}
	})
}

func TestEvictedDataIsReleased(t *testing.T) {
	for _, p := range []Policy{Block, Drop} {
		t.Run(p.String(), func(t *testing.T) {
			l := New(Options{Budget: 10 * (100 + EventOverhead), Policy: p})
			// appendTracked keeps no reference of its own to the event.
			appendTracked := func() weak.Pointer[[100]byte] {
				buf := new([100]byte)
				if _, err := l.Append(context.Background(), buf[:]); err != nil {
					t.Fatal(err)
				}
				return weak.Make(buf)
			}
			w := appendTracked()
			l.Ack(1)
			for i := uint64(2); i <= 10; i++ {
				mustAppend(t, l, i, 100)
			}
			runtime.GC()
			if w.Value() == nil {
				t.Fatal("event 1 was collected while retained")
			}
			mustAppend(t, l, 11, 100) // evicts event 1
			runtime.GC()
			if w.Value() != nil {
				t.Fatal("the log still references evicted event 1")
			}
			runtime.KeepAlive(l)
		})
	}
}

// model is a deliberately naive output log (a slice of everything ever
// appended) to check Log against.
type model struct {
	budget  int64
	policy  Policy
	data    [][]byte // data[seq-1]
	first   uint64
	bytes   int64
	acked   uint64
	dropped uint64
}

// append reports whether an Append that may not wait succeeds.
func (m *model) append(d []byte) bool {
	need := int64(len(d)) + EventOverhead
	for m.bytes+need > m.budget && m.first <= uint64(len(m.data)) {
		if m.first > m.acked {
			if m.policy == Block {
				return false
			}
			m.dropped++
		}
		m.bytes -= int64(len(m.data[m.first-1])) + EventOverhead
		m.first++
	}
	m.data = append(m.data, d)
	m.bytes += need
	return true
}

func TestRandomizedAgainstModel(t *testing.T) {
	for _, budget := range []int64{700, 5000, 400_000} {
		for _, p := range []Policy{Block, Drop} {
			t.Run(p.String()+"/"+strconv.FormatInt(budget, 10), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(budget), uint64(p)))
				l := New(Options{Budget: budget, Policy: p})
				m := &model{budget: budget, policy: p, first: 1}
				ctx := cancelled()
				var dst []Event
				maxEvents := 0
				for op := 0; op < 60_000; op++ {
					switch r := rng.IntN(100); {
					case r < 55:
						size := 8 + rng.IntN(120)
						if rng.IntN(500) == 0 {
							size = int(budget) + rng.IntN(int(budget)) // larger than the budget
						}
						d := ev(uint64(len(m.data))+1, size)
						seq, err := l.Append(ctx, d)
						ok := m.append(d)
						switch {
						case ok && (err != nil || seq != uint64(len(m.data))):
							t.Fatalf("op %d: Append = %d, %v; want %d", op, seq, err, len(m.data))
						case !ok && !errors.Is(err, context.Canceled):
							t.Fatalf("op %d: Append = %d, %v; want it to wait", op, seq, err)
						}
					case r < 70:
						a := uint64(rng.IntN(len(m.data) + 5))
						l.Ack(a)
						m.acked = max(m.acked, min(a, uint64(len(m.data))))
					default:
						last := uint64(len(m.data))
						from := uint64(rng.IntN(int(last) + 3))
						mx := rng.IntN(40)
						evs, next, lost := l.Read(from, mx, dst)
						dst = evs
						start, wantLost := from, uint64(0)
						if from == 0 {
							start = m.first
						} else if from < m.first {
							start, wantLost = m.first, m.first-from
						}
						end := last // inclusive
						if mx > 0 && start+uint64(mx)-1 < end {
							end = start + uint64(mx) - 1
						}
						if lost != wantLost {
							t.Fatalf("op %d: Read(%d) lost %d, want %d", op, from, lost, wantLost)
						}
						checkRun(t, evs, start, end)
						if want := max(start, end+1); next != want {
							t.Fatalf("op %d: Read(%d, %d) next %d, want %d", op, from, mx, next, want)
						}
					}
					st := l.Stats()
					last := uint64(len(m.data))
					if st.First != m.first || st.Last != last || st.Events != int(last-m.first+1) ||
						st.Bytes != m.bytes || st.Acked != m.acked || st.Dropped != m.dropped {
						t.Fatalf("op %d: Stats %+v; model first %d last %d bytes %d acked %d dropped %d",
							op, st, m.first, last, m.bytes, m.acked, m.dropped)
					}
					if st.Bytes > budget && st.Events != 1 {
						t.Fatalf("op %d: %d bytes in %d events over budget %d", op, st.Bytes, st.Events, budget)
					}
					if p == Block && st.Dropped != 0 {
						t.Fatalf("op %d: Block dropped %d", op, st.Dropped)
					}
					maxEvents = max(maxEvents, st.Events)
				}
				// The large budget must exercise a ring of several segments.
				if budget >= 400_000 && maxEvents <= segSize {
					t.Fatalf("at most %d events retained; the test did not span segments", maxEvents)
				}
			})
		}
	}
}

// A full Block log that nobody reads still takes its last event at
// once: closing a session never waits for a reader.
func TestCloseWithOnAFullBlockLog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := New(Options{Budget: 100, Policy: Block})
		mustAppend(t, l, 1, 36)
		blocked := make(chan error, 1)
		go func() {
			_, err := l.Append(context.Background(), ev(2, 36))
			blocked <- err
		}()
		synctest.Wait()
		seq := l.CloseWith(ev(2, 8))
		if seq != 2 {
			t.Fatalf("CloseWith = %d, want 2", seq)
		}
		if err := <-blocked; !errors.Is(err, ErrClosed) {
			t.Fatalf("the blocked Append after CloseWith: %v", err)
		}
		evs, _, _ := l.Read(0, 0, nil)
		checkRun(t, evs, 1, 2)
		if l.CloseWith(ev(3, 8)) != 0 {
			t.Fatal("CloseWith on a closed log appended")
		}
	})
}

// Many logs sharing a small budget: the total stays under it;
// acknowledged history goes first, from any log; then Drop drops its
// own oldest and Block waits until something is acknowledged.
func TestSharedBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const size = 100 // per event: 100 + EventOverhead bytes
		per := int64(size) + EventOverhead
		sh := NewShared(20 * per)
		ctx := context.Background()
		// 10 Drop logs, each with its own budget far above the shared one
		var drops []*Log
		for range 10 {
			drops = append(drops, New(Options{Budget: 1 << 20, Policy: Drop, Shared: sh}))
		}
		for i := range 100 {
			for _, l := range drops {
				if _, err := l.Append(ctx, ev(uint64(i+1), size)); err != nil {
					t.Fatal(err)
				}
				if b := sh.Bytes(); b > sh.Limit() {
					t.Fatalf("shared bytes %d over the budget %d", b, sh.Limit())
				}
			}
		}
		// acknowledged history of another log goes before any unread event
		acked := drops[0]
		st := acked.Stats()
		acked.Ack(st.Last)
		blk := New(Options{Budget: 1 << 20, Policy: Block, Shared: sh})
		before := make([]Stats, len(drops))
		for i, l := range drops {
			before[i] = l.Stats()
		}
		for i := range st.Events {
			if _, err := blk.Append(ctx, ev(uint64(i+1), size)); err != nil {
				t.Fatal(err)
			}
		}
		for i, l := range drops[1:] {
			if got := l.Stats(); got.Dropped != before[i+1].Dropped {
				t.Fatalf("log %d dropped unread events while another held acknowledged ones: %+v", i+1, got)
			}
		}
		if got := acked.Stats(); got.Events != 0 || got.Dropped != before[0].Dropped {
			t.Fatalf("the acknowledged log: %+v", got)
		}
		// nothing acknowledged anywhere: the Block log waits, and an
		// acknowledgement in another log lets it go on
		done := make(chan error, 1)
		go func() {
			_, err := blk.Append(ctx, ev(99, size))
			done <- err
		}()
		synctest.Wait()
		if !blk.Stats().Waiting {
			t.Fatalf("Block Append over the shared budget did not wait: %d/%d", sh.Bytes(), sh.Limit())
		}
		drops[1].Ack(drops[1].Stats().Last)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if b := sh.Bytes(); b > sh.Limit() {
			t.Fatalf("shared bytes %d over the budget %d", b, sh.Limit())
		}
		// a released log no longer counts
		held := blk.Stats().Bytes
		total := sh.Bytes()
		blk.Release()
		if sh.Bytes() != total-held {
			t.Fatalf("after Release: %d, want %d", sh.Bytes(), total-held)
		}
	})
}

// Two attached readers: one acknowledges everything, the other nothing.
// While the budget has room the slow one's cursor holds its events; when
// the budget is full of events only it has not read, it is cut off
// (Lagged), never slowing the writer or the other reader, and is the
// only one cut. With nothing acknowledged by anyone, Block waits and
// nobody is cut.
func TestReaderCursorLagged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := New(Options{Budget: 3 * (8 + EventOverhead), Policy: Block})
		defer l.Close()
		fast, slow := l.NewReader(1), l.NewReader(1)
		for i := range 3 {
			mustAppend(t, l, uint64(i+1), 8)
		}
		// nobody acknowledged anything: the writer waits, nobody is cut
		done := make(chan error, 1)
		go func() {
			_, err := l.Append(context.Background(), ev(4, 8))
			done <- err
		}()
		synctest.Wait()
		if st := l.Stats(); !st.Waiting || st.First != 1 {
			t.Fatalf("with nothing acknowledged: %+v", st)
		}
		if isClosed(slow.Lagged()) || isClosed(fast.Lagged()) {
			t.Fatal("a reader was cut off while nobody had acknowledged anything")
		}
		// the fast reader acknowledges everything: the slow one is cut
		fast.Ack(3)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if !isClosed(slow.Lagged()) || isClosed(fast.Lagged()) {
			t.Fatalf("lagged: slow %v fast %v; want only the slow one cut", isClosed(slow.Lagged()), isClosed(fast.Lagged()))
		}
		if st := l.Stats(); st.First != 2 || st.Last != 4 {
			t.Fatalf("after the cut: %+v", st)
		}
		slow.Close()
		fast.Close()
	})
}

// A reader's cursor holds what it has not read against another
// reader's acknowledgement as long as the budget has room.
func TestReaderCursorHoldsEviction(t *testing.T) {
	l := New(Options{Budget: 1 << 20, Policy: Drop})
	fast, slow := l.NewReader(1), l.NewReader(1)
	for i := range 3 {
		mustAppend(t, l, uint64(i+1), 8)
	}
	fast.Ack(3)
	slow.Ack(1)
	l.mu.Lock()
	floor := l.floorLocked()
	l.mu.Unlock()
	if floor != 1 {
		t.Fatalf("floor %d with readers at 3 and 1", floor)
	}
	slow.Close()
	l.mu.Lock()
	floor = l.floorLocked()
	l.mu.Unlock()
	if floor != 3 {
		t.Fatalf("floor %d after the slow reader left", floor)
	}
	fast.Close()
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// A reader slower than another but still reading is not cut off: under
// Block the writer waits for it up to the lag grace, and each of its
// acknowledgements makes room; only a reader that acknowledges nothing
// for the whole grace is cut.
func TestSlowReaderWithinGraceNotCut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := New(Options{Budget: 3 * (8 + EventOverhead), Policy: Block, LagGrace: 2 * time.Second})
		defer l.Close()
		fast, slow := l.NewReader(1), l.NewReader(1)
		for i := range 3 {
			mustAppend(t, l, uint64(i+1), 8)
		}
		for seq := uint64(4); seq <= 10; seq++ {
			fast.Ack(seq - 1)
			done := make(chan error, 1)
			go func() {
				_, err := l.Append(context.Background(), ev(seq, 8))
				done <- err
			}()
			time.Sleep(time.Second) // the slow reader takes 1 s, within the grace
			slow.Ack(seq - 1)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if isClosed(slow.Lagged()) {
				t.Fatalf("the slow reader was cut off at seq %d though it acknowledged within the grace", seq)
			}
		}
		// now it stops at 9: the writer goes on while the slow reader's
		// cursor holds nothing back, then waits the grace and cuts it
		for seq := uint64(11); seq <= 12; seq++ {
			fast.Ack(seq - 1)
			mustAppend(t, l, seq, 8)
		}
		fast.Ack(12)
		start := time.Now()
		if _, err := l.Append(context.Background(), ev(13, 8)); err != nil {
			t.Fatal(err)
		}
		if !isClosed(slow.Lagged()) || time.Since(start) != 2*time.Second {
			t.Fatalf("a stalled reader: cut %v after %s; want cut after the 2s grace", isClosed(slow.Lagged()), time.Since(start))
		}
		slow.Close()
		fast.Close()
	})
}
