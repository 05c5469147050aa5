//go:build !(linux || darwin || freebsd)

package sock

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"runtime"
	"syscall"
)

// maxPathLen is sun_path less its NUL on the common platforms.
const maxPathLen = 103

func unsupported(what string) error {
	return fmt.Errorf("sock: %s on %s: %w", what, runtime.GOOS, errors.ErrUnsupported)
}

// CheckDir is not supported on this platform.
func CheckDir(dir string) error { return unsupported("checking the socket directory") }

// Listen is not supported on this platform: the socket's safety cannot be
// checked.
func Listen(path string) (*Listener, error) {
	return nil, unsupported("running a server")
}

// PeerPID is not supported on this platform.
func PeerPID(c *net.UnixConn) (int, error) { return 0, unsupported("peer credentials") }

// PeerUID is not supported on this platform, so an Accepter refuses every
// connection.
func PeerUID(c *net.UnixConn) (int, error) {
	return 0, unsupported("reading peer credentials")
}

// StartLock is not supported on this platform.
func StartLock(ctx context.Context, path string) (unlock func(), err error) {
	return nil, unsupported("the start lock")
}

func isNoServer(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, fs.ErrNotExist)
}
