package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/psmux/psmux/testenv/opensshd"
	"github.com/psmux/psmux/testenv/reap"
)

var build struct {
	once sync.Once
	path string
	err  error
}

// testhostBinary builds this command once per test run.
func testhostBinary(t *testing.T) string {
	t.Helper()
	build.once.Do(func() {
		dir, err := os.MkdirTemp("", "psmux-testhost-")
		if err != nil {
			build.err = err
			return
		}
		build.path = filepath.Join(dir, "testhost")
		out, err := exec.Command("go", "build", "-o", build.path, ".").CombinedOutput()
		if err != nil {
			build.err = errors.New(string(out))
		}
	})
	if build.err != nil {
		t.Fatalf("build testhost: %v", build.err)
	}
	return build.path
}

func TestMain(m *testing.M) {
	reap.Main() // nothing the tests start outlives this binary
	code := m.Run()
	if build.path != "" {
		os.RemoveAll(filepath.Dir(build.path))
	}
	os.Exit(code)
}

// host is a running testhost process.
type host struct {
	cmd    *exec.Cmd
	addr   string
	dir    string
	mu     sync.Mutex // guards out
	out    bytes.Buffer
	copied chan struct{} // closed when stdout reached EOF
	exited bool
}

// startHost runs testhost on a free port with dir and waits for its
// "listening" line. t.Cleanup stops it if the test did not.
func startHost(t *testing.T, dir string, args ...string) *host {
	t.Helper()
	cmd := exec.Command(testhostBinary(t), append([]string{"--listen", "127.0.0.1:0", "--dir", dir}, args...)...)
	cmd.SysProcAttr = reap.Attr() // dies with the test binary
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &host{cmd: cmd, dir: dir, copied: make(chan struct{})}
	lines := bufio.NewReader(stdout)
	first, err := lines.ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("testhost printed %q then %v", first, err)
	}
	addr, ok := strings.CutPrefix(strings.TrimSpace(first), "testhost: listening on ")
	if !ok {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("first line %q, want the listening address", first)
	}
	h.addr = addr
	h.out.WriteString(first)
	go func() {
		defer close(h.copied)
		buf := make([]byte, 4096)
		for {
			n, err := lines.Read(buf)
			h.mu.Lock()
			h.out.Write(buf[:n])
			h.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		if !h.exited {
			h.stop(t)
		}
	})
	return h
}

// stop sends SIGINT and returns the exit code once it has exited.
func (h *host) stop(t *testing.T) int {
	t.Helper()
	if err := h.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	<-h.copied // stdout must be read to EOF before Wait
	err := h.cmd.Wait()
	h.exited = true
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return h.cmd.ProcessState.ExitCode()
}

func (h *host) output() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.out.String()
}

