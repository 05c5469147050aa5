//go:build linux || darwin || freebsd

package sock

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// maxPathLen is the longest socket path bind(2) takes: sun_path less the
// terminating NUL (107 bytes on Linux, 103 on macOS and FreeBSD).
var maxPathLen = len(unix.RawSockaddrUnix{}.Path) - 1

// CheckDir makes sure dir is safe to hold the server socket. A missing dir
// is created 0700 (its missing parents with the usual 0755, less umask);
// then dir must be a directory, not a symlink, owned by the current uid,
// with no group or other permission bits. Anything else is refused with an
// *UnsafeError saying why and what to do.
func CheckDir(dir string) error {
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			return fmt.Errorf("sock: create socket directory %s: %w", dir, err)
		}
		// Mkdir, not MkdirAll: if dir appeared meanwhile (another client
		// racing us, or someone planting it), fall through and check it
		// like any existing one.
		if err := os.Mkdir(dir, 0o700); err == nil {
			// umask may have cleared bits we want; it cannot have added any.
			if err := os.Chmod(dir, 0o700); err != nil {
				return fmt.Errorf("sock: create socket directory %s: %w", dir, err)
			}
		} else if !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("sock: create socket directory %s: %w", dir, err)
		}
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("sock: check socket directory %s: %w", dir, err)
	}
	return checkDirInfo(dir, fi)
}

func checkDirInfo(dir string, fi fs.FileInfo) error {
	uid := os.Getuid()
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return &UnsafeError{Path: dir, Reason: "the socket directory is a symlink",
			Fix: "remove the symlink (someone else may have planted it) or choose another place with -S PATH or $XDG_RUNTIME_DIR"}
	case !fi.IsDir():
		return &UnsafeError{Path: dir, Reason: "the socket directory is not a directory",
			Fix: "remove it or choose another place with -S PATH or $XDG_RUNTIME_DIR"}
	}
	if owner, ok := ownerOf(fi); !ok || owner != uid {
		who := "an unknown uid"
		if ok {
			who = fmt.Sprintf("uid %d", owner)
		}
		return &UnsafeError{Path: dir, Reason: fmt.Sprintf("the socket directory is owned by %s, not by you (uid %d)", who, uid),
			Fix: "remove it (someone else may have created it) or choose another place with -S PATH or $XDG_RUNTIME_DIR"}
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return &UnsafeError{Path: dir, Reason: fmt.Sprintf("the socket directory has mode %#o, open to group or others", perm),
			Fix: fmt.Sprintf("if the directory is psmux's own, run `chmod 700 %s`; otherwise give -S a path in a directory only you can access", dir)}
	}
	return nil
}

func ownerOf(fi fs.FileInfo) (int, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}

// probeTimeout bounds the dial Listen uses to tell a live server from a
// stale socket. A live server's kernel completes the connect from its
// backlog without the server's help, so this only matters for a wedged one.
const probeTimeout = 2 * time.Second

// Listen listens on the socket at path. It checks (and creates) the
// directory with CheckDir, refuses a path that is a symlink or not a
// socket, returns an error wrapping ErrRunning when a live server answers
// there, and removes a stale socket (one whose dial is refused) before
// binding. The socket file is chmod'ed 0600 right after bind, before
// anything is accepted; the 0700 directory already keeps others out of that
// window. Closing the listener unlinks the file only while it is still the
// one this Listen bound (see Listener.Close).
//
// Two processes that call Listen on the same stale path at the same moment
// can both remove it; the loser keeps listening on a socket no one can
// reach. Callers that may race (servers started on demand) hold StartLock
// around starting the server.
func Listen(path string) (*Listener, error) {
	if err := checkLen(path); err != nil {
		return nil, err
	}
	if err := CheckDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("sock: check socket %s: %w", path, err)
	case fi.Mode()&fs.ModeSymlink != 0:
		return nil, &UnsafeError{Path: path, Reason: "the socket path is a symlink",
			Fix: "remove the symlink (someone else may have planted it)"}
	case fi.Mode()&fs.ModeSocket == 0:
		return nil, &UnsafeError{Path: path, Reason: "the socket path exists and is not a socket",
			Fix: "move the file away or choose another name with -L NAME or -S PATH"}
	default:
		ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
		c, err := Dial(ctx, path)
		cancel()
		if err == nil {
			c.Close()
			return nil, fmt.Errorf("%w (%s)", ErrRunning, path)
		}
		var ns *NoServerError
		if !errors.As(err, &ns) {
			return nil, fmt.Errorf("sock: cannot tell whether a server is running on %s: %w", path, err)
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("sock: remove stale socket %s: %w", path, err)
		}
	}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("%w (%s)", ErrRunning, path)
		}
		return nil, fmt.Errorf("sock: listen on %s: %w", path, err)
	}
	// Go's own unlink on Close removes whatever file has the name by then,
	// which may be the socket of a server started after this one stopped
	// listening; Listener.Close checks first.
	l.SetUnlinkOnClose(false)
	own, err := os.Lstat(path)
	if err == nil {
		err = os.Chmod(path, 0o600)
	}
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("sock: set the mode of socket %s: %w", path, err)
	}
	return &Listener{UnixListener: l, path: path, own: own}, nil
}

