package mux_test

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/psmux/psmux/mux"
	"github.com/psmux/psmux/testenv/opensshd"
)

// slowReads is the server's end of a connection whose reads wait while
// held: a server slow to read what the client sent last.
type slowReads struct {
	net.Conn
	mu   sync.Mutex
	gate chan struct{} // nil: reads go through
}

func (s *slowReads) hold() {
	s.mu.Lock()
	s.gate = make(chan struct{})
	s.mu.Unlock()
}

func (s *slowReads) release() {
	s.mu.Lock()
	close(s.gate)
	s.gate = nil
	s.mu.Unlock()
}

// Read hands over what it read only once released (a read already
// waiting when hold is called is held too).
func (s *slowReads) Read(p []byte) (int, error) {
	n, err := s.Conn.Read(p)
	s.mu.Lock()
	g := s.gate
	s.mu.Unlock()
	if g != nil {
		<-g
	}
	return n, err
}

// socketPair is a buffered pair of connected sockets (net.Pipe is not
// buffered: its writes wait for the reader, which hides the race).
func socketPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	conn := func(fd int) net.Conn {
		f := os.NewFile(uintptr(fd), "socketpair")
		defer f.Close()
		c, err := net.FileConn(f)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	return conn(fds[0]), conn(fds[1])
}

// A client that acknowledged what it showed and closed has moved its
// place in the session by the time Close returns, even when the server
// reads its last frames late: the next client to attach shows nothing
// it showed (S12: nothing shown twice).
func TestAcksAppliedWhenCloseReturns(t *testing.T) {
	pwshsim := opensshd.BuildPwshsim(t)
	srv, err := mux.NewServer(mux.Config{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	dial := func(wrap func(net.Conn) net.Conn) *mux.Client {
		a, b := socketPair(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			srv.ServeConn(wrap(b))
		}()
		t.Cleanup(func() { b.Close() })
		c, err := mux.NewClient(a, "test", false)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	slow := &slowReads{}
	a := dial(func(c net.Conn) net.Conn { slow.Conn = c; return slow })
	if _, err := a.Call(ctx, "new", mux.NewArgs{Name: "s", Pwsh: []string{pwshsim, "-s"}}, nil); err != nil {
		t.Fatal(err)
	}
	// a shows one command's events, acknowledging each as it goes
	states := make(chan struct{}, 16)
	var once sync.Once
	_, _, err = a.Attach(ctx, mux.AttachArgs{Target: "s"}, func(e mux.Seq) {
		if e.Cmd != 0 { // the command was read: the server reads a's acks late
			once.Do(slow.hold)
		}
		_ = a.Ack("s", e.Seq)
		if e.Kind == mux.KindState {
			states <- struct{}{}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	data, err := a.Call(ctx, "exec", mux.ExecArgs{Target: "s", Script: "'shown by a'"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var first mux.ExecResult
	_ = json.Unmarshal(data, &first)
	select {
	case <-states:
	case <-ctx.Done():
		t.Fatal("a never saw its command end")
	}
	// the server gets to a's last frames a while after a closes
	later := time.AfterFunc(300*time.Millisecond, slow.release)
	defer func() {
		if later.Stop() { // the test ended first: let the server go on
			slow.release()
		}
	}()
	a.Close()

	b := dial(func(c net.Conn) net.Conn { return c })
	var mu sync.Mutex
	var shown []string
	seen := make(chan struct{}, 16)
	_, _, err = b.Attach(ctx, mux.AttachArgs{Target: "s"}, func(e mux.Seq) {
		mu.Lock()
		shown = append(shown, e.Kind+" "+e.XML+e.Text)
		if e.Cmd == first.Job {
			shown = append(shown, "(a's command)")
		}
		mu.Unlock()
		if e.Kind == mux.KindState && e.Cmd != first.Job {
			seen <- struct{}{}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Call(ctx, "exec", mux.ExecArgs{Target: "s", Script: "'for b'"}, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-seen:
	case <-ctx.Done():
		t.Fatal("b never saw its command end")
	}
	mu.Lock()
	defer mu.Unlock()
	all := strings.Join(shown, "\n")
	if strings.Contains(all, "a's command") || !strings.Contains(all, "for b") {
		t.Fatalf("b attached after a closed and was shown:\n%s\nwant only its own command, not what a had shown", all)
	}
}
