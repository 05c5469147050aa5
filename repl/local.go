package repl

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/psmux/psmux/mux"
)

// The psmux prompt: its commands, variables that hold sessions
// ($s = New-PSSession …), ( … ) arguments and the pipelines that make
// sense for sessions (Get-PSSession | Remove-PSSession, | Format-List).

// local runs one input at the psmux prompt.
func (r *repl) local(toks []token) error {
	if len(toks) == 0 {
		return nil
	}
	if v, ok := variable(toks[0]); ok && len(toks) >= 2 && toks[1].text == "=" && !toks[1].param {
		rows, err := r.value(toks[2:])
		if err != nil {
			return err
		}
		r.mu.Lock()
		if r.vars == nil {
			r.vars = map[string][]mux.Info{}
		}
		r.vars[strings.ToLower(v)] = rows
		r.mu.Unlock()
		return nil
	}
	segs := splitPipes(toks)
	_, isVar := variable(toks[0])
	if len(segs[0]) > 0 && isValue(r, segs[0]) && (len(segs) > 1 || isVar || toks[0].sub) {
		return r.pipeline(segs)
	}
	c := lookup(r.cmds, toks[0].text)
	if c == nil || toks[0].param || toks[0].block {
		return fmt.Errorf("repl: not a psmux command: %s (Enter-PSSession NAME runs commands in a session; Get-Help lists psmux's)", firstWord(toks))
	}
	return r.runCommand(c, toks[1:])
}

func firstWord(toks []token) string {
	if toks[0].param {
		return "-" + toks[0].text
	}
	return toks[0].text
}

// runCommand parses a command's arguments and runs it; NAME -? shows
// its help instead.
func (r *repl) runCommand(c *command, toks []token) error {
	a, help, err := r.parse(c, toks)
	if err != nil {
		return err
	}
	if help {
		printCommandHelp(r.out, c)
		return nil
	}
	if c.Value != nil {
		rows, err := c.Value(r, a)
		if a.has("Full") {
			r.printRowList(rows)
		} else {
			r.printRows(rows)
		}
		return err
	}
	return c.Run(r, a)
}

// variable reports the name of a $variable token (not $true, $false,
// $null, which are values).
func variable(t token) (string, bool) {
	if t.param || t.block || t.sub || t.hash || len(t.text) < 2 || t.text[0] != '$' {
		return "", false
	}
	switch n := strings.ToLower(t.text[1:]); n {
	case "true", "false", "null":
		return "", false
	default:
		return n, true
	}
}

// isValue reports whether toks, alone, are sessions: a variable, or a
// command whose output is sessions.
func isValue(r *repl, toks []token) bool {
	if _, ok := variable(toks[0]); ok {
		return true
	}
	if toks[0].sub {
		return true
	}
	c := lookup(r.cmds, toks[0].text)
	return c != nil && c.Value != nil && !toks[0].param && !toks[0].block
}

// value evaluates toks to sessions: $variable, ( … ), or a command
// whose output is sessions.
func (r *repl) value(toks []token) ([]mux.Info, error) {
	if len(toks) == 0 {
		return nil, fmt.Errorf("repl: an expression was expected after '='")
	}
	if v, ok := variable(toks[0]); ok && len(toks) == 1 {
		return r.varRows(v)
	}
	if len(toks) == 1 && strings.EqualFold(toks[0].text, "$null") && !toks[0].param {
		return nil, nil // $s = $null: the variable holds nothing
	}
	if toks[0].sub && len(toks) == 1 {
		return r.value(tokenize(toks[0].text))
	}
	c := lookup(r.cmds, toks[0].text)
	if c == nil || c.Value == nil || toks[0].param || toks[0].block {
		return nil, fmt.Errorf("repl: %s: at the psmux prompt only New-PSSession, Get-PSSession and $variables give sessions", firstWord(toks))
	}
	a, help, err := r.parse(c, toks[1:])
	if err != nil {
		return nil, err
	}
	if help {
		return nil, fmt.Errorf("repl: %s -? shows help; it has no value", c.Name)
	}
	return c.Value(r, a)
}

// varRows are the sessions a variable holds, as they stand now; one
// removed since is shown Closed, as PowerShell shows a removed
// PSSession.
func (r *repl) varRows(name string) ([]mux.Info, error) {
	r.mu.Lock()
	held, ok := r.vars[name]
	r.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("repl: the variable '$%s' cannot be retrieved because it has not been set", name)
	}
	data, err := r.call("ls", nil, nil)
	if err != nil {
		return nil, err
	}
	var now []mux.Info
	_ = json.Unmarshal(data, &now)
	out := make([]mux.Info, 0, len(held))
	for _, h := range held {
		cur := h
		cur.State, cur.Availability, cur.Reason = "Closed", "None", removedReason
		for _, x := range now {
			if x.InstanceID == h.InstanceID {
				cur = x
			}
		}
		out = append(out, cur)
	}
	return out, nil
}