// Close stops listening and removes the socket file if it is still the
// one Listen bound. A server that stops listening while it shuts down lets
// a client start the next server on the same path; the old server's Close
// must not unlink the new server's socket, or the new server keeps running
// where no client can reach it and the next client starts a second one.
func (l *Listener) Close() error {
	err := l.UnixListener.Close()
	l.once.Do(func() {
		if fi, serr := os.Lstat(l.path); serr == nil && os.SameFile(fi, l.own) {
			_ = os.Remove(l.path)
		}
	})
	return err
}

// PeerUID returns the uid of the process on the other end of c, as the
// kernel recorded it at connect time.
func PeerUID(c *net.UnixConn) (int, error) { return peerCred(c, peerUID) }

// PeerPID returns the pid of the process on the other end of c, as the
// kernel recorded it at connect time (Linux only).
func PeerPID(c *net.UnixConn) (int, error) { return peerCred(c, peerPID) }

func peerCred(c *net.UnixConn, read func(fd int) (int, error)) (int, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("sock: peer credentials: %w", err)
	}
	var v int
	var cerr error
	if err := raw.Control(func(fd uintptr) { v, cerr = read(int(fd)) }); err != nil {
		return 0, fmt.Errorf("sock: peer credentials: %w", err)
	}
	if cerr != nil {
		return 0, fmt.Errorf("sock: peer credentials: %w", cerr)
	}
	return v, nil
}

// lockPollMin and lockPollMax are the first and the longest wait between
// attempts to take the start lock: flock(2) cannot be interrupted by a
// context, so StartLock polls with LOCK_NB, backing off.
const (
	lockPollMin = 5 * time.Millisecond
	lockPollMax = 100 * time.Millisecond
)

// StartLock serialises starting the server on demand: it takes an
// exclusive flock(2) on path+".lock" (created 0600 in the directory CheckDir
// approves), waiting until it is free or ctx is done. The intended use is
// dial; on *NoServerError take the lock, dial again, and only then start a
// server and wait for it to listen; unlock. The lock belongs to the open
// file, so it is also exclusive between goroutines of one process, and the
// kernel drops it if the holder dies. The lock file is left in place:
// removing it would let a late opener lock an unlinked file. unlock is
// idempotent.
func StartLock(ctx context.Context, path string) (unlock func(), err error) {
	if err := CheckDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	lp := path + ".lock"
	f, err := os.OpenFile(lp, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sock: open start lock %s: %w", lp, err)
	}
	fd := int(f.Fd())
	wait := lockPollMin
	var timer *time.Timer
	for {
		err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, fmt.Errorf("sock: lock %s: %w", lp, err)
		}
		if timer == nil {
			timer = time.NewTimer(wait)
			defer timer.Stop()
		} else {
			timer.Reset(wait)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("sock: wait for start lock %s: %w", lp, context.Cause(ctx))
		case <-timer.C:
		}
		wait = min(2*wait, lockPollMax)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			unix.Flock(fd, unix.LOCK_UN)
			f.Close()
		})
	}, nil
}

// isNoServer reports whether a dial error means nobody listens: no socket
// file, or a socket whose listener is gone.
func isNoServer(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, fs.ErrNotExist)
}
