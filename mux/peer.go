package mux

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/psmux/psmux/mux/outlog"
)

// peer is one connected client. Each request runs in its own goroutine
// so a streaming exec or attach never holds up acks and answers.
type peer struct {
	srv         *Server
	rwc         io.ReadWriteCloser
	codec       *Codec
	name        string
	interactive bool // has a terminal: may be asked questions

	mu         sync.Mutex
	prompts    map[uint64]chan Answer
	nextPrompt uint64
	reqs       map[uint64]context.CancelFunc
	readers    map[*Session]*outlog.Reader // this client's cursor in each session it is attached to
	clients    map[string]string           // by session InstanceID: the client id it attached with (AttachArgs.Client)
	printTo    [2]*os.File                 // the client's stdout and stderr, when the server prints for it
	closed     chan struct{}
	closeOnce  sync.Once
	wg         sync.WaitGroup
}

// HelloArgs is what a client says about itself.
type HelloArgs struct {
	Client      string `json:"client"`
	Interactive bool   `json:"interactive"`
}

// HelloReply is the server's side of the hello.
type HelloReply struct {
	PID int `json:"pid"` // the server's process, which kill-server waits for
}

func (p *peer) close() {
	p.closeOnce.Do(func() {
		close(p.closed)
		p.rwc.Close()
		p.closePrint()
	})
}

// isClosed reports whether close has been called.
func (p *peer) isClosed() bool {
	select {
	case <-p.closed:
		return true
	default:
		return false
	}
}

// send writes a frame; a client that does not take it within the write
// timeout is cut off.
func (p *peer) send(m Message) error {
	body, err := json.Marshal(toWire(m))
	if err != nil {
		return err
	}
	return p.sendRaw(body)
}

func (p *peer) sendRaw(body []byte) error {
	return p.write(func() error { return p.codec.WriteRaw(body) })
}

// sendFrames sends frames appendEvFrame put together, in one write.
func (p *peer) sendFrames(frames []byte) error {
	return p.write(func() error { return p.codec.WriteFrames(frames) })
}

// write makes one write to the client, under the write timeout.
func (p *peer) write(w func() error) error {
	if c, ok := p.rwc.(net.Conn); ok {
		_ = c.SetWriteDeadline(time.Now().Add(p.srv.cfg.WriteTimeout))
	}
	err := w()
	var ne net.Error
	if err != nil && errors.As(err, &ne) && ne.Timeout() {
		p.close() // a slow client: cut it off
	}
	// Any other failure means the client is gone; its read side still
	// holds what it sent before it went (acknowledgements), which the
	// read loop takes before it sees the end.
	return err
}

// bye sends the server's last word on this connection.
func (p *peer) bye(msg string) { _ = p.send(&Bye{Msg: msg}) }

