package sock

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultName is the socket name used when -L is not given.
const DefaultName = "default"

// DeniedPrefix starts the single line a refused peer reads before the
// server closes the connection. It is plain text, not a protocol frame, so
// a client that reads it where it expected a frame can recognise it and
// print it as is.
const DeniedPrefix = "psmux: access denied"

// ErrRunning says a live server answered on the socket Listen was asked to
// create. Listen wraps it with the path; match it with errors.Is.
var ErrRunning = errors.New("sock: a server is already running on this socket")

// UnsafeError says a socket directory or socket path failed a safety check.
// Reason says what is wrong, Fix how to put it right.
type UnsafeError struct {
	Path   string
	Reason string
	Fix    string
}

func (e *UnsafeError) Error() string {
	msg := "sock: refusing unsafe socket path " + e.Path + ": " + e.Reason
	if e.Fix != "" {
		msg += "; " + e.Fix
	}
	return msg
}

// NoServerError says nothing listens on the socket: the file is missing,
// or it is a stale socket nobody answers on. Err is the dial error.
type NoServerError struct {
	Path string
	Err  error
}

// Error reads like tmux's message, after the package prefix.
func (e *NoServerError) Error() string { return "sock: no server running on " + e.Path }

func (e *NoServerError) Unwrap() error { return e.Err }

// Path returns the socket path (SPEC S6). explicit (-S PATH) wins, then
// $PSMUX_SOCKET when no -L label is given; either is made absolute, so a
// server started on demand from another directory finds the same file.
// Otherwise the path is $XDG_RUNTIME_DIR/psmux/<label> (else
// $TMPDIR/psmux-<uid>/<label>), with label from -L and DefaultName when
// empty. A label may not contain '/' or be "." or "..": it names a file in
// the directory and must not escape it. A path longer than the platform's
// sun_path limit is refused here, with a hint, instead of failing later at
// bind.
func Path(label, explicit string) (string, error) {
	if explicit == "" && label == "" {
		explicit = os.Getenv("PSMUX_SOCKET")
	}
	var p string
	if explicit != "" {
		abs, err := filepath.Abs(explicit)
		if err != nil {
			return "", fmt.Errorf("sock: socket path %q: %w", explicit, err)
		}
		p = abs
	} else {
		if label == "" {
			label = DefaultName
		}
		if strings.ContainsRune(label, '/') || label == "." || label == ".." {
			return "", fmt.Errorf("sock: -L %q: a name, not a path (use -S for a path)", label)
		}
		if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
			p = filepath.Join(d, "psmux", label)
		} else {
			p = filepath.Join(os.TempDir(), "psmux-"+strconv.Itoa(os.Getuid()), label)
		}
	}
	if err := checkLen(p); err != nil {
		return "", err
	}
	return p, nil
}

// checkLen refuses a path that does not fit in sockaddr_un.sun_path.
func checkLen(p string) error {
	if len(p) > maxPathLen {
		return fmt.Errorf("sock: socket path %s is %d bytes, longer than the %d the system allows; use a shorter -S PATH", p, len(p), maxPathLen)
	}
	return nil
}

// Listener is the server's socket, as Listen returns it.
type Listener struct {
	*net.UnixListener
	path string
	own  os.FileInfo // the socket file Listen bound, for Close
	once sync.Once
}

// Accepter accepts connections from a listener and lets through only the
// server's owner and the uids Allowed grants. A refused peer reads one line
// ("psmux: access denied: uid N is not the server's owner (uid M)") and is
// closed; Log, when set, gets one line per refusal. Accept must be called
// from one goroutine at a time; Allowed and Log are called from it.
type Accepter struct {
	L *Listener
	// Allowed grants access to uids other than the owner's (tmux
	// server-access). nil grants nobody else. The owner is always allowed.
	Allowed func(uid int) bool
	// Log receives a line for each refused connection. nil discards them.
	Log func(string)
}

// deniedWriteTimeout bounds the write of the refusal line, so a peer that
// never reads cannot hold up the accept loop.
const deniedWriteTimeout = time.Second

// Accept returns the next connection whose peer is allowed. Refused peers
// are answered, closed, logged and skipped; so is a connection whose peer
// credentials cannot be read (fail closed). Errors from the listener are
// returned as they are, so errors.Is(err, net.ErrClosed) works after
// L.Close.
func (a *Accepter) Accept() (*net.UnixConn, error) {
	owner := os.Getuid()
	for {
		c, err := a.L.AcceptUnix()
		if err != nil {
			return nil, err
		}
		uid, err := PeerUID(c)
		if err != nil {
			a.log(fmt.Sprintf("sock: refused a connection: %v", err))
			c.Close()
			continue
		}
		if uid == owner || (a.Allowed != nil && a.Allowed(uid)) {
			return c, nil
		}
		c.SetWriteDeadline(time.Now().Add(deniedWriteTimeout))
		fmt.Fprintf(c, "%s: uid %d is not the server's owner (uid %d)\n", DeniedPrefix, uid, owner)
		c.Close()
		a.log(fmt.Sprintf("sock: refused a connection from uid %d: not the server's owner (uid %d) and not granted access", uid, owner))
	}
}

func (a *Accepter) log(s string) {
	if a.Log != nil {
		a.Log(s)
	}
}

// Dial connects to the server socket at path. When nothing listens there
// (no such file, or a stale socket that refuses connections) it returns a
// *NoServerError; other failures (permission denied, ctx done) are wrapped
// as they are.
func Dial(ctx context.Context, path string) (*net.UnixConn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		if isNoServer(err) {
			return nil, &NoServerError{Path: path, Err: err}
		}
		return nil, fmt.Errorf("sock: connect to %s: %w", path, err)
	}
	return c.(*net.UnixConn), nil
}
