package cli_test

import (
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/psmux/psmux/internal/e2e"
)

// 50 sessions × 200 commands through a server whose budget is 128 MiB
// (issue 12): every command's output goes through the server's logs,
// some 200 MB in all, and the server's peak RSS stays under the budget
// plus 64 MiB.
func TestFiftySessionsWithinTheServerBudget(t *testing.T) {
	const (
		sessions = 50
		commands = 200
		budget   = 128 << 20
	)
	m := e2e.NewMuxEnv(t)
	log := m.Serve("--max-memory", strconv.Itoa(budget))
	var pid int
	for deadline := time.Now().Add(time.Minute); pid == 0; time.Sleep(20 * time.Millisecond) { // the log line is written once it listens
		if g := regexp.MustCompile(`listening on .* \(pid (\d+)\)`).FindStringSubmatch(log.All.String()); g != nil {
			pid, _ = strconv.Atoi(g[1])
		} else if time.Now().After(deadline) {
			t.Fatalf("no pid in the server's log:\n%s", log.All.String())
		}
	}
	var news [][]string
	for i := range sessions {
		news = append(news, []string{"new", "-n", fmt.Sprintf("s%02d", i), "--local", "--pwsh", e2e.PwshsimBin() + " -s"})
	}
	m.MustAll(news)
	// 200 lines of 100 bytes a command: 20 KB, 200 MB over the run
	script := "1..200 | % { 'x' * 100 }"
	start := time.Now()
	for c := range commands {
		r := m.Run("exec", "--throttle", strconv.Itoa(sessions), "-t", "s*", "--", script)
		if r.Code != 0 || len(r.Stdout) < sessions*200*100 {
			t.Fatalf("command %d: exit %d, %d bytes out; stderr %s", c, r.Code, len(r.Stdout), r.Stderr)
		}
	}
	hwm := e2e.VmHWM(t, pid)
	t.Logf("%d sessions × %d commands in %s; server peak RSS %d MiB (budget %d MiB)", sessions, commands,
		time.Since(start).Round(time.Second), hwm>>20, budget>>20)
	if hwm > budget+64<<20 {
		t.Fatalf("server peak RSS %d MiB: more than the budget (%d MiB) + 64 MiB", hwm>>20, budget>>20)
	}
}
