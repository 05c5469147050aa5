package mux

import (
	"os"
	"strings"
	"sync"
)

// maxCursors bounds the cursor table: the least recently moved cursor
// goes first.
const maxCursors = 256

// cursors remember, per session and per client, the last event that
// client acknowledged, as tmux keeps a client's place: a client that
// re-attaches resumes after what it showed itself, not after what
// another client showed.
type cursors struct {
	mu   sync.Mutex
	seq  map[cursorKey]uint64
	used map[cursorKey]uint64 // when each last moved, in moves
	tick uint64
}

type cursorKey struct {
	session string // the session's InstanceId
	client  string
}

// move records that client has shown session's events up to seq.
func (c *cursors) move(session, client string, seq uint64) {
	if client == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seq == nil {
		c.seq, c.used = map[cursorKey]uint64{}, map[cursorKey]uint64{}
	}
	k := cursorKey{session, client}
	if _, ok := c.seq[k]; !ok && len(c.seq) >= maxCursors {
		var oldest cursorKey
		first := true
		for o, t := range c.used {
			if first || t < c.used[oldest] {
				oldest, first = o, false
			}
		}
		delete(c.seq, oldest)
		delete(c.used, oldest)
	}
	c.tick++
	c.seq[k] = max(c.seq[k], seq)
	c.used[k] = c.tick
}

// at is client's last acknowledged event in session, if it has one.
func (c *cursors) at(session, client string) (uint64, bool) {
	if client == "" {
		return 0, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	seq, ok := c.seq[cursorKey{session, client}]
	return seq, ok
}

// forget drops every cursor of a session that is gone.
func (c *cursors) forget(session string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.seq {
		if k.session == session {
			delete(c.seq, k)
			delete(c.used, k)
		}
	}
}

// ClientID names this client for its cursors: $PSMUX_CLIENT if set, else
// the terminal on its standard input (so re-attaching from the same
// terminal resumes where that terminal left off), else "" (no cursor of
// its own: it resumes after the last event any client acknowledged).
func ClientID() string {
	if id := os.Getenv("PSMUX_CLIENT"); id != "" {
		return id
	}
	if tty, err := os.Readlink("/proc/self/fd/0"); err == nil && strings.HasPrefix(tty, "/dev/") && tty != "/dev/null" {
		return tty
	}
	return ""
}