func (p *peer) serve() {
	defer func() {
		p.close()
		p.mu.Lock()
		for _, c := range p.reqs {
			c()
		}
		p.mu.Unlock()
		p.wg.Wait()
		for _, x := range p.srv.list() {
			x.detachPeer(p)
		}
	}()
	m, err := p.codec.Read()
	if err != nil {
		return
	}
	f, ok := m.(*Hello)
	if !ok {
		p.bye("mux: want a hello first")
		return
	}
	if f.V != ProtocolVersion {
		p.bye(fmt.Sprintf("psmux: protocol version %d is not %d: the client and the server are different versions of psmux; run psmux kill-server to restart the server", f.V, ProtocolVersion))
		return
	}
	var h HelloArgs
	_ = json.Unmarshal(f.Args, &h)
	p.name, p.interactive = h.Client, h.Interactive
	if err := p.send(&Hello{V: ProtocolVersion, Name: "psmux " + p.srv.cfg.Version,
		Args: marshal(HelloReply{PID: os.Getpid()})}); err != nil {
		return
	}
	for {
		m, err := p.codec.Read()
		if err != nil {
			var fe *FrameError
			if errors.As(err, &fe) {
				p.bye(fe.Error())
			}
			return
		}
		f, ok := m.(*Request)
		if !ok {
			p.bye(fmt.Sprintf("mux: unexpected %q frame from a client", m.frameType()))
			return
		}
		switch f.Op {
		case "answer": // answers are quick and must not wait behind anything
			p.answer(f)
			continue
		case "ack": // no response: a client acknowledges what it has shown
			if a, err := decode[AckArgs](f); err == nil {
				p.ack(a)
			}
			continue
		case "print": // no response, and in order: what a client prints (openPrint)
			if a, err := decode[PrintArgs](f); err == nil {
				p.print(a)
			}
			continue
		case "cancel":
			p.mu.Lock()
			var id uint64
			_ = json.Unmarshal(f.Args, &id)
			if c := p.reqs[id]; c != nil {
				c()
			}
			p.mu.Unlock()
			continue
		}
		if p.srv.cfg.Trace {
			p.srv.logf("client %s: %s %s", p.name, f.Op, f.Args)
		}
		ctx, cancel := context.WithCancel(context.WithValue(context.Background(), peerKey{}, p))
		p.mu.Lock()
		p.reqs[f.ID] = cancel
		p.mu.Unlock()
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer func() {
				cancel()
				p.mu.Lock()
				delete(p.reqs, f.ID)
				p.mu.Unlock()
			}()
			data, err := p.handle(ctx, f)
			res := &Response{ID: f.ID, OK: err == nil, Data: data}
			if err != nil {
				var e *Error
				if !errors.As(err, &e) {
					e = &Error{Code: CodeInternal, Msg: err.Error()}
				}
				res.Err = e
			}
			_ = p.send(res)
		}()
	}
}

func (p *peer) answer(f *Request) {
	var a Answer
	if err := json.Unmarshal(f.Args, &a); err != nil {
		return
	}
	p.mu.Lock()
	ch := p.prompts[a.Prompt]
	delete(p.prompts, a.Prompt)
	p.mu.Unlock()
	if ch != nil {
		ch <- a
	}
}

// ask sends a prompt to this client and waits for its answer.
func (p *peer) ask(ctx context.Context, pr *Prompt) (Answer, error) {
	ch := make(chan Answer, 1)
	p.mu.Lock()
	p.nextPrompt++
	id := p.nextPrompt
	p.prompts[id] = ch
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.prompts, id)
		p.mu.Unlock()
	}()
	if err := p.send(&PromptFrame{ID: id, Prompt: pr}); err != nil {
		return Answer{}, err
	}
	select {
	case a := <-ch:
		return a, nil
	case <-p.closed:
		return Answer{}, errors.New("mux: the client left")
	case <-ctx.Done():
		return Answer{}, ctx.Err()
	}
}

func decode[T any](f *Request) (T, error) {
	var v T
	if len(f.Args) > 0 {
		if err := json.Unmarshal(f.Args, &v); err != nil {
			return v, errorf(CodeUsage, "%s: bad arguments: %v", f.Op, err)
		}
	}
	return v, nil
}

// ReconnectReply is what reconnect answers: the sessions reopened, in
// id order, and those that could not be, with why.
type ReconnectReply struct {
	Sessions []Info             `json:"sessions"`
	Failed   []ReconnectFailure `json:"failed,omitempty"`
}

// ReconnectFailure is a session reconnect could not reopen.
type ReconnectFailure struct {
	Name  string `json:"name"`
	Error string `json:"error"`
}

// reconnectAll reopens ss at once, each on its own; when none could be,
// the first one's error is the answer.
func reconnectAll(ctx context.Context, ss []*Session) (ReconnectReply, error) {
	errs := make([]error, len(ss))
	var wg sync.WaitGroup
	for i, x := range ss {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = x.reconnect(ctx) }()
	}
	wg.Wait()
	var rep ReconnectReply
	for i, x := range ss {
		if errs[i] != nil {
			rep.Failed = append(rep.Failed, ReconnectFailure{Name: x.Name, Error: DescribeErr(errs[i])})
			continue
		}
		rep.Sessions = append(rep.Sessions, x.info())
	}
	if len(rep.Sessions) == 0 {
		return rep, errorf(CodeConnect, "%s", rep.Failed[0].Error)
	}
	return rep, nil
}

