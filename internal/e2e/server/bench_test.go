package server_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/psmux/psmux/internal/e2e"
	"github.com/psmux/psmux/mux"
	"github.com/psmux/psmux/testenv/opensshd"
)

// BenchmarkIdleSessionMemory opens idleSessions SSH sessions (Debian's
// sshd on loopback, pwshsim behind `Subsystem powershell`) in an
// in-process mux.Server, through its client protocol, and reports the
// Go heap and goroutine stacks each idle session costs after a GC: the
// figure over a server with no session, divided by the sessions (issue
// 15: at most 64 KiB). Run it with -benchtime 1x: one round opens them
// all.
func BenchmarkIdleSessionMemory(b *testing.B) {
	const idleSessions = 200
	pwshsim := opensshd.BuildPwshsim(b)
	sshd := opensshd.Start(b, opensshd.Options{Subsystems: map[string]string{
		"powershell": pwshsim + " -sshs -NoLogo -NoProfile",
	}, Extra: []string{fmt.Sprintf("MaxSessions %d", idleSessions+10)}})
	inUse := func() (heap, stacks int64, goroutines int) {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return int64(ms.HeapInuse), int64(ms.StackInuse), runtime.NumGoroutine()
	}
	for b.Loop() {
		srv, err := mux.NewServer(mux.Config{Version: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		a, c := net.Pipe()
		served := make(chan struct{})
		go func() { defer close(served); srv.ServeConn(a) }()
		cl, err := mux.NewClient(c, "bench", false)
		if err != nil {
			b.Fatal(err)
		}
		heap0, stacks0, g0 := inUse()
		for i := range idleSessions {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			_, err := cl.Call(ctx, "new", mux.NewArgs{Name: fmt.Sprintf("idle%03d", i), Dest: sshd.Alias, SSH: []string{"-F", sshd.SSHConfig}}, nil)
			cancel()
			if err != nil {
				b.Fatalf("new session %d: %v", i, err)
			}
		}
		heap, stacks, g := inUse()
		perSession := func(n, n0 int64) float64 { return float64(n-n0) / idleSessions / 1024 }
		b.ReportMetric(perSession(heap+stacks, heap0+stacks0), "KiB/session")
		b.ReportMetric(perSession(heap, heap0), "heap-KiB/session")
		b.ReportMetric(perSession(stacks, stacks0), "stack-KiB/session")
		b.ReportMetric(float64(g-g0)/idleSessions, "goroutines/session")
		cl.Close()
		if err := srv.Shutdown(context.Background()); err != nil {
			b.Fatal(err)
		}
		<-served
	}
}

// BenchmarkCapture prints a session's log of 100 000 lines (`1..100000`
// run in a pwshsim session of a live server) with `psmux capture`,
// through a pipe, and reports the seconds one capture takes, the
// client's start included (issue 15: at most 0.3 s).
func BenchmarkCapture(b *testing.B) {
	const lines = 100000
	m := e2e.NewMuxEnv(b)
	m.Must("new", "-n", "h", "--local", "--pwsh", e2e.PwshsimBin()+" -s")
	m.Must("exec", "-t", "h", "--", fmt.Sprintf("1..%d", lines))
	for b.Loop() {
		var out lineCounter
		cmd := m.Cmd("capture", "-t", "h")
		cmd.Stdout = &out
		if err := cmd.Run(); err != nil {
			b.Fatal(err)
		}
		if out.n < lines {
			b.Fatalf("capture printed %d lines; want the %d the command printed", out.n, lines)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/capture")
}

// lineCounter counts the lines written to it.
type lineCounter struct{ n int }

func (c *lineCounter) Write(p []byte) (int, error) {
	c.n += bytes.Count(p, []byte{'\n'})
	return len(p), nil
}
