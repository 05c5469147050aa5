package mux

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

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

// heal starts the healer if the session asks for it and it is not
// running already.
func (s *Session) heal() {
	if !s.spec.Reconnect {
		return
	}
	s.mu.Lock()
	if s.healing || s.state != Broken {
		s.mu.Unlock()
		return
	}
	s.healing = true
	s.wg.Add(1) // close waits for it; it ends with s.stop
	s.mu.Unlock()
	s.append(s.ctx, Event{Kind: KindSession, Text: "Reconnecting: the server reopens the session when the host answers (--reconnect)"})
	go s.healLoop()
}

func (s *Session) healLoop() {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		s.healing = false
		again := s.state == Broken && s.ctx.Err() == nil
		s.mu.Unlock()
		if again { // broken again before this loop let go: a new one heals it
			s.heal()
		}
	}()
	start, delay := time.Now(), HealFirst
	for attempt := 1; ; attempt++ {
		t := time.NewTimer(jittered(delay))
		select {
		case <-s.stop:
			t.Stop()
			return
		case <-t.C:
		}
		s.mu.Lock()
		st := s.state
		s.mu.Unlock()
		if st == Opening { // a client's reconnect under way: see how it ends
			attempt--
			continue
		}
		if st != Broken { // reconnected by a client, or closing
			return
		}
		s.srv.logf("session %s (%d): reconnecting (attempt %d)", s.Name, s.ID, attempt)
		ctx, cancel := context.WithCancel(s.ctx)
		err := s.reconnect(ctx)
		cancel()
		s.mu.Lock()
		opened := s.state == Opened // an init script that failed still leaves it open
		s.mu.Unlock()
		if opened {
			text := fmt.Sprintf("Reconnected by the server after the link broke (attempt %d, after %s)", attempt, time.Since(start).Round(time.Second))
			if s.init != "" && err == nil {
				text += "; the init script ran again"
			} else if s.init != "" {
				text += "; the init script failed: " + DescribeErr(err)
			}
			s.append(s.ctx, Event{Kind: KindSession, Text: text})
			s.srv.logf("session %s (%d): reconnected after %d attempts", s.Name, s.ID, attempt)
			s.srv.save()
			return
		}
		if s.ctx.Err() != nil {
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
		case time.Since(start) > HealLimit:
			why = fmt.Sprintf("no success in %s", HealLimit)
		}
		if why != "" {
			s.append(s.ctx, Event{Kind: KindSession, Text: fmt.Sprintf("Broken: the server stopped reconnecting after %d attempts (%s): %s", attempt, why, DescribeErr(err))})
			s.srv.logf("session %s (%d): gave up reconnecting: %s: %v", s.Name, s.ID, why, err)
			return
		}
		var unreachable *ssh.UnreachableError
		if errors.As(err, &unreachable) {
			delay = HealFirst // the host is not answering: try again soon
		} else {
			delay = min(2*delay, HealMax)
		}
	}
}

// jittered is d give or take a fifth.
func jittered(d time.Duration) time.Duration {
	return d - d/5 + rand.N(2*d/5+1)
}
