package mux

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/psmux/psmux/mux/sock"
)

// testServerEnv makes this test binary a psmux server on the socket it
// names (the server Connect starts in TestConnectStartsOneServer).
const testServerEnv = "PSMUX_MUX_TEST_SERVER"

func TestMain(m *testing.M) {
	if path := os.Getenv(testServerEnv); path != "" {
		os.Exit(serveForTest(path))
	}
	os.Exit(m.Run())
}

// serveForTest is a server as `psmux server --ready-fd 3` runs one.
func serveForTest(path string) int {
	ln, err := sock.Listen(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer ln.Close()
	srv, err := NewServer(Config{Version: "test"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ready := os.NewFile(3, "ready")
	fmt.Fprintln(ready, "ready")
	ready.Close()
	go func() { <-srv.Done(); ln.Close() }()
	acc := &sock.Accepter{L: ln}
	_ = srv.Serve(func() (net.Conn, error) { return acc.Accept() })
	_ = srv.Shutdown(context.Background())
	return 0
}

// Connect starts the server on demand, once however many clients ask at
// the same moment, and without Start says no server runs.
func TestConnectStartsOneServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "s")
	t.Setenv(testServerEnv, path) // the started server (this binary) inherits it
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var nse *NoServerError
	if _, err := Connect(ctx, ConnectOptions{Path: path, Name: "test"}); !errors.As(err, &nse) || err.Error() != "no server running on "+path {
		t.Fatalf("Connect with nothing listening and no Start: %v; want no server running on %s", err, path)
	}
	const n = 4
	clients := make([]*Client, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			clients[i], errs[i] = Connect(ctx, ConnectOptions{Path: path, Start: []string{self}, Name: "test"})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		defer clients[i].Close()
	}
	for i, c := range clients {
		if c.serverPID <= 0 || c.serverPID != clients[0].serverPID {
			t.Fatalf("client %d reached server pid %d, client 0 pid %d: want one server", i, c.serverPID, clients[0].serverPID)
		}
	}
	if err := clients[0].KillServer(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := Connect(ctx, ConnectOptions{Path: path, Name: "test"}); !errors.As(err, &nse) {
		t.Fatalf("Connect after kill-server: %v; want no server running", err)
	}
}

// A connection closed before the server's hello (a server dying with its
// socket still open) is tried again rather than reported as "hello: EOF".
func TestConnectRetriesAfterAnEarlyClose(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "s")
	ln, err := sock.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(Config{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		for n := 0; ; n++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if n < 2 { // the first two connections end before a hello
				c.Close()
				continue
			}
			go srv.ServeConn(c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-served
		_ = srv.Shutdown(context.Background())
	})
	c, err := Connect(ctx, ConnectOptions{Path: path, Name: "test"})
	if err != nil {
		t.Fatalf("Connect after two early closes: %v", err)
	}
	c.Close()
}
