package mux

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/psmux/psmux/mux/journal"
	"github.com/psmux/psmux/mux/outlog"
	"github.com/psmux/psmux/sessions"
	"github.com/psmux/psmux/sessions/clixml"
	"github.com/psmux/psmux/sessions/psrp"
	"github.com/psmux/psmux/sessions/trace"
	"github.com/psmux/psmux/ssh"
)

// PowerShell's texts (RunspaceStrings, ConsoleHostStrings).
const (
	textBusyPipeline = "The pipeline was not run because a pipeline is already running. Pipelines cannot be run concurrently."
	textBusyEnter    = "You have entered a session that is busy running a command or script and output will be displayed in the console. You can wait for the running command to finish or cancel it and get an input prompt by pressing Ctrl-C."
	textBroken       = "Command '%s' was not run as the session in which it was intended to run was either closed or broken"
)

// reportPatience bounds showing a stopped command's error.
const reportPatience = 30 * time.Second

// SessionOptions are what `new` may set.
type SessionOptions struct {
	IdleTimeout  time.Duration // 0: never
	Budget       int64         // output log budget in bytes; 0: outlog's default
	Policy       outlog.Policy
	MaxRunspaces int // default 1: one pipeline at a time
	Width        int // the host's BufferSize width; default 120
	// MaxObjectSize caps one object from the server in bytes; 0: 200 MB.
	MaxObjectSize int
	// HandshakeTimeout bounds the wait for the server to open the pool;
	// 0: sessions.DefaultHandshakeTimeout (the connect timeout's default).
	HandshakeTimeout time.Duration
	// FirstSeq is the log's first sequence number (0: 1): a session
	// restored with its journal continues its numbering.
	FirstSeq uint64
}

// Info is a session's row: Get-PSSession's columns plus psmux's.
type Info struct {
	ID                int       `json:"Id"`
	Name              string    `json:"Name"`
	InstanceID        string    `json:"InstanceId"`
	ComputerName      string    `json:"ComputerName"`
	UserName          string    `json:"UserName,omitempty"`
	Transport         string    `json:"Transport"`
	ComputerType      string    `json:"ComputerType"`
	ConfigurationName string    `json:"ConfigurationName"`
	State             string    `json:"State"`
	Availability      string    `json:"Availability"`
	Reason            string    `json:"Reason,omitempty"`
	Restored          bool      `json:"Restored,omitempty"`
	WaitingForInput   bool      `json:"WaitingForInput,omitempty"`
	Attached          int       `json:"Attached"`
	Created           time.Time `json:"Created"`
	LastSeq           uint64    `json:"LastSeq"`
	LastActivity      time.Time `json:"LastActivity"` // when a command last started or ended
	Dropped           uint64    `json:"Dropped,omitempty"`
	// Blocked: under the Block policy the log is full of output no
	// client has acknowledged, and the session's command waits for one.
	Blocked bool `json:"Blocked,omitempty"`
	// NoiseDropped counts the server's stderr and noise lines the log had
	// no room for (they never wait for room).
	NoiseDropped int64 `json:"NoiseDropped,omitempty"`
	// Ended is when a session closed by its IdleTimeout was closed; it
	// stays listed, Closed with the reason, until removed.
	Ended time.Time `json:"Ended,omitzero"`
}

// job is one command run in a session; --async commands are jobs the
// user can receive later.
type job struct {
	ID          int
	Command     string
	Interactive bool  // may prompt an attached client
	Owner       *peer // who started it; nil after it left
	cancel      context.CancelFunc
	done        chan struct{}
	lost        string // why the connection was lost, when that ended the command

	mu        sync.Mutex
	State     string
	HadErrors bool
	Start     time.Time
	End       time.Time
	firstSeq  uint64
	lastSeq   atomic.Uint64 // the last event the command logged
}

// TextOpened is the session event logged when a session's runspace
// opens (a REPL entering the session shows none, as pwsh's client).
const TextOpened = "Opened"

