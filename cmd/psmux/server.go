package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/psmux/psmux/mux"
	"github.com/psmux/psmux/mux/sock"
	"github.com/psmux/psmux/mux/store"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// global holds psmux's own flags: -L NAME, -S PATH.
type global struct {
	label, socket string
}

// socketPath is where the server listens (SPEC S6; sock.Path).
func (g global) socketPath() (string, error) {
	p, err := sock.Path(g.label, g.socket)
	if err != nil {
		return "", errors.New(strings.TrimPrefix(err.Error(), "sock: "))
	}
	return p, nil
}

// runServer is `psmux server [--foreground] [--trace DIR]`: listen on the
// socket, restore the registry, serve until kill-server.
func runServer(g global, args []string, stderr io.Writer) int {
	fs := newFlagSet("server", "server [--foreground] [--trace DIR] [--idle-check D] [--max-memory BYTES] [--max-disk BYTES] [--procs N] [--ready-fd N]  (started on demand by the other commands)", stderr)
	fg := fs.Bool("foreground", false, "stay in the foreground and log to stderr")
	trace := fs.String("trace", "", "write each session's OutOfProc traffic to `DIR`/<name>.oop (secrets masked) and log every request")
	readyFD := fs.Int("ready-fd", 0, "write \"ready\" to this descriptor once listening (used when started on demand)")
	idle := fs.Duration("idle-check", time.Second, "how often idle sessions are looked for")
	maxMem := fs.Int64("max-memory", mux.DefaultMaxMemory, "the memory budget in bytes shared by every session's output log")
	maxDisk := fs.Int64("max-disk", mux.DefaultMaxDisk, "the disk budget in bytes shared by every session's log on disk (oldest files go first)")
	procs := fs.Int("procs", mux.DefaultProcs, "how many threads run the server's Go code at once (`N`; 0: one per CPU; the GOMAXPROCS environment variable, if set, wins)")
	if code, ok := parseFlags(fs, args, 0, os.Stdout); !ok {
		return code
	}
	path, err := g.socketPath()
	if err != nil {
		fmt.Fprintf(stderr, "psmux: %v\n", err)
		return exitUsage
	}
	dir, err := store.Dir(path)
	if err != nil {
		fmt.Fprintf(stderr, "psmux: server: %v\n", err)
		return exitConnect
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		fmt.Fprintf(stderr, "psmux: server: %v\n", err)
		return exitConnect
	}
	if *trace != "" {
		if *trace, err = filepath.Abs(*trace); err == nil {
			err = os.MkdirAll(*trace, 0o700)
		}
		if err != nil {
			fmt.Fprintf(stderr, "psmux: server: --trace: %v\n", err)
			return exitUsage
		}
	}
	logw := io.Writer(stderr)
	if !*fg {
		f, err := os.OpenFile(filepath.Join(dir, "server.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err == nil {
			defer f.Close()
			logw = f
		}
	}
	logger := log.New(logw, "psmux server: ", log.LstdFlags)
	ln, err := sock.Listen(path)
	if err != nil {
		fmt.Fprintf(stderr, "psmux: %s\n", strings.TrimPrefix(err.Error(), "sock: "))
		return exitConnect
	}
	defer ln.Close() // removes the socket file only if it is still ours
	if os.Getenv("GOMAXPROCS") == "" && *procs > 0 {
		runtime.GOMAXPROCS(*procs)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		// the collector works harder as the heap nears the logs' budget
		// plus headroom, instead of letting it double (GOGC) past it
		debug.SetMemoryLimit(mux.MemoryLimit(*maxMem))
	}
	srv, err := mux.NewServer(mux.Config{Version: version, StateFile: filepath.Join(dir, store.FileName),
		Logf: logger.Printf, IdleCheck: *idle, MaxMemory: *maxMem, MaxDisk: *maxDisk, Trace: *trace != "", TraceDir: *trace})
	if err != nil {
		fmt.Fprintf(stderr, "psmux: %v\n", err)
		return exitConnect
	}
	if f, ok := logw.(*os.File); ok && !*fg {
		// From here on what the runtime writes to stderr (a panic, the
		// goroutine dump of SIGQUIT) goes to the log, not to the pipe of
		// the client that started the server, which is gone by then.
		_ = unix.Dup2(int(f.Fd()), 2)
	}
	logger.Printf("listening on %s (pid %d)", path, os.Getpid())
	logger.Printf("GOMAXPROCS=%d (--procs)", runtime.GOMAXPROCS(0))
	if *readyFD > 0 {
		f := os.NewFile(uintptr(*readyFD), "ready")
		fmt.Fprintln(f, "ready")
		f.Close()
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	go func() {
		select {
		case sig := <-sigs:
			logger.Printf("%v: shutting down", sig)
			srv.Shutdown(context.Background())
		case <-srv.Done():
		}
		ln.Close()
	}()
	acc := &sock.Accepter{L: ln, Log: func(s string) { logger.Print(s) }}
	err = srv.Serve(func() (net.Conn, error) { return acc.Accept() })
	srv.Shutdown(context.Background())
	if err != nil {
		logger.Print(err)
	}
	logger.Printf("exited")
	return exitOK
}

// connect reaches the server, starting it on demand when start is set.
func connect(ctx context.Context, g global, start bool, stdin *os.File) (*mux.Client, error) {
	path, err := g.socketPath()
	if err != nil {
		return nil, err
	}
	return mux.Connect(ctx, mux.ConnectOptions{Path: path, Start: serverArgv(start, path), Name: "psmux " + version,
		Interactive: stdin != nil && term.IsTerminal(int(stdin.Fd()))})
}

// serverArgv is the command line that starts this psmux's server on
// path, when start asks for one.
func serverArgv(start bool, path string) []string {
	if !start {
		return nil
	}
	self, err := os.Executable()
	if err != nil {
		self = os.Args[0]
	}
	return []string{self, "-S", path, "server"}
}

// runProxy is `psmux proxy`: it bridges stdin/stdout to the server
// socket, so `attach --via host` can reach a server over SSH.
func runProxy(g global, stdin io.Reader, stdout io.Writer, stderr io.Writer) int {
	path, err := g.socketPath()
	if err != nil {
		fmt.Fprintf(stderr, "psmux: %v\n", err)
		return exitUsage
	}
	ctx := context.Background()
	c, err := mux.DialServer(ctx, path, serverArgv(true, path))
	if err != nil {
		fmt.Fprintf(stderr, "psmux: proxy: %v\n", err)
		return exitConnect
	}
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(c, stdin); _ = c.CloseWrite(); done <- struct{}{} }()
	go func() { _, _ = io.Copy(stdout, c); done <- struct{}{} }()
	<-done
	c.Close()
	return exitOK
}

func absPath(p string) (string, error) {
	if strings.HasPrefix(p, "~") {
		return p, nil
	}
	return filepath.Abs(p)
}
