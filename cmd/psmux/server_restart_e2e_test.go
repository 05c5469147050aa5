package main

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

var listeningPid = regexp.MustCompile(`listening on .* \(pid (\d+)\)`)

// serverPids are the pids of the servers that logged "listening", oldest
// first.
func (m *muxEnv) serverPids() []int {
	var pids []int
	for _, g := range listeningPid.FindAllStringSubmatch(m.log(), -1) {
		if n, err := strconv.Atoi(g[1]); err == nil {
			pids = append(pids, n)
		}
	}
	return pids
}

// gone reports whether pid has exited (no process, or a zombie).
func gone(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return syscall.Kill(pid, 0) != nil
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || strings.HasPrefix(s[i+1:], " Z")
}

// waitGone waits until pid has exited.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !gone(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("server pid %d did not exit", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// dumpServers asks every server of m that is still running for its
// goroutines (SIGQUIT; the server's stderr is its log) and returns the
// log with the dumps, for a test that timed out waiting on the server.
func (m *muxEnv) dumpServers() string {
	for _, pid := range m.serverPids() {
		if gone(pid) {
			continue
		}
		_ = syscall.Kill(pid, syscall.SIGQUIT)
		deadline := time.Now().Add(5 * time.Second)
		for !gone(pid) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
	}
	return m.log()
}

// A server that stops listening as its shutdown begins lets a client start
// the next server on the same socket; when the old one exits it must leave
// the new server's socket alone, or the new server runs on where no client
// reaches it and the next client starts a second server beside it.
func TestStoppingServerLeavesNewerServersSocket(t *testing.T) {
	m := newMuxEnv(t)
	m.must("ls") // starts the first server on demand
	// The first server's shutdown window, made to last: its socket file is
	// gone while it still runs, so the next client starts a second server.
	if err := os.Remove(m.sock); err != nil {
		t.Fatal(err)
	}
	m.must("ls")
	pids := m.serverPids()
	if len(pids) != 2 {
		t.Fatalf("want two servers started, the log says %v:\n%s", pids, m.log())
	}
	t.Cleanup(func() { // whatever the outcome, no server is left behind
		for _, pid := range pids {
			if !gone(pid) {
				syscall.Kill(pid, syscall.SIGTERM)
			}
		}
	})
	if err := syscall.Kill(pids[0], syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitGone(t, pids[0])
	if gone(pids[1]) {
		t.Fatalf("the second server exited with the first:\n%s", m.log())
	}
	// kill-server does not start a server: it must reach the second one.
	if r := m.run("kill-server"); r.code != exitOK {
		t.Fatalf("after the first server exited, the second is unreachable: kill-server = %d %s\n%s", r.code, r.stderr, m.log())
	}
	waitGone(t, pids[1])
}
