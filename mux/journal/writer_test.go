package journal

import (
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/psmux/psmux/mux/outlog"
)

// The writer takes a batch as soon as `due` events wait for it, without
// sitting out its Linger: output that streams is written a batch at a
// time and leaves memory a few events per Append, rather than pile up
// for a Linger and leave all at once.
func TestWriterTakesABatchBeforeItsLinger(t *testing.T) {
	old := Linger
	Linger = time.Hour
	t.Cleanup(func() { Linger = old })
	synctest.Test(t, func(t *testing.T) {
		l, j, _ := follow(t, filepath.Join(t.TempDir(), "j"), 0, 1<<20, outlog.Options{Policy: outlog.Drop})
		appendRecs(t, l, 1, due-1)
		synctest.Wait()
		if k := l.Stats().Kept; k != 0 {
			t.Fatalf("with %d events of %d, an hour's Linger ahead: %d written", due-1, due, k)
		}
		appendRecs(t, l, due, due)
		synctest.Wait()
		if k := l.Stats().Kept; k != due {
			t.Fatalf("with %d events waiting: %d written; want them all at once", due, k)
		}
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
	})
}

// A rotated segment is fsynced in the background, and the writer waits
// for the disk only when MaxSyncing of them are still being synced: a
// burst of output is not held to the disk's pace, output that outruns
// the disk for good is.
func TestRotationWaitsOnlyWhenMaxSyncingAreUnderWay(t *testing.T) {
	oldSize, oldSync := SegmentSize, syncFile
	SegmentSize = 10 // a segment a record
	t.Cleanup(func() { SegmentSize, syncFile = oldSize, oldSync })
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		syncFile = func(f *os.File) error {
			<-release // the disk is slow
			return f.Sync()
		}
		l, j, _ := follow(t, filepath.Join(t.TempDir(), "j"), 0, 0, outlog.Options{Policy: outlog.Drop})
		// record k starts segment k, and hands segment k-1 to an fsync
		n := uint64(MaxSyncing + 1)
		appendRecs(t, l, 1, int(n))
		time.Sleep(Linger) // the bubble's clock: the writer's Linger passes
		synctest.Wait()
		if k := l.Stats().Kept; k != n {
			t.Fatalf("%d fsyncs under way: %d of %d records written; want all", MaxSyncing, k, n)
		}
		appendRecs(t, l, int(n)+1, int(n)+1)
		time.Sleep(Linger)
		synctest.Wait()
		if k := l.Stats().Kept; k != n {
			t.Fatalf("%d fsyncs under way and one more due: %d records written; want %d (the writer waits)", MaxSyncing, k, n)
		}
		close(release)
		synctest.Wait()
		if k := l.Stats().Kept; k != n+1 {
			t.Fatalf("once the fsyncs are done: %d of %d records written", k, n+1)
		}
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
	})
}
