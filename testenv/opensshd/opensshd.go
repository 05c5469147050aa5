package opensshd

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"github.com/psmux/psmux/testenv/reap"
	req "github.com/psmux/psmux/testenv/require"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

const readyTimeout = 30 * time.Second

// drainTimeout bounds reading the log after sshd was killed, while
// connection processes that still hold the pipe finish.
const drainTimeout = 2 * time.Second

// bindAttempts is how many ports Start tries when another process takes
// the chosen port between picking and binding it.
const bindAttempts = 5

// Require returns the absolute path of sshd: "sshd" in PATH, else
// /usr/sbin/sshd (Debian keeps it out of non-root PATHs). When it is
// absent the test is skipped, or failed if PSMUX_REQUIRE lists openssh.
func Require(t testing.TB) string {
	t.Helper()
	return require(t, "sshd", "/usr/sbin/sshd", "sshd not installed: apt-get install openssh-server")
}

// RequireClient returns the absolute path of the OpenSSH client ssh,
// skipping (or failing, under PSMUX_REQUIRE=openssh) like Require.
func RequireClient(t testing.TB) string {
	t.Helper()
	return require(t, "ssh", "/usr/bin/ssh", "ssh not installed: apt-get install openssh-client")
}

func require(t testing.TB, name, fallback, msg string) string {
	t.Helper()
	return req.Tool(t, req.OpenSSH, name, msg, fallback)
}

// Options configure Start.
type Options struct {
	// Subsystems maps a subsystem name to its command line, e.g.
	// "powershell": "/tmp/x/pwshsim -sshs -NoLogo -NoProfile".
	Subsystems map[string]string
	// Extra are additional sshd_config lines, e.g. "RekeyLimit 16K 5s".
	// They come before the harness's own lines, and since sshd keeps the
	// first value it reads for a keyword, they override its defaults.
	Extra []string
	// Alias is the Host alias in the written ssh_config (default
	// "psmux-test").
	Alias string
}

// Sshd is a running sshd. Its fields are read-only.
type Sshd struct {
	Dir        string // temporary directory holding every file below
	Addr       string // 127.0.0.1:PORT
	Port       int
	User       string // the current user; the harness logs in as itself
	ClientKey  string // passphrase-less ed25519 private key authorized for User
	KnownHosts string // known_hosts with the host key as [127.0.0.1]:PORT
	SSHConfig  string // ssh_config with a "Host <Alias>" block for this server
	Alias      string // the Host alias in SSHConfig
	HostKey    gossh.PublicKey

	signer gossh.Signer
	bin    string
	config string

	mu   sync.Mutex // guards proc, which Restart replaces
	proc *process
}

// Start runs sshd on a free loopback port and returns once it listens.
// t.Cleanup kills and reaps it. If sshd cannot start, the test fails with
// sshd's own log.
func Start(t testing.TB, opts Options) *Sshd {
	t.Helper()
	bin := Require(t)
	if opts.Alias == "" {
		opts.Alias = "psmux-test"
	}
	u, err := user.Current()
	if err != nil {
		t.Fatalf("opensshd: current user: %v", err)
	}
	s := &Sshd{Dir: t.TempDir(), User: u.Username, Alias: opts.Alias}
	hostSigner, err := writeKey(filepath.Join(s.Dir, "ssh_host_ed25519_key"))
	if err != nil {
		t.Fatal(err)
	}
	s.HostKey = hostSigner.PublicKey()
	s.ClientKey = filepath.Join(s.Dir, "id_ed25519")
	if s.signer, err = writeKey(s.ClientKey); err != nil {
		t.Fatal(err)
	}
	authorized := filepath.Join(s.Dir, "authorized_keys")
	if err := os.WriteFile(authorized, gossh.MarshalAuthorizedKey(s.signer.PublicKey()), 0o600); err != nil {
		t.Fatalf("opensshd: %v", err)
	}
	config := filepath.Join(s.Dir, "sshd_config")

	var log string
	madePrivsep := false
	for attempt := 0; attempt < bindAttempts; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(config, []byte(sshdConfig(s.Dir, port, authorized, opts)), 0o600); err != nil {
			t.Fatalf("opensshd: %v", err)
		}
		p, err := launch(bin, config)
		if err != nil {
			t.Fatal(err)
		}
		res := p.waitReady(readyTimeout)
		if res == nil {
			s.proc, s.bin, s.config = p, bin, config
			s.Port = port
			s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
			break
		}
		p.stop()
		log = p.log()
		if dir := missingPrivsepDir(log); dir != "" && !madePrivsep && os.Geteuid() == 0 {
			// Only the openssh-server service creates this; sshd needs it
			// when it runs as root. It does not count as a bind attempt.
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatalf("opensshd: create sshd's privilege separation directory: %v", err)
			}
			madePrivsep = true
			attempt--
			continue
		}
		if !bindFailed(log) {
			t.Fatalf("opensshd: %v\n%s", res, log)
		}
	}
	if s.proc == nil {
		t.Fatalf("opensshd: no free port after %d attempts; last log:\n%s", bindAttempts, log)
	}
	t.Cleanup(func() {
		p := s.process()
		p.stop()
		if t.Failed() {
			t.Logf("sshd log:\n%s", p.log())
		}
	})

	s.KnownHosts = filepath.Join(s.Dir, "known_hosts")
	line := knownhosts.Line([]string{knownhosts.Normalize(s.Addr)}, s.HostKey) + "\n"
	if err := os.WriteFile(s.KnownHosts, []byte(line), 0o600); err != nil {
		t.Fatalf("opensshd: %v", err)
	}
	s.SSHConfig = filepath.Join(s.Dir, "ssh_config")
	if err := os.WriteFile(s.SSHConfig, []byte(s.clientConfig()), 0o600); err != nil {
		t.Fatalf("opensshd: %v", err)
	}
	return s
}

