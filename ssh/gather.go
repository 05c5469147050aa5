package ssh

import "time"

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
