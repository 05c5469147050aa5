package mux

import (
	"slices"
	"time"
)

// pastCommands rebuilds a restored session's commands (psmux jobs,
// capture --job) and its command history from its log on disk, as the
// journal reads it back: each command's input event starts it, its
// state event ends it, and every event in between is its output.
type pastCommands struct {
	jobs  map[int]*job
	order []int
	hist  []string
}

// textEndedWithServer is the state of a command the server stopped
// with (killed, or the machine went down) before the command ended.
const textEndedWithServer = "Failed"

func (p *pastCommands) visit(seq uint64, data []byte) {
	cmd, kind := eventHead(data)
	if cmd == 0 {
		return
	}
	j := p.jobs[cmd]
	switch kind {
	case KindInput:
		var e Event
		if decodeEvent(data, &e) != nil {
			return
		}
		if old := p.jobs[cmd]; old != nil {
			// an Id used again (servers before this one numbered from 1
			// at each start): the later command is the one kept
			p.order = slices.DeleteFunc(p.order, func(id int) bool { return id == cmd })
			if !old.finished() {
				close(old.done)
			}
		}
		j = &job{ID: cmd, Command: e.Text, State: "Running", Start: time.UnixMilli(e.TS), firstSeq: seq,
			done: make(chan struct{}), cancel: func() {}}
		p.jobs[cmd] = j
		p.order = append(p.order, cmd)
		if n := len(p.hist); n == 0 || p.hist[n-1] != e.Text {
			p.hist = append(p.hist, e.Text)
		}
		if len(p.hist) > 2*maxHistory || len(p.order) > 2*maxSessionJobs {
			p.trim() // now and then while reading, not at every command
		}
	case KindState:
		var e Event
		if j == nil || j.finished() || decodeEvent(data, &e) != nil {
			return
		}
		j.State, j.HadErrors, j.End = e.Text, e.HadErrors, time.UnixMilli(e.TS)
		close(j.done)
	}
	if j != nil {
		j.lastSeq.Store(seq)
	}
}

// trim keeps the newest commands and history within their bounds.
func (p *pastCommands) trim() {
	if len(p.hist) > maxHistory {
		p.hist = append([]string(nil), p.hist[len(p.hist)-maxHistory:]...)
	}
	if len(p.order) > maxSessionJobs {
		for _, id := range p.order[:len(p.order)-maxSessionJobs] {
			delete(p.jobs, id)
		}
		p.order = append([]int(nil), p.order[len(p.order)-maxSessionJobs:]...)
	}
}

// finish trims; the commands that had not ended ended with the server.
func (p *pastCommands) finish() {
	p.trim()
	for _, j := range p.jobs {
		if !j.finished() {
			j.State, j.HadErrors = textEndedWithServer, true
			close(j.done)
		}
	}
}
