package ssh

import (
	"context"
	"strings"
	"sync"
)

// Pool shares connections: every channel to the same user, address and
// jump chain rides one SSH connection, as OpenSSH's ControlMaster does.
// A connection closes when its last channel does; a dead one is
// forgotten so the next Open dials again.
type Pool struct {
	Options DialOptions

	mu    sync.Mutex
	conns map[string]*poolEntry
}

type poolEntry struct {
	ready chan struct{} // closed when the dial finished
	c     *Client
	err   error
	refs  int
}

// poolKey is what makes two destinations one connection: user,
// address and jump chain, as ssh's ControlPath %C, and unlike it the
// host key settings too, so a session that names another known_hosts
// file or policy has the host checked against them, never a connection
// verified under other rules.
func poolKey(cfg *Config) string {
	return strings.Join([]string{cfg.User + "@" + cfg.Addr(), strings.Join(cfg.ProxyJump, ","),
		strings.Join(cfg.UserKnownHostsFiles, " "), strings.Join(cfg.GlobalKnownHostsFiles, " "),
		cfg.StrictHostKeyChecking, cfg.HostKeyAlias}, "|")
}

// Client returns a shared connection to cfg's destination, dialling it
// if needed. release must be called once the caller is done with it.
func (p *Pool) Client(ctx context.Context, cfg *Config) (c *Client, release func(), err error) {
	key := poolKey(cfg)
	p.mu.Lock()
	if p.conns == nil {
		p.conns = make(map[string]*poolEntry)
	}
	e := p.conns[key]
	if e != nil && e.c != nil && e.c.Err() != nil {
		delete(p.conns, key) // dead: dial afresh
		e = nil
	}
	if e == nil {
		e = &poolEntry{ready: make(chan struct{})}
		p.conns[key] = e
		e.refs++
		p.mu.Unlock()
		e.c, e.err = Dial(ctx, cfg, p.Options)
		close(e.ready)
		if e.err != nil {
			p.mu.Lock()
			e.refs--
			if p.conns[key] == e {
				delete(p.conns, key)
			}
			p.mu.Unlock()
			return nil, nil, e.err
		}
	} else {
		e.refs++
		p.mu.Unlock()
		select {
		case <-e.ready:
		case <-ctx.Done():
			p.unref(key, e)
			return nil, nil, ctx.Err()
		}
		if e.err != nil {
			p.unref(key, e)
			return nil, nil, e.err
		}
	}
	var once sync.Once
	return e.c, func() { once.Do(func() { p.unref(key, e) }) }, nil
}

func (p *Pool) unref(key string, e *poolEntry) {
	p.mu.Lock()
	e.refs--
	last := e.refs == 0
	if last && p.conns[key] == e {
		delete(p.conns, key)
	}
	p.mu.Unlock()
	if last && e.c != nil {
		_ = e.c.Close()
	}
}

// Open opens a channel running spec on a shared connection to cfg's
// destination. Closing the channel releases the connection.
func (p *Pool) Open(ctx context.Context, cfg *Config, spec ChannelSpec, stderr func(string)) (*Channel, error) {
	c, release, err := p.Client(ctx, cfg)
	if err != nil {
		return nil, err
	}
	ch, err := c.Open(ctx, spec, stderr)
	if err != nil {
		release()
		return nil, err
	}
	ch.release = release
	return ch, nil
}

// Len is the number of live connections.
func (p *Pool) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// Close closes every connection the pool holds.
func (p *Pool) Close() error {
	p.mu.Lock()
	var es []*poolEntry
	for k, e := range p.conns {
		es = append(es, e)
		delete(p.conns, k)
	}
	p.mu.Unlock()
	for _, e := range es {
		<-e.ready
		if e.c != nil {
			_ = e.c.Close()
		}
	}
	return nil
}