// TargetArgs name sessions.
type TargetArgs struct {
	Target string `json:"target"`
	All    bool   `json:"all,omitempty"`
}

// CaptureArgs read a session's log.
type CaptureArgs struct {
	Target string `json:"target"`
	Since  uint64 `json:"since,omitempty"`
	Job    int    `json:"job,omitempty"`
}

// AttachArgs attach a client to a session.
type AttachArgs struct {
	Target       string `json:"target"`
	Since        uint64 `json:"since,omitempty"` // 0: after the last event an attached client acknowledged
	ReadOnly     bool   `json:"read_only,omitempty"`
	DetachOthers bool   `json:"detach_others,omitempty"`
	// Client names the client for its cursor (ClientID); the server
	// resumes a client after what it acknowledged itself.
	Client string `json:"client,omitempty"`
	// Tail bounds the replay to the last Tail events (0: all); the
	// first response's "skipped" says how many earlier ones it left out.
	Tail uint64 `json:"tail,omitempty"`
	// PrintPID, the client's own pid, asks the server to write what
	// the client prints (Printer), when it can reach the client's
	// stdout and stderr; AttachReply.ServerPrints says whether it does.
	PrintPID int `json:"print_pid,omitempty"`
}

// AttachReply is the first response to attach.
type AttachReply struct {
	Session Info   `json:"session"`
	Busy    string `json:"busy"`
	// Skipped events from Since on were not replayed (AttachArgs.Tail):
	// capture shows them.
	Skipped uint64 `json:"skipped,omitempty"`
	Since   uint64 `json:"since,omitempty"` // the first of them
	// ServerPrints: the client sends what it prints as print frames
	// (Printer), which the server writes to its stdout and stderr and
	// acknowledges in the same step.
	ServerPrints bool `json:"server_prints,omitempty"`
}

// ack moves the client's cursor and the log's acknowledgement.
func (p *peer) ack(a AckArgs) {
	x, err := p.srv.one(a.Target)
	if err != nil {
		return
	}
	p.mu.Lock()
	r := p.readers[x]
	client, was := p.clients[x.InstanceID]
	p.mu.Unlock()
	if r != nil { // attached: its own cursor moves, and the log's
		r.Ack(a.Seq)
	} else {
		x.log.Ack(a.Seq)
	}
	if was {
		// attached, or was (what it printed after it was cut off still
		// counts): its next attach resumes after it
		p.srv.cursors.move(x.InstanceID, client, a.Seq)
	}
	x.markSeen(a.Seq)
}

// AckArgs acknowledge events.
type AckArgs struct {
	Target string `json:"target"`
	Seq    uint64 `json:"seq"`
}

// StopArgs stop a session's running command (Ctrl-C).
type StopArgs struct {
	Target string `json:"target"`
	Job    int    `json:"job,omitempty"` // 0: every running command
}

// ExecResult is how a command ended.
type ExecResult struct {
	Session   string `json:"session"`
	Computer  string `json:"computer"`
	Job       int    `json:"job"`
	State     string `json:"state"`
	HadErrors bool   `json:"had_errors"`
	Reason    string `json:"reason,omitempty"` // CLIXML of the error record, for Failed
	Lost      string `json:"lost,omitempty"`   // the connection was lost while the command ran: why
}

// JobInfo is one job's row.
type JobInfo struct {
	ID        int       `json:"Id"`
	Command   string    `json:"Command"`
	State     string    `json:"State"`
	HadErrors bool      `json:"HadErrors"`
	Start     time.Time `json:"PSBeginTime"`
	End       time.Time `json:"PSEndTime,omitzero"`
}

