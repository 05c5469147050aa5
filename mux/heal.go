package mux

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/psmux/psmux/sessions"
	"github.com/psmux/psmux/ssh"
)

// Links that heal: a session created with --reconnect (New-PSSession
// -Reconnect) that goes Broken is reopened by the server, with nobody
// asking, as a mobile shell reconnects: the first try after about a
// second, then, while the host answers but the open fails, at doubling
// intervals up to a minute (jittered, so many sessions to one host do
// not retry in step). While the host does not answer at all, it is
// tried every second or two, so a host that comes back is used at once.
// It gives up after HealLimit, or at once on what retrying cannot fix
// (a refused host key, failed authentication), and says why in the log.

// Healing's pace; variables so that tests can shorten them.
var (
	HealFirst = time.Second
	HealMax   = time.Minute
	// HealLimit is how long the healer keeps trying.
	HealLimit = time.Hour
)

// lifeAsk is what others ask of a session's owner: open it, or reopen
// it (reconnect), answered on done.
type lifeAsk struct {
	ctx    context.Context // the asker's: it may carry the peer who answers SSH prompts
	reopen bool
	heal   bool // on failure, a --reconnect session heals (a restored session)
	done   chan lifeAnswer
}

type lifeAnswer struct {
	err    error
	opened opened // the init script an open started
}

// connect asks the owner to open the session, then waits for its init
// script, which runs before any command waiting for the session. err is
// the open's; initErr the init script's.
func (s *Session) connect(ctx context.Context) (err, initErr error) {
	return s.askInit(ctx, lifeAsk{})
}

// connectOrHeal is connect for a restored session: when the open fails,
// a --reconnect session goes on trying by itself.
func (s *Session) connectOrHeal(ctx context.Context) (err, initErr error) {
	return s.askInit(ctx, lifeAsk{heal: true})
}

func (s *Session) askInit(ctx context.Context, a lifeAsk) (err, initErr error) {
	ans := s.ask(ctx, a)
	if ans.err != nil {
		return ans.err, nil
	}
	return nil, s.waitInit(ctx, ans.opened)
}

// reconnect asks the owner to tear down what is left of the session and
// open it again (its init script re-run), and waits for the answer.
func (s *Session) reconnect(ctx context.Context) error {
	return s.ask(ctx, lifeAsk{reopen: true}).err
}

func (s *Session) ask(ctx context.Context, a lifeAsk) lifeAnswer {
	a.ctx, a.done = ctx, make(chan lifeAnswer, 1)
	select {
	case s.asks <- a:
	case <-s.ctx.Done():
		return lifeAnswer{err: context.Cause(s.ctx)}
	case <-ctx.Done():
		return lifeAnswer{err: ctx.Err()}
	}
	return <-a.done // the owner answers every ask it takes, its work bounded by ctx and by the session's
}

// run is the session's owner: the one goroutine that opens the session,
// reopens it when asked, sees its connection end (Broken), and heals a
// broken --reconnect link. Asks are served one at a time, so a client's
// reconnect and the healer's never overlap. ctx is the session's: close
// cancels it, which ends an open under way and then this loop, and
// waits for it.
func (s *Session) run(ctx context.Context) {
	defer s.wg.Done()
	var h healer
	defer h.off()
	var watched *sessions.Conn
	var connEnd <-chan struct{}
	follow := func() { // watch the connection the last open left
		s.mu.Lock()
		c := s.conn
		s.mu.Unlock()
		if c != watched {
			watched, connEnd = c, nil
			if c != nil {
				connEnd = c.Done()
			}
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case a := <-s.asks:
			actx, cancel := context.WithCancelCause(a.ctx)
			stop := context.AfterFunc(ctx, func() { cancel(context.Cause(ctx)) })
			var ans lifeAnswer
			if a.reopen {
				ans.err = s.reopen(actx, false)
			} else {
				ans.opened, ans.err = s.open(actx, openHow{init: true})
			}
			stop()
			cancel(nil)
			a.done <- ans
			follow()
			if ans.err != nil && a.heal && s.spec.Reconnect {
				s.startHeal(&h)
			}
		case <-connEnd:
			connEnd = nil
			if s.lost(watched) && s.spec.Reconnect {
				h.off() // a new break: the healer starts over
				s.startHeal(&h)
			}
		case <-h.due():
			s.healTry(ctx, &h)
			follow()
		}
	}
}

// healer is the owner's record of healing a Broken session.
type healer struct {
	on      bool
	attempt int
	start   time.Time
	delay   time.Duration
	t       *time.Timer
}

// due fires when the next try is due; never while not healing.
func (h *healer) due() <-chan time.Time {
	if !h.on {
		return nil
	}
	return h.t.C
}

func (h *healer) off() {
	if h.on {
		h.t.Stop()
		h.on = false
	}
}

// startHeal starts healing a Broken session unless it is healing already.
func (s *Session) startHeal(h *healer) {
	s.mu.Lock()
	broken := s.state == Broken
	s.mu.Unlock()
	if h.on || !broken {
		return
	}
	s.append(s.ctx, Event{Kind: KindSession, Text: "Reconnecting: the server reopens the session when the host answers (--reconnect)"})
	*h = healer{on: true, start: time.Now(), delay: HealFirst, t: time.NewTimer(jittered(HealFirst))}
}

// healTry is one of the healer's tries, and the decision what next.
func (s *Session) healTry(ctx context.Context, h *healer) {
	s.mu.Lock()
	st := s.state
	s.mu.Unlock()
	if st != Broken { // reconnected by a client, or closing
		h.off()
		return
	}
	h.attempt++
	s.srv.logf("session %s (%d): reconnecting (attempt %d)", s.Name, s.ID, h.attempt)
	err := s.reopen(ctx, true)
	s.mu.Lock()
	opened := s.state == Opened // an init script that failed still leaves it open
	s.mu.Unlock()
	if opened {
		h.off()
		text := fmt.Sprintf("Reconnected by the server after the link broke (attempt %d, after %s)", h.attempt, time.Since(h.start).Round(time.Second))
		if s.init != "" && err == nil {
			text += "; the init script ran again"
		} else if s.init != "" {
			text += "; the init script failed: " + DescribeErr(err)
		}
		s.append(s.ctx, Event{Kind: KindSession, Text: text})
		s.srv.logf("session %s (%d): reconnected after %d attempts", s.Name, s.ID, h.attempt)
		s.srv.save()
		return
	}
	if ctx.Err() != nil {
		h.off()
		return
	}
	why := ""
	var hk *ssh.HostKeyError
	var auth *ssh.AuthError
	switch {
	case errors.As(err, &hk):
		why = "the host key was refused"
	case errors.As(err, &auth):
		why = "authentication failed"
	case time.Since(h.start) > HealLimit:
		why = fmt.Sprintf("no success in %s", HealLimit)
	}
	if why != "" {
		h.off()
		s.append(s.ctx, Event{Kind: KindSession, Text: fmt.Sprintf("Broken: the server stopped reconnecting after %d attempts (%s): %s", h.attempt, why, DescribeErr(err))})
		s.srv.logf("session %s (%d): gave up reconnecting: %s: %v", s.Name, s.ID, why, err)
		return
	}
	var unreachable *ssh.UnreachableError
	if errors.As(err, &unreachable) {
		h.delay = HealFirst // the host is not answering: try again soon
	} else {
		h.delay = min(2*h.delay, HealMax)
	}
	h.t.Reset(jittered(h.delay))
}

// jittered is d give or take a fifth.
func jittered(d time.Duration) time.Duration {
	return d - d/5 + rand.N(2*d/5+1)
}
