package ssh_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/psmux/psmux/sessions"
	"github.com/psmux/psmux/sessions/clixml"
	"github.com/psmux/psmux/sessions/psrp"
	"github.com/psmux/psmux/ssh"
	"github.com/psmux/psmux/testenv/faultproxy"
	"github.com/psmux/psmux/testenv/sshserver"
	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"
)

// host is an in-process SSH server plus the client files that reach it.
type host struct {
	srv     *sshserver.Server
	dir     string
	config  string // ssh_config path
	key     string // client identity file
	keyPub  gossh.PublicKey
	user    string
	known   string
	signer  gossh.Signer
	options sshserver.Options
}

func newKey(t *testing.T) (gossh.Signer, ed25519.PrivateKey) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s, priv
}

// startHost starts a server that accepts the client key of user "alice"
// (and whatever opts adds) and writes an ssh_config for alias "box".
func startHost(t *testing.T, opts sshserver.Options, extra ...string) *host {
	t.Helper()
	h := &host{dir: t.TempDir(), user: "alice"}
	signer, priv := newKey(t)
	h.signer, h.keyPub = signer, signer.PublicKey()
	block, err := gossh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	h.key = filepath.Join(h.dir, "id_ed25519")
	if err := os.WriteFile(h.key, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	if opts.AuthorizedKeys == nil {
		opts.AuthorizedKeys = map[string][]gossh.PublicKey{}
	}
	opts.AuthorizedKeys[h.user] = append(opts.AuthorizedKeys[h.user], h.keyPub)
	srv, err := sshserver.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	h.srv, h.options = srv, opts
	h.known = filepath.Join(h.dir, "known_hosts")
	line := knownhosts.Line([]string{knownhosts.Normalize(srv.Addr())}, srv.HostKey())
	if err := os.WriteFile(h.known, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h.config = h.writeConfig(t, srv.Port(), extra...)
	return h
}

func (h *host) writeConfig(t *testing.T, port int, extra ...string) string {
	t.Helper()
	cfg := fmt.Sprintf("Host box\n  HostName 127.0.0.1\n  Port %d\n  User %s\n  IdentityFile %s\n  IdentitiesOnly yes\n"+
		"  UserKnownHostsFile %s\n  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n  IdentityAgent none\n",
		port, h.user, h.key, h.known)
	for _, e := range extra {
		cfg += "  " + e + "\n"
	}
	p := filepath.Join(h.dir, fmt.Sprintf("ssh_config_%d", port))
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// trust adds the host key under another address (a proxy in front).
func (h *host) trust(t *testing.T, addr string) {
	t.Helper()
	f, err := os.OpenFile(h.known, os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fmt.Fprintln(f, knownhosts.Line([]string{knownhosts.Normalize(addr)}, h.srv.HostKey()))
}

func (h *host) resolve(t *testing.T, dest string, o ssh.Overrides) *ssh.Config {
	t.Helper()
	if o.ConfigFile == "" {
		o.ConfigFile = h.config
	}
	cfg, err := ssh.Resolve(dest, o)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// collect gathers a pipeline's output as text.
type collect struct {
	mu  sync.Mutex
	out []string
}

func (c *collect) Message(t psrp.MessageType, v clixml.Value) {
	if t == psrp.PipelineOutput {
		c.mu.Lock()
		c.out = append(c.out, v.Text)
		c.mu.Unlock()
	}
}

func (c *collect) HostCall(_ context.Context, m psrp.HostCallMsg) (clixml.Value, *clixml.Value) {
	return clixml.Value{}, sessions.HostError(m.Method, "no host")
}

// run opens a PSRP session on t and returns the output of script.
func run(t *testing.T, tr sessions.Transport, script string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := sessions.Open(ctx, tr, sessions.Options{})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	var c collect
	res, err := conn.Invoke(ctx, psrp.ScriptPipeline(script, false), nil, &c)
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	if res.State != psrp.Completed {
		t.Fatalf("state %v: %v", res.State, res.Reason)
	}
	if err := conn.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
	return c.out
}

func dial(t *testing.T, cfg *ssh.Config, o ssh.DialOptions) *ssh.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := ssh.Dial(ctx, cfg, o)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestSubsystemRunsPowerShell(t *testing.T) {
	h := startHost(t, sshserver.Options{})
	c := dial(t, h.resolve(t, "box", ssh.Overrides{}), ssh.DialOptions{})
	if c.AuthMethod() != "publickey" {
		t.Errorf("auth method %q, want publickey", c.AuthMethod())
	}
	ch, err := c.Open(context.Background(), ssh.ChannelSpec{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	if got := run(t, ch, "$x = 6 * 7; $x"); !slices.Equal(got, []string{"42"}) {
		t.Fatalf("output %q, want [42]", got)
	}
}

func TestExecInsteadOfSubsystem(t *testing.T) {
	h := startHost(t, sshserver.Options{})
	c := dial(t, h.resolve(t, "box", ssh.Overrides{}), ssh.DialOptions{})
	ch, err := c.Open(context.Background(), ssh.ChannelSpec{Exec: "pwsh -sshs -NoLogo -NoProfile"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	if got := run(t, ch, "'via exec'"); !slices.Equal(got, []string{"via exec"}) {
		t.Fatalf("output %q", got)
	}
}

func TestMissingSubsystemNamesTheFix(t *testing.T) {
	h := startHost(t, sshserver.Options{Subsystems: map[string]sshserver.Handler{"sftp": nil}})
	c := dial(t, h.resolve(t, "box", ssh.Overrides{}), ssh.DialOptions{})
	_, err := c.Open(context.Background(), ssh.ChannelSpec{}, nil)
	var se *ssh.SubsystemError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "Subsystem powershell") || !strings.Contains(err.Error(), "--exec") {
		t.Fatalf("got %v, want a SubsystemError naming the sshd_config line and --exec", err)
	}
}

func TestPoolSharesOneConnection(t *testing.T) {
	h := startHost(t, sshserver.Options{})
	cfg := h.resolve(t, "box", ssh.Overrides{})
	var p ssh.Pool
	defer p.Close()
	ctx := context.Background()
	a, err := p.Open(ctx, cfg, ssh.ChannelSpec{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.Open(ctx, cfg, ssh.ChannelSpec{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.Client() != b.Client() || p.Len() != 1 {
		t.Fatalf("two channels to one destination used %d connections", p.Len())
	}
	// Both channels run at once on the one connection; a session's
	// Close closes its channel.
	var wg sync.WaitGroup
	outs := make([][]string, 2)
	for i, ch := range []*ssh.Channel{a, b} {
		wg.Add(1)
		go func() { defer wg.Done(); outs[i] = run(t, ch, fmt.Sprintf("'chan %d'", i)) }()
	}
	wg.Wait()
	if outs[0][0] != "chan 0" || outs[1][0] != "chan 1" {
		t.Fatalf("outputs %q", outs)
	}
	if p.Len() != 0 {
		t.Fatalf("closing the last channel left the connection open")
	}
	select {
	case <-a.Client().Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the connection did not end after its last channel closed")
	}

	// other host key rules: a connection of its own, checked by them
	kh := *cfg
	kh.UserKnownHostsFiles = []string{filepath.Join(t.TempDir(), "known_hosts_other")}
	kh.StrictHostKeyChecking = "accept-new"
	e, err := p.Open(ctx, cfg, ssh.ChannelSpec{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := p.Open(ctx, &kh, ssh.ChannelSpec{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if e.Client() == f.Client() || p.Len() != 2 {
		t.Fatalf("a destination named with another known_hosts file shared a connection checked against the first")
	}
	if _, err := os.Stat(kh.UserKnownHostsFiles[0]); err != nil {
		t.Fatalf("the other known_hosts file was not consulted: %v", err)
	}
	e.Close()
	f.Close()

	c, err := p.Open(ctx, cfg, ssh.ChannelSpec{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := p.Open(ctx, cfg, ssh.ChannelSpec{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Client() == a.Client() {
		t.Fatal("a closed connection was handed out again")
	}
	c.Close()
	if p.Len() != 1 || d.Client().Err() != nil {
		t.Fatalf("closing one of two channels closed the connection")
	}
	d.Close()
	if p.Len() != 0 {
		t.Fatalf("closing the last channel left the connection open")
	}
}

func TestPasswordThroughPrompter(t *testing.T) {
	h := startHost(t, sshserver.Options{Passwords: map[string]string{"bob": "s3cret"}})
	var asked []ssh.PromptRequest
	p := ssh.PromptFunc(func(_ context.Context, r ssh.PromptRequest) ([]string, error) {
		asked = append(asked, r)
		return []string{"s3cret"}, nil
	})
	c := dial(t, h.resolve(t, "bob@127.0.0.1", ssh.Overrides{Port: h.srv.Port(), Options: []string{"UserKnownHostsFile=" + h.known, "IdentityAgent=none"}}), ssh.DialOptions{Prompter: p})
	if c.AuthMethod() != "password" {
		t.Errorf("auth method %q, want password", c.AuthMethod())
	}
	if len(asked) != 1 || asked[0].Kind != ssh.PromptPassword || asked[0].Questions[0].Echo ||
		!strings.Contains(asked[0].Questions[0].Text, "bob@127.0.0.1's password") {
		t.Fatalf("prompts %+v", asked)
	}
}

func TestWrongPasswordIsAuthError(t *testing.T) {
	h := startHost(t, sshserver.Options{Passwords: map[string]string{"bob": "s3cret"}})
	tries := 0
	var notes []string
	p := ssh.PromptFunc(func(_ context.Context, r ssh.PromptRequest) ([]string, error) {
		tries++
		notes = append(notes, r.Instruction)
		if len(r.Questions) != 1 || r.Questions[0].Text != "bob@127.0.0.1's password: " { // ssh's words, user@host once
			t.Errorf("the question %+v; want ssh's \"bob@127.0.0.1's password: \"", r.Questions)
		}
		return []string{"nope"}, nil
	})
	cfg := h.resolve(t, "bob@127.0.0.1", ssh.Overrides{Port: h.srv.Port(), Options: []string{"UserKnownHostsFile=" + h.known, "IdentityAgent=none", "NumberOfPasswordPrompts=2"}})
	_, err := ssh.Dial(context.Background(), cfg, ssh.DialOptions{Prompter: p})
	var ae *ssh.AuthError
	if !errors.As(err, &ae) || !strings.Contains(err.Error(), "Permission denied (") || !slices.Contains(ae.Allowed, "password") {
		t.Fatalf("got %v, want an AuthError listing password", err)
	}
	if tries != 2 {
		t.Fatalf("asked %d times, want NumberOfPasswordPrompts=2", tries)
	}
	// OpenSSH says why it asks again
	if notes[0] != "" || notes[1] != "Permission denied, please try again." {
		t.Fatalf("the prompts' notes %q; want none, then ssh's \"Permission denied, please try again.\"", notes)
	}
}

func TestKeyboardInteractiveTwoPrompts(t *testing.T) {
	h := startHost(t, sshserver.Options{Keyboard: map[string][]sshserver.KeyboardQuestion{
		"carol": {{Prompt: "Password: ", Echo: false, Answer: "pw"}, {Prompt: "Verification code: ", Echo: true, Answer: "123456"}},
	}})
	var asked ssh.PromptRequest
	p := ssh.PromptFunc(func(_ context.Context, r ssh.PromptRequest) ([]string, error) {
		asked = r
		return []string{"pw", "123456"}, nil
	})
	cfg := h.resolve(t, "carol@127.0.0.1", ssh.Overrides{Port: h.srv.Port(), Options: []string{"UserKnownHostsFile=" + h.known, "IdentityAgent=none"}})
	cfg.Dest = "two-factor-host"
	c := dial(t, cfg, ssh.DialOptions{Prompter: p})
	if c.AuthMethod() != "keyboard-interactive" {
		t.Errorf("auth method %q", c.AuthMethod())
	}
	if asked.Kind != ssh.PromptKeyboard || asked.Dest != "two-factor-host" || len(asked.Questions) != 2 ||
		asked.Questions[0].Echo || !asked.Questions[1].Echo {
		t.Fatalf("prompt %+v", asked)
	}
}

func TestEncryptedIdentityAsksPassphrase(t *testing.T) {
	signer, priv := newKey(t)
	h := startHost(t, sshserver.Options{AuthorizedKeys: map[string][]gossh.PublicKey{"alice": {signer.PublicKey()}}})
	block, err := gossh.MarshalPrivateKeyWithPassphrase(priv, "", []byte("open sesame"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(h.dir, "id_locked")
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	var asked []ssh.PromptRequest
	p := ssh.PromptFunc(func(_ context.Context, r ssh.PromptRequest) ([]string, error) {
		asked = append(asked, r)
		if len(asked) == 1 {
			return []string{"wrong"}, nil
		}
		return []string{"open sesame"}, nil
	})
	cfg := h.resolve(t, "alice@127.0.0.1", ssh.Overrides{Port: h.srv.Port(), Identities: []string{path},
		Options: []string{"UserKnownHostsFile=" + h.known, "IdentityAgent=none", "IdentitiesOnly=yes", "PasswordAuthentication=no", "KbdInteractiveAuthentication=no"}})
	cfg.IdentityFiles = []string{path}
	c := dial(t, cfg, ssh.DialOptions{Prompter: p})
	if c.AuthMethod() != "publickey" {
		t.Errorf("auth method %q", c.AuthMethod())
	}
	if len(asked) != 2 || asked[0].Kind != ssh.PromptPassphrase || !strings.Contains(asked[0].Questions[0].Text, path) {
		t.Fatalf("prompts %+v, want two passphrase prompts naming %s (one wrong, one right)", asked, path)
	}
}

func TestUnknownHostKeyRefusedWithFingerprint(t *testing.T) {
	h := startHost(t, sshserver.Options{})
	empty := filepath.Join(h.dir, "empty_known_hosts")
	cfg := h.resolve(t, "box", ssh.Overrides{Options: []string{"UserKnownHostsFile=" + empty}})
	_, err := ssh.Dial(context.Background(), cfg, ssh.DialOptions{})
	var hk *ssh.HostKeyError
	fp := gossh.FingerprintSHA256(h.srv.HostKey())
	if !errors.As(err, &hk) || hk.Kind != ssh.HostKeyUnknown || !strings.Contains(err.Error(), fp) ||
		!strings.Contains(err.Error(), "accept-new") {
		t.Fatalf("got %v, want an unknown-host error with %s and how to trust it", err, fp)
	}
	if _, statErr := os.Stat(empty); statErr == nil {
		t.Fatal("a refused key was written to known_hosts")
	}
}

func TestAcceptNewAddsKeyThenChangedKeyRefused(t *testing.T) {
	h := startHost(t, sshserver.Options{})
	kh := filepath.Join(h.dir, "new_known_hosts")
	var warnings []string
	o := ssh.Overrides{Options: []string{"UserKnownHostsFile=" + kh, "StrictHostKeyChecking=accept-new"}}
	c := dial(t, h.resolve(t, "box", o), ssh.DialOptions{Warn: func(s string) { warnings = append(warnings, s) }})
	c.Close()
	b, err := os.ReadFile(kh)
	if err != nil || !strings.Contains(string(b), strings.TrimSpace(string(gossh.MarshalAuthorizedKey(h.srv.HostKey())))) {
		t.Fatalf("known_hosts after accept-new: %q %v", b, err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "Permanently added") {
		t.Fatalf("warnings %q", warnings)
	}

	// The host now shows a key other than the one known_hosts has.
	other, _ := newKey(t)
	line := knownhosts.Line([]string{knownhosts.Normalize(h.srv.Addr())}, other.PublicKey())
	if err := os.WriteFile(kh, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := h.resolve(t, "box", o)
	yes := ssh.PromptFunc(func(context.Context, ssh.PromptRequest) ([]string, error) { return []string{"yes"}, nil })
	for _, strict := range []string{"yes", "accept-new", "no", "ask"} {
		cfg.StrictHostKeyChecking = strict
		_, err := ssh.Dial(context.Background(), cfg, ssh.DialOptions{Prompter: yes})
		var hk *ssh.HostKeyError
		if !errors.As(err, &hk) || hk.Kind != ssh.HostKeyChanged ||
			!strings.Contains(err.Error(), gossh.FingerprintSHA256(other.PublicKey())) ||
			!strings.Contains(err.Error(), gossh.FingerprintSHA256(h.srv.HostKey())) {
			t.Fatalf("StrictHostKeyChecking=%s: got %v, want a changed-key refusal with both fingerprints", strict, err)
		}
	}
	if b, _ := os.ReadFile(kh); string(b) != line+"\n" {
		t.Fatalf("known_hosts changed after a refused key: %q", b)
	}
}

func TestAgentAuthAndNoForwardingRequested(t *testing.T) {
	h := startHost(t, sshserver.Options{})
	keyring := agent.NewKeyring()
	_, priv := newKey(t)
	if err := keyring.Add(agent.AddedKey{PrivateKey: priv}); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(h.dir, "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _ = agent.ServeAgent(keyring, c) }()
		}
	}()
	signers, _ := keyring.Signers()
	srv, err := sshserver.Start(sshserver.Options{AuthorizedKeys: map[string][]gossh.PublicKey{"alice": {signers[0].PublicKey()}}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	line := knownhosts.Line([]string{knownhosts.Normalize(srv.Addr())}, srv.HostKey())
	kh := filepath.Join(h.dir, "agent_known_hosts")
	os.WriteFile(kh, []byte(line+"\n"), 0o600)
	t.Setenv("SSH_AUTH_SOCK", sock)
	cfg, err := ssh.Resolve("alice@127.0.0.1", ssh.Overrides{ConfigFile: os.DevNull, Port: srv.Port(),
		Options: []string{"UserKnownHostsFile=" + kh, "PasswordAuthentication=no", "KbdInteractiveAuthentication=no"}})
	if err != nil {
		t.Fatal(err)
	}
	cfg.IdentityFiles = nil
	c := dial(t, cfg, ssh.DialOptions{})
	ch, err := c.Open(context.Background(), ssh.ChannelSpec{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	run(t, ch, "'agent'")
	ch.Close()
	reqs := srv.Requests()
	if !slices.Contains(reqs, "subsystem") {
		t.Fatalf("the server saw no subsystem request: %q (the request log is not working)", reqs)
	}
	for _, r := range reqs {
		if strings.Contains(r, "agent") {
			t.Fatalf("the client asked for %q: agent forwarding must never be requested", r)
		}
	}
}

func TestConnectTimeoutOnBlackhole(t *testing.T) {
	h := startHost(t, sshserver.Options{})
	proxy, err := faultproxy.New(h.srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	proxy.Blackhole(true)
	cfg := h.resolve(t, "box", ssh.Overrides{Port: proxy.Port(), ConnectTimeout: 300 * time.Millisecond})
	_, err = ssh.Dial(context.Background(), cfg, ssh.DialOptions{})
	var ue *ssh.UnreachableError
	if !errors.As(err, &ue) || !errors.Is(err, ssh.ErrTimeout) {
		t.Fatalf("got %v, want Unreachable after the connect timeout", err)
	}
}

func TestDialHonoursContext(t *testing.T) {
	// A server that accepts and then says nothing keeps the dial inside
	// the handshake until the context ends it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			accepted <- c
		}
	}()
	cfg, err := ssh.Resolve(ln.Addr().String(), ssh.Overrides{ConfigFile: os.DevNull})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { _, err := ssh.Dial(ctx, cfg, ssh.DialOptions{}); errc <- err }()
	c := <-accepted
	defer c.Close()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

func TestKeepaliveMarksConnectionLost(t *testing.T) {
	h := startHost(t, sshserver.Options{})
	proxy, err := faultproxy.New(h.srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	h.trust(t, proxy.Addr())
	cfg := h.resolve(t, "box", ssh.Overrides{Port: proxy.Port()})
	cfg.ServerAliveInterval, cfg.ServerAliveCountMax = 50*time.Millisecond, 3
	c := dial(t, cfg, ssh.DialOptions{})
	proxy.Stall(faultproxy.Down, true)
	<-c.Done()
	var le *ssh.LostError
	if err := c.Err(); !errors.As(err, &le) || !strings.Contains(err.Error(), "keepalive") {
		t.Fatalf("got %v, want a LostError naming the keepalives", err)
	}
	if !slices.Contains(h.srv.Requests(), "keepalive@openssh.com") {
		t.Fatalf("no keepalive reached the server: %q", h.srv.Requests())
	}
}

func TestResetMidOutputIsConnectionLost(t *testing.T) {
	h := startHost(t, sshserver.Options{})
	proxy, err := faultproxy.New(h.srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	h.trust(t, proxy.Addr())
	cfg := h.resolve(t, "box", ssh.Overrides{Port: proxy.Port()})
	c := dial(t, cfg, ssh.DialOptions{})
	ch, err := c.Open(context.Background(), ssh.ChannelSpec{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	ctx := context.Background()
	conn, err := sessions.Open(ctx, ch, sessions.Options{})
	if err != nil {
		t.Fatal(err)
	}
	proxy.ResetAfter(256 << 10)
	_, err = conn.Invoke(ctx, psrp.ScriptPipeline("1..100000 | % { 'x' * 100 }", false), nil, &collect{})
	var be *sessions.BrokenError
	if !errors.As(err, &be) || !strings.Contains(err.Error(), "connection lost") {
		t.Fatalf("got %v, want a BrokenError (connection lost)", err)
	}
}
