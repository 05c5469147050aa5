package mux

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The server's jobs: what Get-Job, Receive-Job, Wait-Job, Stop-Job and
// Remove-Job read in any client, and what exec --async starts. A job is
// a parent with a child per session, as PowerShell's remote jobs
// (Invoke-Command -AsJob) are. Its Id, like every command's, comes from
// one counter of the server, so an Id is never used twice while the
// server lives.

// JobArgs start a job: Script runs in every session Target names.
type JobArgs struct {
	Target string `json:"target"`
	Script string `json:"script"`
	Name   string `json:"name,omitempty"` // default Job<Id>
	// Timeout stops each child after this long (0: never).
	Timeout time.Duration `json:"timeout,omitempty"`
	// Local, instead of Target, runs the script in a new local
	// PowerShell process started with this argv (an OutOfProc server),
	// as Start-Job does: a BackgroundJob, whose process ends with it.
	Local []string `json:"local,omitempty"`
}

// JobsArgs select jobs by Id (a parent's or a child's) or by name
// (wildcards); none selects every job.
type JobsArgs struct {
	IDs   []int    `json:"ids,omitempty"`
	Names []string `json:"names,omitempty"`
	Keep  bool     `json:"keep,omitempty"`  // receive: the output stays to be received again
	Force bool     `json:"force,omitempty"` // remove: stop a running job first
}

// JobRow is a job as Get-Job shows it.
type JobRow struct {
	ID          int        `json:"Id"`
	Name        string     `json:"Name"`
	TypeName    string     `json:"PSJobTypeName"`
	State       string     `json:"State"`
	HasMoreData bool       `json:"HasMoreData"`
	Location    string     `json:"Location"`
	Command     string     `json:"Command"`
	Children    []ChildJob `json:"ChildJobs,omitempty"`
}

// ChildJob is a job's part in one session.
type ChildJob struct {
	ID          int    `json:"Id"`
	Session     string `json:"Session"`
	Computer    string `json:"Computer"`
	State       string `json:"State"`
	HadErrors   bool   `json:"HadErrors"`
	HasMoreData bool   `json:"HasMoreData"`
	Reason      string `json:"Reason,omitempty"` // why it could not start
	Code        string `json:"Code,omitempty"`   // and that error's code
}

// serverJob is a parent job.
type serverJob struct {
	id       int
	name     string
	command  string
	typeName string // RemoteJob, or BackgroundJob for Start-Job's
	children []*childJob
}

// childJob is the command a parent job runs in one session.
type childJob struct {
	id       int
	s        *Session
	j        *job // nil when it could not start
	err      *Error
	recv     sync.Mutex    // one Receive-Job of this child at a time, whichever way it is named
	received atomic.Uint64 // the next seq Receive-Job reads; for a job that never started, 1 once its error was received
}

// maxJobs is how many jobs the server keeps: past it the oldest that has
// ended is forgotten.
const maxJobs = 1000

// jobTable holds the server's jobs in the order they started.
type jobTable struct {
	mu    sync.Mutex
	jobs  map[int]*serverJob
	order []int
}

// newJobID is the next Id of a job or command, unique for the server's
// lifetime.
func (s *Server) newJobID() int { return int(s.jobIDs.Add(1)) }

func (c *childJob) state() (state string, hadErrors bool) {
	if c.j == nil {
		return "Failed", true
	}
	c.j.mu.Lock()
	defer c.j.mu.Unlock()
	return c.j.State, c.j.HadErrors
}

func (c *childJob) hasMoreData() bool {
	if c.j == nil {
		return c.received.Load() == 0
	}
	return c.j.lastSeq.Load() >= max(c.received.Load(), c.j.firstSeq+1)
}

func (c *childJob) row() ChildJob {
	st, errs := c.state()
	r := ChildJob{ID: c.id, Session: c.s.Name, State: st, HadErrors: errs, HasMoreData: c.hasMoreData()}
	c.s.mu.Lock()
	r.Computer = c.s.where.Computer
	c.s.mu.Unlock()
	if c.err != nil {
		r.Reason, r.Code = c.err.Msg, c.err.Code
	}
	return r
}

