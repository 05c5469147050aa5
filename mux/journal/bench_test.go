package journal

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/psmux/psmux/mux/outlog"
)

// BenchmarkAppend streams small lines (an encoded host-call event each)
// into a session's log, in memory only and with the journal as the
// server does it (written in order, synced every 256 events as a client
// reads a batch; no fsync but at rotation), and reports each one's time
// per event and their ratio (issue 14: at most 1.2).
func BenchmarkAppend(b *testing.B) {
	ctx := context.Background()
	line := []byte(`{"k":"host","cmd":7,"ts":1764820000000,"m":15,"p":[{"t":"123456"}]}`)
	perEvent := func(f func(i int)) time.Duration {
		start := time.Now()
		for i := range b.N {
			f(i)
		}
		return time.Since(start) / time.Duration(b.N)
	}
	mem := outlog.New(outlog.Options{Policy: outlog.Drop})
	memT := perEvent(func(int) { _, _ = mem.Append(ctx, line) })
	disk := outlog.New(outlog.Options{Policy: outlog.Drop})
	j, _, _, err := Open(filepath.Join(b.TempDir(), "j"), 256<<20, 1)
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	diskT := perEvent(func(i int) {
		seq, _ := disk.Append(ctx, line)
		_ = j.Append(seq, line)
		if i%256 == 255 {
			_ = j.Sync(seq, 0)
		}
	})
	b.ReportMetric(float64(memT.Nanoseconds()), "ns/event-memory")
	b.ReportMetric(float64(diskT.Nanoseconds()), "ns/event-journal")
	b.ReportMetric(float64(diskT)/float64(max(memT, 1)), "journal/memory")
	_ = fmt.Sprint()
}
