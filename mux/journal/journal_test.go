package journal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/psmux/psmux/mux/outlog"
)

func rec(i int) []byte {
	return fmt.Appendf(nil, `{"line":%d,"text":"%s"}`, i, bytes.Repeat([]byte{'x'}, i%37))
}

// follow opens the journal in dir and a log that continues it, as the
// server does for a session, with memory for tail bytes.
func follow(t testing.TB, dir string, limit, tail int64, o outlog.Options) (*outlog.Log, *Journal, *Cut) {
	t.Helper()
	j, hist, cut, err := Open(dir, limit, nil)
	if err != nil {
		t.Fatal(err)
	}
	o.First = j.Next()
	l := outlog.New(o)
	if err := j.Follow(l, tail, hist); err != nil {
		t.Fatal(err)
	}
	return l, j, cut
}

// appendRecs appends records from..to to l.
func appendRecs(t testing.TB, l *outlog.Log, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		if seq, err := l.Append(context.Background(), rec(i)); err != nil || seq != uint64(i) {
			t.Fatalf("append %d: seq %d, %v", i, seq, err)
		}
	}
}

// write appends records 1..n through a log, closes both, and returns
// the directory.
func write(t *testing.T, n int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "j")
	l, j, cut := follow(t, dir, 0, 0, outlog.Options{Policy: outlog.Drop})
	if cut != nil {
		t.Fatal(cut)
	}
	appendRecs(t, l, 1, n)
	l.Close()
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// all reopens dir and loads every record it holds.
func all(t *testing.T, dir string) ([]outlog.Event, *Cut) {
	t.Helper()
	j, _, cut, err := Open(dir, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	evs, err := j.Load(1, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	return evs, cut
}

// checkPrefix fails unless evs are records 1..len(evs), exactly.
func checkPrefix(t *testing.T, evs []outlog.Event, what string) {
	t.Helper()
	checkRange(t, evs, 1, what)
}

// checkRange fails unless evs are records from.., exactly.
func checkRange(t *testing.T, evs []outlog.Event, from int, what string) {
	t.Helper()
	for i, e := range evs {
		if want := from + i; e.Seq != uint64(want) || !bytes.Equal(e.Data, rec(want)) {
			t.Fatalf("%s: record %d is seq %d %q; want seq %d %q (misread)", what, i, e.Seq, e.Data, want, rec(want))
		}
	}
}

// readLog reads l from seq from to its end, 256 events at a time, as a
// client's replay does; it fails if any is lost.
func readLog(t *testing.T, l *outlog.Log, from uint64) []outlog.Event {
	t.Helper()
	var got []outlog.Event
	for {
		evs, next, lost := l.Read(from, 256, nil)
		if lost != 0 {
			t.Fatalf("Read(%d): %d lost", from, lost)
		}
		if len(evs) == 0 {
			return got
		}
		got = append(got, evs...)
		from = next
	}
}

func segments(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Records come back in order across segment rotations, from any place
// (an index mark, where the last Load stopped), and a log restored from
// the journal continues its numbering with its history counted.
func TestRoundTripAcrossSegments(t *testing.T) {
	old := SegmentSize
	SegmentSize = 4096
	t.Cleanup(func() { SegmentSize = old })
	dir := write(t, 3000)
	if n := len(segments(t, dir)); n < 10 {
		t.Fatalf("%d segments; want rotation every 4 KiB", n)
	}
	evs, cut := all(t, dir)
	if cut != nil || len(evs) != 3000 {
		t.Fatalf("reopen: cut %v, %d records", cut, len(evs))
	}
	checkPrefix(t, evs, "reopened")
	l, j, _ := follow(t, dir, 0, 0, outlog.Options{Policy: outlog.Drop})
	st := l.Stats()
	var want int64
	for i := 1; i <= 3000; i++ {
		want += int64(len(rec(i))) + outlog.EventOverhead
	}
	if j.Next() != 3001 || st.First != 1 || st.Last != 3000 || st.Bytes != want || st.Memory != 0 || st.Acked != 3000 {
		t.Fatalf("restored log: Next %d, %+v; want events 1..3000 of %d bytes, none in memory, acknowledged", j.Next(), st, want)
	}
	for _, from := range []int{1, 1024, 1500, 2999} {
		got, next, lost := l.Read(uint64(from), 10, nil)
		if lost != 0 || len(got) != min(10, 3001-from) || next != uint64(from+len(got)) {
			t.Fatalf("Read(%d, 10): %d events, next %d, lost %d", from, len(got), next, lost)
		}
		checkRange(t, got, from, fmt.Sprintf("Read(%d)", from))
		got, _, _ = l.Read(next, 10, nil) // where the last one stopped
		checkRange(t, got, int(next), fmt.Sprintf("Read(%d) after Read(%d)", next, from))
	}
	appendRecs(t, l, 3001, 3100)
	l.Close()
	j.Close()
	evs, _ = all(t, dir)
	if len(evs) != 3100 {
		t.Fatalf("after appending more: %d records", len(evs))
	}
	checkPrefix(t, evs, "appended after reopening")
}

// With a journal, memory holds only a tail: 10 MB of history costs the
// log its tail, and every event reads back, in order, from disk.
func TestMemoryHoldsOnlyATail(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "j")
	const tail = 64 << 10
	l, j, _ := follow(t, dir, 0, tail, outlog.Options{Policy: outlog.Block})
	defer j.Close()
	n := 0
	for st := l.Stats(); st.Bytes < 10<<20; st = l.Stats() {
		n++
		appendRecs(t, l, n, n)
	}
	if err := l.WaitKept(context.Background(), uint64(n)); err != nil {
		t.Fatal(err)
	}
	st := l.Stats()
	if st.Memory > 2*tail || st.Events != n || st.First != 1 {
		t.Fatalf("after %d events (%d bytes): %d bytes in memory (tail %d, at most twice that), %d events retained from %d", n, st.Bytes, st.Memory, tail, st.Events, st.First)
	}
	got := readLog(t, l, 1)
	if len(got) != n {
		t.Fatalf("read back %d of %d events", len(got), n)
	}
	checkPrefix(t, got, "read back")
}

// Block keeps its meaning over what the log holds on disk and in
// memory: with the budget full of unacknowledged events, Append waits;
// an acknowledgement makes room again.
func TestBlockCountsWhatIsOnDisk(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "j")
	l, j, _ := follow(t, dir, 0, 4096, outlog.Options{Policy: outlog.Block, Budget: 64 << 10})
	defer j.Close()
	n := 0
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		_, err := l.Append(ctx, rec(n+1))
		cancel()
		if err != nil {
			break
		}
		n++
		if n > 10000 {
			t.Fatal("Append never blocked: the budget does not count what is on disk")
		}
	}
	if st := l.Stats(); st.Dropped != 0 || st.Memory > 2*4096+int64(len(rec(n)))+outlog.EventOverhead {
		t.Fatalf("blocked after %d events: %+v", n, st)
	}
	l.Ack(uint64(n))
	if _, err := l.Append(context.Background(), rec(n+1)); err != nil {
		t.Fatal(err)
	}
	evs := readLog(t, l, 0)
	if len(evs) == 0 || evs[len(evs)-1].Seq != uint64(n+1) {
		t.Fatalf("after the ack: %d events", len(evs))
	}
	checkRange(t, evs, int(evs[0].Seq), "after the ack")
}