// sessionOf finds the one session a request's "target" names.
func (p *peer) sessionOf(f *Request) (*Session, error) {
	a, err := decode[TargetArgs](f)
	if err != nil {
		return nil, err
	}
	return p.srv.one(a.Target)
}

func (p *peer) handle(ctx context.Context, f *Request) (json.RawMessage, error) {
	s := p.srv
	switch f.Op {
	case "ping":
		return marshal("pong"), nil
	case "new":
		a, err := decode[NewArgs](f)
		if err != nil {
			return nil, err
		}
		x, err := s.create(ctx, a)
		if err != nil {
			return nil, err
		}
		return marshal(x.info()), nil
	case "ls":
		var rows []Info
		for _, x := range s.list() {
			rows = append(rows, x.info())
		}
		return marshal(rows), nil
	case "find":
		a, err := decode[TargetArgs](f)
		if err != nil {
			return nil, err
		}
		ss, err := s.find(a.Target)
		if err != nil {
			return nil, err
		}
		rows := make([]Info, 0, len(ss))
		for _, x := range ss {
			rows = append(rows, x.info())
		}
		return marshal(rows), nil
	case "has":
		x, err := p.sessionOf(f)
		if err != nil {
			return nil, err
		}
		return marshal(x.info()), nil
	case "rm":
		a, err := decode[TargetArgs](f)
		if err != nil {
			return nil, err
		}
		ss := s.list()
		if !a.All {
			if ss, err = s.find(a.Target); err != nil {
				return nil, err
			}
		}
		var names []string
		for _, x := range ss {
			s.remove(x, "removed")
			names = append(names, x.Name)
		}
		return marshal(names), nil
	case "reconnect":
		a, err := decode[TargetArgs](f)
		if err != nil {
			return nil, err
		}
		ss, err := s.find(a.Target)
		if err != nil {
			return nil, err
		}
		rep, err := reconnectAll(ctx, ss)
		if err != nil {
			return nil, err
		}
		s.save()
		return marshal(rep), nil
	case "exec":
		return p.exec(ctx, f)
	case "job", "job-ls", "job-wait", "job-stop", "job-remove", "job-receive":
		return p.jobOp(ctx, f)
	case "stop":
		a, err := decode[StopArgs](f)
		if err != nil {
			return nil, err
		}
		x, err := p.sessionOf(f)
		if err != nil {
			return nil, err
		}
		a.Job = s.childOf(x, a.Job)
		x.mu.Lock()
		n := 0
		for id, j := range x.jobs {
			if (a.Job == 0 || a.Job == id) && !j.finished() {
				j.cancel()
				n++
			}
		}
		x.mu.Unlock()
		return marshal(n), nil
	case "jobs":
		x, err := p.sessionOf(f)
		if err != nil {
			return nil, err
		}
		x.mu.Lock()
		var rows []JobInfo
		for _, id := range x.jobOrder {
			j := x.jobs[id]
			if j == nil {
				continue
			}
			j.mu.Lock()
			rows = append(rows, JobInfo{ID: j.ID, Command: j.Command, State: j.State, HadErrors: j.HadErrors, Start: j.Start, End: j.End})
			j.mu.Unlock()
		}
		x.mu.Unlock()
		return marshal(rows), nil
	case "capture":
		a, err := decode[CaptureArgs](f)
		if err != nil {
			return nil, err
		}
		x, err := p.sessionOf(f)
		if err != nil {
			return nil, err
		}
		from := a.Since
		if a.Job != 0 {
			a.Job = s.childOf(x, a.Job)
			x.mu.Lock()
			j := x.jobs[a.Job]
			x.mu.Unlock()
			if j == nil {
				return nil, errorf(CodeNotFound, "can't find job %d in session %s", a.Job, x.Name)
			}
			from = max(from, j.firstSeq)
		}
		next, lost, _, err := p.stream(ctx, x, f.ID, from, false, false, a.Job)
		if err != nil {
			return nil, err
		}
		return marshal(map[string]uint64{"next": next, "lost": lost}), nil
	case "attach":
		return p.attach(ctx, f)
	case "cp":
		a, err := decode[CopyArgs](f)
		if err != nil {
			return nil, err
		}
		x, err := p.sessionOf(f)
		if err != nil {
			return nil, err
		}
		n, err := x.copyFile(ctx, a)
		if err != nil {
			return nil, err
		}
		return marshal(n), nil
	case "prompt":
		a, err := decode[PromptArgs](f)
		if err != nil {
			return nil, err
		}
		x, err := p.sessionOf(f)
		if err != nil {
			return nil, err
		}
		return marshal(x.promptText(ctx, a)), nil
	case "complete":
		a, err := decode[CompleteArgs](f)
		if err != nil {
			return nil, err
		}
		x, err := p.sessionOf(f)
		if err != nil {
			return nil, err
		}
		c, err := x.complete(ctx, a)
		if err != nil {
			return nil, err
		}
		return marshal(c), nil
	case "history":
		a, err := decode[HistoryArgs](f)
		if err != nil {
			return nil, err
		}
		x, err := p.sessionOf(f)
		if err != nil {
			return nil, err
		}
		return marshal(x.history(a.Line)), nil
	case "kill-server":
		s.stop()
		return marshal("bye"), nil
	}
	return nil, errorf(CodeUsage, "unknown request %q", f.Op)
}