// Session is one named PSSession held by the server. Its life (opening,
// reopening, seeing the connection end, healing a broken link) belongs
// to one owner goroutine, run, which others ask (connect, reconnect) and
// close ends; commands run in their own goroutines, one per pipeline
// slot, which the session waits for when it closes. The fields below mu
// change under it; the state and the connection only by the owner (and
// close, which moves the state to Closing first).
type Session struct {
	srv        *Server
	ID         int
	Name       string
	InstanceID string
	Created    time.Time
	target     Target
	flagArgs   []string
	init       string
	spec       NewArgs // as created, for the registry
	opts       SessionOptions
	log        *outlog.Log
	jr         *journal.Journal // the log on disk; nil without a state directory
	noiseLost  atomic.Int64     // noise lines the log had no room for
	slots      chan struct{}
	wg         sync.WaitGroup
	stop       chan struct{}
	stopOnce   sync.Once
	asks       chan lifeAsk // to the owner, run
	jrFailed   sync.Once
	// ctx ends when the session is closed; context.Cause says why (a
	// *ClosedError). Everything the session starts derives from it.
	ctx    context.Context
	cancel context.CancelCauseFunc

	mu           sync.Mutex
	state        State  // changed only through to, by the transition table
	reason       string // why it is Broken or Closed
	ended        time.Time
	restored     bool
	where        Where
	conn         *sessions.Conn
	closingConn  *atomic.Bool // set when psmux closes conn: its stderr is then pwsh's exit line
	transport    sessions.Transport
	killProc     context.CancelFunc
	running      int
	waitingInput int
	lastActive   time.Time
	attached     map[*peer]bool // value: interactive
	attachCh     chan struct{}  // closed and replaced when a client attaches
	jobs         map[int]*job
	jobOrder     []int
	seen         uint64        // the last event an attached client acknowledged
	opening      chan struct{} // closed when the current open attempt ends
	openBusy     bool          // an open is under way (Opened already, its init script not yet started)
	hist         []string      // commands typed in the REPL, oldest first
}

// markSeen records what an attached client has shown; the next attach
// resumes after it.
func (s *Session) markSeen(seq uint64) {
	s.mu.Lock()
	s.seen = max(s.seen, seq)
	s.mu.Unlock()
}

func (s *Session) seenSeq() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen
}

func newSession(srv *Server, id int, name string, tg Target, flagArgs []string, init string, opts SessionOptions) *Session {
	if opts.MaxRunspaces < 1 {
		opts.MaxRunspaces = 1
	}
	if opts.Width <= 0 {
		opts.Width = 120
	}
	s := &Session{srv: srv, ID: id, Name: name, InstanceID: uuid.NewString(), Created: time.Now(),
		target: tg, flagArgs: flagArgs, init: init, opts: opts,
		log:   outlog.New(outlog.Options{Budget: opts.Budget, Policy: opts.Policy, Shared: srv.mem, First: opts.FirstSeq}),
		slots: make(chan struct{}, opts.MaxRunspaces), stop: make(chan struct{}),
		state: Opening, attached: map[*peer]bool{}, attachCh: make(chan struct{}), opening: make(chan struct{}),
		jobs: map[int]*job{}, lastActive: time.Now(), asks: make(chan lifeAsk)}
	s.ctx, s.cancel = context.WithCancelCause(context.Background())
	s.wg.Add(1) // close cancels ctx, which ends the owner, and waits for it
	go s.run(s.ctx)
	return s
}

// noWait is a context that has ended: an Append given it takes what
// room there is and never waits for more.
var noWait = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// closed reports whether the session is Closing or Closed.
func (s *Session) closed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state >= Closing
}

// ClosedError is why a session ended: context.Cause of its context.
type ClosedError struct{ Reason string }

func (e *ClosedError) Error() string { return "mux: the session was closed: " + e.Reason }

// toLocked applies change c by the transition table, with the reason
// shown for Broken and Closed; s.mu is held.
func (s *Session) toLocked(c change, reason string) error {
	st, err := next(s.state, c)
	if err != nil {
		return err
	}
	s.state, s.reason = st, reason
	return nil
}

func (s *Session) append(ctx context.Context, e Event) uint64 {
	seq, err := s.appendData(ctx, encodeEvent(e))
	if err != nil {
		return 0
	}
	return seq
}

// appendData appends an encoded event to the log; its journal, which
// follows the log, takes it from there.
func (s *Session) appendData(ctx context.Context, data []byte) (uint64, error) {
	return s.log.Append(ctx, data)
}

