package failures_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/psmux/psmux/internal/e2e"
)

// What a command printed survives the server (issue 14): a client is
// attached while a command streams 100 000 lines, the server is killed
// with SIGKILL at a random point, started again, and capture shows every
// line the client had been shown, in order, once, then the restart
// line; 20 rounds, no record misread.
func TestKilledServerKeepsWhatClientsSaw(t *testing.T) {
	m := e2e.NewMuxEnv(t)
	m.Must("new", "-n", "s", "--local", "--pwsh", e2e.PwshsimBin()+" -s")
	t.Cleanup(func() { m.Run("kill-server") })
	const total, rounds = 100000, 20
	const restarted = "Restored after the server restarted"
	for round := range rounds {
		marker := fmt.Sprintf("round %d", round)
		from := strconv.FormatUint(m.Ls()[0].LastSeq+1, 10) // this round's part of the log
		m.Must("exec", "-t", "s", "--", "'"+marker+"'")
		since := m.Ls()[0].LastSeq + 1
		m.Must("exec", "--async", "-t", "s", "--", fmt.Sprintf("1..%d", total))
		a := m.Attach("-t", "s", "--since", strconv.FormatUint(since, 10))
		killAt := 1 + rand.IntN(total)
		shown := 0
		check := func(l string) {
			if n, err := strconv.Atoi(l); err == nil {
				if n != shown+1 {
					t.Fatalf("round %d: the client showed %d after %d", round, n, shown)
				}
				shown = n
			}
		}
		a.Until(t, fmt.Sprintf("line %d", killAt), func(l string) bool { check(l); return shown >= killAt || shown == total })
		pid := m.ServerPID()
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		for a.Out.Scan() { // what the client printed before the server died
			check(a.Out.Text())
		}
		a.Wait()
		e2e.WaitGone(t, pid)
		m.Must("start-server")
		c := m.Must("capture", "-t", "s", "--since", from)
		i := strings.LastIndex(c.Stdout, marker+"\n")
		if i < 0 {
			t.Fatalf("round %d: capture after the restart has no %q:\n%s", round, marker, tail(c.Stdout))
		}
		got := 0
		for _, l := range strings.Split(c.Stdout[i+len(marker)+1:], "\n") {
			if n, err := strconv.Atoi(l); err == nil {
				if n != got+1 {
					t.Fatalf("round %d (killed after line %d): capture shows %d after %d", round, killAt, n, got)
				}
				got = n
			}
		}
		if got < shown {
			t.Fatalf("round %d: the client was shown %d lines, capture after the restart has %d", round, shown, got)
		}
		if n := strings.Count(c.Stderr, restarted); n != 1 {
			t.Fatalf("round %d: %d restart lines in this round's capture; want 1:\n%s", round, n, c.Stderr)
		}
		t.Logf("round %d: killed after the client showed %d (asked %d); capture has %d", round, shown, killAt, got)
	}
}

func tail(s string) string {
	if len(s) > 2000 {
		return "…" + s[len(s)-2000:]
	}
	return s
}

// A log on disk whose last segment was torn or damaged (a crash in the
// middle of a write, a bad disk) is cut where it stops making sense: the
// server starts, says so in its log and in the session's, and serves
// every record before the cut; nothing after it is misread.
func TestDamagedLogOnDiskIsCut(t *testing.T) {
	for round := range 6 {
		m := e2e.NewMuxEnv(t)
		m.Must("new", "-n", "d", "--local", "--pwsh", e2e.PwshsimBin()+" -s")
		m.Must("exec", "-t", "d", "--", "1..3000")
		m.Must("kill-server")
		segs, _ := filepath.Glob(filepath.Join(m.State, "psmux", "*", "logs", "*", "*.seg"))
		if len(segs) == 0 {
			t.Fatalf("no segment files under %s", m.State)
		}
		last := segs[len(segs)-1]
		data, err := os.ReadFile(last)
		if err != nil {
			t.Fatal(err)
		}
		off, size := rand.IntN(len(data)), len(data)
		if round%2 == 0 {
			data = data[:off] // torn
		} else {
			data[off] ^= 0x5a // damaged
		}
		if err := os.WriteFile(last, data, 0o600); err != nil {
			t.Fatal(err)
		}
		m.Must("start-server")
		c := m.Must("capture", "-t", "d")
		got := 0
		for _, l := range strings.Split(c.Stdout, "\n") {
			if n, err := strconv.Atoi(l); err == nil {
				if n != got+1 {
					t.Fatalf("round %d (byte %d of %d): capture shows %d after %d", round, off, size, n, got)
				}
				got = n
			}
		}
		cutSaid := strings.Contains(c.Stderr, "cut: ")
		if round%2 == 1 && (!cutSaid || !strings.Contains(m.Log(), "its log on disk was cut")) {
			t.Fatalf("round %d: a damaged byte at %d and no cut reported:\n%s\n%s", round, off, c.Stderr, m.Log())
		}
		t.Logf("round %d: byte %d of %d %s; %d lines served, cut reported %v", round, off, size, map[bool]string{true: "torn", false: "damaged"}[round%2 == 0], got, cutSaid)
		m.Must("kill-server")
	}
}
