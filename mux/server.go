package mux

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/psmux/psmux/mux/journal"
	"github.com/psmux/psmux/mux/outlog"
	"github.com/psmux/psmux/mux/store"
	"github.com/psmux/psmux/sessions"
	"github.com/psmux/psmux/ssh"
)

// Config configures a server.
type Config struct {
	Version   string               // shown in the Hello
	StateFile string               // the registry; "" keeps nothing across restarts
	Logf      func(string, ...any) // the server's log; nil discards
	SystemSSH string               // the ssh program for --ssh-client=system
	// WriteTimeout cuts off a client that has not taken a frame for this
	// long (a slow client never slows a session); default 10 s.
	WriteTimeout time.Duration
	// Trace logs every request.
	Trace bool
	// TraceDir, when set, receives each session's OutOfProc traffic as
	// TraceDir/<name>.oop, secrets masked (SPEC S10).
	TraceDir string
	// IdleCheck is how often idle sessions are looked for; default 1 s.
	IdleCheck time.Duration
	// MaxMemory is the budget shared by every session's output log
	// (--max-memory); default DefaultMaxMemory. When it is reached,
	// acknowledged history is evicted first, then each session's
	// policy (Block or Drop) applies.
	MaxMemory int64
	// MaxDisk is the budget shared by every session's log on disk
	// (--max-disk); default DefaultMaxDisk. Past it the oldest segment
	// files of any session go first.
	MaxDisk int64
	// SyncWait is how long a synchronous command waits for a busy
	// session before it fails with PowerShell's busy text; default
	// DefaultSyncWait.
	SyncWait time.Duration
}

// DefaultMaxMemory is the server-wide output log budget: 512 MiB.
const DefaultMaxMemory int64 = 512 << 20

// DefaultMaxDisk is the server-wide budget of the logs on disk: 1 GiB.
const DefaultMaxDisk int64 = 1 << 30

// MemoryHeadroom is what a server process may hold beyond its logs'
// budget: connections, sessions, buffers in flight.
const MemoryHeadroom int64 = 48 << 20

// MemoryLimit is the Go memory limit of a server process whose logs'
// budget is maxMemory (runtime/debug.SetMemoryLimit): the budget plus
// the headroom, so the collector keeps the heap near what the logs may
// hold rather than letting it grow to twice that between collections.
func MemoryLimit(maxMemory int64) int64 {
	if maxMemory <= 0 {
		maxMemory = DefaultMaxMemory
	}
	return maxMemory + MemoryHeadroom
}

// DefaultProcs is how many threads a server process runs Go code on at
// once (GOMAXPROCS; the server's --procs). The server is a multiplexer
// waiting on sockets and pipes, like tmux's one thread: with more Ps
// than runnable goroutines the Go scheduler hands each woken goroutine
// to another thread, and a stream of small packets costs the server
// twice the CPU (measured against real pwsh, 1..100000 as text through
// exec: 1.9–2.4 s of the server's CPU with two, 0.9–1.3 s with one).
// A server whose sessions stream at once on a large machine may want
// more.
const DefaultProcs = 1

// transportOpener starts a session's PowerShell end: an *Opener, or a
// test's in-memory server.
type transportOpener interface {
	Open(ctx, life context.Context, tg Target, diag func(sessions.DiagKind, string)) (sessions.Transport, Where, error)
}

// DefaultSyncWait is how long PowerShell lets a synchronous command wait
// for a busy session (SPEC S5: up to 4 minutes).
const DefaultSyncWait = 4 * time.Minute

// Server holds the sessions and serves clients.
type Server struct {
	cfg     Config
	opener  transportOpener
	mem     *outlog.Shared // every session log's budget
	disk    *journal.Disk  // every session's log on disk; nil without a state directory
	cursors cursors        // each client's place in each session
	// jobIDs numbers every command and job: an Id is never used twice
	// while the server lives.
	jobIDs   atomic.Int64
	jobTable jobTable
	pool     *ssh.Pool

	mu       sync.Mutex
	sessions map[int]*Session
	// background are Start-Job's local processes, in no target's reach
	background map[*Session]struct{}
	nextID     int
	peers      map[*peer]struct{}
	closed     bool

	promptMu sync.Mutex    // one SSH question at a time, server-wide
	done     chan struct{} // closed when the server is told to stop
	doneOnce sync.Once
	stopped  chan struct{} // closed when everything has stopped
	// wg counts every goroutine the server started and every ServeConn,
	// so that Shutdown returns only when none is left.
	wg sync.WaitGroup
}

