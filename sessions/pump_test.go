package sessions_test

import (
	"testing"
	"time"

	"github.com/psmux/psmux/sessions"
	"github.com/psmux/psmux/sessions/psrp"
)

// pump drives a psrp.ClientPool over a transport by hand, so a test
// decides exactly when each request is made relative to the server's
// packets (sessions.Conn interleaves them with its own goroutines).
type pump struct {
	t     *testing.T
	tr    sessions.Transport
	pool  *psrp.ClientPool
	items chan pumpItem
}

type pumpItem struct {
	pk  psrp.Packet
	err error
}

func newPump(t *testing.T, tr sessions.Transport, pool *psrp.ClientPool) *pump {
	u := &pump{t: t, tr: tr, pool: pool, items: make(chan pumpItem, 64)}
	go func() {
		r := psrp.NewReader(tr)
		for {
			it, err := r.Next()
			if err != nil {
				u.items <- pumpItem{err: err}
				close(u.items)
				return
			}
			if it.Packet.Kind == 0 { // noise before the first packet
				continue
			}
			it.Packet.Payload = append([]byte(nil), it.Packet.Payload...)
			u.items <- pumpItem{pk: it.Packet}
		}
	}()
	return u
}

// flush writes what the pool wants sent.
func (u *pump) flush() {
	u.t.Helper()
	var b []byte
	for _, pk := range u.pool.Outgoing() {
		b = psrp.AppendPacket(b, pk)
	}
	if len(b) > 0 {
		if _, err := u.tr.Write(b); err != nil {
			u.t.Fatalf("write: %v", err)
		}
	}
}

// until feeds the server's packets to the pool, writing its answers,
// until done returns true for an event; it fails the test after 60 s.
func (u *pump) until(what string, done func(ev any) bool) {
	u.t.Helper()
	deadline := time.NewTimer(60 * time.Second)
	defer deadline.Stop()
	for {
		u.flush()
		select {
		case it, ok := <-u.items:
			if !ok || it.err != nil {
				u.t.Fatalf("waiting for %s: the server's output ended: %v", what, it.err)
			}
			evs, err := u.pool.Receive(it.pk)
			if err != nil {
				u.t.Fatalf("waiting for %s: %v", what, err)
			}
			for _, ev := range evs {
				if done(ev) {
					u.flush()
					return
				}
			}
		case <-deadline.C:
			u.t.Fatalf("no %s within 60 s", what)
		}
	}
}

// open runs the handshake.
func (u *pump) open() {
	u.t.Helper()
	if err := u.pool.Open(psrp.InitRunspacePoolMsg{MinRunspaces: 1, MaxRunspaces: 1, ApartmentState: 2, HostInfo: psrp.NoHost()}); err != nil {
		u.t.Fatal(err)
	}
	u.until("the Opened pool", func(ev any) bool {
		s, ok := ev.(psrp.PoolStateEvent)
		return ok && s.State == psrp.PoolOpened
	})
}
