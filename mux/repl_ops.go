package mux

import (
	"context"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/psmux/psmux/sessions"
	"github.com/psmux/psmux/sessions/clixml"
	"github.com/psmux/psmux/sessions/psrp"
)

// maxHistory caps a session's history.
const maxHistory = 5000

// maxSessionJobs is how many commands a session keeps: past it the
// oldest that has ended is forgotten.
const maxSessionJobs = 1000

// quietRun runs a pipeline without logging it (the REPL's prompt and
// Tab completion); h, when not nil, sees what it produces besides
// output. It needs the session's pipeline slot, waiting for it only
// briefly (quietWait): a busy session gives a CodeBusy error.
func (s *Session) quietRun(ctx context.Context, p psrp.CreatePipelineMsg, h sessions.Handler) ([]clixml.Value, error) {
	conn, release, err := s.quietSlot(ctx, p.Cmds[0].Cmd)
	if err != nil {
		return nil, err
	}
	defer release()
	return quietInvoke(ctx, conn, p, h)
}

// quietWait bounds how long a quiet pipeline waits for the session's
// pipeline slot.
const quietWait = 2 * time.Second

// quietSlot takes the session's pipeline slot for quiet pipelines.
// Another quiet pipeline (a second client's prompt, a completion) or a
// command just ending may hold it for a moment: it waits that long, not
// for a command's whole run.
func (s *Session) quietSlot(ctx context.Context, what string) (*sessions.Conn, func(), error) {
	s.mu.Lock()
	state, conn := s.state, s.conn
	s.mu.Unlock()
	if state != Opened || conn == nil {
		return nil, nil, errorf(CodeBroken, textBroken, what)
	}
	t := time.NewTimer(quietWait)
	defer t.Stop()
	select {
	case s.slots <- struct{}{}:
	case <-t.C:
		return nil, nil, errorf(CodeBusy, "%s", textBusyPipeline)
	case <-ctx.Done():
		return nil, nil, errorf(CodeStopped, "stopped while waiting for the session")
	case <-s.stop:
		return nil, nil, errorf(CodeBroken, textBroken, what)
	}
	s.mu.Lock()
	state, conn = s.state, s.conn
	s.mu.Unlock()
	if state != Opened || conn == nil { // broken or closed while it waited
		<-s.slots
		return nil, nil, errorf(CodeBroken, textBroken, what)
	}
	return conn, func() { <-s.slots }, nil
}

// quietInvoke runs p on conn, which the caller holds the slot of, and
// returns its output.
func quietInvoke(ctx context.Context, conn *sessions.Conn, p psrp.CreatePipelineMsg, h sessions.Handler) ([]clixml.Value, error) {
	script := p.Cmds[0].Cmd
	c := collector{h: h}
	res, err := conn.Invoke(ctx, p, nil, &c)
	if err != nil {
		if ctx.Err() != nil {
			return nil, errorf(CodeStopped, "stopped")
		}
		return nil, errorf(CodeBroken, "%s", DescribeErr(err))
	}
	if res.State != psrp.Completed {
		if res.Reason.Kind != clixml.Nil {
			return nil, errorf(CodeFailed, "%s", strings.TrimSpace(sessions.ErrorText(res.Reason)))
		}
		return nil, errorf(CodeInternal, "%s ended %s", firstWord(script), res.State)
	}
	return c.out, nil
}

func firstWord(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return s
}

type collector struct {
	out []clixml.Value
	h   sessions.Handler
}

func (c *collector) Message(t psrp.MessageType, v clixml.Value) {
	if t == psrp.PipelineOutput {
		c.out = append(c.out, v)
	} else if c.h != nil {
		c.h.Message(t, v)
	}
}

func (c *collector) HostCall(ctx context.Context, m psrp.HostCallMsg) (clixml.Value, *clixml.Value) {
	if c.h != nil {
		return c.h.HostCall(ctx, m)
	}
	return clixml.Value{}, sessions.HostError(m.Method, "psmux: no host for this call")
}

// PromptArgs ask for a session's prompt; Width and Height are the
// terminal's, the prompt function's host RawUI size (0: the session's).
type PromptArgs struct {
	Target string `json:"target"`
	Width  int    `json:"width,omitempty"`
	Height int    `json:"height,omitempty"`
}

// PromptResult is the remote prompt function's text, and what it wrote
// to the host (Write-Host, posh-git style), shown before it as pwsh's
// client does.
type PromptResult struct {
	Prompt string  `json:"prompt"`
	Busy   bool    `json:"busy,omitempty"`
	Host   []Event `json:"host,omitempty"` // msg (Information) and host (Write*) events
	// Fallback: the prompt function failed or said nothing; Prompt is
	// pwsh's fallback "PS> ".
	Fallback bool `json:"fallback,omitempty"`
}

// maxPromptHost caps the host output kept from one prompt function.
const maxPromptHost = 256

// promptHost keeps what the prompt function writes to the host.
type promptHost struct{ evs []Event }