// A torn or corrupted tail at any offset is cut and reported; every
// record before it is served and nothing is misread; appending goes on
// after the last good record.
func TestTornAndCorruptTails(t *testing.T) {
	for round := range 200 {
		dir := write(t, 300)
		seg := segments(t, dir)[0]
		data, _ := os.ReadFile(seg)
		off := rand.IntN(len(data))
		if round%2 == 0 {
			data = data[:off] // torn: a crash mid-write
		} else {
			data[off] ^= byte(1 + rand.IntN(255)) // corrupt
		}
		os.WriteFile(seg, data, 0o600)
		l, j, cut := follow(t, dir, 0, 0, outlog.Options{Policy: outlog.Drop})
		evs := readLog(t, l, 0)
		checkPrefix(t, evs, fmt.Sprintf("round %d (offset %d)", round, off))
		if round%2 == 1 && cut == nil {
			t.Fatalf("round %d: byte %d corrupted, nothing cut", round, off)
		}
		if cut != nil && cut.Offset > int64(off) {
			t.Fatalf("round %d: damage at %d, cut at %d", round, off, cut.Offset)
		}
		appendRecs(t, l, len(evs)+1, len(evs)+1)
		l.Close()
		j.Close()
		again, cut2 := all(t, dir)
		if cut2 != nil || len(again) != len(evs)+1 {
			t.Fatalf("round %d: after the cut and one more append: %d records (had %d), cut %v", round, len(again), len(evs), cut2)
		}
		checkPrefix(t, again, "after the cut")
	}
}

