package e2e

import (
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/psmux/psmux/mux"
)

var ListeningPid = regexp.MustCompile(`listening on .* \(pid (\d+)\)`)

// ServerPids are the pids of the servers that logged "listening", oldest
// first.
func (m *MuxEnv) ServerPids() []int {
	var pids []int
	for _, g := range ListeningPid.FindAllStringSubmatch(m.Log(), -1) {
		if n, err := strconv.Atoi(g[1]); err == nil {
			pids = append(pids, n)
		}
	}
	return pids
}

// Gone reports whether pid has exited (no process, or a zombie).
func Gone(pid int) bool { return mux.ProcessGone(pid) }

// WaitGone waits until pid has exited.
func WaitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !Gone(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("pid %d did not exit within 30 s", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// DumpServers asks every server of m that is still running for its
// goroutines (SIGQUIT; the server's stderr is its log) and returns the
// log with the dumps, for a test that timed out waiting on the server.
func (m *MuxEnv) DumpServers() string {
	for _, pid := range m.ServerPids() {
		if Gone(pid) {
			continue
		}
		_ = syscall.Kill(pid, syscall.SIGQUIT)
		deadline := time.Now().Add(5 * time.Second)
		for !Gone(pid) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
	}
	return m.Log()
}
