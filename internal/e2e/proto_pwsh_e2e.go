package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/psmux/psmux/testenv/faultproxy"
	"github.com/psmux/psmux/testenv/opensshd"
	"golang.org/x/crypto/ssh/knownhosts"
)

// XCounter counts the 'x' bytes written to it without keeping them.
type XCounter struct{ N int }

func (c *XCounter) Write(p []byte) (int, error) {
	c.N += bytes.Count(p, []byte{'x'})
	return len(p), nil
}

// ChildPIDs lists the children of pid (all its threads').
func ChildPIDs(t *testing.T, pid int) []int {
	t.Helper()
	files, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var out []int
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, w := range strings.Fields(string(data)) {
			if n, err := strconv.Atoi(w); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// LocalPwshSession starts a server with one session "a" on a local real
// pwsh, or skips without pwsh.
func LocalPwshSession(t *testing.T) *MuxEnv {
	t.Helper()
	server := RealPwsh(t)
	if server == "" {
		t.Skip("no pwsh (PSMUX_REQUIRE=pwsh makes this a failure)")
	}
	m := NewMuxEnv(t)
	m.Must("new", "-n", "a", "--local", "--pwsh", server)
	return m
}

// StartUntilStarted starts cmd and waits for its first output line,
// "started": the pipeline runs. It returns cmd's stderr.
func StartUntilStarted(t *testing.T, cmd *exec.Cmd) *bytes.Buffer {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "started" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("first line %q, %v; stderr %s", line, err, errb.String())
	}
	return &errb
}

// Proxied puts a fault proxy in front of sshd (closed with the test) and
// returns it with a known_hosts file that trusts sshd's key at its address.
func Proxied(t *testing.T, sshd *opensshd.Sshd) (*faultproxy.Proxy, string) {
	t.Helper()
	proxy, err := faultproxy.New(sshd.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	kh := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(kh, []byte(knownhosts.Line([]string{knownhosts.Normalize(proxy.Addr())}, sshd.HostKey)+"\n"), 0o600)
	return proxy, kh
}
