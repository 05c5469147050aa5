//go:build unix

package ssh

import (
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// gatherConn is a TCP connection whose reads follow a readPacer. While
// it waits in a stream, the socket's SO_RCVLOWAT is raised so the
// arriving packets do not wake the runtime's poller either; it is put
// back to 1 before the read that would block, so a last small message
// (a pipeline's state) is never held.
type gatherConn struct {
	net.Conn
	rc    syscall.RawConn
	pace  readPacer
	buf   []byte
	r, w  int
	sleep func(time.Duration)
	now   func() time.Time
	// blocking, when set (tests), is called before a read waits for data.
	blocking func()
}

// gather wraps c if it is a TCP connection; any other comes back as it is.
func gather(c net.Conn) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	return &gatherConn{Conn: c, rc: rc, pace: newReadPacer(), sleep: time.Sleep, now: time.Now}
}

func (c *gatherConn) Read(p []byte) (int, error) {
	if len(p) == 0 { // as net.Conn's Read: nothing asked, nothing waited for
		return 0, nil
	}
	if c.r == c.w {
		if c.buf == nil {
			c.buf = make([]byte, gatherBuffer)
		}
		n, err := c.fill()
		if n == 0 {
			return 0, err
		}
		c.r, c.w = 0, n
	}
	n := copy(p, c.buf[c.r:c.w])
	c.r += n
	return n, nil
}

// fill reads into c.buf once, after letting a stream gather.
func (c *gatherConn) fill() (int, error) {
	streaming := c.pace.streaming
	if d := c.pace.wait(c.now()); d > 0 {
		c.sleep(d)
	}
	var n int
	var rerr error
	paused := false
	err := c.rc.Read(func(fd uintptr) bool {
		for {
			n, rerr = unix.Read(int(fd), c.buf)
			switch {
			case rerr == unix.EINTR:
				continue
			case rerr != unix.EAGAIN:
				return true
			case streaming:
				// Nothing gathered: the stream paused. Packets must wake
				// the poller again before this read waits for them; one
				// that came meanwhile is read now. Were that impossible, a
				// last small message would wait for ever: the read fails.
				streaming, paused = false, true
				if rerr = setLowat(fd, 1); rerr != nil {
					return true
				}
				continue
			}
			if c.blocking != nil {
				c.blocking()
			}
			return false
		}
	})
	if paused {
		c.pace.idle()
	}
	switch {
	case err != nil:
		return 0, err
	case rerr != nil:
		return 0, &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: os.NewSyscallError("read", rerr)}
	case n == 0:
		return 0, io.EOF
	}
	if c.pace.read(c.now(), n, len(c.buf)) {
		// a failure leaves the default, 1: reads are then only paced
		_ = c.rc.Control(func(fd uintptr) { _ = setLowat(fd, len(c.buf)) })
	}
	return n, nil
}

// setLowat sets fd's SO_RCVLOWAT: the bytes that must be waiting before
// the socket counts as readable.
func setLowat(fd uintptr, n int) error {
	return unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVLOWAT, n)
}