// Log returns what sshd has logged so far (LogLevel VERBOSE), including
// the lines of its per-connection processes.
func (s *Sshd) Log() string { return s.process().log() }

func (s *Sshd) process() *process {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc
}

// Kill kills sshd and every connection it serves (the per-connection
// processes leave its process group), as a host that goes down does.
func (s *Sshd) Kill() {
	p := s.process()
	var conns []int
	if p.cmd.Process != nil {
		conns = reap.Descendants(p.cmd.Process.Pid)
	}
	p.stop()
	for _, pid := range conns {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// Restart starts sshd again after Kill, on the same port with the same
// keys, and returns once it listens.
func (s *Sshd) Restart(t testing.TB) {
	t.Helper()
	s.Kill()
	p, err := launch(s.bin, s.config)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.waitReady(readyTimeout); err != nil {
		p.stop()
		t.Fatalf("opensshd: restart on port %d: %v\n%s", s.Port, err, p.log())
	}
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()
}

// ClientConfig returns an x/crypto client config that logs in as User with
// ClientKey and checks the host key against KnownHosts.
func (s *Sshd) ClientConfig(t testing.TB) *gossh.ClientConfig {
	t.Helper()
	cb, err := knownhosts.New(s.KnownHosts)
	if err != nil {
		t.Fatalf("opensshd: %v", err)
	}
	return &gossh.ClientConfig{
		User:            s.User,
		Auth:            []gossh.AuthMethod{gossh.PublicKeys(s.signer)},
		HostKeyCallback: cb,
	}
}

// Dial connects to sshd with ClientConfig and closes the client in
// t.Cleanup.
func (s *Sshd) Dial(t testing.TB) *gossh.Client {
	t.Helper()
	c, err := gossh.Dial("tcp", s.Addr, s.ClientConfig(t))
	if err != nil {
		t.Fatalf("opensshd: dial %s: %v", s.Addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func (s *Sshd) clientConfig() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Host %s\n", s.Alias)
	for _, kv := range [][2]string{
		{"HostName", "127.0.0.1"},
		{"Port", strconv.Itoa(s.Port)},
		{"User", s.User},
		{"IdentityFile", quote(s.ClientKey)},
		{"IdentitiesOnly", "yes"},
		{"UserKnownHostsFile", quote(s.KnownHosts)},
		{"GlobalKnownHostsFile", os.DevNull},
		{"StrictHostKeyChecking", "yes"},
	} {
		fmt.Fprintf(&b, "    %s %s\n", kv[0], kv[1])
	}
	return b.String()
}

func sshdConfig(dir string, port int, authorized string, opts Options) string {
	var b strings.Builder
	b.WriteString("# written by github.com/psmux/psmux/testenv/opensshd\n")
	for _, l := range opts.Extra {
		b.WriteString(l + "\n")
	}
	for _, kv := range [][2]string{
		{"ListenAddress", "127.0.0.1:" + strconv.Itoa(port)},
		{"HostKey", quote(filepath.Join(dir, "ssh_host_ed25519_key"))},
		{"PidFile", "none"},
		{"UsePAM", "no"},
		{"StrictModes", "no"},
		{"AuthorizedKeysFile", quote(authorized)},
		{"PermitRootLogin", "yes"},
		{"PubkeyAuthentication", "yes"},
		{"PasswordAuthentication", "no"},
		{"KbdInteractiveAuthentication", "no"},
		{"AllowAgentForwarding", "yes"},
		{"PrintMotd", "no"},
		{"LogLevel", "VERBOSE"},
	} {
		fmt.Fprintf(&b, "%s %s\n", kv[0], kv[1])
	}
	// SHLVL=1: bash then does not take the subsystem's shell for one run
	// by sshd and does not source the machine's ~/.bashrc (whose pyenv
	// rehash waits 60 s on a stale lock). What sshd runs carries the test
	// run's mark, so the run's watchdog finds it when the test binary dies.
	setenv := "SetEnv SHLVL=1"
	if mark := reap.Mark(); mark != "" {
		setenv += fmt.Sprintf(" %s=%s", reap.Env, mark)
	}
	b.WriteString(setenv + "\n")
	names := make([]string, 0, len(opts.Subsystems))
	for name := range opts.Subsystems {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		fmt.Fprintf(&b, "Subsystem %s %s\n", name, opts.Subsystems[name])
	}
	return b.String()
}

// quote wraps a path in double quotes if it contains spaces (both
// sshd_config and ssh_config accept that).
func quote(p string) string {
	if strings.ContainsAny(p, " \t") {
		return `"` + p + `"`
	}
	return p
}

// writeKey generates an ed25519 key, writes it in OpenSSH format (0600)
// with its .pub beside it, and returns it.
func writeKey(path string) (gossh.Signer, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("opensshd: generate key: %w", err)
	}
	block, err := gossh.MarshalPrivateKey(priv, "")
	if err != nil {
		return nil, fmt.Errorf("opensshd: marshal key: %w", err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, fmt.Errorf("opensshd: write key: %w", err)
	}
	signer, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		return nil, fmt.Errorf("opensshd: key: %w", err)
	}
	if err := os.WriteFile(path+".pub", gossh.MarshalAuthorizedKey(signer.PublicKey()), 0o644); err != nil {
		return nil, fmt.Errorf("opensshd: write public key: %w", err)
	}
	return signer, nil
}

// freePort returns a loopback port that was free a moment ago. Another
// process may take it before sshd binds it; Start then retries.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("opensshd: pick a port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

var privsepRE = regexp.MustCompile(`Missing privilege separation directory: (\S+)`)

func missingPrivsepDir(log string) string {
	if m := privsepRE.FindStringSubmatch(log); m != nil {
		return m[1]
	}
	return ""
}

func bindFailed(log string) bool {
	return strings.Contains(log, "Cannot bind any address") || strings.Contains(log, "Address already in use")
}

// process is one sshd child. Its stderr is an os.Pipe rather than an
// exec-managed pipe because sshd's per-connection children inherit it:
// exec.Cmd.Wait would otherwise wait for every connection to end.
type process struct {
	cmd    *exec.Cmd
	r      *os.File
	ready  chan struct{} // closed when "Server listening on" is logged
	exited chan struct{} // closed when the listener process was reaped
	err    error         // Wait's result, set before exited is closed
	readWG sync.WaitGroup

	mu  sync.Mutex // guards buf
	buf strings.Builder

	stopOnce sync.Once
}

func launch(bin, config string) (*process, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("opensshd: pipe: %w", err)
	}
	p := &process{
		cmd:    exec.Command(bin, "-D", "-e", "-f", config),
		r:      r,
		ready:  make(chan struct{}),
		exited: make(chan struct{}),
	}
	p.cmd.SysProcAttr = reap.Attr() // dies with the test binary
	p.cmd.Stderr = w
	err = p.cmd.Start()
	w.Close()
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("opensshd: start %s: %w", bin, err)
	}
	p.readWG.Add(2)
	go p.readLog()
	go func() {
		defer p.readWG.Done()
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

func (p *process) readLog() {
	defer p.readWG.Done()
	sc := bufio.NewScanner(p.r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	ready := false
	for sc.Scan() {
		line := sc.Text()
		p.mu.Lock()
		p.buf.WriteString(line)
		p.buf.WriteByte('\n')
		p.mu.Unlock()
		if !ready && strings.HasPrefix(line, "Server listening on") {
			ready = true
			close(p.ready)
		}
	}
}

func (p *process) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.buf.String()
}

// waitReady returns nil once sshd listens, or why it does not.
func (p *process) waitReady(d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-p.ready:
		return nil
	case <-p.exited:
		if p.err == nil {
			return errors.New("sshd exited before listening")
		}
		return fmt.Errorf("sshd exited before listening: %w", p.err)
	case <-timer.C:
		return fmt.Errorf("sshd did not report listening within %v", d)
	}
}

// stop kills the listener, reaps it and reads the rest of its log. sshd's
// per-connection processes run in sessions of their own and end when their
// clients disconnect; they share the log pipe, so reading stops at EOF or
// after drainTimeout, whichever comes first.
func (p *process) stop() {
	p.stopOnce.Do(func() {
		reap.KillGroup(p.cmd) // fails only if it already exited
		<-p.exited
		_ = p.r.SetReadDeadline(time.Now().Add(drainTimeout))
		p.readWG.Wait()
		p.r.Close()
	})
}