// journalFailed logs, once, that the session's log is no longer kept on
// disk (a full or failing disk); the session goes on in memory.
func (s *Session) journalFailed(err error) {
	s.jrFailed.Do(func() { s.srv.logf("session %s (%d): its log is no longer written to disk: %v", s.Name, s.ID, err) })
}

// syncJournal waits, at most a second, until every event up to seq is
// on disk before a client is shown it, so that what anyone saw survives
// the server.
func (s *Session) syncJournal(seq uint64) {
	if s.jr == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := s.log.WaitKept(ctx, seq); errors.Is(err, outlog.ErrStoreFailed) {
		s.journalFailed(cmp.Or(s.jr.Err(), err))
	}
}

// appendJob appends one of j's events and notes it as j's last.
func (s *Session) appendJob(ctx context.Context, j *job, e Event) uint64 {
	seq := s.append(ctx, e)
	for {
		last := j.lastSeq.Load()
		if seq <= last || j.lastSeq.CompareAndSwap(last, seq) {
			return seq
		}
	}
}

// testHookOpened, when set (tests only), runs in open once the session
// is Opened and before its events are logged and its init script starts
// (a log under Block can hold an open there as long as no client reads).
var testHookOpened func(*Session)

// opened is what an open that succeeded started: the init script's job
// (nil without an init script), or why it could not start.
type opened struct {
	init    *job
	initErr error
}

// openHow says how an open goes.
type openHow struct {
	quiet bool   // a failure is not logged (the healer says its tries once, not each)
	init  bool   // the init script starts before anyone waiting for the open may run a command
	note  string // logged after Opened (a reconnect says what it means)
}

// open connects the session's PowerShell; ctx may carry the peer who
// answers SSH prompts, and ends with the session's (the owner's contexts
// do), so closing the session cancels an open under way.
// Only the owner opens (others ask it: connect). With how.init, the init
// script's job has taken the pipeline slot before a command waiting for
// the open is let go (start waits while an open is under way, Opened
// already or not); it is returned for the caller to wait for.
func (s *Session) open(ctx context.Context, how openHow) (opened, error) {
	s.mu.Lock()
	if s.state != Opening { // a fresh session is Opening already
		if err := s.toLocked(chOpen, ""); err != nil {
			s.mu.Unlock()
			return opened{}, err
		}
	}
	select {
	case <-s.opening:
		s.opening = make(chan struct{})
	default:
	}
	done := s.opening
	s.openBusy = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.openBusy = false
		s.mu.Unlock()
		close(done)
	}()
	life, kill := context.WithCancel(context.Background())
	kept := false // the process lives on with the opened session
	defer func() {
		if !kept {
			kill()
		}
	}()
	// After psmux closes the session pwsh writes one stderr line as it
	// exits ("An unknown element "" was received…"): normal, not news.
	closing := new(atomic.Bool)
	diag := func(k sessions.DiagKind, text string) {
		if (k == sessions.DiagStderr || k == sessions.DiagPipeError) && closing.Load() {
			return
		}
		if k == sessions.DiagProtocol {
			s.srv.logf("session %s (%d): %s", s.Name, s.ID, text)
		}
		// Never waits: a full Block log must not stall the goroutine
		// that reads the server's stderr or noise. What does not fit
		// is counted.
		if _, err := s.appendData(noWait, encodeEvent(Event{Kind: KindNoise, Text: text})); err != nil {
			s.noiseLost.Add(1)
		}
	}
	t, where, err := s.srv.opener.Open(ctx, life, s.target, diag)
	if err == nil {
		t = s.traced(t)
		var conn *sessions.Conn
		conn, err = sessions.Open(ctx, t, sessions.Options{
			Host: psrp.TerminalHost(s.opts.Width, 50), MaxRunspaces: int32(s.opts.MaxRunspaces),
			MaxReceivedObjectSize: s.opts.MaxObjectSize, Diag: diag, HandshakeTimeout: s.opts.HandshakeTimeout,
			PrepareNext: true})
		if err == nil {
			s.mu.Lock()
			if err = s.toLocked(chOpenOK, ""); err == nil {
				s.where, s.conn, s.transport, s.killProc = where, conn, t, kill
				s.closingConn = closing
				s.lastActive = time.Now()
				kept = true
			}
			s.mu.Unlock()
			if err == nil {
				if testHookOpened != nil {
					testHookOpened(s)
				}
				s.append(s.ctx, Event{Kind: KindSession, Text: TextOpened})
				if how.note != "" {
					s.append(s.ctx, Event{Kind: KindSession, Text: how.note})
				}
				if !how.init || strings.TrimSpace(s.init) == "" {
					return opened{}, nil
				}
				j, err := s.startJob(ctx, nil, ExecArgs{Script: s.init}, true)
				return opened{init: j, initErr: err}, nil // before the deferred close of done: the init script runs first
			}
			// closed while opening: what was opened goes with it
			closing.Store(true)
			cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = conn.Close(cctx)
			cancel()
		}
		_ = t.Close()
	}
	if c := context.Cause(s.ctx); c != nil {
		return opened{}, c
	}
	s.mu.Lock()
	if s.toLocked(chOpenFail, DescribeErr(err)) == nil && where.Computer != "" {
		s.where = where
	}
	s.mu.Unlock()
	if !how.quiet {
		s.append(s.ctx, Event{Kind: KindSession, Text: "Broken: " + DescribeErr(err)})
	}
	return opened{}, err
}