// NewServer makes a server and restores the sessions its StateFile
// lists; they reopen in the background, marked Restored.
func NewServer(cfg Config) (*Server, error) {
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 10 * time.Second
	}
	if cfg.SyncWait <= 0 {
		cfg.SyncWait = DefaultSyncWait
	}
	if cfg.IdleCheck <= 0 {
		cfg.IdleCheck = time.Second
	}
	if cfg.MaxMemory <= 0 {
		cfg.MaxMemory = DefaultMaxMemory
	}
	if cfg.MaxDisk <= 0 {
		cfg.MaxDisk = DefaultMaxDisk
	}
	s := &Server{cfg: cfg, sessions: map[int]*Session{}, background: map[*Session]struct{}{}, nextID: 1, peers: map[*peer]struct{}{}, done: make(chan struct{}),
		stopped: make(chan struct{}), mem: outlog.NewShared(cfg.MaxMemory)}
	s.pool = &ssh.Pool{Options: ssh.DialOptions{Prompter: ssh.PromptFunc(s.sshPrompt), Warn: func(m string) { s.logf("%s", strings.TrimSpace(m)) }}}
	s.opener = &Opener{Pool: s.pool, SystemSSH: cfg.SystemSSH}
	if cfg.StateFile != "" {
		s.disk = &journal.Disk{Root: filepath.Join(filepath.Dir(cfg.StateFile), "logs"), Limit: cfg.MaxDisk}
	}
	if err := s.restore(); err != nil {
		return nil, err
	}
	if err := s.disk.Trim(); err != nil { // a smaller --max-disk than before
		s.logf("the logs on disk: %v", err)
	}
	s.wg.Add(1)
	go s.idleLoop()
	return s, nil
}

func (s *Server) logf(format string, args ...any) {
	if s.cfg.Logf != nil {
		s.cfg.Logf(format, args...)
	}
}

// Done is closed when the server has been told to stop (kill-server).
func (s *Server) Done() <-chan struct{} { return s.done }

// Serve accepts clients from accept until it fails or the server stops.
func (s *Server) Serve(accept func() (net.Conn, error)) error {
	for {
		c, err := accept()
		if err != nil {
			select {
			case <-s.done:
				return nil
			default:
				return fmt.Errorf("mux: accept: %w", err)
			}
		}
		go s.ServeConn(c)
	}
}

// ServeConn serves one client on a byte stream until it leaves. After
// Shutdown it closes rwc at once. Shutdown waits for it.
func (s *Server) ServeConn(rwc io.ReadWriteCloser) {
	p := &peer{srv: s, rwc: rwc, codec: NewCodec(rwc, rwc), prompts: map[uint64]chan Answer{},
		reqs: map[uint64]context.CancelFunc{}, closed: make(chan struct{})}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		rwc.Close()
		return
	}
	s.peers[p] = struct{}{}
	s.wg.Add(1) // under mu, before closed is set: Shutdown's Wait sees it
	s.mu.Unlock()
	defer s.wg.Done()
	p.serve()
	s.mu.Lock()
	delete(s.peers, p)
	s.mu.Unlock()
}

// Shutdown closes every session and client, and returns when every
// goroutine of the server has ended (each ServeConn included), or
// with ctx's cause when ctx ends first; the closing goes on, and a
// later Shutdown waits for it again.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stop()
	select {
	case <-s.stopped:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("mux: shutdown: %w", context.Cause(ctx))
	}
}

// stop starts shutting down, once, in a goroutine of its own that
// closes stopped when it is done.
func (s *Server) stop() {
	s.doneOnce.Do(func() {
		close(s.done)
		go s.shutdown()
	})
}

