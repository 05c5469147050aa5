package ssh

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// DefaultSubsystem is the subsystem PowerShell registers in sshd_config.
const DefaultSubsystem = "powershell"

// ChannelSpec says what runs at the far end of a channel: a subsystem
// (the default, "powershell") or, with Exec set, a command.
type ChannelSpec struct {
	Subsystem string
	Exec      string
}

func (s ChannelSpec) String() string {
	if s.Exec != "" {
		return fmt.Sprintf("exec %q", s.Exec)
	}
	return fmt.Sprintf("subsystem %q", s.subsystem())
}

func (s ChannelSpec) subsystem() string {
	if s.Subsystem == "" {
		return DefaultSubsystem
	}
	return s.Subsystem
}

// SubsystemError says the server refused the subsystem (OpenSSH's
// "subsystem request failed on channel 0") or the exec request.
type SubsystemError struct {
	Dest string
	Spec ChannelSpec
}

func (e *SubsystemError) Error() string {
	if e.Spec.Exec != "" {
		return fmt.Sprintf("ssh: %s refused to run %q", e.Dest, e.Spec.Exec)
	}
	name := e.Spec.subsystem()
	s := fmt.Sprintf("ssh: %s: subsystem request failed: the server has no %q subsystem", e.Dest, name)
	if name == DefaultSubsystem {
		s += "; " + SubsystemFix
	}
	return s
}

// SubsystemFix is how to make a host offer the powershell subsystem.
const SubsystemFix = `add "Subsystem powershell /usr/bin/pwsh -sshs -NoLogo" to the host's sshd_config ` +
	`(on Windows: "Subsystem powershell c:/progra~1/powershell/7/pwsh.exe -sshs -NoLogo"; the 8.3 path avoids the space ` +
	`that breaks the line) and restart sshd, or run pwsh directly with --exec 'pwsh -sshs -NoLogo -NoProfile'`

// maxStderrLine caps one line of the remote's stderr.
const maxStderrLine = 64 << 10

// Channel is one session channel running the subsystem or command. Read
// is the remote's stdout, Write its stdin; it satisfies
// sessions.Transport.
type Channel struct {
	c       *Client
	ch      gossh.Channel
	release func()

	exit     chan struct{} // closed when exit-status or exit-signal arrived
	status   int
	reqsDone chan struct{}
	wg       sync.WaitGroup
	once     sync.Once
}

// Open opens a session channel on the connection and starts spec on it.
// stderr receives the remote's stderr, a line at a time; nil drops it.
func (c *Client) Open(ctx context.Context, spec ChannelSpec, stderr func(line string)) (*Channel, error) {
	type opened struct {
		ch   gossh.Channel
		reqs <-chan *gossh.Request
		err  error
	}
	res := make(chan opened, 1)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		ch, reqs, err := c.conn.OpenChannel("session", nil)
		res <- opened{ch, reqs, err}
	}()
	var o opened
	select {
	case o = <-res:
	case <-ctx.Done():
		c.wg.Add(1)
		go func() { // close the channel if it opens after all
			defer c.wg.Done()
			if o := <-res; o.err == nil {
				_ = o.ch.Close()
				go gossh.DiscardRequests(o.reqs)
			}
		}()
		return nil, ctx.Err()
	}
	if o.err != nil {
		if err := c.Err(); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("ssh: %s: cannot open a channel: %w", c.cfg.Dest, o.err)
	}
	ch := &Channel{c: c, ch: o.ch, exit: make(chan struct{}), reqsDone: make(chan struct{})}
	ch.wg.Add(2)
	go ch.requests(o.reqs)
	go ch.stderr(stderr)

	var ok bool
	var err error
	if spec.Exec != "" {
		ok, err = o.ch.SendRequest("exec", true, gossh.Marshal(struct{ Command string }{spec.Exec}))
	} else {
		ok, err = o.ch.SendRequest("subsystem", true, gossh.Marshal(struct{ Name string }{spec.subsystem()}))
	}
	if err == nil && !ok {
		err = &SubsystemError{Dest: c.cfg.Dest, Spec: spec}
	}
	if err != nil {
		_ = ch.Close()
		if cerr := c.Err(); cerr != nil {
			return nil, cerr
		}
		return nil, err
	}
	return ch, nil
}