// traced records t's traffic under the server's TraceDir, if it has one.
// A trace that cannot be opened is logged, not fatal.
func (s *Session) traced(t sessions.Transport) sessions.Transport {
	dir := s.srv.cfg.TraceDir
	if dir == "" {
		return t
	}
	name := strings.Map(func(r rune) rune {
		if r == '/' || r == 0 || r == '\\' {
			return '_'
		}
		return r
	}, s.Name)
	if name == "" || name == "." || name == ".." {
		name = strconv.Itoa(s.ID)
	}
	f, err := os.OpenFile(filepath.Join(dir, name+".oop"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		s.srv.logf("trace: %v", err)
		return t
	}
	return trace.Wrap(t, f)
}

// lost marks the session Broken when its connection ended on its own;
// false when conn is no longer the session's or it is closing.
func (s *Session) lost(conn *sessions.Conn) bool {
	reason := "the connection ended"
	if err := conn.Err(); err != nil {
		reason = DescribeErr(err)
	}
	s.mu.Lock()
	if s.conn != conn || s.toLocked(chLost, reason) != nil {
		s.mu.Unlock()
		return false
	}
	s.mu.Unlock()
	s.append(s.ctx, Event{Kind: KindSession, Text: "Broken: " + reason})
	s.srv.logf("session %s (%d) is Broken: %s", s.Name, s.ID, reason)
	return true
}

// DescribeErr words an error for people: a lost connection says so,
// and the package prefixes go.
func DescribeErr(err error) string {
	if err == nil {
		return ""
	}
	var be *sessions.BrokenError
	if errors.As(err, &be) {
		return "connection lost: " + strings.TrimPrefix(be.Err.Error(), "ssh: ")
	}
	return strings.TrimPrefix(strings.TrimPrefix(err.Error(), "sessions: "), "ssh: ")
}

// info snapshots the row.
func (s *Session) info() Info {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.log.Stats()
	avail := "None"
	switch {
	case s.state != Opened:
	case s.running > 0 || s.waitingInput > 0:
		avail = "Busy"
	default:
		avail = "Available"
	}
	return Info{ID: s.ID, Name: s.Name, InstanceID: s.InstanceID, ComputerName: s.where.Computer,
		UserName: s.where.User, Transport: s.where.Transport, ComputerType: computerType(s.where.Transport),
		ConfigurationName: s.where.Configuration, State: s.state.String(), Availability: avail, Reason: s.reason,
		Restored: s.restored, WaitingForInput: s.waitingInput > 0, Attached: len(s.attached),
		Created: s.Created, LastSeq: st.Last, LastActivity: s.lastActive, Dropped: st.Dropped, NoiseDropped: s.noiseLost.Load(), Blocked: st.Waiting, Ended: s.ended}
}

func computerType(transport string) string {
	if transport == "SSH" {
		return "RemoteMachine"
	}
	return "LocalMachine"
}

// ExecArgs are a command to run.
type ExecArgs struct {
	Target      string        `json:"target"`
	Script      string        `json:"script"`
	JSON        bool          `json:"json,omitempty"`         // objects, no Out-Default
	Async       bool          `json:"async,omitempty"`        // fail at once when busy; return the job
	Timeout     time.Duration `json:"timeout,omitempty"`      // stop the command after this long
	Interactive bool          `json:"interactive,omitempty"`  // typed in an attached client: may prompt
	KeepRunning bool          `json:"keep_running,omitempty"` // the command belongs to the session: it goes on if the client leaves
	History     bool          `json:"history,omitempty"`      // typed in the REPL: add it to the session's history first
	// Width and Height are the typing terminal's size, the pipeline's
	// host RawUI WindowSize and BufferSize (0: the session's default).
	Width  int `json:"width,omitempty"`
	Height int `json:"height,omitempty"`
}

// start runs a command: it takes a pipeline slot (waiting up to four
// minutes, or failing at once for async), logs the input and starts
// the pipeline in its own goroutine.
func (s *Session) start(ctx context.Context, p *peer, a ExecArgs) (*job, error) {
	return s.startJob(ctx, p, a, false)
}

// startJob is start; inOpen: the init script, started by the open itself
// (everyone else waits while an open is under way).
func (s *Session) startJob(ctx context.Context, p *peer, a ExecArgs, inOpen bool) (*job, error) {
	s.mu.Lock()
	state, opening, busy := s.state, s.opening, s.openBusy
	s.mu.Unlock()
	if (state == Opening || busy) && !inOpen { // being opened, restored or reconnected: wait for it
		select {
		case <-opening:
		case <-ctx.Done():
			return nil, errorf(CodeStopped, "stopped while the session was opening")
		}
	}
	s.mu.Lock()
	state, conn := s.state, s.conn
	s.mu.Unlock()
	if state != Opened || conn == nil {
		return nil, errorf(CodeBroken, textBroken, a.Script)
	}
	select {
	case s.slots <- struct{}{}:
	default:
		if a.Async {
			return nil, errorf(CodeBusy, "%s", textBusyPipeline)
		}
		t := time.NewTimer(s.srv.cfg.SyncWait)
		defer t.Stop()
		select {
		case s.slots <- struct{}{}:
		case <-t.C:
			return nil, errorf(CodeBusy, "%s", textBusyPipeline)
		case <-ctx.Done():
			return nil, errorf(CodeStopped, "stopped while waiting for the session")
		case <-s.stop:
			return nil, errorf(CodeBroken, textBroken, a.Script)
		}
	}
	base, release := context.WithCancel(s.ctx)
	if a.Timeout > 0 {
		base, release = context.WithTimeout(s.ctx, a.Timeout)
	}
	jctx, stop := sessions.WithStop(base)
	// The first call stops the command; a later one (a second Ctrl-C)
	// sends the stop again.
	cancel := func() { stop(); release() }
	s.mu.Lock()
	if s.state != Opened { // closed or broken while it waited for a slot
		s.mu.Unlock()
		cancel()
		<-s.slots
		return nil, errorf(CodeBroken, textBroken, a.Script)
	}
	s.wg.Add(1) // before close can Wait: close moves the state under mu first
	j := &job{ID: s.srv.newJobID(), Command: a.Script, Interactive: a.Interactive, Owner: p, cancel: cancel,
		done: make(chan struct{}), State: "Running", Start: time.Now()}
	s.jobs[j.ID] = j
	s.jobOrder = append(s.jobOrder, j.ID)
	if len(s.jobOrder) > maxSessionJobs { // forget the oldest finished jobs
		for i, id := range s.jobOrder {
			if old := s.jobs[id]; old != nil && old.finished() {
				delete(s.jobs, id)
				s.jobOrder = append(s.jobOrder[:i], s.jobOrder[i+1:]...)
				break
			}
		}
	}
	s.running++
	if p != nil { // a client's command; the init script (p nil) leaves Restored alone
		s.restored = false
	}
	s.lastActive = time.Now()
	s.mu.Unlock()
	client := ""
	if p != nil {
		client = p.name
	}
	j.firstSeq = s.appendJob(s.ctx, j, Event{Cmd: j.ID, Kind: KindInput, Text: a.Script, Client: client})
	go s.runPipeline(jctx, conn, j, a)
	return j, nil
}

func (j *job) finished() bool {
	select {
	case <-j.done:
		return true
	default:
		return false
	}
}

// runPipeline runs one pipeline to its end and logs how it ended.
func (s *Session) runPipeline(ctx context.Context, conn *sessions.Conn, j *job, a ExecArgs) {
	defer s.wg.Done()
	defer j.cancel()
	h := &logHandler{s: s, j: j, ctx: ctx}
	p := psrp.ScriptPipeline(a.Script, !a.JSON)
	if !a.JSON && !a.Interactive {
		p = conn.TextPipeline(ctx, a.Script) // exec: the REPL's is Enter-PSSession's
	}
	if a.JSON && !a.Interactive {
		// exec --json: records only, as invoke --json gets them (with
		// the session's host, pwsh would send Write-Host and
		// Write-Verbose twice, as a record and as a host write); no
		// client answers its prompts
		p.HostInfo = psrp.NullHost()
	}
	if a.Width > 0 {
		// the pipeline's own host, as a console client declares it, so
		// $Host.UI.RawUI and Out-Default's width follow the terminal
		p.HostInfo = psrp.TerminalHost(a.Width, a.Height)
	}
	res, err := conn.Invoke(ctx, p, nil, h)
	state, hadErrors := res.State.String(), res.HadErrors || h.errors > 0
	if err == nil && res.State == psrp.Stopped && a.Interactive && res.Reason.Kind != clixml.Nil &&
		ctx.Err() != context.DeadlineExceeded {
		// Stopped from the terminal (Ctrl-C): the stop's error is shown
		// as Enter-PSSession shows it, while ctx is already cancelled.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reportPatience)
		conn.Report(rctx, res.Reason, &logHandler{s: s, j: j, ctx: rctx})
		cancel()
	}
	var reason string
	if err != nil {
		state, hadErrors = "Failed", true
		reason = DescribeErr(err)
		var be *sessions.BrokenError
		if errors.As(err, &be) {
			j.mu.Lock()
			j.lost = reason
			j.mu.Unlock()
		}
	} else if res.State == psrp.Failed || res.State == psrp.Stopped {
		reason = encodeLogged(res.Reason)
	}
	if ctx.Err() == context.DeadlineExceeded && res.State == psrp.Stopped {
		reason = ""
	}
	// The slot is free before the state event is logged, so a client
	// that reacts to the event (the REPL asking for the prompt) finds
	// the session available.
	j.mu.Lock()
	j.State, j.HadErrors, j.End = state, hadErrors, time.Now()
	j.mu.Unlock()
	s.mu.Lock()
	s.running--
	s.lastActive = time.Now()
	s.mu.Unlock()
	<-s.slots
	s.appendJob(s.ctx, j, Event{Cmd: j.ID, Kind: KindState, Text: state, HadErrors: hadErrors, XML: reason})
	close(j.done)
}

// logHandler puts what a pipeline produces into the session's log and
// relays its prompts.
type logHandler struct {
	s      *Session
	j      *job
	ctx    context.Context
	errors int
	long   longTwin
}

func (h *logHandler) Message(t psrp.MessageType, v clixml.Value) {
	if t == psrp.ErrorRecord {
		h.errors++
	}
	if t == psrp.InformationRecord {
		if s, ok := sessions.HostMessage(v); ok && len(s) > maxEventText && h.long.twin(s, false) {
			return // logged in pieces from the host call
		}
	}
	h.s.appendJob(h.ctx, h.j, msgEvent(h.j.ID, t, v))
}

func (h *logHandler) HostCall(ctx context.Context, c psrp.HostCallMsg) (clixml.Value, *clixml.Value) {
	if c.Method.Void() || c.CI == psrp.VoidCallID {
		if c.Method == psrp.WriteErrorLine {
			h.errors++
		}
		if i := writeText(c); i >= 0 && len(c.Params[i].Text) > maxEventText && h.long.twin(c.Params[i].Text, true) {
			return clixml.Value{}, nil // logged whole from the record
		}
		hostEvents(h.j.ID, c, func(e Event) { h.s.appendJob(h.ctx, h.j, e) })
		return clixml.Value{}, nil
	}
	return h.s.prompt(ctx, h.j, c)
}

// prompt asks an interactive client: the one that typed the command if
// it is still attached, else any attached interactive client. With none
// a command typed interactively waits ("waiting for input" in ls); a
// non-interactive one fails at once.
func (s *Session) prompt(ctx context.Context, j *job, c psrp.HostCallMsg) (clixml.Value, *clixml.Value) {
	s.mu.Lock()
	computer := s.where.Computer
	s.mu.Unlock()
	pr := &Prompt{Session: s.Name, Computer: computer, Method: int(c.Method), XML: encodeParams(c.Params)}
	waiting := false
	defer func() {
		if waiting {
			s.mu.Lock()
			s.waitingInput--
			s.mu.Unlock()
		}
	}()
	for {
		s.mu.Lock()
		var who *peer
		if j.Owner != nil && s.attached[j.Owner] {
			who = j.Owner
		} else {
			for p, interactive := range s.attached {
				if interactive {
					who = p
					break
				}
			}
		}
		wake := s.attachCh
		if who == nil && j.Interactive && !waiting {
			waiting = true
			s.waitingInput++
		}
		s.mu.Unlock()
		if who == nil {
			if !j.Interactive {
				return clixml.Value{}, sessions.HostError(c.Method, fmt.Sprintf(
					"psmux: %s needs an interactive client to answer it, and this command was run without one (psmux exec is non-interactive); run it from psmux attach", c.Method))
			}
			s.appendJob(s.ctx, j, Event{Cmd: j.ID, Kind: KindPrompt, Text: "waiting for input: " + c.Method.String()})
			select {
			case <-wake:
				continue
			case <-ctx.Done():
				return clixml.Value{}, sessions.HostError(c.Method, "psmux: the command was stopped while waiting for input")
			}
		}
		ans, err := who.ask(ctx, pr)
		if err != nil {
			if ctx.Err() != nil {
				return clixml.Value{}, sessions.HostError(c.Method, "psmux: the command was stopped while waiting for input")
			}
			continue // that client left; ask another
		}
		if ans.Error != "" {
			return clixml.Value{}, sessions.HostError(c.Method, ans.Error)
		}
		if ans.ErrXML != "" {
			v, err := clixml.Decode([]byte(ans.ErrXML))
			if err == nil {
				return clixml.Value{}, &v
			}
		}
		v, err := clixml.Decode([]byte(ans.XML))
		if err != nil {
			return clixml.Value{}, sessions.HostError(c.Method, "psmux: the client's answer could not be read: "+err.Error())
		}
		return v, nil
	}
}

// attachPeer registers a client; with detachOthers every other client
// is told it was detached.
func (s *Session) attachPeer(p *peer, interactive, detachOthers bool) []*peer {
	s.mu.Lock()
	defer s.mu.Unlock()
	var others []*peer
	if detachOthers {
		for o := range s.attached {
			if o != p {
				others = append(others, o)
				delete(s.attached, o)
			}
		}
	}
	s.attached[p] = interactive
	close(s.attachCh)
	s.attachCh = make(chan struct{})
	s.lastActive = time.Now()
	return others
}

func (s *Session) detachPeer(p *peer) {
	s.mu.Lock()
	if _, ok := s.attached[p]; ok {
		delete(s.attached, p)
		s.lastActive = time.Now()
	}
	for _, j := range s.jobs {
		if j.Owner == p {
			j.Owner = nil
		}
	}
	s.mu.Unlock()
}

// busyJob returns a running job, if any.
func (s *Session) busyJob() *job {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range s.jobOrder {
		if j := s.jobs[id]; j != nil && !j.finished() {
			return j
		}
	}
	return nil
}

// idle reports whether the session has been unattended and without a
// command for longer than its IdleTimeout. A session still opening is
// not idle: its time starts when it opens (an open can outlast a short
// IdleTimeout on a loaded machine).
func (s *Session) idle(now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opts.IdleTimeout > 0 && len(s.attached) == 0 && s.running == 0 &&
		s.state != Opening && s.state < Closing && now.Sub(s.lastActive) >= s.opts.IdleTimeout
}

// close ends the session. The log is closed first (with a last
// "Closed" event), so nothing the session does waits for a reader any
// more, whatever the policy; then its commands are stopped and its
// context cancelled with the reason, which ends an open under way; then
// the runspace pool is closed and the transport torn down; last, it
// waits for every goroutine it started.
func (s *Session) close(reason string) {
	s.stopOnce.Do(func() {
		s.mu.Lock()
		conn, t, kill := s.conn, s.transport, s.killProc
		if s.closingConn != nil {
			s.closingConn.Store(true)
		}
		_ = s.toLocked(chClose, s.reason) // from any state but Closing and Closed, and close runs once
		s.mu.Unlock()
		s.log.CloseWith(encodeEvent(Event{Kind: KindSession, Text: "Closed: " + reason}))
		s.mu.Lock()
		for _, j := range s.jobs {
			j.cancel()
		}
		s.mu.Unlock()
		s.cancel(&ClosedError{Reason: reason})
		close(s.stop)
		if conn != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = conn.Close(ctx)
			cancel()
		}
		if t != nil {
			_ = t.Close()
		}
		if kill != nil {
			kill()
		}
		s.wg.Wait()
		if s.jr != nil {
			_ = s.jr.Close()
		}
		s.mu.Lock()
		_ = s.toLocked(chClosed, reason)
		s.ended = time.Now()
		s.mu.Unlock()
	})
}

