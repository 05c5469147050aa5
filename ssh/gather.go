package ssh

import (
	"io"
	"net"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// A stream (reads returning in quick succession with kilobytes, as when
// a command prints many lines; not the few small messages of a command's
// exchange) is read at most once per gatherLinger: the data
// gathers in the socket meanwhile, and the process wakes once for it
// instead of once per packet the peer sent. Each wake is a context
// switch, and they were most of the server's CPU during text output
// (issue 15: 1.5-2.0 s of it for 1e5 lines against 0.4-0.5 s gathered).
const (
	gatherGap    = time.Millisecond     // reads this close count towards a stream
	gatherStreak = 8                    // this many in a row start one
	gatherVolume = 16 << 10             // if they brought this much
	gatherLinger = 4 * time.Millisecond // in a stream, one read at most this often
	gatherBuffer = 64 << 10             // one read takes this much
)

// readPacer is the state machine behind gatherConn, without IO: it is
// told when reads return and whether data had gathered, and says how
// long to wait before the next read.
type readPacer struct {
	gap, linger time.Duration
	streak      int
	volume      int

	last      time.Time // when the last read returned data
	quick     int       // reads in a row that came within gap of the one before
	got       int       // the bytes they brought
	streaming bool
	full      bool // the last read filled the buffer: more is waiting
}

func newReadPacer() readPacer {
	return readPacer{gap: gatherGap, linger: gatherLinger, streak: gatherStreak, volume: gatherVolume}
}

// wait returns how long to let data gather before reading, at now.
func (p *readPacer) wait(now time.Time) time.Duration {
	if !p.streaming || p.full {
		return 0
	}
	return max(p.linger-now.Sub(p.last), 0)
}

// read records a read that returned n bytes of a buffer of size at
// now, and reports whether a stream started with it.
func (p *readPacer) read(now time.Time, n, size int) (started bool) {
	p.full = n == size
	if !p.streaming {
		if now.Sub(p.last) < p.gap {
			p.quick++
			p.got += n
		} else {
			p.quick, p.got = 0, 0
		}
		p.streaming = p.quick >= p.streak && p.got >= p.volume
		started = p.streaming
	}
	p.last = now
	return started
}

// idle records that nothing had gathered during a wait: the stream
// paused, and the next data is read as soon as it comes.
func (p *readPacer) idle() {
	p.streaming, p.quick, p.got = false, 0, 0
}

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
				// that came meanwhile is read now.
				streaming, paused = false, true
				setLowat(fd, 1)
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
		return 0, &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: rerr}
	case n == 0:
		return 0, io.EOF
	}
	if c.pace.read(c.now(), n, len(c.buf)) {
		_ = c.rc.Control(func(fd uintptr) { setLowat(fd, len(c.buf)) })
	}
	return n, nil
}

// setLowat sets fd's SO_RCVLOWAT: the bytes that must be waiting before
// the socket counts as readable. A failure leaves the default, 1.
func setLowat(fd uintptr, n int) {
	_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVLOWAT, n)
}