func (ch *Channel) requests(reqs <-chan *gossh.Request) {
	defer ch.wg.Done()
	defer close(ch.reqsDone)
	for r := range reqs {
		switch r.Type {
		case "exit-status":
			var m struct{ Status uint32 }
			if gossh.Unmarshal(r.Payload, &m) == nil {
				ch.setExit(int(m.Status))
			}
		case "exit-signal":
			ch.setExit(-1)
		}
		if r.WantReply {
			_ = r.Reply(false, nil)
		}
	}
}

func (ch *Channel) setExit(status int) {
	select {
	case <-ch.exit:
	default:
		ch.status = status
		close(ch.exit)
	}
}

// stderr always drains the extended data (an unread stream would stall
// the channel's window) and hands it over a line at a time.
func (ch *Channel) stderr(emit func(string)) {
	defer ch.wg.Done()
	r := bufio.NewReaderSize(ch.ch.Stderr(), 256) // seldom used: small; a longer line comes in parts
	var line strings.Builder
	for {
		frag, isPrefix, err := r.ReadLine()
		if len(frag) > 0 && line.Len() < maxStderrLine {
			line.Write(frag[:min(len(frag), maxStderrLine-line.Len())])
		}
		if (!isPrefix && err == nil) || (err != nil && line.Len() > 0) {
			if emit != nil {
				emit(strings.TrimRight(line.String(), "\r"))
			}
			line.Reset()
		}
		if err != nil {
			return
		}
	}
}

// Read reads the remote's stdout. When the connection died under the
// channel, the error says why instead of a bare io.EOF.
func (ch *Channel) Read(p []byte) (int, error) {
	n, err := ch.ch.Read(p)
	if err != io.EOF {
		return n, err
	}
	select {
	case <-ch.exit:
		return n, io.EOF
	case <-ch.c.done:
		return n, ch.c.err
	case <-ch.reqsDone:
		select {
		case <-ch.exit:
			return n, io.EOF
		case <-ch.c.done:
			return n, ch.c.err
		default:
			return n, io.EOF
		}
	}
}

// Write writes to the remote's stdin.
func (ch *Channel) Write(p []byte) (int, error) {
	var n int
	var err error
	if len(p) <= smallWrite {
		// in packets of at most smallPacket bytes: the SSH library
		// keeps a channel's largest packet buffer for its next write,
		// and an idle session then keeps a small one (bulk writes, which
		// want large packets, are larger than this)
		for n < len(p) && err == nil {
			var m int
			m, err = ch.ch.Write(p[n:min(len(p), n+smallPacket)])
			n += m
		}
	} else {
		n, err = ch.ch.Write(p)
	}
	if err != nil {
		if cerr := ch.c.Err(); cerr != nil {
			return n, cerr
		}
	}
	return n, err
}

const (
	smallWrite  = 8 << 10
	smallPacket = 2 << 10
)

// CloseWrite sends EOF.
func (ch *Channel) CloseWrite() error { return ch.ch.CloseWrite() }

// ExitStatus is the remote's exit status, once it has sent one.
func (ch *Channel) ExitStatus() (int, bool) {
	select {
	case <-ch.exit:
		return ch.status, true
	default:
		return 0, false
	}
}

// Client is the connection the channel runs on.
func (ch *Channel) Client() *Client { return ch.c }

// closeGrace bounds how long Close waits for the far end to close the
// channel too. sshd closes its side only when the remote command has
// closed its output, which one that hangs (or ignores its input's end)
// never does; its goroutines then end with the connection.
const closeGrace = 5 * time.Second

// Close closes the channel and waits, at most closeGrace, for its
// goroutines.
func (ch *Channel) Close() error {
	var err error
	ch.once.Do(func() {
		err = ch.ch.Close()
		if errors.Is(err, io.EOF) {
			err = nil
		}
		done := make(chan struct{})
		go func() { ch.wg.Wait(); close(done) }()
		t := time.NewTimer(closeGrace)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
		}
		if ch.release != nil {
			ch.release()
		}
	})
	return err
}

// Abort asks sshd to kill the remote command (RFC 4254's "signal"
// request, which OpenSSH honours), then closes the channel: for a
// session that broke or was removed while opening, whose remote end
// may never answer again.
func (ch *Channel) Abort() error {
	_, _ = ch.ch.SendRequest("signal", false, gossh.Marshal(struct{ Signal string }{"KILL"}))
	return ch.Close()
}