func (h *promptHost) Message(t psrp.MessageType, v clixml.Value) {
	if t == psrp.InformationRecord && len(h.evs) < maxPromptHost {
		h.evs = append(h.evs, msgEvent(0, t, v))
	}
}

func (h *promptHost) HostCall(_ context.Context, c psrp.HostCallMsg) (clixml.Value, *clixml.Value) {
	if c.Method.Void() || c.CI == psrp.VoidCallID {
		if len(h.evs) < maxPromptHost {
			h.evs = append(h.evs, hostEvent(0, c))
		}
		return clixml.Value{}, nil
	}
	return clixml.Value{}, sessions.HostError(c.Method, "psmux: the prompt function cannot ask for input")
}

// CompleteArgs ask the session's TabExpansion2.
type CompleteArgs struct {
	Target string `json:"target"`
	Line   string `json:"line"`
	Cursor int    `json:"cursor"` // in runes
}

// Completion is TabExpansion2's answer, its indexes in runes.
type Completion struct {
	ReplacementIndex  int      `json:"replacement_index"`
	ReplacementLength int      `json:"replacement_length"`
	Matches           []string `json:"matches"`
}

// complete asks TabExpansion2, the line passed as a parameter (not
// quoted into a script, where any of PowerShell's quote characters
// would end it). TabExpansion2 counts in UTF-16 code units, the REPL
// in runes.
func (s *Session) complete(ctx context.Context, a CompleteArgs) (Completion, error) {
	line := []rune(a.Line)
	if a.Cursor < 0 || a.Cursor > len(line) {
		return Completion{}, errorf(CodeUsage, "cursor %d is outside the line", a.Cursor)
	}
	s.mu.Lock()
	busy := s.running > 0
	s.mu.Unlock()
	if busy { // a command runs: no completion, at once
		return Completion{}, errorf(CodeBusy, "%s", textBusyPipeline)
	}
	p := psrp.ScriptPipeline("TabExpansion2", false)
	p.Cmds[0].IsScript = false
	p.Cmds[0].Args = []psrp.Parameter{{Name: "inputScript", Value: clixml.Str(a.Line)},
		{Name: "cursorColumn", Value: clixml.I32(int32(utf16Len(line[:a.Cursor])))}}
	out, err := s.quietRun(ctx, p, nil)
	if err != nil || len(out) == 0 {
		return Completion{}, err
	}
	v := out[0]
	var c Completion
	if x, ok := v.Get("ReplacementIndex"); ok {
		n, _ := x.Int()
		c.ReplacementIndex = int(n)
	}
	if x, ok := v.Get("ReplacementLength"); ok {
		n, _ := x.Int()
		c.ReplacementLength = int(n)
	}
	c.ReplacementIndex, c.ReplacementLength = runeSpan(line, c.ReplacementIndex, c.ReplacementLength)
	if x, ok := v.Get("CompletionMatches"); ok && x.Obj != nil {
		for _, m := range x.Obj.Items {
			if t, ok := m.Get("CompletionText"); ok {
				c.Matches = append(c.Matches, t.Str())
			}
		}
	}
	return c, nil
}

func (s *Session) promptText(ctx context.Context, a PromptArgs) PromptResult {
	s.mu.Lock()
	busy := s.running > 0 // dropped before a command's state event is logged
	s.mu.Unlock()
	if busy {
		return PromptResult{Busy: true}
	}
	var h promptHost
	p := psrp.ScriptPipeline("prompt", false)
	p.RemoteStreamOptions = 0 // as Enter-PSSession's prompt
	if a.Width > 0 {
		p.HostInfo = psrp.TerminalHost(a.Width, a.Height)
	}
	out, err := s.quietRun(ctx, p, &h)
	if err != nil || len(out) == 0 {
		return PromptResult{Prompt: "PS> ", Host: h.evs, Fallback: true}
	}
	var b strings.Builder
	for _, v := range out {
		b.WriteString(v.Str())
	}
	return PromptResult{Prompt: b.String(), Host: h.evs}
}

// HistoryArgs add a line to a session's history, or (Line empty) read it.
type HistoryArgs struct {
	Target string `json:"target"`
	Line   string `json:"line,omitempty"`
}

func (s *Session) history(line string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if line != "" {
		if n := len(s.hist); n == 0 || s.hist[n-1] != line {
			s.hist = append(s.hist, line)
			if len(s.hist) > maxHistory {
				s.hist = append([]string(nil), s.hist[len(s.hist)-maxHistory:]...)
			}
		}
		return nil
	}
	return append([]string(nil), s.hist...)
}

func utf16Len(rs []rune) int {
	n := 0
	for _, r := range rs {
		n += utf16.RuneLen(r)
	}
	return n
}

// runeSpan turns a span in UTF-16 code units of line into runes.
func runeSpan(line []rune, start, length int) (int, int) {
	at := func(u int) int {
		n := 0
		for i, r := range line {
			if n >= u {
				return i
			}
			n += utf16.RuneLen(r)
		}
		return len(line)
	}
	if start < 0 || length < 0 {
		return start, length
	}
	s := at(start)
	return s, at(start+length) - s
}