func (s *Server) shutdown() {
	defer close(s.stopped)
	s.mu.Lock()
	s.closed = true
	var ss []*Session
	for _, x := range s.sessions {
		ss = append(ss, x)
	}
	for x := range s.background {
		ss = append(ss, x)
	}
	var ps []*peer
	for p := range s.peers {
		ps = append(ps, p)
	}
	s.mu.Unlock()
	for _, p := range ps {
		p.bye("server exited")
		p.close()
	}
	var wg sync.WaitGroup
	for _, x := range ss {
		wg.Add(1)
		go func() { defer wg.Done(); x.close("the server exited") }()
	}
	wg.Wait()
	_ = s.pool.Close()
	s.wg.Wait()
}

// idleLoop closes sessions left alone longer than their IdleTimeout.
func (s *Server) idleLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.IdleCheck)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case now := <-t.C:
			for _, x := range s.list() {
				if x.idle(now) {
					s.logf("session %s (%d) closed after its IdleTimeout of %s with no client and no command", x.Name, x.ID, x.opts.IdleTimeout)
					// it stays listed as Closed, its log readable, until rm
					x.close(fmt.Sprintf("IdleTimeout: no client and no command for %s", x.opts.IdleTimeout))
					s.save()
				}
			}
		}
	}
}

func (s *Server) list() []*Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Session, 0, len(s.sessions))
	for _, x := range s.sessions {
		out = append(out, x)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (s *Server) remove(x *Session, reason string) {
	s.mu.Lock()
	delete(s.sessions, x.ID)
	s.mu.Unlock()
	x.close(reason)
	if dir := s.journalDir(x.InstanceID); dir != "" {
		if err := journal.Remove(dir); err != nil {
			s.logf("session %s: %v", x.Name, err)
		}
	}
	x.log.Release() // what a client still reads of it no longer counts
	s.cursors.forget(x.InstanceID)
	s.save()
}

// find resolves TARGETS: names, ids, globs (web*) or a comma list of
// those, in id order without duplicates.
func (s *Server) find(targets string) ([]*Session, error) {
	all := s.list()
	var out []*Session
	seen := map[int]bool{}
	for _, t := range strings.Split(targets, ",") {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		found := false
		for _, x := range all {
			// names are case-insensitive, as PowerShell's are
			ok := strings.EqualFold(x.Name, t) || strconv.Itoa(x.ID) == t || strings.EqualFold(x.InstanceID, t)
			if !ok && strings.ContainsAny(t, "*?[") {
				ok, _ = path.Match(strings.ToLower(t), strings.ToLower(x.Name))
			}
			if ok {
				found = true
				if !seen[x.ID] {
					seen[x.ID] = true
					out = append(out, x)
				}
			}
		}
		if !found {
			return nil, errorf(CodeNotFound, "can't find session: %s", t)
		}
	}
	if len(out) == 0 {
		return nil, errorf(CodeNotFound, "no sessions")
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (s *Server) one(target string) (*Session, error) {
	s.mu.Lock() // the common case, an exact name, without listing everything
	for _, x := range s.sessions {
		if x.Name == target {
			s.mu.Unlock()
			return x, nil
		}
	}
	s.mu.Unlock()
	ss, err := s.find(target)
	if err != nil {
		return nil, err
	}
	if len(ss) > 1 {
		return nil, errorf(CodeUsage, "%s names %d sessions; name one", target, len(ss))
	}
	return ss[0], nil
}

// NewArgs create a session.
type NewArgs struct {
	Name        string        `json:"name,omitempty"`
	Dest        string        `json:"dest,omitempty"`
	SSH         []string      `json:"ssh,omitempty"`  // SSH flags as ssh.Flags.Args gives them
	Pwsh        []string      `json:"pwsh,omitempty"` // local: the OutOfProc server's argv
	Init        string        `json:"init,omitempty"`
	IdleTimeout time.Duration `json:"idle_timeout,omitempty"` // 0: the default (2 h); negative: never
	Budget      int64         `json:"budget,omitempty"`
	Policy      string        `json:"policy,omitempty"`
	MaxRunspace int           `json:"max_runspaces,omitempty"`
	// MaxObjectMB is MaximumReceivedObjectSizeMB: the largest object
	// accepted from the server, in MB; 0: 200.
	MaxObjectMB int `json:"max_received_object_size_mb,omitempty"`
	// ConnectTimeout is --connect-timeout, which also bounds the wait for
	// the PowerShell server's answer (local sessions too); 0: 30 s.
	ConnectTimeout time.Duration `json:"connect_timeout,omitempty"`
	// Reconnect: the server reopens the session by itself when it goes
	// Broken (heal.go).
	Reconnect bool `json:"reconnect,omitempty"`
}

// MaxObjectMB bounds --max-received-object-size: one object is held
// whole, a few times over, while it is decoded.
const MaxObjectMB = 1 << 10

// DefaultIdleTimeout is WinRM's default.
const DefaultIdleTimeout = 2 * time.Hour

func (a NewArgs) options() (SessionOptions, error) {
	o := SessionOptions{IdleTimeout: a.IdleTimeout, Budget: a.Budget, MaxRunspaces: a.MaxRunspace}
	if a.MaxObjectMB < 0 || a.MaxObjectMB > MaxObjectMB {
		return o, errorf(CodeUsage, "new: --max-received-object-size %d: expected 1 to %d (MB)", a.MaxObjectMB, MaxObjectMB)
	}
	o.MaxObjectSize = a.MaxObjectMB << 20
	o.HandshakeTimeout = a.ConnectTimeout
	if o.HandshakeTimeout == 0 && len(a.SSH) > 0 {
		if f, err := ssh.ParseFlags(a.SSH); err == nil {
			o.HandshakeTimeout = f.ConnectTimeout
		}
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = DefaultIdleTimeout
	} else if o.IdleTimeout < 0 {
		o.IdleTimeout = 0
	}
	if a.Policy != "" {
		p, err := outlog.ParsePolicy(a.Policy)
		if err != nil {
			return o, errorf(CodeUsage, "new: unknown output policy %q: expected Block or Drop", a.Policy)
		}
		o.Policy = p
	}
	return o, nil
}

func (a NewArgs) target() (Target, error) {
	if a.Dest == "" {
		if len(a.Pwsh) == 0 {
			return Target{}, errorf(CodeUsage, "new: a destination or a local pwsh is needed")
		}
		return Target{Pwsh: a.Pwsh}, nil
	}
	f, err := ssh.ParseFlags(a.SSH)
	if err != nil {
		return Target{}, errorf(CodeUsage, "%v", err)
	}
	return Target{Dest: a.Dest, Flags: f}, nil
}

// JournalLimit is how much of one session's log is kept on disk at
// least (at least twice its budget: what the log counts as retained is
// on disk).
const JournalLimit = 256 << 20

// MemoryTail is how much of a session's log, once on disk, stays in
// memory too (at most twice that): what attached clients read live and
// the last screenful of a replay. The rest is read back from disk.
const MemoryTail = 128 << 10

// journalLimit is the disk limit for a session with budget (0: the
// default).
func journalLimit(budget int64) int64 {
	if budget <= 0 {
		budget = outlog.DefaultBudget
	}
	return max(JournalLimit, 2*budget)
}

// journalDir is where a session's log is kept on disk, "" without a
// state directory.
func (s *Server) journalDir(instanceID string) string {
	if s.cfg.StateFile == "" || instanceID == "" || strings.ContainsAny(instanceID, `/\.`) {
		return ""
	}
	return filepath.Join(filepath.Dir(s.cfg.StateFile), "logs", instanceID)
}

// openJournal opens x's log on disk (fresh: what a directory of that
// name held is gone); nil, logged, when it cannot be.
func (s *Server) openJournal(x *Session, fresh bool) *journal.Journal {
	dir := s.journalDir(x.InstanceID)
	if dir == "" {
		return nil
	}
	if fresh {
		if err := journal.Remove(dir); err != nil {
			s.logf("session %s: its log will not be kept on disk: %v", x.Name, err)
			return nil
		}
	}
	j, _, _, err := journal.Open(dir, journalLimit(x.log.Stats().Budget), nil)
	if err == nil {
		j.SetDisk(s.disk)
		if err = j.Follow(x.log, MemoryTail, nil); err != nil {
			_ = j.Close()
		}
	}
	if err != nil {
		s.logf("session %s: its log will not be kept on disk: %v", x.Name, err)
		return nil
	}
	return j
}

// resolve is where a session goes and how it is held.
func (a NewArgs) resolve() (Target, SessionOptions, error) {
	tg, err := a.target()
	if err != nil {
		return tg, SessionOptions{}, err
	}
	opts, err := a.options()
	return tg, opts, err
}

// create registers and opens a new session.
func (s *Server) create(ctx context.Context, a NewArgs) (*Session, error) {
	tg, opts, err := a.resolve()
	if err != nil {
		return nil, err
	}
	if err := checkName(a.Name); err != nil {
		return nil, err
	}
	if a.Dest != "" {
		if _, err := ssh.Resolve(a.Dest, tg.Flags.Overrides()); err != nil {
			return nil, errorf(CodeUsage, "%s", DescribeErr(err))
		}
	}
	s.mu.Lock()
	if s.closed { // shutdown has its list of sessions to close
		s.mu.Unlock()
		return nil, errorf(CodeInternal, "the server is exiting")
	}
	id := s.nextID
	name := a.Name
	if name == "" {
		name = fmt.Sprintf("Runspace%d", id)
	}
	for _, x := range s.sessions {
		if strings.EqualFold(x.Name, name) {
			if x.closed() { // a closed session's name is free again
				delete(s.sessions, x.ID)
				x.log.Release()
				continue
			}
			s.mu.Unlock()
			return nil, errorf(CodeExists, "duplicate session: %s", name)
		}
	}
	s.nextID++
	x := newSession(s, id, name, tg, a.SSH, a.Init, opts)
	x.spec = a
	x.jr = s.openJournal(x, true) // before anyone can find the session
	s.sessions[id] = x
	s.mu.Unlock()
	err, initErr := x.connect(ctx)
	if err != nil {
		s.mu.Lock()
		delete(s.sessions, id)
		s.mu.Unlock()
		x.close("open failed")
		x.log.Release()
		return nil, errorf(CodeConnect, "%s", DescribeErr(err))
	}
	if initErr != nil {
		s.logf("session %s: init script: %v", name, initErr)
	}
	s.save()
	return x, nil
}

// save writes the registry; never secrets: only what new was given.
func (s *Server) save() {
	if s.cfg.StateFile == "" {
		return
	}
	s.mu.Lock()
	if s.closed { // shutting down: the sessions closing now are to come back
		s.mu.Unlock()
		return
	}
	reg := store.Registry{Version: 1, NextID: s.nextID}
	for _, x := range s.sessions {
		if x.closed() { // listed until the server restarts, not after
			continue
		}
		opts := map[string]string{}
		if x.spec.IdleTimeout != 0 {
			opts["idle_timeout"] = x.spec.IdleTimeout.String()
		}
		if x.spec.Budget != 0 {
			opts["budget"] = strconv.FormatInt(x.spec.Budget, 10)
		}
		if x.spec.Policy != "" {
			opts["policy"] = x.spec.Policy
		}
		if x.spec.MaxRunspace != 0 {
			opts["max_runspaces"] = strconv.Itoa(x.spec.MaxRunspace)
		}
		if x.spec.MaxObjectMB != 0 {
			opts["max_received_object_size_mb"] = strconv.Itoa(x.spec.MaxObjectMB)
		}
		if x.spec.ConnectTimeout != 0 {
			opts["connect_timeout"] = x.spec.ConnectTimeout.String()
		}
		if x.spec.Reconnect {
			opts["reconnect"] = "true"
		}
		x.mu.Lock()
		where := x.where
		x.mu.Unlock()
		transport := "SSH"
		if x.spec.Dest == "" {
			transport = "Local"
		}
		reg.Sessions = append(reg.Sessions, store.Record{ID: x.ID, Name: x.Name, InstanceID: x.InstanceID,
			ComputerName: where.Computer, UserName: where.User, Transport: transport, ConfigurationName: where.Configuration,
			Dest: x.spec.Dest, SSH: x.spec.SSH, Pwsh: strings.Join(quoteArgv(x.spec.Pwsh), " "), InitScript: x.init,
			Options: opts, Created: x.Created})
	}
	s.mu.Unlock()
	sort.Slice(reg.Sessions, func(i, j int) bool { return reg.Sessions[i].ID < reg.Sessions[j].ID })
	if err := store.Save(s.cfg.StateFile, reg); err != nil {
		s.logf("cannot save the registry: %v", err)
	}
}

func quoteArgv(argv []string) []string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if a == "" || strings.ContainsAny(a, " \t'\"\\") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return out
}

// textRestored begins a restored session's log: what a client attaching
// to it reads first.
const textRestored = "Restored after the server restarted: a new runspace here; the variables and state from before are gone, the output above is from before"

// restore brings back the saved sessions; each reopens in the
// background and shows Restored until its first command, or Broken
// with the reason.
func (s *Server) restore() error {
	if s.cfg.StateFile == "" {
		return nil
	}
	reg, err := store.Load(s.cfg.StateFile)
	var corrupt *store.CorruptError
	switch {
	case errors.As(err, &corrupt):
		aside, qerr := store.Quarantine(s.cfg.StateFile)
		s.logf("the registry could not be read (%v); kept aside as %s (%v); starting empty", err, aside, qerr)
		return nil
	case err != nil: // a newer format, or unreadable: leave it alone
		s.logf("the registry is left untouched and nothing will be saved: %v", err)
		s.cfg.StateFile = ""
		return nil
	}
	s.nextID = max(reg.NextID, 1)
	s.forgetJournals(reg)
	for _, r := range reg.Sessions {
		a := NewArgs{Name: r.Name, Dest: r.Dest, SSH: r.SSH, Init: r.InitScript}
		if r.Pwsh != "" {
			a.Pwsh, _ = sessions.SplitCommand(r.Pwsh) // a bad line fails as Broken below
		}
		if v, ok := r.Options["idle_timeout"]; ok {
			a.IdleTimeout, _ = time.ParseDuration(v)
		}
		if v, ok := r.Options["budget"]; ok {
			a.Budget, _ = strconv.ParseInt(v, 10, 64)
		}
		a.Policy = r.Options["policy"]
		if v, ok := r.Options["max_runspaces"]; ok {
			a.MaxRunspace, _ = strconv.Atoi(v)
		}
		if v, ok := r.Options["max_received_object_size_mb"]; ok {
			a.MaxObjectMB, _ = strconv.Atoi(v)
		}
		if v, ok := r.Options["connect_timeout"]; ok {
			a.ConnectTimeout, _ = time.ParseDuration(v)
		}
		a.Reconnect = r.Options["reconnect"] == "true"
		opts, _ := a.options()
		tg, terr := a.target()
		// the log on disk: what it printed before, numbered on, with
		// the commands it ran and their history
		past := &pastCommands{jobs: map[int]*job{}}
		j, history, cut := s.restoreJournal(r, opts, past.visit)
		if j != nil {
			opts.FirstSeq = j.Next()
		}
		x := newSession(s, r.ID, r.Name, tg, r.SSH, r.InitScript, opts)
		x.spec, x.InstanceID, x.Created, x.restored = a, r.InstanceID, r.Created, true
		x.where = Where{Computer: r.ComputerName, User: r.UserName, Transport: map[string]string{"Local": "Process"}[r.Transport], Configuration: r.ConfigurationName}
		if x.where.Transport == "" {
			x.where.Transport = r.Transport
		}
		s.sessions[r.ID] = x
		s.nextID = max(s.nextID, r.ID+1)
		if j != nil {
			// what it printed before stays on disk, read back when
			// asked for; it counts as acknowledged history
			j.SetDisk(s.disk)
			if err := j.Follow(x.log, MemoryTail, history); err != nil {
				s.logf("session %s: its log on disk cannot be followed: %v", r.Name, err)
				_ = j.Close()
				j = nil
			}
		}
		x.jr = j
		past.finish()
		x.jobs, x.jobOrder, x.hist = past.jobs, past.order, past.hist
		for _, id := range past.order {
			if int64(id) > s.jobIDs.Load() { // a new command's Id follows theirs
				s.jobIDs.Store(int64(id))
			}
		}
		if cut != nil {
			x.append(x.ctx, Event{Kind: KindSession, Text: "the log on disk ended in a torn or damaged record, cut: " + cut.String()})
		}
		x.append(x.ctx, Event{Kind: KindSession, Text: textRestored})
		if terr != nil {
			x.mu.Lock()
			_ = x.toLocked(chOpenFail, terr.Error())
			x.mu.Unlock()
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			err, initErr := x.connectOrHeal(ctx)
			if err != nil {
				s.logf("restoring session %s: %v", x.Name, err)
				return
			}
			if err := initErr; err != nil {
				s.logf("restoring session %s: init script: %v", x.Name, err)
			}
		}()
	}
	return nil
}

// restoreJournal opens a restored session's log on disk and returns
// the history it holds; a cut is logged.
func (s *Server) restoreJournal(r store.Record, opts SessionOptions, visit func(uint64, []byte)) (*journal.Journal, []outlog.Span, *journal.Cut) {
	dir := s.journalDir(r.InstanceID)
	if dir == "" {
		return nil, nil, nil
	}
	j, history, cut, err := journal.Open(dir, journalLimit(opts.Budget), visit)
	if err != nil {
		s.logf("session %s: its log on disk cannot be read: %v", r.Name, err)
		return nil, nil, nil
	}
	if cut != nil {
		s.logf("session %s: its log on disk was cut: %s", r.Name, cut)
	}
	return j, history, cut
}

// forgetJournals removes the logs on disk of sessions the registry no
// longer lists (removed, or closed before the server stopped).
func (s *Server) forgetJournals(reg store.Registry) {
	if s.cfg.StateFile == "" {
		return
	}
	dir := filepath.Join(filepath.Dir(s.cfg.StateFile), "logs")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	listed := map[string]bool{}
	for _, r := range reg.Sessions {
		listed[r.InstanceID] = true
	}
	for _, e := range ents {
		if !listed[e.Name()] {
			_ = journal.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// sshPrompt relays an SSH question to the client that asked for the
// connection (carried in ctx), one question at a time server-wide.
func (s *Server) sshPrompt(ctx context.Context, req ssh.PromptRequest) ([]string, error) {
	p, _ := ctx.Value(peerKey{}).(*peer)
	if p == nil || !p.interactive {
		return nil, errors.New("mux: no interactive client is attached to answer the question (run psmux from a terminal)")
	}
	s.promptMu.Lock()
	defer s.promptMu.Unlock()
	ans, err := p.ask(ctx, &Prompt{Dest: req.Dest, SSH: newSSHPrompt(req)})
	if err != nil {
		return nil, err
	}
	if ans.Error != "" {
		return nil, errors.New(ans.Error)
	}
	return ans.Answers, nil
}

type peerKey struct{}

// marshal encodes a response payload.
func marshal(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage(`null`)
	}
	return b
}

// checkName refuses a session name that -t could not target: a comma
// separates targets, glob characters match, and digits alone are an id.
func checkName(name string) error {
	switch {
	case strings.ContainsAny(name, ",*?[]\\"):
		return errorf(CodeUsage, "session name %q: a name cannot hold , * ? [ ] or \\ (-t reads them as a list or a pattern)", name)
	case name != "" && strings.Trim(name, "0123456789") == "":
		return errorf(CodeUsage, "session name %q: a name of digits only would be read as an id by -t", name)
	case strings.TrimSpace(name) != name || strings.ContainsAny(name, "\n\t"):
		return errorf(CodeUsage, "session name %q: no leading or trailing blanks, no tabs or newlines", name)
	}
	return nil
}
