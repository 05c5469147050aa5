package mux

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Client is one connection to a server: requests with ids, their
// responses and streamed events, and prompts the server asks it.
type Client struct {
	rwc   io.ReadWriteCloser
	codec *Codec

	// OnPrompt answers a prompt; it runs in its own goroutine. Nil
	// answers every prompt with an error.
	OnPrompt func(p *Prompt) Answer
	// OnDetached is told when the server detaches this client (attach
	// -d from elsewhere) or says goodbye.
	OnDetached func(msg string)

	mu     sync.Mutex
	nextID uint64
	calls  map[uint64]*call
	done   chan struct{}
	err    error

	serverPID int // from the server's hello; 0 when it sent none
	wg        sync.WaitGroup
	acked     atomic.Bool // an ack was sent: Close makes sure it arrived
	printOff  atomic.Bool // the server can no longer print for this client (Printer)
}

type call struct {
	res chan *Response // the response, and for attach the closing one
	ev  func(Seq)
}

// ErrServerGone is returned when the server closed the connection.
var ErrServerGone = errors.New("mux: lost the server")

// NewClient says hello on rwc and starts reading. interactive says the
// client has a terminal to answer prompts on.
func NewClient(rwc io.ReadWriteCloser, name string, interactive bool) (*Client, error) {
	c := &Client{rwc: rwc, codec: NewCodec(rwc, rwc), calls: map[uint64]*call{}, done: make(chan struct{})}
	c.codec.ReadEvents()
	if err := c.codec.Write(&Hello{V: ProtocolVersion, Name: name,
		Args: marshal(HelloArgs{Client: name, Interactive: interactive})}); err != nil {
		rwc.Close()
		return nil, fmt.Errorf("mux: hello: %w", err)
	}
	if line, denied := c.codec.denied(); denied {
		rwc.Close()
		return nil, errors.New(strings.TrimPrefix(line, "psmux: "))
	}
	m, err := c.codec.Read()
	if err != nil {
		rwc.Close()
		return nil, fmt.Errorf("mux: hello: %w", err)
	}
	if bye, ok := m.(*Bye); ok {
		rwc.Close()
		return nil, errors.New(bye.Msg)
	}
	h, ok := m.(*Hello)
	if !ok || h.V != ProtocolVersion {
		v := 0
		if ok {
			v = h.V
		}
		rwc.Close()
		return nil, fmt.Errorf("mux: the server answered %q version %d; want hello version %d", m.frameType(), v, ProtocolVersion)
	}
	var hr HelloReply
	_ = json.Unmarshal(h.Args, &hr) // an older server sends none
	c.serverPID = hr.PID
	c.wg.Add(1)
	go c.read()
	return c, nil
}

// KillServer asks the server to exit and returns when it has: its
// connection ended and, when it runs in another process, that process
// is gone (so a server started next finds the socket free of it).
func (c *Client) KillServer(ctx context.Context) error {
	if _, err := c.Call(ctx, "kill-server", nil, nil); err != nil && !errors.Is(err, ErrServerGone) {
		return err
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		return fmt.Errorf("mux: kill-server: the server did not close the connection: %w", context.Cause(ctx))
	}
	pid := c.serverPID
	if pid <= 0 || pid == os.Getpid() {
		return nil
	}
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for !ProcessGone(pid) {
		select {
		case <-t.C:
		case <-ctx.Done():
			return fmt.Errorf("mux: kill-server: the server (pid %d) has not exited: %w", pid, context.Cause(ctx))
		}
	}
	return nil
}

func (c *Client) read() {
	defer c.wg.Done()
	var err error
	defer func() {
		c.mu.Lock()
		if c.err == nil {
			c.err = ErrServerGone
			if err != nil && !errors.Is(err, io.EOF) {
				c.err = fmt.Errorf("%w: %v", ErrServerGone, err)
			}
		}
		close(c.done)
		c.mu.Unlock()
	}()
	for {
		var m Message
		m, err = c.codec.Read()
		if err != nil {
			return
		}
		switch f := m.(type) {
		case *Response:
			c.mu.Lock()
			cl := c.calls[f.ID]
			c.mu.Unlock()
			if cl != nil {
				select {
				case cl.res <- f:
				default:
				}
			}
		case *EventFrame:
			c.mu.Lock()
			cl := c.calls[f.ID]
			c.mu.Unlock()
			if cl != nil && cl.ev != nil {
				var e Event
				if decodeEvent(f.Ev, &e) == nil {
					cl.ev(Seq{Seq: f.Seq, Event: e})
				}
			}
		case *PromptFrame:
			pr, id := f.Prompt, f.ID
			c.wg.Add(1)
			go func() {
				defer c.wg.Done()
				a := Answer{Error: "psmux: this client cannot answer questions (no terminal)"}
				if c.OnPrompt != nil && pr != nil {
					a = c.OnPrompt(pr)
				}
				a.Prompt = id
				_ = c.codec.Write(&Request{Op: "answer", Args: marshal(a)})
			}()
		case *PrintOff: // the server could not write this client's output
			c.printOff.Store(true)
		case *Detached:
			if c.OnDetached != nil {
				c.OnDetached(f.Msg)
			}
		case *Bye:
			if c.OnDetached != nil {
				c.OnDetached(f.Msg)
			}
			c.mu.Lock()
			c.err = fmt.Errorf("%w: %s", ErrServerGone, f.Msg)
			c.mu.Unlock()
		}
	}
}

