package faultproxy_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/psmux/psmux/testenv/faultproxy"
)

// echoServer echoes every connection until the client half-closes, then
// closes it. Close waits for its goroutines.
type echoServer struct {
	ln       net.Listener
	wg       sync.WaitGroup
	accepted atomic.Int64

	mu    sync.Mutex
	conns []net.Conn
}

func newEcho(t *testing.T) *echoServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &echoServer{ln: ln}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			e.accepted.Add(1)
			e.mu.Lock()
			e.conns = append(e.conns, c)
			e.mu.Unlock()
			e.wg.Add(1)
			go func() {
				defer e.wg.Done()
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		e.mu.Lock()
		for _, c := range e.conns {
			c.Close()
		}
		e.mu.Unlock()
		e.wg.Wait()
	})
	return e
}

func newProxy(t *testing.T, target string) *faultproxy.Proxy {
	t.Helper()
	p, err := faultproxy.New(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p
}

func dial(t *testing.T, p *faultproxy.Proxy) *net.TCPConn {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// echo writes data in a goroutine and reads the same number of bytes
// back.
func echo(t *testing.T, c net.Conn, data []byte) []byte {
	t.Helper()
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		werr <- err
	}()
	got := make([]byte, len(data))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read back: %v", err)
	}
	if err := <-werr; err != nil {
		t.Fatalf("write: %v", err)
	}
	return got
}

// expectNothing asserts that no byte arrives within d. A read deadline is
// the only way to observe "nothing"; a slow machine can only make this
// pass, never fail, wrongly.
func expectNothing(t *testing.T, c net.Conn, d time.Duration) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	defer c.SetReadDeadline(time.Time{})
	var b [64]byte
	n, err := c.Read(b[:])
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read returned %q, %v; want nothing until the deadline", b[:n], err)
	}
}

func TestForwardsBytesBothWays(t *testing.T) {
	e := newEcho(t)
	p := newProxy(t, e.ln.Addr().String())
	c := dial(t, p)
	data := randomBytes(t, 1<<20)
	if got := echo(t, c, data); !bytes.Equal(got, data) {
		t.Fatal("echoed bytes differ")
	}
	// Half-close travels through: the echo server sees EOF, closes, and
	// the client reads EOF.
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if n, err := io.Copy(io.Discard, c); n != 0 || err != nil {
		t.Fatalf("after CloseWrite: %d more bytes, %v; want a clean EOF", n, err)
	}
	p.Close() // waits for its goroutines, so the counters are final
	st := p.Stats()
	if st.Accepted != 1 || st.Connected != 1 || st.BytesUp != 1<<20 || st.BytesDown != 1<<20 || st.Resets != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestResetAfterBytes(t *testing.T) {
	e := newEcho(t)
	p := newProxy(t, e.ln.Addr().String())
	c := dial(t, p)
	echo(t, c, []byte("warm-up"))
	const budget = 10000
	p.ResetAfter(budget)
	data := randomBytes(t, 64<<10)
	go func() { _, _ = c.Write(data) }() // fails once reset
	n, err := io.Copy(io.Discard, c)
	if err == nil {
		err = io.EOF // io.Copy reports a clean EOF as nil
	}
	if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, io.EOF) {
		t.Fatalf("read error %v, want ECONNRESET or EOF", err)
	}
	if n > budget {
		t.Fatalf("received %d bytes after ResetAfter(%d)", n, budget)
	}
	p.Close()
	st := p.Stats()
	if st.Resets != 1 {
		t.Fatalf("resets %d, want 1", st.Resets)
	}
	if fwd := st.BytesUp + st.BytesDown - 2*int64(len("warm-up")); fwd > budget {
		t.Fatalf("forwarded %d bytes after ResetAfter(%d)", fwd, budget)
	}
}

func TestResetAllSendsRST(t *testing.T) {
	e := newEcho(t)
	p := newProxy(t, e.ln.Addr().String())
	c := dial(t, p)
	echo(t, c, []byte("x"))
	p.ResetAll()
	_, err := c.Read(make([]byte, 1))
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read after ResetAll: %v, want ECONNRESET", err)
	}
	if st := p.Stats(); st.Resets != 1 {
		t.Fatalf("resets %d, want 1", st.Resets)
	}
	// The proxy itself keeps working.
	if got := echo(t, dial(t, p), []byte("again")); string(got) != "again" {
		t.Fatalf("after reset: %q", got)
	}
}

