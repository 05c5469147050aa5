package ssh

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// DialOptions are what a dial needs besides the destination's Config.
type DialOptions struct {
	// Prompter asks for passwords, passphrases, 2FA codes and unknown
	// host keys; nil means nobody can be asked (non-interactive).
	Prompter Prompter
	// Warn receives notices: host keys added, the server's banner.
	Warn func(string)
}

// UnreachableError says the destination could not be reached: the TCP
// connect or the SSH version exchange failed or timed out.
type UnreachableError struct {
	Dest string
	Addr string
	Err  error
}

func (e *UnreachableError) Error() string {
	host, port, _ := net.SplitHostPort(e.Addr)
	return fmt.Sprintf("ssh: connect to host %s port %s: %v", host, port, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// ErrTimeout is the cause of a connect or handshake that took longer
// than ConnectTimeout.
var ErrTimeout = errors.New("connection timed out")

// LostError says an established connection died: a reset, a closed
// socket, or ServerAliveCountMax keepalives without an answer.
type LostError struct {
	Dest string
	Err  error
}

func (e *LostError) Error() string {
	return fmt.Sprintf("ssh: connection to %s lost: %v", e.Dest, e.Err)
}

func (e *LostError) Unwrap() error { return e.Err }

// Client is one SSH connection to a destination, possibly through
// ProxyJump hops. It sends keepalives and records why it ended.
type Client struct {
	cfg  *Config
	conn *gossh.Client
	hops []*gossh.Client // the jump chain, nearest first

	method  string          // the auth method that worked on the last hop
	hostKey gossh.PublicKey // the last hop's host key

	done      chan struct{} // closed when the connection is gone
	errOnce   sync.Once
	err       error // why it ended; set before done is closed
	stop      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// Dial connects to cfg's destination through its ProxyJump hops,
// honouring ctx for the connects and handshakes and cfg.ConnectTimeout
// for each hop's TCP connect and SSH handshake (time spent waiting for
// the user at a prompt does not count).
func Dial(ctx context.Context, cfg *Config, o DialOptions) (*Client, error) {
	if cfg.ProxyCommand != "" && cfg.ProxyCommand != "none" {
		return nil, fmt.Errorf("ssh: %s: ProxyCommand is not supported by the built-in client; use --ssh-client=system, or ProxyJump", cfg.Dest)
	}
	var chain []*gossh.Client
	closeChain := func() {
		for i := len(chain) - 1; i >= 0; i-- {
			_ = chain[i].Close()
		}
	}
	var via *gossh.Client
	for _, hop := range cfg.ProxyJump {
		hc, err := Resolve(hop, cfg.hops)
		if err != nil {
			closeChain()
			return nil, fmt.Errorf("ssh: ProxyJump %s: %w", hop, err)
		}
		c, _, err := dialHop(ctx, via, hc, o)
		if err != nil {
			closeChain()
			return nil, err
		}
		chain = append(chain, c)
		via = c
	}
	conn, a, err := dialHop(ctx, via, cfg, o)
	if err != nil {
		closeChain()
		return nil, err
	}
	c := &Client{cfg: cfg, conn: conn, hops: chain, method: a.method(), hostKey: a.hostKey,
		done: make(chan struct{}), stop: make(chan struct{})}
	c.wg.Add(1)
	go c.wait()
	if cfg.ServerAliveInterval > 0 {
		c.wg.Add(1)
		go c.keepalive(cfg.ServerAliveInterval, max(cfg.ServerAliveCountMax, 1))
	}
	return c, nil
}

// dialHop makes one TCP connection (directly or through via) and runs
// the SSH handshake on it.
func dialHop(ctx context.Context, via *gossh.Client, cfg *Config, o DialOptions) (*gossh.Client, *auth, error) {
	addr := cfg.Addr()
	timeout := cfg.ConnectTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	tctx, cancel := context.WithTimeout(ctx, timeout)
	var nc net.Conn
	var err error
	if via == nil {
		var d net.Dialer
		nc, err = d.DialContext(tctx, "tcp", addr)
	} else {
		nc, err = via.DialContext(tctx, "tcp", addr)
	}
	timedOut := tctx.Err() == context.DeadlineExceeded && ctx.Err() == nil
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		if timedOut {
			err = ErrTimeout
		}
		return nil, nil, &UnreachableError{Dest: cfg.Dest, Addr: addr, Err: err}
	}

	// The handshake has its own clock, paused while the user is asked.
	var expired atomic.Bool
	clock := time.AfterFunc(timeout, func() { expired.Store(true); _ = nc.Close() })
	defer clock.Stop()
	var ask func(context.Context, PromptRequest) ([]string, error)
	var prompter Prompter
	if o.Prompter != nil {
		ask = func(ctx context.Context, req PromptRequest) ([]string, error) {
			if !clock.Stop() {
				return nil, ErrTimeout
			}
			defer clock.Reset(timeout)
			return o.Prompter.Prompt(ctx, req)
		}
		prompter = PromptFunc(ask)
	}
	a := &auth{cfg: cfg, dest: cfg.Dest, ask: ask, ctx: ctx}
	defer func() {
		for _, c := range a.closer {
			_ = c.Close()
		}
	}()
	checker := NewHostKeyChecker(cfg, prompter, o.Warn)
	hostKeys := checker.Callback(ctx)
	ccfg := &gossh.ClientConfig{
		User:         cfg.User,
		Auth:         a.methods(),
		AuthCallback: a.callback,
		HostKeyCallback: func(name string, remote net.Addr, key gossh.PublicKey) error {
			a.hostKey = key
			return hostKeys(name, remote, key)
		},
		HostKeyAlgorithms: hostKeyOrder(checker.Algorithms(addr)),
		BannerCallback: func(msg string) error {
			if o.Warn != nil {
				o.Warn(msg)
			}
			return nil
		},
	}
	if cfg.RekeyLimit > 0 {
		ccfg.RekeyThreshold = uint64(cfg.RekeyLimit)
	}
	stop := context.AfterFunc(ctx, func() { _ = nc.Close() })
	sc, chans, reqs, err := gossh.NewClientConn(gather(nc), addr, ccfg)
	canceled := !stop()
	if err == nil && (canceled || !clock.Stop()) {
		_ = sc.Close()
		err = ErrTimeout
	}
	if err != nil {
		_ = nc.Close()
		var hk *HostKeyError
		switch {
		case canceled:
			return nil, nil, ctx.Err()
		case errors.As(err, &hk):
			return nil, nil, hk
		case expired.Load():
			return nil, nil, &UnreachableError{Dest: cfg.Dest, Addr: addr, Err: fmt.Errorf("%w during the SSH handshake", ErrTimeout)}
		}
		if ae := a.failure(err); ae != nil {
			return nil, nil, ae
		}
		return nil, nil, &UnreachableError{Dest: cfg.Dest, Addr: addr, Err: err}
	}
	return gossh.NewClient(sc, chans, reqs), a, nil
}

// hostKeyOrder puts the algorithms known_hosts has for the host first,
// as OpenSSH does, so a host with several key types is asked for the
// one we can check.
func hostKeyOrder(known []string) []string {
	if len(known) == 0 {
		return nil
	}
	out := slices.Clone(known)
	for _, alg := range gossh.SupportedAlgorithms().HostKeys {
		if !slices.Contains(out, alg) {
			out = append(out, alg)
		}
	}
	return out
}

// wait notices the connection's end.
func (c *Client) wait() {
	defer c.wg.Done()
	err := c.conn.Wait()
	if err == nil {
		err = errors.New("connection closed")
	}
	c.fail(err)
}

// fail records why the connection ended (the first cause wins) and
// closes it.
func (c *Client) fail(err error) {
	c.errOnce.Do(func() {
		c.err = &LostError{Dest: c.cfg.Dest, Err: err}
		close(c.done)
	})
	_ = c.conn.Close()
}

// keepalive sends keepalive@openssh.com every interval and fails the
// connection after count intervals without an answer.
func (c *Client) keepalive(interval time.Duration, count int) {
	defer c.wg.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	replies := make(chan error, 1)
	inflight, missed := false, 0
	for {
		select {
		case <-c.stop:
			return
		case <-c.done:
			return
		case err := <-replies:
			inflight = false
			if err != nil {
				return
			}
			missed = 0
		case <-t.C:
			if !inflight {
				inflight = true
				c.wg.Add(1)
				go func() {
					defer c.wg.Done()
					_, _, err := c.conn.SendRequest("keepalive@openssh.com", true, nil)
					replies <- err
				}()
				continue
			}
			missed++
			if missed >= count {
				c.fail(fmt.Errorf("no answer to %d keepalives sent %s apart (ServerAliveInterval, ServerAliveCountMax)", count, interval))
				return
			}
		}
	}
}

// Config is the destination this client reached.
func (c *Client) Config() *Config { return c.cfg }

// AuthMethod is the authentication method that succeeded.
func (c *Client) AuthMethod() string { return c.method }

// HostKey is the host key the server showed (and that was accepted).
func (c *Client) HostKey() gossh.PublicKey { return c.hostKey }

// ServerVersion is the server's SSH identification string.
func (c *Client) ServerVersion() string { return string(c.conn.ServerVersion()) }

// Done is closed when the connection has ended.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err says why the connection ended: a *LostError, or nil while it is up.
func (c *Client) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

// Raw is the underlying x/crypto client, for SFTP and the benchmarks.
func (c *Client) Raw() *gossh.Client { return c.conn }

// Close ends the connection and its hops and waits for the goroutines
// it started.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		close(c.stop)
		c.fail(errors.New("closed"))
		c.wg.Wait()
		for i := len(c.hops) - 1; i >= 0; i-- {
			_ = c.hops[i].Close()
		}
	})
	return nil
}
