package sshserver

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"

	gossh "golang.org/x/crypto/ssh"

	"github.com/psmux/psmux/testenv/pwshsim"
)

// AnyUser is the map key in [Options.AuthorizedKeys], [Options.Passwords]
// and [Options.Keyboard] that applies to every user name without an entry
// of its own.
const AnyUser = "*"

// Options configure a [Server]. The zero value is not usable: some form of
// authentication must be configured (or NoAuth set).
type Options struct {
	// Addr is the address to listen on; "" means "127.0.0.1:0".
	Addr string
	// HostKeys are the server's host keys; nil means one freshly
	// generated ed25519 key.
	HostKeys []gossh.Signer
	// AuthorizedKeys maps a user name (or AnyUser) to the public keys
	// accepted for it by "publickey" authentication.
	AuthorizedKeys map[string][]gossh.PublicKey
	// Passwords maps a user name (or AnyUser) to its password for
	// "password" authentication.
	Passwords map[string]string
	// Keyboard maps a user name (or AnyUser) to the questions asked, in
	// one round, by "keyboard-interactive" authentication; every answer
	// must match exactly.
	Keyboard map[string][]KeyboardQuestion
	// NoAuth accepts the "none" method, for benchmarks.
	NoAuth bool
	// Subsystems maps subsystem names to handlers. nil means "powershell"
	// runs the in-process pwsh simulator (-sshs) and "sftp" an SFTP server
	// on the real filesystem (see SFTPRoot). A non-nil map replaces both.
	Subsystems map[string]Handler
	// SFTPRoot is the working directory of the default "sftp" subsystem
	// (relative paths resolve against it); "" means the process's own.
	SFTPRoot string
	// Exec runs "exec" requests. nil runs the pwsh simulator when the
	// command contains "pwsh" (in -sshs mode when it contains "-sshs") and
	// otherwise exits 127 with a message on stderr, like a shell.
	Exec Handler
	// Banner, if non-empty, is sent as the SSH authentication banner.
	Banner string
	// RekeyThreshold is the server's rekey threshold in bytes; 0 means
	// x/crypto's default.
	RekeyThreshold uint64
	// Config, if non-nil, is called last to adjust the server config.
	Config func(*gossh.ServerConfig)
}

// KeyboardQuestion is one keyboard-interactive prompt and its expected
// answer.
type KeyboardQuestion struct {
	Prompt string
	Echo   bool
	Answer string
}

// Handler runs one subsystem or exec on a channel. stdin and stdout are the
// channel and stderr is its extended data stream; cmd is the exec command
// or the subsystem name. It returns the exit status sent as "exit-status".
//
// stdin reports io.EOF once the client has sent EOF. It also implements
// io.Closer: closing it makes pending and later reads fail, which lets a
// handler stop a goroutine it started to copy from stdin before it returns.
// ctx is cancelled when the client closes the channel, the connection ends
// or the server closes; a handler must return soon after that, because
// [Server.Close] waits for it.
type Handler func(ctx context.Context, cmd string, stdin io.Reader, stdout, stderr io.Writer) int

// Server is a running SSH server. Its methods are safe for concurrent use.
type Server struct {
	opts    Options
	config  *gossh.ServerConfig
	ln      net.Listener
	hostKey gossh.PublicKey
	subs    map[string]Handler
	exec    Handler

	ctx    context.Context // cancelled by Close; parent of every handler's context
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine the server started

	mu       sync.Mutex // guards the fields below
	closed   bool
	conns    map[net.Conn]struct{}
	requests []string
	authLog  []string
}

// Start listens on opts.Addr (default 127.0.0.1:0) and serves SSH
// connections until Close.
func Start(opts Options) (*Server, error) {
	s := &Server{opts: opts, conns: map[net.Conn]struct{}{}}
	if err := s.configure(); err != nil {
		return nil, err
	}
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("sshserver: listen: %w", err)
	}
	s.ln = ln
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