// exec runs a command and streams its events to the requester; with
// Async it returns the job at once.
func (p *peer) exec(ctx context.Context, f *Request) (json.RawMessage, error) {
	a, err := decode[ExecArgs](f)
	if err != nil {
		return nil, err
	}
	x, err := p.srv.one(a.Target)
	if err != nil {
		return nil, err
	}
	if a.Interactive && !p.interactive {
		a.Interactive = false
	}
	j, err := p.startOn(ctx, x, a)
	if err != nil {
		return nil, err
	}
	x.mu.Lock()
	computer := x.where.Computer
	x.mu.Unlock()
	res := ExecResult{Session: x.Name, Computer: computer, Job: j.ID, State: "Running"}
	if a.Async {
		return marshal(res), nil
	}
	attached := false
	x.mu.Lock()
	_, attached = x.attached[p]
	x.mu.Unlock()
	var end *Event
	closedUnder := false
	if attached { // the attach stream shows the events; wait for the end
		select {
		case <-j.done:
		case <-ctx.Done():
			if !a.KeepRunning { // else the client left (C-b d): the command goes on without it
				j.cancel()
				<-j.done
			}
		}
	} else {
		var err error
		_, _, end, err = p.stream(ctx, x, f.ID, j.firstSeq, true, true, j.ID)
		switch {
		case err != nil && ctx.Err() != nil && !a.KeepRunning:
			j.cancel() // the client went away or cancelled: stop the command (Ctrl-C)
			<-j.done
		case errors.Is(err, errLogClosed):
			// the session closed under the command (rm, kill-server):
			// its end, not "Running", is what the client is told
			select {
			case <-j.done:
			case <-ctx.Done():
			}
			closedUnder = true
		}
	}
	j.mu.Lock()
	res.State, res.HadErrors, res.Lost = j.State, j.HadErrors, j.lost
	j.mu.Unlock()
	if end != nil {
		res.Reason = end.XML
	} else if closedUnder {
		res.Reason = "the session was closed while the command ran"
	}
	return marshal(res), nil
}

// startOn starts a command in x for this client, which must not be
// attached to x read-only.
func (p *peer) startOn(ctx context.Context, x *Session, a ExecArgs) (*job, error) {
	x.mu.Lock()
	readOnly := false
	if inter, ok := x.attached[p]; ok && !inter {
		readOnly = true
	}
	x.mu.Unlock()
	if readOnly {
		return nil, errorf(CodeReadOnly, "this client is attached read-only (-r) and cannot run commands")
	}
	if a.History { // before the command runs, so a client attaching after it finds it
		x.history(a.Script)
	}
	return x.start(ctx, p, a)
}

