package ssh

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestReadPacer: reads in quick succession that bring kilobytes start a
// stream, in which the next read waits out the linger from the last;
// spaced reads never do, nor quick small ones (a command's exchange); a
// read that found nothing gathered, or a full buffer, reads at once.
func TestReadPacer(t *testing.T) {
	t0 := time.Unix(1000, 0)
	ms := func(f float64) time.Time { return t0.Add(time.Duration(f * float64(time.Millisecond))) }

	p := newReadPacer()
	for i := range 20 { // one read every 2 ms: no stream
		if p.read(ms(2*float64(i)), 4096, gatherBuffer) || p.wait(ms(2*float64(i))) != 0 {
			t.Fatalf("read %d, 2 ms apart, started a stream", i)
		}
	}
	for i := range 100 { // small reads every 0.1 ms: no stream
		if p.read(ms(50+0.1*float64(i)), 100, gatherBuffer) || p.wait(ms(50+0.1*float64(i))) != 0 {
			t.Fatalf("read %d of 100 bytes, 0.1 ms apart, started a stream", i)
		}
	}

	p = newReadPacer()
	started := -1
	for i := range 12 { // 4 KiB every 0.3 ms
		if p.read(ms(100+0.3*float64(i)), 4096, gatherBuffer) {
			started = i
		}
	}
	if started != gatherStreak {
		t.Fatalf("the stream started at read %d, want %d (the first quick one after %d)", started, gatherStreak, gatherStreak)
	}
	last := ms(100 + 0.3*11)
	if w := p.wait(last.Add(time.Millisecond)); w != gatherLinger-time.Millisecond {
		t.Errorf("wait 1 ms after the last read in a stream = %v, want %v", w, gatherLinger-time.Millisecond)
	}
	if w := p.wait(last.Add(gatherLinger + time.Millisecond)); w != 0 {
		t.Errorf("wait past the linger = %v, want 0", w)
	}
	if p.read(last.Add(gatherLinger), gatherBuffer, gatherBuffer) {
		t.Error("a read in a stream started another")
	}
	if w := p.wait(last.Add(gatherLinger)); w != 0 {
		t.Errorf("after a full buffer, wait = %v, want 0 (more is waiting)", w)
	}
	p.read(last.Add(gatherLinger), 10, gatherBuffer)
	p.idle()
	if w := p.wait(last.Add(gatherLinger)); w != 0 || p.streaming {
		t.Errorf("after a read that found nothing: wait %v streaming %v, want 0 false", w, p.streaming)
	}
}

// tcpPair is a loopback TCP connection: the gathering reader's end and
// the writer's.
func tcpPair(t *testing.T) (*gatherConn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	w := <-accepted
	if w == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { c.Close(); w.Close() })
	g, ok := gather(c).(*gatherConn)
	if !ok {
		t.Fatal("a TCP connection was not wrapped")
	}
	return g, w
}

func lowat(t *testing.T, g *gatherConn) int {
	t.Helper()
	var v int
	var err error
	if cerr := g.rc.Control(func(fd uintptr) { v, err = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVLOWAT) }); cerr != nil || err != nil {
		t.Fatal(cerr, err)
	}
	return v
}

// TestGatherConn, on a real socket: in a stream the socket's low-water
// mark is raised and a read takes everything that gathered at once; when
// nothing gathered, the mark goes back to 1 before the read waits, so a
// last small message (a pipeline's state) arrives, not held back until
// 64 KiB come after it. Every byte arrives, once, in order.
func TestGatherConn(t *testing.T) {
	g, w := tcpPair(t)
	var slept []time.Duration
	g.sleep = func(d time.Duration) { slept = append(slept, d) }
	g.pace.streak, g.pace.volume = 1, 1
	clock := time.Unix(1000, 0) // stopped: every wait in a stream is the whole linger
	g.now = func() time.Time { return clock }
	blocking := make(chan struct{}, 1)
	g.blocking = func() { blocking <- struct{}{} }
	if err := g.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	read := func() {
		t.Helper()
		p := make([]byte, 1<<20)
		n, err := g.Read(p)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		got.Write(p[:n])
	}
	write := func(s string) {
		t.Helper()
		if _, err := w.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}

	write("one;")
	read() // the first read: no stream
	write("two;")
	read() // within the gap of the first: a streak of 1 starts a stream
	if !g.pace.streaming || lowat(t, g) != gatherBuffer {
		t.Fatalf("after two quick reads: streaming %v, SO_RCVLOWAT %d; want true, %d", g.pace.streaming, lowat(t, g), gatherBuffer)
	}
	for _, s := range []string{"three;", "four;", "five;"} {
		write(s)
	}
	read() // waits the linger out, then takes all three at once
	if want := "one;two;three;four;five;"; got.String() != want {
		t.Fatalf("got %q, want %q", got.String(), want)
	}
	if len(slept) != 1 || slept[0] != gatherLinger {
		t.Errorf("waits in the stream: %v, want one of %v", slept, gatherLinger)
	}

	// Nothing gathers: the read finds none, puts the mark back and waits.
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-blocking
		if lowat(t, g) != 1 {
			t.Errorf("SO_RCVLOWAT while waiting after a pause = %d, want 1", lowat(t, g))
		}
		write("end") // smaller than the raised mark
	}()
	read()
	<-done
	if want := "one;two;three;four;five;end"; got.String() != want {
		t.Fatalf("got %q, want %q", got.String(), want)
	}

	w.Close()
	if n, err := g.Read(make([]byte, 10)); n != 0 || err != io.EOF {
		t.Errorf("after the peer closed: %d, %v; want 0, EOF", n, err)
	}
}
