package mux

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/psmux/psmux/mux/sock"
)

// Reaching the server: a client dials the socket and, when nothing
// listens there and it was asked to, starts the server first, the way
// tmux's client_connect does: under a lock, so that two clients do not
// start two servers, waiting for the new server to say it is ready.

// NoServerError says nothing listens on the socket and no server was
// started: tmux's "no server running on PATH".
type NoServerError struct{ Path string }

func (e *NoServerError) Error() string { return "no server running on " + e.Path }

// ConnectOptions say where the server is and how to start one.
type ConnectOptions struct {
	Path string // the socket
	// Start is the command line of a server to start when none listens
	// (it is given --ready-fd 3 and must write "ready" there once it
	// listens); nil: never start one.
	Start       []string
	Name        string // the client's name in its hello
	Interactive bool   // the client has a terminal: it may be asked questions
}

// Connect returns a client of the server on o.Path, starting the server
// if o.Start says how and none listens.
//
// A server that closes the connection before its hello is dying (killed,
// its socket not yet closed): Connect tries again, a few times over
// about a second, and then finds no server (or starts one).
func Connect(ctx context.Context, o ConnectOptions) (*Client, error) {
	wait := 50 * time.Millisecond
	for try := 0; ; try++ {
		c, err := DialServer(ctx, o.Path, o.Start)
		if err != nil {
			return nil, err
		}
		cl, err := NewClient(c, o.Name, o.Interactive)
		if err == nil || try == 4 || !(errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)) {
			return cl, err
		}
		t := time.NewTimer(wait) // a backoff, not a synchronisation: the dying process gives no signal
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, err
		}
		wait *= 2
	}
}

// DialServer connects to the server's socket, starting the server if
// start says how and none listens.
func DialServer(ctx context.Context, path string, start []string) (*net.UnixConn, error) {
	c, err := sock.Dial(ctx, path)
	var nse *sock.NoServerError
	if err == nil || !errors.As(err, &nse) {
		return c, err
	}
	if start == nil {
		return nil, &NoServerError{Path: path}
	}
	return startServer(ctx, path, start)
}

// startServer starts the server in its own session, under the start
// lock, and waits for it to be ready (or to exit, saying why).
func startServer(ctx context.Context, path string, argv []string) (*net.UnixConn, error) {
	if err := sock.CheckDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	unlock, err := sock.StartLock(ctx, path)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if c, err := sock.Dial(ctx, path); err == nil { // someone else started it
		return c, nil
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("mux: starting the server: %w", err)
	}
	defer r.Close()
	cmd := exec.Command(argv[0], append(argv[1:], "--ready-fd", "3")...)
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("mux: starting the server: %w", err)
	}
	cmd.Stdin, cmd.Stdout = devnull, devnull
	var errb strings.Builder
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		w.Close()
		devnull.Close()
		return nil, fmt.Errorf("mux: starting the server: %w", err)
	}
	w.Close()
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); devnull.Close(); close(exited) }() // the server outlives this client: Wait reaps it if it exits first
	ready := make(chan bool, 1)
	go func() { // ends when the server writes or exits (the pipe closes)
		b := make([]byte, 16)
		n, _ := r.Read(b)
		ready <- strings.HasPrefix(string(b[:n]), "ready")
	}()
	select {
	case ok := <-ready:
		if !ok {
			<-exited
			return nil, fmt.Errorf("mux: the server did not start: %s", strings.TrimSpace(errb.String()))
		}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return sock.Dial(ctx, path)
}