// parentState is PowerShell's rule for a parent job: running while a
// child runs, then Failed if one failed, Stopped if one stopped, else
// Completed.
func parentState(children []ChildJob) string {
	rank := map[string]int{"Completed": 0, "Stopped": 1, "Failed": 2, "Running": 3}
	st := "Completed"
	for _, c := range children {
		if rank[c.State] > rank[st] {
			st = c.State
		}
	}
	return st
}

func (j *serverJob) row() JobRow {
	r := JobRow{ID: j.id, Name: j.name, TypeName: j.typeName, Command: j.command}
	var where []string
	for _, c := range j.children {
		cr := c.row()
		r.Children = append(r.Children, cr)
		r.HasMoreData = r.HasMoreData || cr.HasMoreData
		where = append(where, cr.Session)
	}
	r.State = parentState(r.Children)
	r.Location = strings.Join(where, ", ")
	return r
}

// startJob starts a parent job with a child in each session a.Target
// names. A session that cannot take the command (busy, broken) gets a
// failed child; when none can, the job is not made and the first error
// is returned.
func (p *peer) startJob(ctx context.Context, a JobArgs) (JobRow, error) {
	if strings.TrimSpace(a.Script) == "" {
		return JobRow{}, errorf(CodeUsage, "a job needs a script")
	}
	sj := &serverJob{id: p.srv.newJobID(), name: a.Name, command: a.Script, typeName: "RemoteJob"}
	if sj.name == "" {
		sj.name = "Job" + strconv.Itoa(sj.id)
	}
	var ss []*Session
	var err error
	if a.Local != nil {
		sj.typeName = "BackgroundJob"
		x, err := p.srv.openBackground(ctx, a.Local)
		if err != nil {
			return JobRow{}, err
		}
		ss = []*Session{x}
	} else if ss, err = p.srv.find(a.Target); err != nil {
		return JobRow{}, err
	}
	started := 0
	var first error
	for _, x := range ss {
		c := &childJob{s: x}
		j, err := p.startOn(ctx, x, ExecArgs{Target: x.Name, Script: a.Script, Async: true, KeepRunning: true, Timeout: a.Timeout})
		if err != nil {
			first = cmp.Or(first, err)
			c.id = p.srv.newJobID()
			if !errors.As(err, &c.err) {
				c.err = &Error{Code: CodeInternal, Msg: err.Error()}
			}
		} else {
			c.id, c.j = j.ID, j
			started++
		}
		sj.children = append(sj.children, c)
	}
	if a.Local != nil {
		p.srv.endWithJob(ss[0], sj.children[0].j)
	}
	if started == 0 {
		return JobRow{}, first
	}
	t := &p.srv.jobTable
	t.mu.Lock()
	if t.jobs == nil {
		t.jobs = map[int]*serverJob{}
	}
	t.jobs[sj.id] = sj
	t.order = append(t.order, sj.id)
	if len(t.order) > maxJobs { // forget the oldest job that has ended, as sessions forget old commands
		for i, id := range t.order {
			if t.jobs[id].row().State != "Running" {
				t.jobs[id].forget()
				delete(t.jobs, id)
				t.order = append(t.order[:i], t.order[i+1:]...)
				break
			}
		}
	}
	t.mu.Unlock()
	return sj.row(), nil
}