func (s *Server) configure() error {
	opts := s.opts
	cfg := &gossh.ServerConfig{
		NoClientAuth: opts.NoAuth,
		AuthLogCallback: func(c gossh.ConnMetadata, method string, err error) {
			res := "ok"
			if err != nil {
				res = "fail"
			}
			s.mu.Lock()
			s.authLog = append(s.authLog, c.User()+" "+method+" "+res)
			s.mu.Unlock()
		},
	}
	cfg.RekeyThreshold = opts.RekeyThreshold
	if len(opts.AuthorizedKeys) > 0 {
		cfg.PublicKeyCallback = func(c gossh.ConnMetadata, key gossh.PublicKey) (*gossh.Permissions, error) {
			keys, _ := lookup(opts.AuthorizedKeys, c.User())
			for _, k := range keys {
				if bytes.Equal(k.Marshal(), key.Marshal()) {
					return nil, nil
				}
			}
			return nil, errors.New("sshserver: public key not authorized")
		}
	}
	if len(opts.Passwords) > 0 {
		cfg.PasswordCallback = func(c gossh.ConnMetadata, password []byte) (*gossh.Permissions, error) {
			want, ok := lookup(opts.Passwords, c.User())
			if ok && subtle.ConstantTimeCompare([]byte(want), password) == 1 {
				return nil, nil
			}
			return nil, errors.New("sshserver: wrong password")
		}
	}
	if len(opts.Keyboard) > 0 {
		cfg.KeyboardInteractiveCallback = func(c gossh.ConnMetadata, challenge gossh.KeyboardInteractiveChallenge) (*gossh.Permissions, error) {
			qs, ok := lookup(opts.Keyboard, c.User())
			if !ok {
				return nil, errors.New("sshserver: no keyboard-interactive questions for user")
			}
			prompts := make([]string, len(qs))
			echos := make([]bool, len(qs))
			for i, q := range qs {
				prompts[i], echos[i] = q.Prompt, q.Echo
			}
			answers, err := challenge(c.User(), "", prompts, echos)
			if err != nil {
				return nil, fmt.Errorf("sshserver: keyboard-interactive: %w", err)
			}
			if len(answers) != len(qs) {
				return nil, errors.New("sshserver: keyboard-interactive: wrong number of answers")
			}
			for i, q := range qs {
				if subtle.ConstantTimeCompare([]byte(q.Answer), []byte(answers[i])) != 1 {
					return nil, errors.New("sshserver: keyboard-interactive: wrong answer")
				}
			}
			return nil, nil
		}
	}
	if opts.Banner != "" {
		cfg.BannerCallback = func(gossh.ConnMetadata) string { return opts.Banner }
	}
	keys := opts.HostKeys
	if len(keys) == 0 {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return fmt.Errorf("sshserver: generate host key: %w", err)
		}
		signer, err := gossh.NewSignerFromKey(priv)
		if err != nil {
			return fmt.Errorf("sshserver: host key: %w", err)
		}
		keys = []gossh.Signer{signer}
	}
	for _, k := range keys {
		cfg.AddHostKey(k)
	}
	s.hostKey = keys[0].PublicKey()
	if opts.Config != nil {
		opts.Config(cfg)
	}
	if !cfg.NoClientAuth && cfg.PasswordCallback == nil && cfg.PublicKeyCallback == nil &&
		cfg.KeyboardInteractiveCallback == nil && cfg.GSSAPIWithMICConfig == nil {
		return errors.New("sshserver: no authentication configured (set AuthorizedKeys, Passwords, Keyboard or NoAuth)")
	}
	s.config = cfg

	s.subs = opts.Subsystems
	if s.subs == nil {
		s.subs = map[string]Handler{
			"powershell": Pwshsim(pwshsim.ServerOptions{SSHS: true}),
			"sftp":       SFTP(opts.SFTPRoot),
		}
	}
	s.exec = opts.Exec
	if s.exec == nil {
		s.exec = defaultExec
	}
	return nil
}

// lookup finds the entry for user, falling back to AnyUser.
func lookup[V any](m map[string]V, user string) (V, bool) {
	if v, ok := m[user]; ok {
		return v, true
	}
	v, ok := m[AnyUser]
	return v, ok
}

