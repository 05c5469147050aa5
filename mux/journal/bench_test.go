package journal

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/psmux/psmux/mux/outlog"
)

// BenchmarkAppend streams small lines (an encoded host-call event each)
// into a session's log, in memory only and with the journal following
// it as the server does (the log keeps a 256 KiB tail; the journal's
// goroutine writes what was appended in one write(2) per batch; no
// fsync but at rotation and close), and reports each one's time per
// event, including the wait for the last event to be on disk, and their
// ratio (issue 14: at most 1.2).
func BenchmarkAppend(b *testing.B) {
	ctx := context.Background()
	line := []byte(`{"k":"host","cmd":7,"ts":1764820000000,"m":15,"p":[{"t":"123456"}]}`)
	// perEvent returns the appender's time per event, and the time
	// until the last event is on disk too
	perEvent := func(l *outlog.Log) (appended, kept time.Duration) {
		start := time.Now()
		var seq uint64
		for range b.N {
			seq, _ = l.Append(ctx, line)
			if seq%1024 == 0 {
				l.Ack(seq) // a client reading along
			}
		}
		appended = time.Since(start) / time.Duration(b.N)
		if err := l.WaitKept(ctx, seq); err != nil {
			b.Fatal(err)
		}
		return appended, time.Since(start) / time.Duration(b.N)
	}
	memT, _ := perEvent(outlog.New(outlog.Options{}))
	l, j, _ := follow(b, filepath.Join(b.TempDir(), "j"), 256<<20, 256<<10, outlog.Options{})
	defer j.Close()
	appT, diskT := perEvent(l)
	b.ReportMetric(float64(memT.Nanoseconds()), "ns/event-memory")
	b.ReportMetric(float64(appT.Nanoseconds()), "ns/event-append")
	b.ReportMetric(float64(diskT.Nanoseconds()), "ns/event-on-disk")
	b.ReportMetric(float64(diskT)/float64(max(memT, 1)), "on-disk/memory")
}
