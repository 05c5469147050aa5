//go:build darwin || freebsd

package sock

import (
	"errors"

	"golang.org/x/sys/unix"
)

// peerUID reads LOCAL_PEERCRED: the effective uid of the peer at connect
// time (what getpeereid(3) returns).
func peerUID(fd int) (int, error) {
	cred, err := unix.GetsockoptXucred(fd, unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
	if err != nil {
		return 0, err
	}
	return int(cred.Uid), nil
}

// peerPID is not offered: LOCAL_PEERPID differs between the BSDs.
func peerPID(int) (int, error) { return 0, errors.ErrUnsupported }