// Addr returns the listening address, "127.0.0.1:port".
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Port returns the listening port.
func (s *Server) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// HostKey returns the public half of the first host key.
func (s *Server) HostKey() gossh.PublicKey { return s.hostKey }

// Requests returns the type of every global request and channel request
// seen so far, in order of arrival.
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

// AuthLog returns one "user method ok|fail" entry per authentication
// attempt. Public-key queries that the server accepted are not attempts and
// are not logged; the signed request that follows is.
func (s *Server) AuthLog() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.authLog...)
}

// Close stops listening, closes every connection, cancels every handler's
// context and waits for every goroutine the server started. It is
// idempotent.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.wg.Wait()
		return nil
	}
	s.closed = true
	conns := make([]net.Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()

	s.cancel()
	err := s.ln.Close()
	for _, c := range conns {
		c.Close()
	}
	s.wg.Wait()
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("sshserver: close: %w", err)
	}
	return nil
}

func (s *Server) record(typ string) {
	s.mu.Lock()
	s.requests = append(s.requests, typ)
	s.mu.Unlock()
}

// track registers an accepted connection; it reports false once the
// server is closing.
func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// A transient error (e.g. EMFILE under a large fan-out): the
			// listener stays usable, so keep accepting.
			continue
		}
		if !s.track(c) {
			c.Close()
			return
		}
		s.wg.Add(1)
		go s.handleConn(c)
	}
}

// handleConn owns one connection: the handshake, its global requests and
// the acceptance of its channels.
func (s *Server) handleConn(nc net.Conn) {
	defer s.wg.Done()
	defer s.untrack(nc)
	defer nc.Close()
	sc, chans, reqs, err := gossh.NewServerConn(nc, s.config)
	if err != nil {
		return
	}
	defer sc.Close()
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()

	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for req := range reqs {
			s.record(req.Type)
			if req.WantReply {
				_ = req.Reply(false, nil)
			}
		}
	}()
	for nch := range chans {
		if nch.ChannelType() != "session" {
			_ = nch.Reject(gossh.UnknownChannelType, "sshserver: only session channels are served")
			continue
		}
		ch, creqs, err := nch.Accept()
		if err != nil {
			continue
		}
		s.wg.Add(1)
		go s.handleChannel(ctx, ch, creqs)
	}
}

// handleChannel serves the requests of one session channel. Its context is
// cancelled when the request stream ends, that is when the client closed
// the channel or the connection died.
func (s *Server) handleChannel(ctx context.Context, ch gossh.Channel, reqs <-chan *gossh.Request) {
	defer s.wg.Done()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	started := false
	for req := range reqs {
		s.record(req.Type)
		ok := false
		switch req.Type {
		case "subsystem", "exec":
			var p struct{ Value string }
			if started || gossh.Unmarshal(req.Payload, &p) != nil {
				break
			}
			h := s.exec
			if req.Type == "subsystem" {
				h = s.subs[p.Value]
			}
			if h == nil {
				break
			}
			ok, started = true, true
			s.wg.Add(1)
			go s.run(ctx, ch, h, p.Value)
		case "env":
			ok = true
		}
		if req.WantReply {
			_ = req.Reply(ok, nil)
		}
	}
}

// run runs h on ch, then sends EOF and exit-status and closes the channel.
func (s *Server) run(ctx context.Context, ch gossh.Channel, h Handler, cmd string) {
	defer s.wg.Done()
	pr, pw := io.Pipe()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		pump(ch, pw)
	}()
	status := h(ctx, cmd, pr, ch, ch.Stderr())
	pr.Close()
	if status < 0 {
		status = 255
	}
	_ = ch.CloseWrite()
	_, _ = ch.SendRequest("exit-status", false, gossh.Marshal(struct{ Status uint32 }{uint32(status)}))
	_ = ch.Close()
}

// pump copies the channel's incoming data into the handler's stdin pipe.
// It ends when the client sends EOF or closes, or when the handler side of
// the pipe is closed.
func pump(ch gossh.Channel, pw *io.PipeWriter) {
	buf := make([]byte, 32<<10)
	for {
		n, err := ch.Read(buf)
		if n > 0 {
			if _, werr := pw.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			pw.CloseWithError(err)
			return
		}
	}
}
