//go:build unix

package ssh

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

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

// An empty read returns at once, as net.Conn's does, and does not wait
// for data; a closed peer's end reads as io.EOF afterwards.
func TestGatherConnEmptyRead(t *testing.T) {
	g, w := tcpPair(t)
	if err := g.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if n, err := g.Read(nil); n != 0 || err != nil {
		t.Fatalf("Read(nil) = %d, %v; want 0, nil at once", n, err)
	}
	w.Close()
	if _, err := g.Read(make([]byte, 8)); err != io.EOF {
		t.Fatalf("after the peer closed: %v, want io.EOF", err)
	}
}