// selectJobs finds the jobs a request names: parents by Id or name, or
// a child by its Id (as its own one-child job, the way Get-Job -Id
// finds a child job). An Id or a name without wildcards that matches
// nothing is an error, in PowerShell's words.
func (s *Server) selectJobs(a JobsArgs) ([]*serverJob, error) {
	t := &s.jobTable
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []*serverJob
	if len(a.IDs) == 0 && len(a.Names) == 0 {
		for _, id := range t.order {
			out = append(out, t.jobs[id])
		}
		return out, nil
	}
	for _, id := range a.IDs {
		if sj := t.jobs[id]; sj != nil {
			out = append(out, sj)
			continue
		}
		found := false
		for _, pid := range t.order {
			for _, c := range t.jobs[pid].children {
				if c.id == id {
					out = append(out, &serverJob{id: c.id, name: "Job" + strconv.Itoa(c.id), command: t.jobs[pid].command, children: []*childJob{c}})
					found = true
				}
			}
		}
		if !found {
			return nil, errorf(CodeNotFound, "The command cannot find a job with the job ID %d. Verify the value of the Id parameter and then try the command again.", id)
		}
	}
	for _, n := range a.Names {
		found := false
		for _, id := range t.order {
			sj := t.jobs[id]
			ok := strings.EqualFold(sj.name, n)
			if !ok && strings.ContainsAny(n, "*?[") {
				ok, _ = path.Match(strings.ToLower(n), strings.ToLower(sj.name))
			}
			if ok {
				out = append(out, sj)
				found = true
			}
		}
		if !found && !strings.ContainsAny(n, "*?[") {
			return nil, errorf(CodeNotFound, "The command cannot find the job because the job name %s was not found. Verify the value of the Name parameter, and then try the command again.", n)
		}
	}
	return out, nil
}

func jobRows(js []*serverJob) []JobRow {
	rows := make([]JobRow, 0, len(js))
	for _, sj := range js {
		rows = append(rows, sj.row())
	}
	return rows
}

// waitJobs waits until every child of js has ended, or ctx.
func waitJobs(ctx context.Context, js []*serverJob) error {
	for _, sj := range js {
		for _, c := range sj.children {
			if c.j == nil {
				continue
			}
			select {
			case <-c.j.done:
			case <-ctx.Done():
				return errorf(CodeStopped, "stopped while waiting for job %d", sj.id)
			}
		}
	}
	return nil
}

// stopJobs stops the running children of js and waits for them to end.
func stopJobs(ctx context.Context, js []*serverJob) error {
	for _, sj := range js {
		for _, c := range sj.children {
			if c.j != nil && !c.j.finished() {
				c.j.cancel()
			}
		}
	}
	return waitJobs(ctx, js)
}

// removeJobs forgets js; a job still running is refused unless force,
// which stops it first.
func (s *Server) removeJobs(ctx context.Context, js []*serverJob, force bool) ([]int, error) {
	for _, sj := range js {
		s.jobTable.mu.Lock()
		_, parent := s.jobTable.jobs[sj.id]
		s.jobTable.mu.Unlock()
		if !parent {
			return nil, errorf(CodeUsage, "job %d is a child job: Remove-Job removes the job it belongs to (Get-Job -IncludeChildJob shows which)", sj.id)
		}
		if st := sj.row().State; st == "Running" && !force {
			return nil, errorf(CodeUsage, "The command cannot remove the job with the job ID %d because the job is not finished. To remove the job, first stop the job, or use the Force parameter.", sj.id)
		}
	}
	if force {
		if err := stopJobs(ctx, js); err != nil {
			return nil, err
		}
	}
	t := &s.jobTable
	t.mu.Lock()
	defer t.mu.Unlock()
	var ids []int
	for _, sj := range js {
		sj.forget()
		delete(t.jobs, sj.id)
		for i, id := range t.order {
			if id == sj.id {
				t.order = append(t.order[:i], t.order[i+1:]...)
				break
			}
		}
		ids = append(ids, sj.id)
	}
	return ids, nil
}

// ReceiveReply is what a Receive-Job request ends with: the children
// whose command could not start, with why (their output is that error).
type ReceiveReply struct {
	Failed []ChildJob `json:"failed,omitempty"`
}

