package repl

import (
	"encoding/json"

	"github.com/psmux/psmux/mux"
)

// tabState cycles through the matches of one completion.
type tabState struct {
	after   string // the line as the last Tab left it
	pos     int
	start   int
	length  int
	matches []string
	i       int
}

// complete runs in the editor's goroutine on Tab: at the local prompt
// from the command table, in a session through its TabExpansion2.
// Repeated Tabs cycle through the matches.
func (r *repl) complete(line []rune, pos int) ([]rune, int, bool) {
	r.mu.Lock()
	session, t := r.session, r.tab
	r.mu.Unlock()
	if t.matches != nil && string(line) == t.after && pos == t.pos && len(t.matches) > 1 {
		t.i = (t.i + 1) % len(t.matches)
	} else {
		t = tabState{}
		if session == "" {
			t.start, t.matches = completeLocal(r.cmds, string(line), pos, r.sessionNames)
			t.length = pos - t.start
		} else {
			data, err := r.c.Call(r.ctx, "complete", mux.CompleteArgs{Target: session, Line: string(line), Cursor: pos}, nil)
			if err != nil {
				return nil, 0, false
			}
			var c mux.Completion
			if json.Unmarshal(data, &c) != nil {
				return nil, 0, false
			}
			t.start, t.length, t.matches = c.ReplacementIndex, c.ReplacementLength, c.Matches
		}
		if len(t.matches) == 0 || t.start < 0 || t.start+t.length > len(line) {
			return nil, 0, false
		}
	}
	m := []rune(t.matches[t.i])
	out := append(append(append([]rune(nil), line[:t.start]...), m...), line[t.start+t.length:]...)
	t.length = len(m)
	t.pos = t.start + len(m)
	t.after = string(out)
	r.mu.Lock()
	r.tab = t
	r.mu.Unlock()
	return out, t.pos, true
}

func (r *repl) sessionNames() []string {
	data, err := r.c.Call(r.ctx, "ls", nil, nil)
	if err != nil {
		return nil
	}
	var rows []mux.Info
	_ = json.Unmarshal(data, &rows)
	var out []string
	for _, x := range rows {
		out = append(out, x.Name)
	}
	return out
}