// reopen tears down what is left of the session and opens it again,
// re-running its init script. The old runspace's state is gone. Only
// the owner reopens (others ask it: reconnect).
func (s *Session) reopen(ctx context.Context, quiet bool) error {
	s.mu.Lock()
	conn, t, kill := s.conn, s.transport, s.killProc
	if s.closingConn != nil {
		s.closingConn.Store(true)
	}
	s.conn, s.transport, s.killProc, s.closingConn = nil, nil, nil, nil
	s.mu.Unlock()
	if conn != nil {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_ = conn.Close(cctx)
		cancel()
	}
	if t != nil {
		_ = t.Close()
	}
	if kill != nil {
		kill()
	}
	o, err := s.open(ctx, openHow{quiet: quiet, init: true, note: "Reconnected: a new runspace; variables and state from before are gone"})
	if err != nil {
		return err
	}
	return s.waitInit(ctx, o)
}

// waitInit waits for the init script that open started; its error says
// why it failed or could not start.
func (s *Session) waitInit(ctx context.Context, o opened) error {
	if o.initErr != nil {
		return fmt.Errorf("mux: the init script could not start: %w", o.initErr)
	}
	j := o.init
	if j == nil {
		return nil
	}
	select {
	case <-j.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if j.State != "Completed" {
		return fmt.Errorf("mux: the init script ended %s", j.State)
	}
	return nil
}

// CopyArgs copy a file between this machine and a session's host over
// SFTP on the session's own SSH connection. Local paths are the
// server's: the client runs as the same user on the same machine.
type CopyArgs struct {
	Target string `json:"target"`
	Local  string `json:"local"`
	Remote string `json:"remote"`
	Upload bool   `json:"upload"`
}

func (s *Session) copyFile(ctx context.Context, a CopyArgs) (int64, error) {
	if s.target.Dest == "" || s.target.Flags.System() {
		// no SSH connection of psmux's own (local, --ssh-client=system)
		return s.copyOverPSRP(ctx, a)
	}
	cfg, err := ssh.Resolve(s.target.Dest, s.target.Flags.Overrides())
	if err != nil {
		return 0, errorf(CodeUsage, "%s", DescribeErr(err))
	}
	c, release, err := s.srv.pool.Client(ctx, cfg)
	if err != nil {
		return 0, errorf(CodeConnect, "%s", DescribeErr(err))
	}
	defer release()
	sc, err := c.SFTP()
	if err != nil {
		// no sftp subsystem on the host: over the session, as
		// PowerShell's Copy-Item does
		s.srv.logf("session %s: no SFTP (%s): copying over the session", s.Name, DescribeErr(err))
		return s.copyOverPSRP(ctx, a)
	}
	defer sc.Close()
	if a.Upload {
		n, err := ssh.Upload(ctx, sc, a.Local, a.Remote, nil)
		return n, copyErr(err)
	}
	n, err := ssh.Download(ctx, sc, a.Remote, a.Local, nil)
	return n, copyErr(err)
}

// copyErr is a copy's error for the client: a file that is missing or
// not allowed is the copy failing (exit 1), anything else the
// connection's trouble.
func copyErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, fs.ErrPermission):
		return errorf(CodeFailed, "%s", DescribeErr(err))
	}
	return errorf(CodeInternal, "%s", DescribeErr(err))
}