func TestBlackholeKeepsConnectionsHalfOpen(t *testing.T) {
	e := newEcho(t)
	p := newProxy(t, e.ln.Addr().String())
	c := dial(t, p)
	echo(t, c, []byte("before"))

	p.Blackhole(true)
	if _, err := c.Write([]byte("lost")); err != nil {
		t.Fatalf("write into the blackhole: %v", err)
	}
	expectNothing(t, c, 200*time.Millisecond)

	// A new connection is accepted but never reaches the server.
	c2 := dial(t, p)
	if _, err := c2.Write([]byte("hello?")); err != nil {
		t.Fatalf("write on a half-open connection: %v", err)
	}
	expectNothing(t, c2, 200*time.Millisecond)

	p.Blackhole(false)
	// The first connection was never closed: it carries bytes again, and
	// what went into the blackhole is gone.
	if got := echo(t, c, []byte("after")); string(got) != "after" {
		t.Fatalf("after the blackhole: %q", got)
	}
	if n := e.accepted.Load(); n != 1 {
		t.Fatalf("server accepted %d connections, want 1", n)
	}
	if st := p.Stats(); st.Accepted != 2 || st.Connected != 1 || st.Resets != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestStallHoldsThenReleasesInOrder(t *testing.T) {
	for _, dir := range []faultproxy.Direction{faultproxy.Up, faultproxy.Down} {
		t.Run(dir.String(), func(t *testing.T) {
			e := newEcho(t)
			p := newProxy(t, e.ln.Addr().String())
			c := dial(t, p)
			echo(t, c, []byte("0"))

			p.Stall(dir, true)
			for _, s := range []string{"a", "bb", "ccc"} {
				if _, err := c.Write([]byte(s)); err != nil {
					t.Fatal(err)
				}
			}
			expectNothing(t, c, 150*time.Millisecond)
			p.Stall(dir, false)
			got := make([]byte, 6)
			if _, err := io.ReadFull(c, got); err != nil {
				t.Fatal(err)
			}
			if string(got) != "abbccc" {
				t.Fatalf("released %q, want abbccc", got)
			}
		})
	}
}

func TestDelayAddsToRoundTrip(t *testing.T) {
	e := newEcho(t)
	p := newProxy(t, e.ln.Addr().String())
	c := dial(t, p)
	echo(t, c, []byte("x"))
	const d = 40 * time.Millisecond
	p.SetDelay(d)
	for range 3 {
		start := time.Now()
		echo(t, c, []byte("y"))
		if rtt := time.Since(start); rtt < 2*d {
			t.Fatalf("round trip %v with a one-way delay of %v; want at least %v", rtt, d, 2*d)
		}
	}
	// Bytes read after the delay drops wait behind earlier, delayed ones.
	if _, err := c.Write([]byte("ab")); err != nil {
		t.Fatal(err)
	}
	p.SetDelay(0)
	if _, err := c.Write([]byte("cd")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 4)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "abcd" {
		t.Fatalf("got %q, %v; want abcd", got, err)
	}
}

func TestBandwidthCapBoundsThroughput(t *testing.T) {
	e := newEcho(t)
	p := newProxy(t, e.ln.Addr().String())
	c := dial(t, p)
	const rate = 256 << 10 // bytes per second
	const burst = rate / 50
	p.SetBandwidth(rate)
	data := randomBytes(t, 128<<10)

	start := time.Now()
	go func() { _, _ = c.Write(data) }()
	got := make([]byte, 0, len(data))
	buf := make([]byte, 32<<10)
	for len(got) < len(data) {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		// Whatever arrived by now passed the capped up direction after
		// start, so it can be at most one burst over rate × elapsed.
		// Slowness only lowers the left side.
		limit := burst + int(float64(rate)*time.Since(start).Seconds())
		if len(got) > limit {
			t.Fatalf("%d bytes after %v: more than the cap allows (%d)", len(got), time.Since(start), limit)
		}
		if err != nil {
			t.Fatalf("after %d bytes: %v", len(got), err)
		}
	}
	if !bytes.Equal(got, data) {
		t.Fatal("bytes differ under the bandwidth cap")
	}
	p.SetBandwidth(0)
	if got := echo(t, c, randomBytes(t, 256<<10)); len(got) != 256<<10 {
		t.Fatal("uncapped transfer failed")
	}
}

func TestCloseEndsLiveConnections(t *testing.T) {
	e := newEcho(t)
	p, err := faultproxy.New(e.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, p)
	echo(t, c, []byte("x"))
	p.Stall(faultproxy.Down, true) // a writer waiting on a stall must not block Close
	if _, err := c.Write([]byte("held")); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Read(make([]byte, 8)); err == nil {
		t.Fatalf("read %d bytes from a closed proxy", n)
	}
	if _, err := net.Dial("tcp", p.Addr()); err == nil {
		t.Fatal("a closed proxy accepted a connection")
	}
}
