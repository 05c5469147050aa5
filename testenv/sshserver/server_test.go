package sshserver_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pkg/sftp"
	gossh "golang.org/x/crypto/ssh"

	"github.com/psmux/psmux/sessions"
	"github.com/psmux/psmux/sessions/clixml"
	"github.com/psmux/psmux/sessions/psrp"
	"github.com/psmux/psmux/testenv/sshserver"
)

func newKey(t testing.TB) gossh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func start(t testing.TB, opts sshserver.Options) *sshserver.Server {
	t.Helper()
	srv, err := sshserver.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return srv
}

func dial(srv *sshserver.Server, user string, auth ...gossh.AuthMethod) (*gossh.Client, error) {
	return gossh.Dial("tcp", srv.Addr(), &gossh.ClientConfig{
		User:            user,
		Auth:            auth,
		HostKeyCallback: gossh.FixedHostKey(srv.HostKey()),
	})
}

func mustDial(t testing.TB, srv *sshserver.Server, user string, auth ...gossh.AuthMethod) *gossh.Client {
	t.Helper()
	c, err := dial(srv, user, auth...)
	if err != nil {
		t.Fatalf("dial as %s: %v", user, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// keyServer accepts one key for "alice".
func keyServer(t testing.TB) (*sshserver.Server, gossh.Signer) {
	key := newKey(t)
	srv := start(t, sshserver.Options{AuthorizedKeys: map[string][]gossh.PublicKey{"alice": {key.PublicKey()}}})
	return srv, key
}

func TestPublicKeyAuth(t *testing.T) {
	srv, key := keyServer(t)
	mustDial(t, srv, "alice", gossh.PublicKeys(key))
	if _, err := dial(srv, "alice", gossh.PublicKeys(newKey(t))); err == nil {
		t.Fatal("an unauthorized key was accepted")
	}
	if _, err := dial(srv, "mallory", gossh.PublicKeys(key)); err == nil {
		t.Fatal("alice's key was accepted for another user")
	}
	log := srv.AuthLog()
	if !slices.Contains(log, "alice publickey ok") || !slices.Contains(log, "mallory publickey fail") {
		t.Fatalf("auth log %q", log)
	}
}

func TestPasswordAuth(t *testing.T) {
	srv := start(t, sshserver.Options{Passwords: map[string]string{"bob": "s3cret"}})
	mustDial(t, srv, "bob", gossh.Password("s3cret"))
	if _, err := dial(srv, "bob", gossh.Password("wrong")); err == nil {
		t.Fatal("a wrong password was accepted")
	}
	log := srv.AuthLog()
	if !slices.Contains(log, "bob password ok") || !slices.Contains(log, "bob password fail") {
		t.Fatalf("auth log %q", log)
	}
}

func TestAnyUserPassword(t *testing.T) {
	srv := start(t, sshserver.Options{Passwords: map[string]string{sshserver.AnyUser: "psmux", "root": "other"}})
	mustDial(t, srv, "whoever", gossh.Password("psmux"))
	if _, err := dial(srv, "root", gossh.Password("psmux")); err == nil {
		t.Fatal("the AnyUser password overrode a user's own entry")
	}
}

func TestKeyboardInteractiveTwoQuestions(t *testing.T) {
	qs := []sshserver.KeyboardQuestion{
		{Prompt: "Password: ", Echo: false, Answer: "pw"},
		{Prompt: "Verification code: ", Echo: true, Answer: "123456"},
	}
	srv := start(t, sshserver.Options{Keyboard: map[string][]sshserver.KeyboardQuestion{"carol": qs}})

	var mu sync.Mutex
	var seen []string
	answer := func(answers ...string) gossh.AuthMethod {
		return gossh.KeyboardInteractive(func(user, instruction string, questions []string, echos []bool) ([]string, error) {
			mu.Lock()
			defer mu.Unlock()
			for i, q := range questions {
				seen = append(seen, fmt.Sprintf("%s echo=%v", q, echos[i]))
			}
			return answers, nil
		})
	}
	mustDial(t, srv, "carol", answer("pw", "123456"))
	mu.Lock()
	got := slices.Clone(seen)
	mu.Unlock()
	want := []string{"Password:  echo=false", "Verification code:  echo=true"}
	if !slices.Equal(got, want) {
		t.Fatalf("prompts %q, want %q", got, want)
	}
	if _, err := dial(srv, "carol", answer("pw", "000000")); err == nil {
		t.Fatal("a wrong second answer was accepted")
	}
	log := srv.AuthLog()
	if !slices.Contains(log, "carol keyboard-interactive ok") || !slices.Contains(log, "carol keyboard-interactive fail") {
		t.Fatalf("auth log %q", log)
	}
}

func TestNoAuthAndBanner(t *testing.T) {
	srv := start(t, sshserver.Options{NoAuth: true, Banner: "hello from sshserver\n"})
	var banner string
	c, err := gossh.Dial("tcp", srv.Addr(), &gossh.ClientConfig{
		User:            "anyone",
		HostKeyCallback: gossh.FixedHostKey(srv.HostKey()),
		BannerCallback:  func(msg string) error { banner = msg; return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if banner != "hello from sshserver\n" {
		t.Fatalf("banner %q", banner)
	}
	if !slices.Contains(srv.AuthLog(), "anyone none ok") {
		t.Fatalf("auth log %q", srv.AuthLog())
	}
}

func TestStartWithoutAuthFails(t *testing.T) {
	if srv, err := sshserver.Start(sshserver.Options{}); err == nil {
		srv.Close()
		t.Fatal("Start accepted options without any authentication")
	}
}

// channel is a session channel running a subsystem, opened without
// gossh.Session because Session.Wait only works after Start/Run, not after
// RequestSubsystem. It is a sessions.Transport.
type channel struct {
	gossh.Channel
	exit chan exitResult // one value once the channel's requests end
}

type exitResult struct {
	status int
	ok     bool // an exit-status arrived
}

func openSubsystem(t testing.TB, c *gossh.Client, name string) *channel {
	t.Helper()
	ch, reqs, err := c.OpenChannel("session", nil)
	if err != nil {
		t.Fatal(err)
	}
	res := &channel{Channel: ch, exit: make(chan exitResult, 1)}
	go func() {
		var r exitResult
		for req := range reqs {
			if req.Type == "exit-status" && len(req.Payload) == 4 {
				r = exitResult{int(binary.BigEndian.Uint32(req.Payload)), true}
			}
			if req.WantReply {
				req.Reply(false, nil)
			}
		}
		res.exit <- r
	}()
	ok, err := ch.SendRequest("subsystem", true, gossh.Marshal(struct{ Name string }{name}))
	if err != nil || !ok {
		t.Fatalf("subsystem %s: ok=%v err=%v", name, ok, err)
	}
	return res
}

// wait returns the exit status once the server has closed the channel.
func (c *channel) wait(t testing.TB) int {
	t.Helper()
	r := <-c.exit
	if !r.ok {
		t.Fatal("the channel closed without an exit-status")
	}
	return r.status
}

// execTransport is a sessions.Transport over a gossh.Session started with
// an exec command.
type execTransport struct {
	s   *gossh.Session
	in  io.WriteCloser
	out io.Reader
}

func (c *execTransport) Read(b []byte) (int, error)  { return c.out.Read(b) }
func (c *execTransport) Write(b []byte) (int, error) { return c.in.Write(b) }
func (c *execTransport) CloseWrite() error           { return c.in.Close() }
func (c *execTransport) Close() error {
	if err := c.s.Close(); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

type outputs struct {
	mu  sync.Mutex
	out []string
}

func (o *outputs) Message(t psrp.MessageType, v clixml.Value) {
	if t == psrp.PipelineOutput {
		o.mu.Lock()
		o.out = append(o.out, v.Str())
		o.mu.Unlock()
	}
}

func (o *outputs) HostCall(context.Context, psrp.HostCallMsg) (clixml.Value, *clixml.Value) {
	return clixml.Value{}, nil
}

func TestTwoPowershellChannelsConcurrently(t *testing.T) {
	srv, key := keyServer(t)
	c := mustDial(t, srv, "alice", gossh.PublicKeys(key))
	ctx := context.Background()

	// Open both sessions before using either, so the two subsystems run at
	// the same time on one connection.
	var conns []*sessions.Conn
	for range 2 {
		conn, err := sessions.Open(ctx, openSubsystem(t, c, "powershell"), sessions.Options{})
		if err != nil {
			t.Fatalf("open runspace pool: %v", err)
		}
		conns = append(conns, conn)
	}
	errs := make(chan error, len(conns))
	for i, conn := range conns {
		go func() {
			h := &outputs{}
			res, err := conn.Invoke(ctx, psrp.ScriptPipeline(fmt.Sprintf(`"channel %d: " + (20 + %d)`, i, i), false), nil, h)
			switch {
			case err != nil:
				errs <- err
			case res.State != psrp.Completed:
				errs <- fmt.Errorf("channel %d: state %v", i, res.State)
			case len(h.out) != 1 || h.out[0] != fmt.Sprintf("channel %d: %d", i, 20+i):
				errs <- fmt.Errorf("channel %d: output %q", i, h.out)
			default:
				errs <- nil
			}
		}()
	}
	for range conns {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	for _, conn := range conns {
		if err := conn.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
	}
	if n := count(srv.Requests(), "subsystem"); n != 2 {
		t.Fatalf("recorded %d subsystem requests, want 2: %q", n, srv.Requests())
	}
}

func count(s []string, v string) int {
	n := 0
	for _, x := range s {
		if x == v {
			n++
		}
	}
	return n
}

func TestSubsystemExitsOnEOF(t *testing.T) {
	srv, key := keyServer(t)
	c := mustDial(t, srv, "alice", gossh.PublicKeys(key))
	ch := openSubsystem(t, c, "powershell")
	if err := ch.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(ch)
	if err != nil {
		t.Fatal(err)
	}
	// pwsh -sshs reports the unexpected end of input on stdout and exits
	// with 4000, which a process exit status truncates to 160.
	if !strings.HasPrefix(string(out), "__NamedPipeError__:") {
		t.Errorf("output %q", out)
	}
	if st := ch.wait(t); st != 4000&0xff {
		t.Fatalf("exit status %d, want %d", st, 4000&0xff)
	}
}

func TestUnknownSubsystemRefused(t *testing.T) {
	srv, key := keyServer(t)
	c := mustDial(t, srv, "alice", gossh.PublicKeys(key))
	ch, _, err := c.OpenChannel("session", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	if ok, err := ch.SendRequest("subsystem", true, gossh.Marshal(struct{ Name string }{"nope"})); ok || err != nil {
		t.Fatalf("unknown subsystem: ok=%v err=%v, want a refusal", ok, err)
	}
}

func TestRequestsRecordedAndRefused(t *testing.T) {
	srv, key := keyServer(t)
	c := mustDial(t, srv, "alice", gossh.PublicKeys(key))
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Setenv("LANG", "C.UTF-8"); err != nil {
		t.Errorf("env refused: %v", err)
	}
	if err := s.RequestPty("xterm", 24, 80, gossh.TerminalModes{}); err == nil {
		t.Error("pty-req was accepted")
	}
	if ok, err := s.SendRequest("auth-agent-req@openssh.com", true, nil); ok || err != nil {
		t.Errorf("auth-agent-req: ok=%v err=%v, want a refusal", ok, err)
	}
	want := []string{"env", "pty-req", "auth-agent-req@openssh.com"}
	if got := srv.Requests(); !slices.Equal(got, want) {
		t.Fatalf("Requests() = %q, want %q", got, want)
	}
}

func TestKeepaliveReplied(t *testing.T) {
	srv, key := keyServer(t)
	c := mustDial(t, srv, "alice", gossh.PublicKeys(key))
	// Like OpenSSH's sshd, the server answers keepalive@openssh.com with a
	// failure reply; what matters to a keepalive sender is that a reply
	// comes back.
	ok, _, err := c.SendRequest("keepalive@openssh.com", true, nil)
	if err != nil {
		t.Fatalf("keepalive: %v", err)
	}
	if ok {
		t.Error("keepalive got a success reply; sshd answers with failure")
	}
	if !slices.Contains(srv.Requests(), "keepalive@openssh.com") {
		t.Fatalf("keepalive not recorded: %q", srv.Requests())
	}
}

func TestExec(t *testing.T) {
	var mu sync.Mutex
	var gotCmd string
	key := newKey(t)
	srv := start(t, sshserver.Options{
		AuthorizedKeys: map[string][]gossh.PublicKey{"alice": {key.PublicKey()}},
		Exec: func(_ context.Context, cmd string, stdin io.Reader, stdout, stderr io.Writer) int {
			mu.Lock()
			gotCmd = cmd
			mu.Unlock()
			n, _ := io.Copy(stdout, stdin) // until the client's EOF
			fmt.Fprintf(stderr, "copied %d", n)
			return 3
		},
	})
	c := mustDial(t, srv, "alice", gossh.PublicKeys(key))
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var stdout, stderr bytes.Buffer
	s.Stdin = strings.NewReader("ping")
	s.Stdout, s.Stderr = &stdout, &stderr
	err = s.Run("echo-back --flag")
	var ee *gossh.ExitError
	if !errors.As(err, &ee) || ee.ExitStatus() != 3 {
		t.Fatalf("Run: %v, want exit status 3", err)
	}
	if stdout.String() != "ping" || stderr.String() != "copied 4" {
		t.Fatalf("stdout %q stderr %q", stdout.String(), stderr.String())
	}
	mu.Lock()
	defer mu.Unlock()
	if gotCmd != "echo-back --flag" {
		t.Fatalf("handler got command %q", gotCmd)
	}
}

func TestDefaultExecUnknownCommand(t *testing.T) {
	srv, key := keyServer(t)
	c := mustDial(t, srv, "alice", gossh.PublicKeys(key))
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var stderr bytes.Buffer
	s.Stderr = &stderr
	err = s.Run("no-such-command")
	var ee *gossh.ExitError
	if !errors.As(err, &ee) || ee.ExitStatus() != 127 || !strings.Contains(stderr.String(), "not found") {
		t.Fatalf("Run: %v, stderr %q; want exit 127 and a message", err, stderr.String())
	}
}

func TestDefaultExecRunsPwsh(t *testing.T) {
	srv, key := keyServer(t)
	c := mustDial(t, srv, "alice", gossh.PublicKeys(key))
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	in, err := s.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start("pwsh -sshs -NoLogo -NoProfile"); err != nil {
		t.Fatal(err)
	}
	conn, err := sessions.Open(context.Background(), &execTransport{s: s, in: in, out: out}, sessions.Options{})
	if err != nil {
		t.Fatalf("open runspace pool over exec: %v", err)
	}
	h := &outputs{}
	if _, err := conn.Invoke(context.Background(), psrp.ScriptPipeline("6 * 7", false), nil, h); err != nil {
		t.Fatal(err)
	}
	if err := conn.Close(context.Background()); err != nil {
		t.Errorf("close: %v", err)
	}
	if len(h.out) != 1 || h.out[0] != "42" {
		t.Fatalf("output %q", h.out)
	}
}

func TestCommandHandler(t *testing.T) {
	key := newKey(t)
	srv := start(t, sshserver.Options{
		AuthorizedKeys: map[string][]gossh.PublicKey{"alice": {key.PublicKey()}},
		Subsystems:     map[string]sshserver.Handler{"cat": sshserver.Command("cat")},
	})
	c := mustDial(t, srv, "alice", gossh.PublicKeys(key))
	ch := openSubsystem(t, c, "cat")
	if _, err := ch.Write([]byte("through a child process")); err != nil {
		t.Fatal(err)
	}
	ch.CloseWrite()
	got, err := io.ReadAll(ch)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "through a child process" {
		t.Fatalf("got %q", got)
	}
	if st := ch.wait(t); st != 0 {
		t.Fatalf("exit status %d", st)
	}
}

func TestCommandKilledOnClose(t *testing.T) {
	key := newKey(t)
	srv, err := sshserver.Start(sshserver.Options{
		AuthorizedKeys: map[string][]gossh.PublicKey{"alice": {key.PublicKey()}},
		Subsystems:     map[string]sshserver.Handler{"cat": sshserver.Command("cat")},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c := mustDial(t, srv, "alice", gossh.PublicKeys(key))
	ch := openSubsystem(t, c, "cat")
	if _, err := ch.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(ch, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	// cat is blocked reading a stdin that never ends; Close must still
	// return, which means it killed cat and waited for the handler.
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestSFTP(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("hi"), 0o600); err != nil {
		t.Fatal(err)
	}
	key := newKey(t)
	srv := start(t, sshserver.Options{
		AuthorizedKeys: map[string][]gossh.PublicKey{"alice": {key.PublicKey()}},
		SFTPRoot:       dir,
	})
	c := mustDial(t, srv, "alice", gossh.PublicKeys(key))
	sc, err := sftp.NewClient(c)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	f, err := sc.Open("hello.txt")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(f)
	f.Close()
	if err != nil || string(got) != "hi" {
		t.Fatalf("read %q, %v", got, err)
	}
	w, err := sc.Create("up.txt")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("uploaded")); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if b, err := os.ReadFile(filepath.Join(dir, "up.txt")); err != nil || string(b) != "uploaded" {
		t.Fatalf("uploaded file: %q, %v", b, err)
	}
}

func TestCloseWithOpenSession(t *testing.T) {
	key := newKey(t)
	srv, err := sshserver.Start(sshserver.Options{AuthorizedKeys: map[string][]gossh.PublicKey{"alice": {key.PublicKey()}}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := dial(srv, "alice", gossh.PublicKeys(key))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	openSubsystem(t, c, "powershell")
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	// Wait returns only once the server has closed the connection.
	_ = c.Wait()
	if _, err := dial(srv, "alice", gossh.PublicKeys(key)); err == nil {
		t.Fatal("a closed server accepted a connection")
	}
	if err := srv.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestSmallRekeyThresholdKeepsDataIntact(t *testing.T) {
	key := newKey(t)
	srv := start(t, sshserver.Options{
		AuthorizedKeys: map[string][]gossh.PublicKey{"alice": {key.PublicKey()}},
		RekeyThreshold: 4096,
		Subsystems:     map[string]sshserver.Handler{"cat": sshserver.Command("cat")},
	})
	c := mustDial(t, srv, "alice", gossh.PublicKeys(key))
	ch := openSubsystem(t, c, "cat")
	data := bytes.Repeat([]byte("0123456789abcdef"), 64<<10/16)
	go func() {
		ch.Write(data)
		ch.CloseWrite()
	}()
	got, err := io.ReadAll(ch)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("got %d bytes back, want %d identical bytes", len(got), len(data))
	}
}
