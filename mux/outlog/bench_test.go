package outlog

import (
	"context"
	"testing"
)

// The caller's data is allocated once: the log keeps a reference and
// never writes to it, so reusing one immutable slice measures the log
// alone.

// BenchmarkAppend appends 100-byte events.
//
//   - Drop1MiB: a full 1 MiB log in steady state, every Append evicts.
//   - BlockAcked: a 1 MiB Block log whose reader acknowledges each
//     event, so every Append evicts an acknowledged one.
//   - Default: the 64 MiB default budget from empty (segments are
//     being allocated until it fills, then Block needs acks; the log
//     acknowledges every 1024 events).
func BenchmarkAppend(b *testing.B) {
	data := make([]byte, 100)
	ctx := context.Background()
	b.Run("Drop1MiB", func(b *testing.B) {
		l := New(Options{Budget: 1 << 20, Policy: Drop})
		for range 2 * (1 << 20) / (100 + EventOverhead) {
			l.Append(ctx, data)
		}
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := l.Append(ctx, data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("BlockAcked", func(b *testing.B) {
		l := New(Options{Budget: 1 << 20, Policy: Block})
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			seq, err := l.Append(ctx, data)
			if err != nil {
				b.Fatal(err)
			}
			l.Ack(seq)
		}
	})
	b.Run("Default", func(b *testing.B) {
		l := New(Options{})
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			seq, err := l.Append(ctx, data)
			if err != nil {
				b.Fatal(err)
			}
			if seq%1024 == 0 {
				l.Ack(seq)
			}
		}
	})
}

// BenchmarkAppendWithFollower appends while a reader follows live with
// Wait and Read and acknowledges, as an attached client does, on a
// 1 MiB Block log. Allocations here are the wake-up channels, one per
// time the follower caught up and had to wait.
func BenchmarkAppendWithFollower(b *testing.B) {
	data := make([]byte, 100)
	ctx := context.Background()
	l := New(Options{Budget: 1 << 20, Policy: Block})
	done := make(chan struct{})
	go func() {
		defer close(done)
		dst := make([]Event, 0, 256)
		next := uint64(1)
		for {
			if err := l.Wait(ctx, next); err != nil {
				return
			}
			evs, nx, _ := l.Read(next, cap(dst), dst)
			l.Ack(nx - 1)
			next, dst = nx, evs
		}
	}()
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := l.Append(ctx, data); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	l.Close()
	<-done
}

// BenchmarkRead reads a 100 000-event log (100-byte events) into a
// reused dst. One op is one Read of 256 events; ns/event is reported
// too. Replay100k is one op per full replay of the log in 256-event
// batches (bench-reliability R7's "replay time for a 1e5-line
// buffer", log side only).
func BenchmarkRead(b *testing.B) {
	const n = 100_000
	data := make([]byte, 100)
	l := New(Options{})
	for range n {
		l.Append(context.Background(), data)
	}
	dst := make([]Event, 0, 256)
	b.Run("Batch256", func(b *testing.B) {
		b.ReportAllocs()
		from := uint64(1)
		for b.Loop() {
			evs, next, _ := l.Read(from, cap(dst), dst)
			if len(evs) != cap(dst) {
				next = 1
			}
			from, dst = next, evs
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*cap(dst)), "ns/event")
	})
	b.Run("Replay100k", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			got := 0
			for from := uint64(1); ; {
				evs, next, _ := l.Read(from, cap(dst), dst)
				if len(evs) == 0 {
					break
				}
				got += len(evs)
				from, dst = next, evs
			}
			if got != n {
				b.Fatalf("replayed %d events", got)
			}
		}
	})
}