// attach follows a session's log for a client until it detaches.
func (p *peer) attach(ctx context.Context, f *Request) (json.RawMessage, error) {
	a, err := decode[AttachArgs](f)
	if err != nil {
		return nil, err
	}
	x, err := p.srv.one(a.Target)
	if err != nil {
		return nil, err
	}
	for _, o := range x.attachPeer(p, !a.ReadOnly, a.DetachOthers) {
		_ = o.send(&Detached{Msg: fmt.Sprintf("[detached (from session %s)]", x.Name)})
	}
	defer x.detachPeer(p)
	info := x.info()
	busy := ""
	if x.busyJob() != nil {
		busy = textBusyEnter
	}
	from := a.Since
	if from == 0 {
		if seq, ok := p.srv.cursors.at(x.InstanceID, a.Client); ok {
			from = seq + 1
		} else {
			from = x.seenSeq() + 1
		}
	}
	reply := AttachReply{Session: info, Busy: busy}
	if a.PrintPID != 0 {
		reply.ServerPrints = p.openPrint(a.PrintPID)
	}
	if last := x.log.Stats().Last; a.Tail > 0 && last >= from && last-from+1 > a.Tail {
		reply.Skipped, reply.Since = last-a.Tail+1-from, from
		from = last - a.Tail + 1
	}
	// The attach response goes first; events follow with the same id.
	if err := p.send(&Response{ID: f.ID, OK: true, Data: marshal(reply)}); err != nil {
		return nil, err
	}
	p.mu.Lock()
	if p.clients == nil {
		p.clients = map[string]string{}
	}
	p.clients[x.InstanceID] = a.Client
	p.mu.Unlock()
	// This client's cursor: what it has not acknowledged is never evicted
	// as acknowledged by another client.
	r := x.log.NewReader(from)
	p.mu.Lock()
	if p.readers == nil {
		p.readers = map[*Session]*outlog.Reader{}
	}
	p.readers[x] = r
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		if p.readers[x] == r {
			delete(p.readers, x) // p.clients keeps its name: acks may follow
		}
		p.mu.Unlock()
		r.Close()
	}()
	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() { // ends with sctx, at the latest when attach returns
		select {
		case <-r.Lagged():
			cancel(errLagged)
		case <-sctx.Done():
		}
	}()
	_, _, _, err = p.stream(sctx, x, f.ID, from, true, false, 0)
	switch {
	case errors.Is(err, errLogClosed):
		_ = p.send(&Detached{Msg: fmt.Sprintf("[session %s closed]", x.Name)})
	case errors.Is(context.Cause(sctx), errLagged):
		_ = p.send(&Detached{Msg: fmt.Sprintf("[lagged: this client fell too far behind session %s's output and was cut off; attach again to replay what is left]", x.Name)})
	}
	return nil, errAttachEnded
}

var (
	errLogClosed   = errors.New("mux: the session's log is closed")
	errLagged      = errors.New("mux: the client fell too far behind")
	errAttachEnded = &Error{Code: "detached", Msg: "detached"}
)

