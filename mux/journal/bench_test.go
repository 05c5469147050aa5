package journal

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
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
// ratio. With nothing else to do between appends, the ratio is the
// writer's pace against the appender's (the writer's write(2) and
// CRC-32C a record take longer than an append in memory): a stress
// figure. Issue 14's bound (at most 1.2) is on a stream of lines through
// a session, mux's BenchmarkSessionLog.
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
	// rounds of each, taken in turn, and the median of each kind: one
	// round's figure moves with the machine's other work and the GC
	var memT, appT, diskT []time.Duration
	for r := range rounds {
		m, _ := perEvent(outlog.New(outlog.Options{}))
		dir := filepath.Join(b.TempDir(), fmt.Sprint(r))
		l, j, _ := follow(b, dir, 256<<20, 256<<10, outlog.Options{})
		a, d := perEvent(l)
		if err := j.Close(); err != nil {
			b.Fatal(err)
		}
		// each round's files go before the next round: the page cache
		// would otherwise hold several rounds' worth of dirty pages, and
		// the kernel slows every write down to the disk's pace once they
		// pass its dirty limit (by hand here: from 20 to 170 ns per
		// record after ~700 MB)
		if err := Remove(dir); err != nil {
			b.Fatal(err)
		}
		memT, appT, diskT = append(memT, m), append(appT, a), append(diskT, d)
	}
	mem, disk := median(memT), median(diskT)
	b.ReportMetric(float64(mem.Nanoseconds()), "ns/event-memory")
	b.ReportMetric(float64(median(appT).Nanoseconds()), "ns/event-append")
	b.ReportMetric(float64(disk.Nanoseconds()), "ns/event-on-disk")
	b.ReportMetric(float64(disk)/float64(max(mem, 1)), "on-disk/memory")
}

// rounds is how many times BenchmarkAppend measures each log.
const rounds = 5

func median(ds []time.Duration) time.Duration {
	slices.Sort(ds)
	return ds[len(ds)/2]
}
