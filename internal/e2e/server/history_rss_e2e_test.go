package server_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/psmux/psmux/internal/e2e"
	"github.com/psmux/psmux/mux/journal"
)

// 50 idle sessions each holding 10 MB of history (issue 14): the logs
// keep it on disk and only a tail in memory, so the server's RSS stays
// under 64 MiB, and the history is all there to read.
func TestFiftyIdleSessionsHoldTheirHistoryOnDisk(t *testing.T) {
	const (
		sessions = 50
		lines    = 10000 // of 1000 bytes: 10 MB a session
		limit    = 64 << 20
	)
	m := e2e.NewMuxEnv(t)
	var news, runs [][]string
	for i := range sessions {
		name := fmt.Sprintf("s%02d", i)
		news = append(news, []string{"new", "-n", name, "--local", "--pwsh", e2e.PwshsimBin() + " -s"})
		runs = append(runs, []string{"exec", "--async", "-t", name, "--", fmt.Sprintf("1..%d | %% { 'x' * 1000 }", lines)})
	}
	m.MustAll(news)
	pid := m.ServerPID()
	start := time.Now()
	m.MustAll(runs)
	// a command after each job waits for it: every session is idle after
	m.Must("exec", "--throttle", fmt.Sprint(sessions), "-t", "s*", "--", "'idle'")
	t.Logf("%d sessions × %d MB of output in %s; server peak RSS %d MiB", sessions, lines*1000/1000000,
		time.Since(start).Round(time.Second), e2e.VmHWM(t, pid)>>20)
	for _, r := range m.Ls() {
		if r.LastSeq < lines {
			t.Fatalf("session %s is at event %d; want its %d lines", r.Name, r.LastSeq, lines)
		}
	}
	// The Go runtime hands freed memory back to the system over some
	// seconds: RSS is read until it is under the limit, for a minute.
	var rss int64
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(500 * time.Millisecond) { // polling the kernel's figure
		if rss = e2e.VmRSS(t, pid); rss < limit || time.Now().After(deadline) {
			break
		}
	}
	t.Logf("idle server RSS %d MiB", rss>>20)
	if rss >= limit {
		t.Fatalf("50 idle sessions with 10 MB of history each: server RSS %d MiB, want under %d MiB", rss>>20, limit>>20)
	}
	// the history is still all there, read back from disk
	out := m.Must("capture", "-t", "s07").Stdout
	if n := strings.Count(out, strings.Repeat("x", 1000)+"\n"); n != lines {
		t.Fatalf("capture -t s07: %d of the %d lines", n, lines)
	}
}

// The server's --max-disk bounds every session's log on disk together:
// past it the oldest segment files go, whichever session's they are
// (each log's newest segment stays), and a capture says how many
// events were dropped before it shows the newest.
func TestMaxDiskBoundsTheLogsOnDisk(t *testing.T) {
	const (
		limit = 20 << 20
		lines = 40000 // of 1000 bytes: 40 MB a session, 80 MB in all
	)
	m := e2e.NewMuxEnv(t)
	m.Serve("--max-disk", fmt.Sprint(limit))
	for _, name := range []string{"a", "b"} {
		m.Must("new", "-n", name, "--local", "--pwsh", e2e.PwshsimBin()+" -s")
		m.Must("exec", "--async", "-t", name, "--", fmt.Sprintf("1..%d | %% { \"$_ \" + ('x' * 1000) }", lines))
		m.Must("exec", "-t", name, "--", "'idle'") // waits for the job
	}
	var total int64
	segs, _ := filepath.Glob(filepath.Join(m.State, "psmux", "*", "logs", "*", "*.seg"))
	for _, s := range segs {
		if st, err := os.Stat(s); err == nil {
			total += st.Size()
		}
	}
	if total > limit+2*journal.SegmentSize {
		t.Fatalf("%d MiB of logs on disk; --max-disk is %d MiB (each log's newest segment aside)", total>>20, limit>>20)
	}
	c := m.Must("capture", "-t", "a")
	if !strings.Contains(c.Stderr, "events were dropped") || !strings.Contains(c.Stdout, fmt.Sprintf("%d %s\n", lines, strings.Repeat("x", 1000))) {
		t.Fatalf("capture -t a: stderr %q, %d bytes out; want the drop line and the newest lines", c.Stderr, len(c.Stdout))
	}
}
