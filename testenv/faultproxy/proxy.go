package faultproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// Direction is one of the two directions a connection carries bytes.
type Direction int

// The two directions.
const (
	Up   Direction = iota // client → server
	Down                  // server → client
)

func (d Direction) String() string {
	switch d {
	case Up:
		return "up"
	case Down:
		return "down"
	}
	return fmt.Sprintf("Direction(%d)", int(d))
}

// Stats are counters since the proxy started.
type Stats struct {
	Accepted  int64 // connections accepted from clients
	Connected int64 // of those, connections made to the target
	BytesUp   int64 // bytes forwarded client → server
	BytesDown int64 // bytes forwarded server → client
	Dropped   int64 // bytes swallowed by the blackhole
	Resets    int64 // connections reset by ResetAfter or ResetAll
}

const (
	readSize    = 32 << 10 // bytes per read
	queueLen    = 1024     // reads queued per direction before the reader waits
	dialTimeout = 10 * time.Second
)

// Proxy forwards every connection accepted on its loopback address to a
// target address, injecting the faults its knobs select. Its methods are
// safe for concurrent use.
type Proxy struct {
	target string
	ln     net.Listener
	ctx    context.Context // cancelled by Close; bounds dials to the target
	cancel context.CancelFunc
	wg     sync.WaitGroup // the accept loop and every connection's goroutines

	mu        sync.Mutex // guards everything below
	closed    bool
	conns     map[*conn]struct{}
	delay     time.Duration
	rate      int64 // bytes per second per direction per connection; 0 = unlimited
	stalled   [2]bool
	blackhole bool
	budget    int64         // bytes left before every connection is reset; < 0 = disarmed
	tripping  bool          // the budget ran out; its writer has yet to reset everything
	changed   chan struct{} // closed and replaced whenever a knob changes
	stats     Stats
}

// New listens on 127.0.0.1:0 and forwards every accepted connection to
// target.
func New(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen: %w", err)
	}
	p := &Proxy{
		target:  target,
		ln:      ln,
		conns:   map[*conn]struct{}{},
		budget:  -1,
		changed: make(chan struct{}),
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr returns the proxy's address, "127.0.0.1:port".
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Port returns the proxy's port.
func (p *Proxy) Port() int { return p.ln.Addr().(*net.TCPAddr).Port }

// SetDelay adds d of one-way latency in each direction (so a round trip
// grows by 2d), preserving byte order. It applies to bytes read after the
// call.
func (p *Proxy) SetDelay(d time.Duration) {
	p.knob(func() { p.delay = max(d, 0) })
}

// SetBandwidth caps each direction of each connection at bytesPerSec;
// 0 removes the cap. Bursts are at most one fiftieth of a second's worth
// (and at most 32 KiB).
func (p *Proxy) SetBandwidth(bytesPerSec int64) {
	p.knob(func() { p.rate = max(bytesPerSec, 0) })
}

// ResetAfter arms a one-shot reset: after n more bytes have been forwarded
// (both directions, all connections, counted from now), every connection
// is reset with an RST. n = 0 resets at the next byte; n < 0 disarms.
func (p *Proxy) ResetAfter(n int64) {
	p.knob(func() { p.budget = max(n, -1) })
}

// ResetAll resets every current connection with an RST to both ends.
func (p *Proxy) ResetAll() {
	p.mu.Lock()
	conns := p.snapshot()
	p.mu.Unlock()
	for _, c := range conns {
		if c.teardown(true) {
			p.mu.Lock()
			p.stats.Resets++
			p.mu.Unlock()
		}
	}
}

// Blackhole, while on, silently drops the bytes of every connection in
// both directions without closing anything, and accepts new connections
// without ever connecting them to the target (they stay half-open until
// the client gives up, ResetAll or Close). Turning it off resumes
// forwarding on connections that were connected; what was dropped stays
// lost.
func (p *Proxy) Blackhole(on bool) {
	p.knob(func() { p.blackhole = on })
}

// Stall stops (on) or resumes forwarding in one direction without dropping
// anything: bytes are held, in order, until the direction is resumed. Once
// the held bytes fill the proxy's queue the sender is back-pressured.
func (p *Proxy) Stall(dir Direction, on bool) {
	if dir != Up && dir != Down {
		return
	}
	p.knob(func() { p.stalled[dir] = on })
}

// Stats returns the counters so far.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// Close stops accepting, closes every connection and waits for every
// goroutine the proxy started. It is idempotent.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		p.wg.Wait()
		return nil
	}
	p.closed = true
	conns := p.snapshot()
	p.mu.Unlock()
	p.cancel()
	err := p.ln.Close()
	for _, c := range conns {
		c.teardown(false)
	}
	p.wg.Wait()
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("faultproxy: close: %w", err)
	}
	return nil
}