// clientConfig logs in as the current user with the written key, checking
// the written known_hosts.
func (h *host) clientConfig(t *testing.T) *gossh.ClientConfig {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(h.dir, "id_ed25519"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := gossh.ParsePrivateKey(b)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := knownhosts.New(filepath.Join(h.dir, "known_hosts"))
	if err != nil {
		t.Fatal(err)
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	return &gossh.ClientConfig{User: u.Username, Auth: []gossh.AuthMethod{gossh.PublicKeys(key)}, HostKeyCallback: cb}
}

// runPowershell requests the powershell subsystem, sends EOF at once and
// returns what came back and the exit status.
func runPowershell(t *testing.T, c *gossh.Client) (string, int) {
	t.Helper()
	ch, reqs, err := c.OpenChannel("session", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	exit := make(chan int, 1)
	go func() {
		status := -1
		for req := range reqs {
			if req.Type == "exit-status" && len(req.Payload) == 4 {
				status = int(binary.BigEndian.Uint32(req.Payload))
			}
			if req.WantReply {
				req.Reply(false, nil)
			}
		}
		exit <- status
	}()
	ok, err := ch.SendRequest("subsystem", true, gossh.Marshal(struct{ Name string }{"powershell"}))
	if err != nil || !ok {
		t.Fatalf("subsystem powershell: ok=%v err=%v", ok, err)
	}
	if err := ch.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(ch)
	if err != nil {
		t.Fatal(err)
	}
	return string(out), <-exit
}

func TestServesPowershellWithWrittenKeyAndKnownHosts(t *testing.T) {
	h := startHost(t, t.TempDir())
	c, err := gossh.Dial("tcp", h.addr, h.clientConfig(t))
	if err != nil {
		t.Fatalf("dial with the written key and known_hosts: %v", err)
	}
	defer c.Close()
	out, status := runPowershell(t, c)
	if !strings.HasPrefix(out, "__NamedPipeError__:") || status != 4000&0xff {
		t.Fatalf("powershell subsystem: output %q, exit status %d", out, status)
	}
	c.Close()
	if code := h.stop(t); code != 0 {
		t.Fatalf("exit code after SIGINT: %d", code)
	}
	for _, want := range []string{"Host psmux-test", "psmux invoke -F ", "ssh -F ", "stopped"} {
		if !strings.Contains(h.output(), want) {
			t.Errorf("output lacks %q:\n%s", want, h.output())
		}
	}
}

func TestWritesFilesAndReusesThem(t *testing.T) {
	dir := t.TempDir()
	h1 := startHost(t, dir)
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	hostKey, clientKey := read("host_key"), read("id_ed25519")
	for _, name := range []string{"host_key", "id_ed25519"} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v, mode %v; want 0600", name, err, fi.Mode())
		}
	}
	_, port1, _ := strings.Cut(h1.addr, ":")
	cfg := read("ssh_config")
	for _, want := range []string{
		"Host psmux-test\n", "HostName 127.0.0.1\n", "Port " + port1 + "\n", "IdentitiesOnly yes\n",
		"IdentityFile " + filepath.Join(dir, "id_ed25519") + "\n",
		"UserKnownHostsFile " + filepath.Join(dir, "known_hosts") + "\n", "StrictHostKeyChecking yes\n",
	} {
		if !strings.Contains(cfg, want) {
			t.Errorf("ssh_config lacks %q:\n%s", want, cfg)
		}
	}
	if kh := read("known_hosts"); !strings.HasPrefix(kh, "[127.0.0.1]:"+port1+" ssh-ed25519 ") {
		t.Errorf("known_hosts %q", kh)
	}
	h1.stop(t)

	h2 := startHost(t, dir)
	_, port2, _ := strings.Cut(h2.addr, ":")
	if read("host_key") != hostKey || read("id_ed25519") != clientKey {
		t.Fatal("keys were regenerated on the second run")
	}
	if kh := read("known_hosts"); !strings.HasPrefix(kh, "[127.0.0.1]:"+port2+" ") {
		t.Fatalf("known_hosts not rewritten for port %s: %q", port2, kh)
	}
	c, err := gossh.Dial("tcp", h2.addr, h2.clientConfig(t))
	if err != nil {
		t.Fatalf("dial the second run: %v", err)
	}
	c.Close()
}

func TestAnyUserWithPassword(t *testing.T) {
	h := startHost(t, t.TempDir())
	cfg := h.clientConfig(t)
	cfg.User = "someone-else"
	cfg.Auth = []gossh.AuthMethod{gossh.Password(Password)}
	c, err := gossh.Dial("tcp", h.addr, cfg)
	if err != nil {
		t.Fatalf("password %q for any user: %v", Password, err)
	}
	c.Close()
	cfg.Auth = []gossh.AuthMethod{gossh.Password("wrong")}
	if c, err := gossh.Dial("tcp", h.addr, cfg); err == nil {
		c.Close()
		t.Fatal("a wrong password was accepted")
	}
}

func TestPwshFlagRunsCommand(t *testing.T) {
	// Any program speaking on stdio will do; echo proves it was run per
	// channel with the split argument list.
	h := startHost(t, t.TempDir(), "--pwsh", "sh -c 'echo from the --pwsh command'")
	c, err := gossh.Dial("tcp", h.addr, h.clientConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	out, status := runPowershell(t, c)
	if out != "from the --pwsh command\n" || status != 0 {
		t.Fatalf("output %q, exit status %d", out, status)
	}
}

func TestOpenSSHClientConnectsWithoutQuestions(t *testing.T) {
	ssh := opensshd.RequireClient(t)
	h := startHost(t, t.TempDir())
	// BatchMode turns any question (unknown host key, password) into exit
	// status 255 instead of a prompt.
	cmd := exec.Command(ssh, "-F", filepath.Join(h.dir, "ssh_config"), "-o", "BatchMode=yes", "-s", Alias, "powershell")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.Output()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	if code := cmd.ProcessState.ExitCode(); code == 255 {
		t.Fatalf("ssh failed (255): %s", stderr.String())
	}
	if !strings.HasPrefix(string(out), "__NamedPipeError__:") {
		t.Errorf("stdout %q", out)
	}
}