// Done is closed when the connection to the server has ended.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err says why the connection ended.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close ends the connection and waits for the reader. When this client
// acknowledged events, it first waits (2 s at most) for the server to
// answer a ping: the server reads a connection's frames in order, so
// the acks have moved the cursor before a client that attaches next
// asks where it is, and nothing shown is shown again.
func (c *Client) Close() error {
	if c.acked.Load() {
		if id, cl, err := c.start("ping", nil, nil); err == nil {
			t := time.NewTimer(2 * time.Second)
			select {
			case <-cl.res:
			case <-c.done:
			case <-t.C:
			}
			t.Stop()
			c.forget(id)
		}
	}
	err := c.rwc.Close()
	c.wg.Wait()
	return err
}

func (c *Client) start(op string, args any, ev func(Seq)) (uint64, *call, error) {
	c.mu.Lock()
	c.nextID++
	id := c.nextID
	cl := &call{res: make(chan *Response, 2), ev: ev}
	c.calls[id] = cl
	c.mu.Unlock()
	if err := c.codec.Write(&Request{ID: id, Op: op, Args: marshal(args)}); err != nil {
		c.forget(id)
		return 0, nil, fmt.Errorf("%w: %v", ErrServerGone, err)
	}
	return id, cl, nil
}

func (c *Client) forget(id uint64) {
	c.mu.Lock()
	delete(c.calls, id)
	c.mu.Unlock()
}

// CancelPatience bounds the wait for a request's response once its
// context has ended and the cancel was sent: the server answers a
// cancelled exec when its pipeline has stopped, which it bounds itself
// (30 s to report the stop).
var CancelPatience = 45 * time.Second

// wait waits for a response. When ctx ends it asks the server to cancel
// the request (a running exec is stopped, like Ctrl-C) and keeps
// waiting for the response, CancelPatience at most.
func (c *Client) wait(ctx context.Context, id uint64, cl *call) (*Response, error) {
	cancelled := ctx.Done()
	var patience <-chan time.Time
	for {
		select {
		case f := <-cl.res:
			return f, nil
		case <-patience:
			return nil, fmt.Errorf("mux: the server did not answer within %s after the request was cancelled: %w", CancelPatience, context.Cause(ctx))
		case <-cancelled:
			cancelled = nil
			t := time.NewTimer(CancelPatience)
			defer t.Stop()
			patience = t.C
			_ = c.codec.Write(&Request{Op: "cancel", Args: marshal(id)})
		case <-c.done:
			select {
			case f := <-cl.res:
				return f, nil
			default:
			}
			return nil, c.Err()
		}
	}
}

func result(f *Response) (json.RawMessage, error) {
	if !f.OK {
		if f.Err != nil {
			return nil, f.Err
		}
		return nil, &Error{Code: CodeInternal, Msg: "the request failed"}
	}
	return f.Data, nil
}

// Call sends a request and waits for its response; events streamed
// for it go to onEvent (from the reader goroutine, in order).
func (c *Client) Call(ctx context.Context, op string, args any, onEvent func(Seq)) (json.RawMessage, error) {
	id, cl, err := c.start(op, args, onEvent)
	if err != nil {
		return nil, err
	}
	defer c.forget(id)
	f, err := c.wait(ctx, id, cl)
	if err != nil {
		return nil, err
	}
	return result(f)
}

// Ack tells the server this client has shown every event of target up
// to seq, so the next attach resumes after it.
func (c *Client) Ack(target string, seq uint64) error {
	c.acked.Store(true)
	return c.codec.Write(&Request{Op: "ack", Args: marshal(AckArgs{Target: target, Seq: seq})})
}

// Attach attaches to a session: it returns the server's first response
// (the session and whether it is busy) and a wait function that
// returns when the client is detached, the session closes or ctx ends.
func (c *Client) Attach(ctx context.Context, a AttachArgs, onEvent func(Seq)) (json.RawMessage, func() error, error) {
	if a.Client == "" {
		a.Client = ClientID()
	}
	id, cl, err := c.start("attach", a, onEvent)
	if err != nil {
		return nil, nil, err
	}
	f, err := c.wait(ctx, id, cl)
	if err != nil {
		c.forget(id)
		return nil, nil, err
	}
	data, err := result(f)
	if err != nil {
		c.forget(id)
		return nil, nil, err
	}
	return data, func() error {
		defer c.forget(id)
		f, err := c.wait(ctx, id, cl)
		if err != nil {
			return err
		}
		_, err = result(f)
		return err
	}, nil
}