// knob applies a change under the lock and wakes every waiting writer.
func (p *Proxy) knob(f func()) {
	p.mu.Lock()
	f()
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
}

// snapshot returns the current connections; p.mu must be held.
func (p *Proxy) snapshot() []*conn {
	conns := make([]*conn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	return conns
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		nc, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // transient (e.g. EMFILE); the listener is still usable
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			nc.Close()
			return
		}
		c := &conn{p: p, client: nc, done: make(chan struct{})}
		p.conns[c] = struct{}{}
		p.stats.Accepted++
		half := p.blackhole
		p.wg.Add(1)
		p.mu.Unlock()
		go p.handle(c, half)
	}
}

// handle owns one connection and the goroutines of its two directions.
func (p *Proxy) handle(c *conn, halfOpen bool) {
	defer p.wg.Done()
	defer func() {
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
	}()
	if halfOpen {
		// Never connected: swallow what the client sends until it (or
		// ResetAll, or Close) ends the connection.
		n, _ := io.Copy(io.Discard, c.client)
		p.mu.Lock()
		p.stats.Dropped += n
		p.mu.Unlock()
		c.teardown(false)
		return
	}
	var d net.Dialer
	ctx, cancel := context.WithTimeout(p.ctx, dialTimeout)
	server, err := d.DialContext(ctx, "tcp", p.target)
	cancel()
	if err != nil {
		c.teardown(false)
		return
	}
	if !c.setServer(server) {
		return // reset or closed while dialing
	}
	p.mu.Lock()
	p.stats.Connected++
	p.mu.Unlock()

	var wg sync.WaitGroup
	for _, d := range []struct {
		dir      Direction
		src, dst net.Conn
	}{{Up, c.client, server}, {Down, server, c.client}} {
		q := make(chan chunk, queueLen)
		wg.Add(2)
		go func() {
			defer wg.Done()
			p.read(c, d.src, q)
		}()
		go func() {
			defer wg.Done()
			p.write(c, d.dir, d.dst, q)
		}()
	}
	wg.Wait()
	c.teardown(false)
}

// chunk is one read, due to leave the proxy at due.
type chunk struct {
	b   []byte
	due time.Time
	eof bool // the source sent EOF: half-close the destination
}

// read moves bytes from src into q, stamped with their departure time.
func (p *Proxy) read(c *conn, src net.Conn, q chan<- chunk) {
	defer close(q)
	buf := make([]byte, readSize)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			drop, due := p.blackhole, time.Now().Add(p.delay)
			if drop {
				p.stats.Dropped += int64(n)
			}
			p.mu.Unlock()
			if !drop {
				select {
				case q <- chunk{b: append([]byte(nil), buf[:n]...), due: due}:
				case <-c.done:
					return
				}
			}
		}
		if err != nil {
			switch {
			case errors.Is(err, io.EOF):
				p.mu.Lock()
				due := time.Now().Add(p.delay)
				p.mu.Unlock()
				select {
				case q <- chunk{eof: true, due: due}:
				case <-c.done:
				}
			case !c.isDone():
				// The peer reset (or the socket failed): pass an RST on
				// to the other side, as the network would.
				c.teardown(true)
			}
			return
		}
	}
}

