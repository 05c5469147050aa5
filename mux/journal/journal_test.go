package journal

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func rec(i int) []byte {
	return fmt.Appendf(nil, `{"line":%d,"text":"%s"}`, i, bytes.Repeat([]byte{'x'}, i%37))
}

// write appends records 1..n, closes, and returns the directory.
func write(t *testing.T, n int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "j")
	j, recs, cut, err := Open(dir, 0, 0)
	if err != nil || len(recs) != 0 || cut != nil {
		t.Fatal(err, recs, cut)
	}
	for i := 1; i <= n; i++ {
		if err := j.Append(uint64(i), rec(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// checkPrefix fails unless recs are records 1..len(recs), exactly.
func checkPrefix(t *testing.T, recs []Record, what string) {
	t.Helper()
	for i, r := range recs {
		if r.Seq != uint64(i+1) || !bytes.Equal(r.Data, rec(i+1)) {
			t.Fatalf("%s: record %d is seq %d %q; want seq %d %q (misread)", what, i, r.Seq, r.Data, i+1, rec(i+1))
		}
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

// Records come back in order across segment rotations, and appending
// goes on after the last one with the sequence continued.
func TestRoundTripAcrossSegments(t *testing.T) {
	old := SegmentSize
	SegmentSize = 4096
	t.Cleanup(func() { SegmentSize = old })
	dir := write(t, 2000)
	if n := len(segments(t, dir)); n < 10 {
		t.Fatalf("%d segments; want rotation every 4 KiB", n)
	}
	j, recs, cut, err := Open(dir, 0, 0)
	if err != nil || cut != nil || len(recs) != 2000 {
		t.Fatalf("reopen: %v, cut %v, %d records", err, cut, len(recs))
	}
	checkPrefix(t, recs, "reopened")
	if j.Next() != 2001 {
		t.Fatalf("Next %d; want 2001", j.Next())
	}
	for i := 2001; i <= 2100; i++ {
		j.Append(uint64(i), rec(i))
	}
	j.Close()
	_, recs, _, _ = Open(dir, 0, 0)
	if len(recs) != 2100 {
		t.Fatalf("after appending more: %d records", len(recs))
	}
	checkPrefix(t, recs, "appended after reopening")
	// keep: only the newest records that fit
	_, recs, _, _ = Open(dir, 0, 1000)
	var sum int
	for _, r := range recs {
		sum += len(r.Data)
	}
	if sum > 1000 || recs[len(recs)-1].Seq != 2100 || len(recs) == 2100 {
		t.Fatalf("keep 1000 bytes: %d records, %d bytes, last %d", len(recs), sum, recs[len(recs)-1].Seq)
	}
}

// Records handed over out of order (several goroutines) are written in
// sequence order, each once.
func TestOutOfOrderAppends(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "j")
	j, _, _, _ := Open(dir, 0, 0)
	order := []int{1, 3, 2, 6, 5, 4, 4, 7}
	for _, i := range order {
		j.Append(uint64(i), rec(i))
	}
	if err := j.Sync(7, time.Second); err != nil {
		t.Fatal(err)
	}
	j.Close()
	_, recs, cut, err := Open(dir, 0, 0)
	if err != nil || cut != nil || len(recs) != 7 {
		t.Fatalf("%v %v %d records", err, cut, len(recs))
	}
	checkPrefix(t, recs, "out of order")
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
		j, recs, cut, err := Open(dir, 0, 0)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		checkPrefix(t, recs, fmt.Sprintf("round %d (offset %d)", round, off))
		if round%2 == 1 && cut == nil {
			t.Fatalf("round %d: byte %d corrupted, nothing cut", round, off)
		}
		if cut != nil && cut.Offset > int64(off) {
			t.Fatalf("round %d: damage at %d, cut at %d", round, off, cut.Offset)
		}
		next := uint64(len(recs) + 1)
		if err := j.Append(next, rec(int(next))); err != nil {
			t.Fatal(err)
		}
		j.Close()
		_, again, cut2, _ := Open(dir, 0, 0)
		if cut2 != nil || len(again) != len(recs)+1 {
			t.Fatalf("round %d: after the cut and one more append: %d records (had %d), cut %v", round, len(again), len(recs), cut2)
		}
		checkPrefix(t, again, "after the cut")
	}
}

// The oldest segments go when the journal is over its limit.
func TestLimitRemovesOldestSegments(t *testing.T) {
	old := SegmentSize
	SegmentSize = 4096
	t.Cleanup(func() { SegmentSize = old })
	dir := filepath.Join(t.TempDir(), "j")
	j, _, _, _ := Open(dir, 20000, 0)
	for i := 1; i <= 3000; i++ {
		j.Append(uint64(i), rec(i))
	}
	j.Close()
	var total int64
	for _, s := range segments(t, dir) {
		st, _ := os.Stat(s)
		total += st.Size()
	}
	if total > 20000+SegmentSize {
		t.Fatalf("%d bytes on disk; limit 20000", total)
	}
	_, recs, cut, _ := Open(dir, 20000, 0)
	if cut != nil || len(recs) == 0 || recs[len(recs)-1].Seq != 3000 {
		t.Fatalf("after the limit: cut %v, %d records", cut, len(recs))
	}
}

// Whatever a segment file holds, Open never panics, never allocates
// past the record cap, and returns records in sequence order.
func FuzzOpen(f *testing.F) {
	dir := f.TempDir()
	j, _, _, _ := Open(filepath.Join(dir, "seed"), 0, 0)
	for i := 1; i <= 5; i++ {
		j.Append(uint64(i), rec(i))
	}
	j.Close()
	seed, _ := os.ReadFile(filepath.Join(dir, "seed", fmt.Sprintf("%020d.seg", 1)))
	f.Add(seed)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		d := t.TempDir()
		os.WriteFile(filepath.Join(d, fmt.Sprintf("%020d.seg", 1)), data, 0o600)
		_, recs, _, err := Open(d, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i < len(recs); i++ {
			if recs[i].Seq != recs[i-1].Seq+1 {
				t.Fatalf("records out of order: %d after %d", recs[i].Seq, recs[i-1].Seq)
			}
		}
	})
}

// A record nobody syncs reaches the file on its own (FlushDelay), so a
// killed server keeps it; a Sync waiting for a record still on its way
// from another goroutine returns once it comes.
func TestRecordsReachTheFileUnasked(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "j")
	j, _, _, _ := Open(dir, 0, 0)
	defer j.Close()
	j.Append(1, rec(1))
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) { // polling the file
		seg, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("%020d.seg", 1)))
		if len(seg) == headerSize+len(rec(1)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a record appended with no Sync is not in the file: %d bytes", len(seg))
		}
	}
	j.Append(3, rec(3)) // 2 is on its way
	synced := make(chan error)
	go func() { synced <- j.Sync(3, time.Minute) }()
	j.Append(2, rec(2))
	if err := <-synced; err != nil {
		t.Fatal(err)
	}
	seg, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("%020d.seg", 1)))
	if want := 3*headerSize + len(rec(1)) + len(rec(2)) + len(rec(3)); len(seg) != want {
		t.Fatalf("after Sync(3): %d bytes in the file; want %d", len(seg), want)
	}
}