// stream sends the log's events from seq from, in order, as ev frames
// tagged id. With cmd set, only that command's events go, and a
// following stream ends after the command's state event, which it
// returns. With follow it waits for more until ctx ends; otherwise it
// stops at the end of what is there. With ack it acknowledges what was
// sent (an exec's own output); attached clients acknowledge what they
// have shown themselves. It returns the next seq and how many events
// were lost (evicted) on the way.
func (p *peer) stream(ctx context.Context, x *Session, id, from uint64, follow, ack bool, cmd int) (uint64, uint64, *Event, error) {
	if from == 0 {
		from = 1
	}
	var totalLost uint64
	buf := make([]outlog.Event, 0, 256)
	// the frames of a batch of events go in one write: a client reading
	// a long log is woken once a batch, not once an event
	var batch []byte
	batchFrom := from // the first event in batch
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := p.sendFrames(batch)
		batch = batch[:0]
		return err
	}
	for {
		if err := ctx.Err(); err != nil && follow {
			return from, totalLost, nil, err
		}
		evs, next, lost := x.log.Read(from, 256, buf[:0])
		if len(evs) > 0 {
			x.syncJournal(evs[len(evs)-1].Seq) // what a client is shown is on disk first
		}
		batchFrom = from
		if lost > 0 {
			totalLost += lost
			e := encodeEvent(Event{Kind: KindSession, Text: fmt.Sprintf("%d events were dropped (Drop policy, log budget full, or past the logs' disk budget)", lost)})
			var err error
			if batch, err = appendEvFrame(batch, id, from, e); err != nil {
				return from, totalLost, nil, err
			}
		}
		for _, e := range evs {
			var kind string
			if cmd != 0 {
				var c int
				if c, kind = eventHead(e.Data); c != cmd {
					continue
				}
			}
			batch = appendEvFrameOrNotice(batch, id, e, MaxEventFrame)
			if len(batch) >= maxBatch || (follow && kind == KindState) {
				if err := flush(); err != nil {
					return batchFrom, totalLost, nil, err
				}
				batchFrom = e.Seq + 1
			}
			if follow && kind == KindState {
				if ack {
					x.log.Ack(e.Seq)
				}
				end := new(Event)
				_ = json.Unmarshal(e.Data, end)
				return e.Seq + 1, totalLost, end, nil
			}
		}
		if err := flush(); err != nil {
			return batchFrom, totalLost, nil, err
		}
		if len(evs) > 0 && ack {
			x.log.Ack(evs[len(evs)-1].Seq)
		}
		from = next
		if len(evs) > 0 || lost > 0 {
			continue
		}
		if !follow {
			return from, totalLost, nil, nil
		}
		if cap(batch) > 64<<10 { // a client may stay attached, idle, for long
			batch = nil
		}
		if err := x.log.Wait(ctx, from); err != nil {
			if ctx.Err() != nil {
				return from, totalLost, nil, ctx.Err()
			}
			return from, totalLost, nil, errLogClosed
		}
	}
}

// maxBatch is the size past which stream writes the frames it gathered.
const maxBatch = 256 << 10

// appendEvFrameOrNotice appends e's frame to dst or, for an event whose
// frame would be over limit, a notice in its place that says so: the
// client is told, and goes on with the events after it.
func appendEvFrameOrNotice(dst []byte, id uint64, e outlog.Event, limit int) []byte {
	dst, err := appendFrame(dst, limit, func(dst []byte) []byte { return evFrameSeq(dst, id, e.Seq, e.Data) })
	if err != nil {
		cmd, _ := eventHead(e.Data)
		dst, _ = appendEvFrame(dst, id, e.Seq, encodeEvent(Event{Cmd: cmd, Kind: KindSession,
			Text: fmt.Sprintf("an output event of %d bytes is over the %d-byte frame cap and is not shown", len(e.Data), limit)}))
	}
	return dst
}

// appendEvFrame appends an event's frame to dst, for sendFrames.
func appendEvFrame(dst []byte, id, seq uint64, ev []byte) ([]byte, error) {
	return appendFrame(dst, MaxEventFrame, func(dst []byte) []byte { return evFrameSeq(dst, id, seq, ev) })
}

func evFrameSeq(dst []byte, id, seq uint64, ev []byte) []byte {
	dst = append(dst, `{"t":"ev","id":`...)
	dst = fmt.Appendf(dst, "%d", id)
	dst = append(dst, `,"seq":`...)
	dst = fmt.Appendf(dst, "%d", seq)
	dst = append(dst, `,"ev":`...)
	dst = append(dst, ev...)
	return append(dst, '}')
}