// receiveJob streams what each child of sj produced since the last
// receive (the command's echo left out), in child order, as ev frames
// tagged id; unless keep, what was sent counts as received.
func (p *peer) receiveJob(ctx context.Context, sj *serverJob, id uint64, keep bool) (ReceiveReply, error) {
	var rep ReceiveReply
	for _, c := range sj.children {
		if err := p.receiveChild(ctx, c, id, keep, &rep); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

func (p *peer) receiveChild(ctx context.Context, c *childJob, id uint64, keep bool, rep *ReceiveReply) error {
	c.recv.Lock()
	defer c.recv.Unlock()
	if c.j == nil {
		if c.received.Load() == 0 {
			rep.Failed = append(rep.Failed, c.row())
			if !keep {
				c.received.Store(1)
			}
		}
		return nil
	}
	from := max(c.received.Load(), c.j.firstSeq+1)
	next, _, _, err := p.stream(ctx, c.s, id, from, false, false, c.j.ID)
	if err != nil {
		return err
	}
	if !keep {
		c.received.Store(next)
	}
	return nil
}

// jobOp serves the job requests.
func (p *peer) jobOp(ctx context.Context, f *Request) (json.RawMessage, error) {
	if f.Op == "job" {
		a, err := decode[JobArgs](f)
		if err != nil {
			return nil, err
		}
		row, err := p.startJob(ctx, a)
		if err != nil {
			return nil, err
		}
		return marshal(row), nil
	}
	a, err := decode[JobsArgs](f)
	if err != nil {
		return nil, err
	}
	js, err := p.srv.selectJobs(a)
	if err != nil {
		return nil, err
	}
	switch f.Op {
	case "job-ls":
		return marshal(jobRows(js)), nil
	case "job-wait":
		if err := waitJobs(ctx, js); err != nil {
			return nil, err
		}
		return marshal(jobRows(js)), nil
	case "job-stop":
		if err := stopJobs(ctx, js); err != nil {
			return nil, err
		}
		return marshal(jobRows(js)), nil
	case "job-remove":
		ids, err := p.srv.removeJobs(ctx, js, a.Force)
		if err != nil {
			return nil, err
		}
		return marshal(ids), nil
	case "job-receive":
		var rep ReceiveReply
		for _, sj := range js {
			r, err := p.receiveJob(ctx, sj, f.ID, a.Keep)
			if err != nil {
				return nil, err
			}
			rep.Failed = append(rep.Failed, r.Failed...)
		}
		return marshal(rep), nil
	}
	return nil, errorf(CodeUsage, "unknown request %q", f.Op)
}

// childOf resolves the job Id a session-scoped request names (capture
// --job, stop --job): a parent job's Id means its child in that session.
func (s *Server) childOf(x *Session, id int) int {
	t := &s.jobTable
	t.mu.Lock()
	defer t.mu.Unlock()
	if sj := t.jobs[id]; sj != nil {
		for _, c := range sj.children {
			if c.s == x && c.j != nil {
				return c.j.ID
			}
		}
	}
	return id
}

// openBackground starts a local PowerShell process for Start-Job: a
// session of its own that no target names (Get-PSSession does not list
// it, as PowerShell's does not list a background job's process).
func (s *Server) openBackground(ctx context.Context, argv []string) (*Session, error) {
	tg, opts, err := NewArgs{Pwsh: argv, IdleTimeout: -1}.resolve()
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errorf(CodeInternal, "the server is exiting")
	}
	x := newSession(s, 0, "localhost", tg, nil, "", opts)
	s.background[x] = struct{}{}
	s.mu.Unlock()
	if err, _ := x.connect(ctx); err != nil {
		s.dropBackground(x, "open failed", true)
		return nil, errorf(CodeConnect, "%s", DescribeErr(err))
	}
	return x, nil
}

// endWithJob closes a background job's process when its command ends
// (or at once when it could not start); the job keeps its log.
func (s *Server) endWithJob(x *Session, j *job) {
	if j == nil {
		s.dropBackground(x, "the job could not start", true)
		return
	}
	s.mu.Lock()
	if s.closed { // shutdown closes it with the others
		s.mu.Unlock()
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		<-j.done // the session's close ends it too
		s.dropBackground(x, "the job ended", false)
	}()
}

// forget lets a background job's log out of the server's budget when
// the job is removed (a remote job's log is its session's).
func (j *serverJob) forget() {
	if j.typeName == "BackgroundJob" {
		for _, c := range j.children {
			c.s.log.Release()
		}
	}
}

// dropBackground closes a background job's process; release: no job
// holds its log, which leaves the memory budget at once.
func (s *Server) dropBackground(x *Session, reason string, release bool) {
	x.close(reason)
	if release {
		x.log.Release()
	}
	s.mu.Lock()
	delete(s.background, x)
	s.mu.Unlock()
}
