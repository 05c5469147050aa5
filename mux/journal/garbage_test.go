// The race detector makes sync.Pool drop items at random, by design:
// what this test counts only holds without it.

//go:build !race

package journal

import (
	"context"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/psmux/psmux/mux/outlog"
)

// Output streaming through a log and its journal makes next to no
// garbage: the log's emptied segments and the writer's buffers are
// reused (pools), not made a batch or a segment at a time, which would
// keep the GC running on the appender's time.
func TestStreamingMakesNoGarbage(t *testing.T) {
	l, j, _ := follow(t, filepath.Join(t.TempDir(), "j"), 0, 128<<10, outlog.Options{Policy: outlog.Drop})
	defer j.Close()
	line := []byte(`{"k":"host","cmd":7,"ts":1764820000000,"m":15,"p":[{"t":"123456"}]}`)
	ctx := context.Background()
	// in bursts that the writer catches up with, as a command prints
	stream := func(n int) {
		for range n / 2000 {
			var seq uint64
			for range 2000 {
				seq, _ = l.Append(ctx, line)
			}
			if err := l.WaitKept(ctx, seq); err != nil {
				t.Fatal(err)
			}
		}
	}
	stream(50000) // warm: the pools and the rings fill
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const n = 200000
	stream(n)
	runtime.ReadMemStats(&after)
	allocs := after.Mallocs - before.Mallocs
	t.Logf("%d allocations for %d events, %d bytes", allocs, n, after.TotalAlloc-before.TotalAlloc)
	// without the pools: a segment every 64 events, buffers every batch
	if allocs > n/200 {
		t.Fatalf("%d allocations for %d events; want at most %d", allocs, n, n/200)
	}
	if perEvent := float64(after.TotalAlloc-before.TotalAlloc) / n; perEvent > 8 {
		t.Fatalf("%.1f bytes allocated per event streamed; want at most 8", perEvent)
	}
}