// The oldest segments go when the journal is over its limit; what is
// left reads back, and the log counts the rest as lost.
func TestLimitRemovesOldestSegments(t *testing.T) {
	old := SegmentSize
	SegmentSize = 4096
	t.Cleanup(func() { SegmentSize = old })
	dir := filepath.Join(t.TempDir(), "j")
	l, j, _ := follow(t, dir, 20000, 0, outlog.Options{Policy: outlog.Drop})
	appendRecs(t, l, 1, 3000)
	l.Close()
	j.Close()
	var total int64
	for _, s := range segments(t, dir) {
		st, _ := os.Stat(s)
		total += st.Size()
	}
	if total > 20000+SegmentSize {
		t.Fatalf("%d bytes on disk; limit 20000", total)
	}
	evs, cut := all(t, dir)
	if cut != nil || len(evs) == 0 || evs[len(evs)-1].Seq != 3000 {
		t.Fatalf("after the limit: cut %v, %d records", cut, len(evs))
	}
	checkRange(t, evs, int(evs[0].Seq), "after the limit")
}

// Whatever a segment file holds, Open never panics, never allocates
// past the record cap, and what it serves is in sequence order.
func FuzzOpen(f *testing.F) {
	dir := f.TempDir()
	l, j, _ := follow(f, filepath.Join(dir, "seed"), 0, 0, outlog.Options{Policy: outlog.Drop})
	appendRecs(f, l, 1, 5)
	l.Close()
	j.Close()
	seed, _ := os.ReadFile(filepath.Join(dir, "seed", fmt.Sprintf("%020d.seg", 1)))
	f.Add(seed)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		d := t.TempDir()
		os.WriteFile(filepath.Join(d, fmt.Sprintf("%020d.seg", 1)), data, 0o600)
		var visited []uint64
		j, hist, _, err := Open(d, 0, func(seq uint64, _ []byte) { visited = append(visited, seq) })
		if err != nil {
			t.Fatal(err)
		}
		defer j.Close()
		evs, err := j.Load(0, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		var n uint64
		for _, sp := range hist {
			n += sp.Last - sp.First + 1
		}
		if uint64(len(evs)) != n || len(visited) != len(evs) {
			t.Fatalf("history of %d records, %d served, %d visited", n, len(evs), len(visited))
		}
		for i := 1; i < len(evs); i++ {
			if evs[i].Seq != evs[i-1].Seq+1 {
				t.Fatalf("records out of order: %d after %d", evs[i].Seq, evs[i-1].Seq)
			}
		}
	})
}

// An event reaches the file without anyone asking, so a killed server
// keeps it; WaitKept returns once it is there.
func TestRecordsReachTheFileUnasked(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "j")
	l, j, _ := follow(t, dir, 0, 0, outlog.Options{})
	defer j.Close()
	appendRecs(t, l, 1, 1)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) { // polling the file
		seg, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("%020d.seg", 1)))
		if len(seg) == headerSize+len(rec(1)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a record appended with no Sync is not in the file: %d bytes", len(seg))
		}
	}
	appendRecs(t, l, 2, 3)
	if err := l.WaitKept(context.Background(), 3); err != nil {
		t.Fatal(err)
	}
	seg, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("%020d.seg", 1)))
	if want := 3*headerSize + len(rec(1)) + len(rec(2)) + len(rec(3)); len(seg) != want {
		t.Fatalf("after WaitKept(3): %d bytes in the file; want %d", len(seg), want)
	}
}

