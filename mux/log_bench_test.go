package mux

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// BenchmarkSessionLog streams 1e6 small lines (`1..1000000` as text)
// through a live server session, its log in memory only (a server
// without a state file) and followed by its journal on disk (with one),
// rounds of each in turn, and reports the median time per event of
// each and their ratio (issue 14: at most 1.2). The session runs on an
// in-memory pwshsim, no process or socket, so that the log's share of
// the session's work per line is as large as a server can make it;
// mux/journal's BenchmarkAppend measures the log alone in a tight loop.
func BenchmarkSessionLog(b *testing.B) {
	const lines = 1000000
	perEvent := func(stateDir string) (time.Duration, uint64) {
		cfg := Config{Version: "bench"}
		if stateDir != "" {
			cfg.StateFile = filepath.Join(stateDir, "state.json")
		}
		srv, err := NewServer(cfg)
		if err != nil {
			b.Fatal(err)
		}
		srv.opener = memOpener{}
		defer func() {
			if err := srv.Shutdown(context.Background()); err != nil {
				b.Error(err)
			}
		}()
		ctx := b.Context()
		x, err := srv.create(ctx, NewArgs{Name: "s", Pwsh: []string{"pwsh"}, Policy: "Drop", IdleTimeout: -1})
		if err != nil {
			b.Fatal(err)
		}
		if x.jr == nil && stateDir != "" {
			b.Fatal("the session's log is not on disk")
		}
		first := x.log.Stats().Last
		start := time.Now()
		j, err := x.start(ctx, nil, ExecArgs{Script: fmt.Sprintf("1..%d", lines), Async: true})
		if err != nil {
			b.Fatal(err)
		}
		<-j.done
		last := x.log.Stats().Last
		if stateDir != "" { // and on disk: what a client is shown waits for that
			if err := x.log.WaitKept(ctx, last); err != nil {
				b.Fatal(err)
			}
		}
		took := time.Since(start)
		n := last - first
		if n < lines {
			b.Fatalf("%d events for %d lines", n, lines)
		}
		return took / time.Duration(n), n
	}
	var memT, diskT []time.Duration
	var events uint64
	for b.Loop() {
		for r := range 3 {
			m, _ := perEvent("")
			d, n := perEvent(filepath.Join(b.TempDir(), fmt.Sprint(r)))
			memT, diskT, events = append(memT, m), append(diskT, d), n
		}
	}
	med := func(ds []time.Duration) time.Duration { slices.Sort(ds); return ds[len(ds)/2] }
	mem, disk := med(memT), med(diskT)
	b.ReportMetric(float64(events), "events")
	b.ReportMetric(float64(mem.Nanoseconds()), "ns/event-memory")
	b.ReportMetric(float64(disk.Nanoseconds()), "ns/event-on-disk")
	b.ReportMetric(float64(disk)/float64(max(mem, 1)), "on-disk/memory")
}