func splitPipes(toks []token) [][]token {
	var out [][]token
	cur := []token{}
	for _, t := range toks {
		if t.pipe {
			out = append(out, cur)
			cur = []token{}
			continue
		}
		cur = append(cur, t)
	}
	return append(out, cur)
}

// removedReason marks a session a variable holds that the server no
// longer has: shown Closed, passed to no command.
const removedReason = "removed from the server"

// instanceIDs is the -Session value that names exactly rows, those the
// server still has.
func instanceIDs(rows []mux.Info) string {
	ids := make([]string, 0, len(rows))
	for _, x := range rows {
		if x.Reason != removedReason {
			ids = append(ids, x.InstanceID)
		}
	}
	return strings.Join(ids, ",")
}

// pipeline runs sessions | command: Format-List, Format-Table,
// Remove-PSSession, Reconnect-PSSession, Enter-PSSession or
// Invoke-Command take the sessions as their -Session.
func (r *repl) pipeline(segs [][]token) error {
	for _, s := range segs {
		if len(s) == 0 {
			return fmt.Errorf("repl: an empty pipe element is not allowed")
		}
	}
	rows, err := r.value(segs[0])
	if err != nil {
		return err
	}
	if len(segs) == 1 {
		r.printRows(rows)
		return nil
	}
	if len(segs) > 2 {
		return fmt.Errorf("repl: at the psmux prompt a pipeline has two parts: sessions | a command")
	}
	next := segs[1]
	switch strings.ToLower(next[0].text) {
	case "format-list", "fl":
		r.printRowList(rows)
		return nil
	case "format-table", "ft":
		r.printRows(rows)
		return nil
	}
	c := lookup(r.cmds, next[0].text)
	if c == nil || !takesSessions(c) || next[0].param {
		return fmt.Errorf("repl: %s: at the psmux prompt sessions go to Format-List, Format-Table, Remove-PSSession, Reconnect-PSSession, Enter-PSSession or Invoke-Command", firstWord(next))
	}
	a, help, err := r.parse(c, next[1:])
	if err != nil {
		return err
	}
	if help {
		printCommandHelp(r.out, c)
		return nil
	}
	if len(rows) == 0 {
		return nil
	}
	a["Session"] = instanceIDs(rows)
	return c.Run(r, a)
}

func takesSessions(c *command) bool {
	for _, p := range c.Params {
		if p.Name == "Session" {
			return c.Run != nil
		}
	}
	return false
}

// parse expands a command's arguments (a, b is one list; $variables
// and ( … ) in it become the sessions they hold) and binds them to its
// parameters. help reports NAME -?.
func (r *repl) parse(c *command, toks []token) (a args, help bool, err error) {
	var joined []token
	for _, t := range toks {
		if t.param && t.text == "?" {
			return nil, true, nil
		}
		// a list written a, b or a ,b is one argument
		if n := len(joined); n > 0 && !t.param && !t.block && !t.sub && !joined[n-1].param && !joined[n-1].block && !joined[n-1].sub &&
			(strings.HasSuffix(joined[n-1].text, ",") || strings.HasPrefix(t.text, ",")) {
			joined[n-1].text += t.text
			continue
		}
		joined = append(joined, t)
	}
	exp := make([]token, 0, len(joined))
	for _, t := range joined {
		switch {
		case t.sub:
			rows, err := r.value(tokenize(t.text))
			if err != nil {
				return nil, false, err
			}
			t = token{text: instanceIDs(rows), colon: t.colon}
		case !t.param && !t.block && !t.hash && strings.Contains(t.text, "$"):
			var parts []string
			for _, piece := range strings.Split(t.text, ",") {
				if v, ok := variable(token{text: strings.TrimSpace(piece)}); ok {
					rows, err := r.varRows(v)
					if err != nil {
						return nil, false, err
					}
					piece = instanceIDs(rows)
				}
				if piece != "" {
					parts = append(parts, piece)
				}
			}
			t = token{text: strings.Join(parts, ","), colon: t.colon}
		}
		exp = append(exp, t)
	}
	a, err = c.parse(exp)
	if err != nil {
		return nil, false, fmt.Errorf("repl: %s: %w", c.Name, err)
	}
	return a, false, nil
}
