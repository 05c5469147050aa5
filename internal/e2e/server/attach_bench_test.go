package server_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/psmux/psmux/internal/e2e"
	"github.com/psmux/psmux/testenv/ptyterm"
)

// attachLines is how many lines no client has seen when BenchmarkAttach
// attaches.
const attachLines = 100000

// BenchmarkAttach attaches, in a 100 × 30 terminal, to a session holding
// 100 000 lines no client has seen (`psmux attach -t S`, the REPL), until
// the last line is drawn, beside tmux's attach to a pane whose history
// holds 100 000 lines (`seq 100000; cat`), and reports their ratio
// (issue 15: at most 2).
func BenchmarkAttach(b *testing.B) {
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		b.Skip("no tmux")
	}
	m := e2e.NewMuxEnv(b)
	m.Must("new", "-n", "big", "--local", "--pwsh", e2e.PwshsimBin()+" -s")
	dir := b.TempDir()
	conf := filepath.Join(dir, "tmux.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, "set -g history-limit %d\n", attachLines), 0o600); err != nil {
		b.Fatal(err)
	}
	tsock := filepath.Join(dir, "tmux")
	b.Cleanup(func() { e2e.Command(tmux, "-S", tsock, "kill-server").Run() })
	if out, err := e2e.Command(tmux, "-S", tsock, "-f", conf, "new-session", "-d", "-s", "hist", "-x", "100", "-y", "30",
		fmt.Sprintf("seq %d; cat", attachLines)).CombinedOutput(); err != nil {
		b.Fatalf("tmux: %v %s", err, out)
	}
	env := append(os.Environ(), m.Env...)
	env = append(env, "TMUX=", "TERM=xterm-256color")
	last := []byte(fmt.Sprint(attachLines))
	attach := func(argv []string) time.Duration {
		d, err := ptyterm.Until(argv, env, 100, 30, last, time.Minute)
		if err != nil {
			b.Fatal(err)
		}
		return d
	}
	var psmux, tm []time.Duration
	for i := 0; b.Loop() || i == 0; i++ {
		b.StopTimer()
		unseen(b, m) // what the last attach saw is seen now
		b.StartTimer()
		d := attach([]string{e2e.PsmuxBin(), "-S", m.Sock, "attach", "-t", "big"})
		t := attach([]string{tmux, "-S", tsock, "attach", "-t", "hist"})
		if i > 0 { // the first of each warms up
			psmux, tm = append(psmux, d), append(tm, t)
		}
	}
	pm, tmm := medianMs(psmux), medianMs(tm)
	b.ReportMetric(pm, "ms/attach")
	b.ReportMetric(tmm, "tmux-ms/attach")
	b.ReportMetric(pm/tmm, "psmux/tmux")
}

// unseen runs a command printing attachLines lines in the session big,
// with no client attached, and waits for its end.
func unseen(b *testing.B, m *e2e.MuxEnv) {
	m.Must("exec", "--async", "-t", "big", "--", fmt.Sprintf("1..%d", attachLines))
	deadline := time.Now().Add(time.Minute)
	for {
		var jobs []struct{ State string }
		if err := json.Unmarshal([]byte(m.Must("jobs", "-t", "big", "--json").Stdout), &jobs); err != nil {
			b.Fatal(err)
		}
		if n := len(jobs); n > 0 && !strings.EqualFold(jobs[n-1].State, "Running") {
			return
		}
		if time.Now().After(deadline) {
			b.Fatal("the command printing the lines did not end within a minute")
		}
		time.Sleep(20 * time.Millisecond) // a benchmark's setup: polls the server for the job's end
	}
}