// write releases q's chunks to dst in order, applying delay, stall,
// blackhole, bandwidth cap and reset budget.
func (p *Proxy) write(c *conn, dir Direction, dst net.Conn, q <-chan chunk) {
	var next time.Time // pacing: when the next piece may leave
	for {
		var ck chunk
		var ok bool
		select {
		case ck, ok = <-q:
		case <-c.done:
			return
		}
		if !ok {
			return
		}
		if !c.sleepUntil(ck.due) {
			return
		}
		if ck.eof {
			if !p.waitUnstalled(c, dir) {
				return
			}
			if cw, ok := dst.(interface{ CloseWrite() error }); ok {
				_ = cw.CloseWrite()
			}
			continue
		}
		for b := ck.b; len(b) > 0; {
			if !p.waitUnstalled(c, dir) {
				return
			}
			p.mu.Lock()
			rate, drop, changed := p.rate, p.blackhole, p.changed
			p.mu.Unlock()
			if drop {
				p.mu.Lock()
				p.stats.Dropped += int64(len(b))
				p.mu.Unlock()
				break
			}
			piece := len(b)
			if rate > 0 {
				piece = int(min(int64(piece), max(1, min(readSize, rate/50))))
				now := time.Now()
				if next.Before(now) {
					next = now
				}
				if next.After(now) {
					t := time.NewTimer(next.Sub(now))
					select {
					case <-t.C:
					case <-changed: // the cap or a stall changed: re-evaluate
						t.Stop()
						continue
					case <-c.done:
						t.Stop()
						return
					}
				}
				next = next.Add(time.Duration(int64(piece) * int64(time.Second) / rate))
			}
			allow, verdict := p.spend(piece)
			if verdict == held {
				<-c.done // the tripping writer's ResetAll is about to reset us
				return
			}
			var err error
			if allow > 0 {
				var n int
				n, err = dst.Write(b[:allow])
				p.mu.Lock()
				if dir == Up {
					p.stats.BytesUp += int64(n)
				} else {
					p.stats.BytesDown += int64(n)
				}
				p.mu.Unlock()
			}
			if verdict == trip {
				// Reset first, then let writers pass again: a writer let
				// through before the reset would forward bytes beyond
				// the budget on a connection about to be reset.
				p.ResetAll()
				p.mu.Lock()
				p.tripping = false
				p.mu.Unlock()
				return
			}
			if err != nil {
				c.teardown(false)
				return
			}
			b = b[allow:]
		}
	}
}

// A spend verdict.
const (
	pass = iota // write the allowed bytes
	trip        // write the allowed bytes, then reset every connection
	held        // write nothing: another writer is about to reset everything
)

// spend takes up to n bytes from the reset budget and says how many may
// be written. When the budget runs out it disarms, and until the writer
// that tripped it has written its last bytes and reset everything, other
// writers are held so no byte passes beyond the budget.
func (p *Proxy) spend(n int) (allow, verdict int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tripping {
		return 0, held
	}
	if p.budget < 0 {
		return n, pass
	}
	allow = int(min(int64(n), p.budget))
	p.budget -= int64(allow)
	if p.budget == 0 {
		p.budget = -1
		p.tripping = true
		return allow, trip
	}
	return allow, pass
}

// waitUnstalled blocks while dir is stalled; it reports false if the
// connection ended meanwhile.
func (p *Proxy) waitUnstalled(c *conn, dir Direction) bool {
	for {
		p.mu.Lock()
		stalled, changed := p.stalled[dir], p.changed
		p.mu.Unlock()
		if !stalled {
			return true
		}
		select {
		case <-changed:
		case <-c.done:
			return false
		}
	}
}

// conn is one proxied connection.
type conn struct {
	p      *Proxy
	client net.Conn
	done   chan struct{} // closed by teardown

	mu     sync.Mutex // guards server and torn
	server net.Conn   // nil until connected
	torn   bool
}

// setServer records the connection to the target; it reports false (and
// closes server) if the connection was torn down meanwhile.
func (c *conn) setServer(server net.Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.torn {
		server.Close()
		return false
	}
	c.server = server
	return true
}

func (c *conn) isDone() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// teardown closes both sides, with an RST if rst is set. It reports
// whether this call did it.
func (c *conn) teardown(rst bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.torn {
		return false
	}
	c.torn = true
	for _, nc := range []net.Conn{c.client, c.server} {
		if nc == nil {
			continue
		}
		if tc, ok := nc.(*net.TCPConn); ok && rst {
			_ = tc.SetLinger(0) // Close then sends RST, not FIN
		}
		nc.Close()
	}
	close(c.done)
	return true
}

// sleepUntil waits until t; it reports false if the connection ended
// first.
func (c *conn) sleepUntil(t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return !c.isDone()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-c.done:
		return false
	}
}