// Journals sharing a disk budget hold at most its limit together (each
// one's newest segment aside): the oldest segments go first, whichever
// journal they belong to, and every journal still reads its newest
// records.
func TestDiskBudgetSharedByJournals(t *testing.T) {
	old := SegmentSize
	SegmentSize = 4096
	t.Cleanup(func() { SegmentSize = old })
	root := t.TempDir()
	disk := &Disk{Root: root, Limit: 40000}
	var logs []*outlog.Log
	for i := range 3 {
		j, _, _, err := Open(filepath.Join(root, fmt.Sprint(i)), 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		j.SetDisk(disk)
		l := outlog.New(outlog.Options{Policy: outlog.Drop, Budget: 1 << 30})
		if err := j.Follow(l, 0, nil); err != nil {
			t.Fatal(err)
		}
		defer j.Close()
		logs = append(logs, l)
	}
	for round := range 10 { // each journal in turn, so the oldest alternate
		for _, l := range logs {
			appendRecs(t, l, round*200+1, round*200+200)
			if err := l.WaitKept(context.Background(), uint64(round*200+200)); err != nil {
				t.Fatal(err)
			}
		}
	}
	var total int64
	for i := range 3 {
		for _, s := range segments(t, filepath.Join(root, fmt.Sprint(i))) {
			st, _ := os.Stat(s)
			total += st.Size()
		}
	}
	if total > disk.Limit+3*SegmentSize {
		t.Fatalf("%d bytes on disk; the shared limit is %d (and each journal's newest segment)", total, disk.Limit)
	}
	for i, l := range logs {
		evs, _, lost := l.Read(1, 0, nil)
		if lost == 0 {
			t.Fatalf("journal %d lost nothing: the budget was not shared", i)
		}
		got := readLog(t, l, evs[0].Seq)
		if len(got) == 0 || got[len(got)-1].Seq != 2000 {
			t.Fatalf("journal %d: its newest records are gone", i)
		}
		checkRange(t, got, int(got[0].Seq), fmt.Sprintf("journal %d", i))
	}
}

// A segment whose fsync fails (here /dev/null, where fsync is EINVAL)
// stops the journal with the error; nothing hangs, and the log goes on
// in memory.
func TestFailedFsyncStopsTheJournal(t *testing.T) {
	old := SegmentSize
	SegmentSize = 10 // a segment a record
	t.Cleanup(func() { SegmentSize = old })
	dir := filepath.Join(t.TempDir(), "j")
	l, j, _ := follow(t, dir, 0, 0, outlog.Options{Policy: outlog.Drop})
	appendRecs(t, l, 1, 1)
	l.WaitKept(context.Background(), 1)
	// the segment record 3 starts is /dev/null
	if err := os.Symlink(os.DevNull, filepath.Join(dir, fmt.Sprintf("%020d.seg", 3))); err != nil {
		t.Fatal(err)
	}
	for i := 2; i <= 6; i++ {
		appendRecs(t, l, i, i)
		l.WaitKept(context.Background(), uint64(i)) // a rotation a record
	}
	closed := make(chan error, 1)
	go func() { closed <- j.Close() }()
	select {
	case err := <-closed:
		if err == nil {
			t.Fatal("Close returned no error after a failed fsync")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Close hangs after a failed fsync")
	}
	// the fsync runs in the background: records after the segment may
	// be written before its failure shows; the log knows by now
	appendRecs(t, l, 7, 7)
	if err := l.WaitKept(context.Background(), 7); !errors.Is(err, outlog.ErrStoreFailed) {
		t.Fatalf("WaitKept after the journal failed: %v", err)
	}
}

// A journal whose only segment lost its first record (torn) numbers on
// from where that segment began, never from 1 again, and reads back in
// order after more records.
func TestNumberingGoesOnWhenNoRecordIsLeft(t *testing.T) {
	old := SegmentSize
	SegmentSize = 4096
	t.Cleanup(func() { SegmentSize = old })
	dir := write(t, 300)
	segs := segments(t, dir)
	for _, s := range segs[:len(segs)-1] { // the older ones trimmed for the disk budget
		os.Remove(s)
	}
	last := segs[len(segs)-1]
	first, _ := strconv.ParseUint(strings.TrimSuffix(filepath.Base(last), ".seg"), 10, 64)
	os.Truncate(last, 5) // its first record torn
	l, j, cut := follow(t, dir, 0, 0, outlog.Options{Policy: outlog.Drop})
	if cut == nil || j.Next() != first {
		t.Fatalf("cut %v, Next %d; want the cut reported and numbering from %d", cut, j.Next(), first)
	}
	appendRecs(t, l, int(first), int(first)+9)
	l.Close()
	j.Close()
	evs, cut := all(t, dir)
	if cut != nil || len(evs) != 10 {
		t.Fatalf("after more records: cut %v, %d records", cut, len(evs))
	}
	checkRange(t, evs, int(first), "numbered on")
}
