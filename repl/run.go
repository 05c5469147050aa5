package repl

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"

	"github.com/psmux/psmux/mux"
	"github.com/psmux/psmux/sessions/clixml"
	"github.com/psmux/psmux/sessions/psrp"
	"github.com/psmux/psmux/ssh"
)

// Config is what Run needs: the terminal, and a client of the server.
type Config struct {
	Stdin          io.ReadCloser
	Stdout, Stderr io.Writer
	IsTerminal     func() bool
	Width          func() int
	// Height is the terminal's height (nil or 0: unknown).
	Height func() int
	Client *mux.Client
	// Target is the session to enter at start ("": the local prompt).
	Target string
	// DetachOthers detaches every other client of Target on entering it
	// (attach -d); ReadOnly makes this client read-only (attach -r): it
	// sees output and its typed commands are refused.
	DetachOthers, ReadOnly bool
	Color                  bool
	// Format formats objects that arrive unformatted (nil: ToString).
	Format func(vs []clixml.Value, width int) []string
	// PrintRows prints session rows as the Get-PSSession table.
	PrintRows func(w io.Writer, rows []mux.Info)
}

const localPrompt = "PS psmux> "

// errDetach ends Run after C-b d.
var errDetach = errors.New("repl: detached")

type promptReq struct {
	p   *mux.Prompt
	ans chan mux.Answer
}

type repl struct {
	cfg  Config
	c    *mux.Client
	ed   LineEditor
	ctx  context.Context
	cmds []command
	out  *lineWriter
	rend *Renderer
	sig  chan os.Signal

	mu         sync.Mutex
	session    string // "" at the local prompt
	remote     string // the remote prompt text
	remoteHost string // the end of the prompt function's host output (on the prompt's line)
	busy       bool
	inReadline bool
	wakes      int
	prefix     bool // C-b seen
	detach     bool
	prompts    []promptReq
	promptNote chan struct{}
	mine       map[string]int // commands sent, their input event not yet seen
	own        map[int]bool   // running commands this client typed, by id
	exitCmd    int            // the own command that asked to leave (SetShouldExit, PopRunspace)
	leaveReq   string         // the session to leave at the next turn of the loop
	stopAttach context.CancelFunc
	attachDone chan struct{}
	tab        tabState
	sendq      chan queued        // commands typed, in order (sender)
	gen        int                // bumped on leaving a session
	stopWait   context.CancelFunc // ends the sender's wait for the running command
	temp       string             // the session Enter-PSSession -HostName opened: removed on leaving it
	vars       map[string][]mux.Info
}

// Run runs the REPL until exit, Ctrl-D at the local prompt, or C-b d.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Client == nil {
		return errors.New("repl: no client")
	}
	if cfg.IsTerminal == nil {
		cfg.IsTerminal = func() bool { return false }
	}
	if cfg.Width == nil {
		cfg.Width = func() int { return 120 }
	}
	r := &repl{cfg: cfg, c: cfg.Client, ctx: ctx, cmds: commandTable(), mine: map[string]int{}, own: map[int]bool{}, promptNote: make(chan struct{}, 1)}
	ed, err := newReadline(cfg, keyHooks{filter: r.filterKey, tab: r.complete})
	if err != nil {
		return fmt.Errorf("repl: %w", err)
	}
	r.ed = ed
	if cfg.IsTerminal() {
		// bracketed paste: the terminal marks pasted text (the editor
		// ignores the marks), whose lines run in order like typed ones
		fmt.Fprint(cfg.Stdout, "\x1b[?2004h")
		defer fmt.Fprint(cfg.Stdout, "\x1b[?2004l")
	}
	r.out = &lineWriter{ed: ed}
	r.rend = r.newRenderer(r.out)
	r.c.OnPrompt = r.onPrompt
	r.c.OnDetached = func(msg string) {
		// another client's attach -d: leave as tmux's client does, with
		// its message (the loop prints it)
		if strings.HasPrefix(msg, "[detached") {
			r.mu.Lock()
			r.detach = true
			r.mu.Unlock()
			r.ed.Wake()
		}
	}
	r.sig = make(chan os.Signal, 1)
	signal.Notify(r.sig, os.Interrupt)
	defer signal.Stop(r.sig)
	r.sendq = make(chan queued, 256)
	sctx, stopSender := context.WithCancel(ctx)
	senderDone := make(chan struct{})
	go func() { defer close(senderDone); r.sender(sctx) }()
	defer func() { stopSender(); <-senderDone }()
	err = r.loop()
	r.leave()
	// Close waits for the editor's reader, blocked on the terminal until
	// a key comes (chzyer/readline#217): let it go with the process.
	go ed.Close()
	if errors.Is(err, errDetach) || errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

func (r *repl) newRenderer(w io.Writer) *Renderer {
	return &Renderer{Out: w, Err: w, Color: r.cfg.Color, Progress: r.cfg.IsTerminal(), Width: r.cfg.Width(),
		Format: r.cfg.Format, ReadLine: r.readAnswer}
}

func (r *repl) printf(format string, a ...any) { fmt.Fprintf(r.out, format, a...) }

// filterKey runs in the editor's goroutine: C-b d detaches.
func (r *repl) filterKey(k rune) (rune, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.prefix {
		r.prefix = false
		if k == 'd' {
			r.detach = true
			return 3, true // Ctrl-C: Readline returns, the loop sees detach
		}
		return k, true
	}
	if k == prefixKey {
		r.prefix = true
		return k, false
	}
	return k, true
}

func (r *repl) promptText(cont bool) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.session == "":
		if cont {
			return ">> "
		}
		return localPrompt
	case r.busy:
		return ""
	case cont:
		return ">> "
	}
	return r.remoteHost + "[" + r.session + "]: " + r.remote
}

func (r *repl) loop() error {
	if r.cfg.Target != "" {
		if err := r.enter(r.cfg.Target); err != nil {
			return err
		}
	}
	var block []string
	for {
		if r.servePrompts() {
			continue
		}
		r.mu.Lock()
		leaving := r.leaveReq != "" && r.leaveReq == r.session
		r.leaveReq = ""
		r.mu.Unlock()
		if leaving {
			block = nil
			r.exitSession()
		}
		select {
		case <-r.c.Done():
			return fmt.Errorf("repl: %w", r.c.Err())
		default:
		}
		r.mu.Lock()
		if len(r.prompts) > 0 {
			r.mu.Unlock()
			continue
		}
		r.inReadline = true
		r.ed.Hold(r.session != "" && r.busy) // under mu: refreshPrompt's Hold(false) cannot come first
		r.mu.Unlock()
		r.ed.SetPrompt(r.promptText(len(block) > 0))
		line, err := r.ed.Readline()
		r.mu.Lock()
		r.inReadline = false
		detach, woken := r.detach, false
		if errors.Is(err, ErrInterrupt) && !detach && r.wakes > 0 {
			r.wakes--
			woken = true
		}
		session, busy := r.session, r.busy
		r.mu.Unlock()
		switch {
		case detach:
			if session != "" {
				r.leave()
				fmt.Fprintf(r.cfg.Stdout, "[detached (from session %s)]\n", session)
			}
			return errDetach
		case woken:
			continue
		case errors.Is(err, ErrInterrupt):
			block = nil
			if session != "" && busy {
				go func() { _, _ = r.c.Call(r.ctx, "stop", mux.StopArgs{Target: session}, nil) }()
			}
			continue
		case errors.Is(err, io.EOF):
			if len(block) > 0 {
				block = nil
				continue
			}
			if session == "" {
				return io.EOF
			}
			r.exitSession()
			continue
		case err != nil:
			return fmt.Errorf("repl: %w", err)
		}
		if strings.TrimSpace(line) == "" && len(block) == 0 {
			continue
		}
		block = append(block, line)
		script := strings.Join(block, "\n")
		if Incomplete(script) {
			continue
		}
		block = nil
		if err := r.run(session, script); err != nil {
			if errors.Is(err, errDetach) || errors.Is(err, io.EOF) {
				return err
			}
			r.printf("%s\n", r.rend.Red(strings.TrimPrefix(err.Error(), "repl: ")))
		}
	}
}

// run handles one complete input: a psmux command, or (in a session)
// a command for the remote runspace.
func (r *repl) run(session, script string) error {
	toks := tokenize(script)
	if session == "" {
		return r.local(toks)
	}
	if len(toks) > 0 && !toks[0].param && !toks[0].block {
		// exit with an exit code is PowerShell's exit, run in the
		// session (which asks the host to leave, SetShouldExit); a bare
		// exit is Exit-PSSession, as in pwsh's client
		exitCode := strings.EqualFold(toks[0].text, "exit") && len(toks) > 1
		if c := lookup(r.cmds, toks[0].text); c != nil && isSessionCommand(c) && !exitCode {
			return r.runCommand(c, toks[1:])
		}
	}
	// the whole command is one history entry, so Up recalls it whole
	_ = r.ed.SaveHistory(script)
	r.mu.Lock()
	r.busy = true
	r.mine[script]++
	gen := r.gen
	r.mu.Unlock()
	// Commands go in the order they were typed or pasted, each after the
	// one before it ended, as in pwsh's console; the prompt stays free.
	r.sendq <- queued{session: session, script: script, gen: gen}
	return nil
}

// queued is a command waiting for the ones typed before it.
type queued struct {
	session, script string
	gen             int // r.gen when it was typed: leaving the session drops it
}

// sender runs the queued commands one at a time, in order, until ctx
// ends. KeepRunning: a command belongs to the session, not to this
// client, so it goes on when the client detaches; its state event
// brings the prompt back.
func (r *repl) sender(ctx context.Context) {
	for {
		var q queued
		select {
		case q = <-r.sendq:
		case <-ctx.Done():
			return
		}
		r.mu.Lock()
		stale := q.gen != r.gen
		if stale {
			delete(r.mine, q.script)
		}
		r.mu.Unlock()
		if stale {
			continue
		}
		w, h := r.size()
		// leaving the session stops the wait, not the command
		cctx, cancel := context.WithCancel(ctx)
		r.mu.Lock()
		r.stopWait = cancel
		r.mu.Unlock()
		_, err := r.c.Call(cctx, "exec", mux.ExecArgs{Target: q.session, Script: q.script, Interactive: true, KeepRunning: true, History: true, Width: w, Height: h}, nil)
		left := cctx.Err() != nil
		cancel()
		if err != nil && !left {
			r.printf("%s\n", r.rend.Red(strings.TrimPrefix(err.Error(), "sock: ")))
			r.mu.Lock()
			delete(r.mine, q.script)
			r.mu.Unlock()
			r.refreshPrompt(q.session)
		}
	}
}

// size is the terminal's size now (it is asked for each command, so a
// resized terminal is seen by the next one); the renderer follows it.
func (r *repl) size() (w, h int) {
	w = r.cfg.Width()
	if r.cfg.Height != nil {
		h = r.cfg.Height()
	}
	r.rend.SetWidth(w)
	return w, h
}

func isSessionCommand(c *command) bool {
	return c.Name == "Exit-PSSession"
}

// refreshPrompt asks the session for its prompt and shows it.
func (r *repl) refreshPrompt(session string) {
	// The server frees a command's pipeline slot before it logs the
	// command's end, so asking right after the state event works.
	var p mux.PromptResult
	w, h := r.size()
	if data, err := r.c.Call(r.ctx, "prompt", mux.PromptArgs{Target: session, Width: w, Height: h}, nil); err == nil {
		_ = json.Unmarshal(data, &p)
	}
	if p.Fallback && r.remote != "" {
		p.Prompt = r.remote
	}
	// the prompt function's Write-Host output comes first, as pwsh's
	// client shows it: whole lines above, the rest on the prompt's line
	var host bytes.Buffer
	if len(p.Host) > 0 {
		rend := &Renderer{Out: &host, Err: &host, Color: r.cfg.Color}
		for _, e := range p.Host {
			e.Render(r.ctx, rend)
		}
	}
	lines, tail := splitLastLine(host.String())
	r.mu.Lock()
	if r.session != session {
		r.mu.Unlock()
		return
	}
	r.busy = p.Busy
	if !p.Busy && p.Prompt != "" {
		r.remote = p.Prompt
		r.remoteHost = tail
	}
	prompt := ""
	if !r.busy {
		prompt = r.remoteHost + "[" + session + "]: " + r.remote
	}
	r.mu.Unlock()
	if lines != "" && !p.Busy {
		r.printf("%s", lines)
	}
	r.ed.SetPrompt(prompt)
	r.ed.Refresh()
	r.mu.Lock()
	if r.session == session {
		r.ed.Hold(r.busy) // what was typed ahead now follows the prompt
	}
	r.mu.Unlock()
}

// splitLastLine splits s after its last newline.
func splitLastLine(s string) (lines, tail string) {
	i := strings.LastIndexByte(s, '\n')
	return s[:i+1], s[i+1:]
}

// enter attaches to a session and makes it the current one.
func (r *repl) enter(name string) error {
	r.leave()
	ctx, cancel := context.WithCancel(r.ctx)
	var shown uint64
	var evMu sync.Mutex
	// Entering shows at most a screenful of what this client has not
	// seen; a line says how many earlier events capture shows.
	_, h := r.size()
	a := mux.AttachArgs{Target: name, ReadOnly: r.cfg.ReadOnly, Tail: uint64(max(h, 24))}
	r.mu.Lock()
	a.DetachOthers, r.cfg.DetachOthers = r.cfg.DetachOthers && name == r.cfg.Target, false
	r.mu.Unlock()
	noticed := make(chan struct{}) // the skipped line is out: events may follow
	data, wait, err := r.c.Attach(ctx, a, func(e mux.Seq) {
		<-noticed
		evMu.Lock()
		defer evMu.Unlock()
		r.event(name, e)
		shown = e.Seq
		_ = r.c.Ack(name, shown)
	})
	if err != nil {
		close(noticed)
		cancel()
		return fmt.Errorf("repl: %w", err)
	}
	var first mux.AttachReply
	_ = json.Unmarshal(data, &first)
	if first.Skipped > 0 {
		shownName := cmp.Or(first.Session.Name, name)
		r.printf("[%d earlier events not shown: psmux capture -t %s --since %d shows them]\n", first.Skipped, shownName, first.Since)
	}
	close(noticed)
	done := make(chan struct{})
	r.mu.Lock()
	r.session = first.Session.Name
	if r.session == "" {
		r.session = name
	}
	name = r.session
	r.busy = first.Busy != ""
	r.remote, r.remoteHost = "", ""
	r.stopAttach, r.attachDone = cancel, done
	r.mu.Unlock()
	go func() {
		defer close(done)
		err := wait()
		var me *mux.Error
		if err != nil && ctx.Err() == nil && !(errors.As(err, &me) && me.Code == "detached") {
			r.printf("psmux: %v\n", err)
		}
	}()
	if first.Busy != "" {
		r.printf("%s\n", first.Busy)
	}
	if data, err := r.c.Call(r.ctx, "history", mux.HistoryArgs{Target: name}, nil); err == nil {
		var hist []string
		_ = json.Unmarshal(data, &hist)
		r.ed.ResetHistory()
		for _, h := range hist {
			_ = r.ed.SaveHistory(h)
		}
	}
	if first.Busy == "" {
		r.refreshPrompt(name)
	}
	return nil
}

// exitSession leaves the current session (Exit-PSSession, exit,
// Ctrl-D); a temporary one (Enter-PSSession -HostName) is removed.
func (r *repl) exitSession() {
	r.mu.Lock()
	temp := r.temp != "" && r.temp == r.session
	name := r.session
	if temp {
		r.temp = ""
	}
	r.mu.Unlock()
	r.leave()
	if temp {
		if _, err := r.call("rm", mux.TargetArgs{Target: name}, nil); err != nil {
			r.printf("%s\n", r.rend.Red(strings.TrimPrefix(err.Error(), "repl: ")))
		}
	}
}

// leave detaches from the current session, if any.
func (r *repl) leave() {
	r.mu.Lock()
	stop, done := r.stopAttach, r.attachDone
	had := r.session != ""
	r.session, r.stopAttach, r.attachDone, r.busy = "", nil, nil, false
	r.gen++ // what was typed ahead in the session is not sent after leaving
	if r.stopWait != nil {
		r.stopWait()
		r.stopWait = nil
	}
	r.own, r.exitCmd = map[int]bool{}, 0
	r.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
	if had {
		r.ed.ResetHistory()
	}
}

// event shows one event of the attached session.
func (r *repl) event(name string, e mux.Seq) {
	switch e.Kind {
	case mux.KindInput:
		r.mu.Lock()
		if r.mine[e.Text] > 0 {
			r.mine[e.Text]--
			if r.mine[e.Text] == 0 {
				delete(r.mine, e.Text)
			}
			r.own[e.Cmd] = true
			r.mu.Unlock()
			return
		}
		r.busy = true
		remote := r.remoteHost + "[" + name + "]: " + r.remote
		r.mu.Unlock()
		r.ed.SetPrompt("")
		r.ed.Hold(true)
		r.printf("%s%s\n", remote, e.Text)
		_ = r.ed.SaveHistory(e.Text)
		return
	case mux.KindState:
		r.rend.Finish()
		r.mu.Lock()
		exit := r.exitCmd == e.Cmd && r.own[e.Cmd]
		delete(r.own, e.Cmd)
		if exit {
			r.exitCmd = 0
		}
		r.mu.Unlock()
		if exit {
			r.requestLeave(name)
			return
		}
		go r.refreshPrompt(name)
		return
	case mux.KindHost:
		if m := psrp.HostMethod(e.Method); m == psrp.SetShouldExit || m == psrp.PopRunspace {
			// exit or Exit-PSSession ran in the session: a command this
			// client typed leaves it when it ends, as Enter-PSSession
			// pops its runspace; the session stays in the server
			r.mu.Lock()
			if r.own[e.Cmd] {
				r.exitCmd = e.Cmd
			}
			r.mu.Unlock()
			return
		}
		e.Render(r.ctx, r.rend)
	case mux.KindMsg:
		e.Render(r.ctx, r.rend)
	case mux.KindNoise:
		r.printf("psmux: %s: remote: %s\n", name, e.Text)
	case mux.KindSession:
		if e.Text == mux.TextOpened { // the prompt says so; pwsh's Enter-PSSession prints nothing
			return
		}
		r.printf("psmux: session %s: %s\n", name, e.Text)
	}
}

// requestLeave makes the loop leave session at its next turn, waking a
// running Readline.
func (r *repl) requestLeave(session string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.session != session {
		return
	}
	r.leaveReq = session
	if r.inReadline {
		r.wakes++
		r.ed.Wake()
	}
}

// onPrompt runs in the client's goroutine: the question goes to the
// goroutine that owns the terminal.
func (r *repl) onPrompt(p *mux.Prompt) mux.Answer {
	req := promptReq{p: p, ans: make(chan mux.Answer, 1)}
	r.mu.Lock()
	r.prompts = append(r.prompts, req)
	wake := r.inReadline
	if wake {
		r.wakes++
	}
	r.mu.Unlock()
	select {
	case r.promptNote <- struct{}{}:
	default:
	}
	if wake {
		r.ed.Wake()
	}
	select {
	case a := <-req.ans:
		return a
	case <-r.ctx.Done():
		return mux.Answer{Error: "psmux: the client is closing"}
	}
}

// servePrompts answers the waiting prompts; it runs on the terminal's
// goroutine.
func (r *repl) servePrompts() bool {
	served := false
	for {
		r.mu.Lock()
		if len(r.prompts) == 0 {
			r.mu.Unlock()
			return served
		}
		req := r.prompts[0]
		r.prompts = r.prompts[1:]
		r.mu.Unlock()
		req.ans <- r.answer(req.p)
		served = true
	}
}

func (r *repl) answer(p *mux.Prompt) mux.Answer {
	return p.Reply(r.ctx, r.rend, ssh.PromptFunc(r.askSSH))
}

// askSSH asks an SSH question (password, passphrase, 2FA, host key) on
// the terminal.
func (r *repl) askSSH(_ context.Context, req ssh.PromptRequest) ([]string, error) {
	if req.Instruction != "" {
		r.printf("%s\n", req.Instruction)
	}
	var answers []string
	for _, q := range req.Questions {
		r.printf("%s", q.Text)
		s, err := r.readInput(!q.Echo, 0)
		if err != nil {
			return nil, fmt.Errorf("repl: no answer: %w", err)
		}
		answers = append(answers, s)
	}
	return answers, nil
}

// readAnswer reads the answer to a host prompt on the terminal; what
// was written since the last newline is its prompt. Hidden input shows
// a * per character, as pwsh's console does.
func (r *repl) readAnswer(hidden bool) (string, error) { return r.readInput(hidden, '*') }

// readInput reads one line; hidden input echoes mask (0: nothing).
func (r *repl) readInput(hidden bool, mask rune) (string, error) {
	prompt := r.out.takePartial()
	r.ed.Hold(false) // each answer's line, as each command's
	if hidden {
		b, err := r.ed.ReadPassword(prompt, mask)
		return string(b), err
	}
	r.ed.SetPrompt(prompt)
	return r.ed.Readline()
}

// call runs a request on behalf of a psmux command, answering prompts
// meanwhile; Ctrl-C (SIGINT: the terminal is not raw now) cancels it.
func (r *repl) call(op string, a any, onEvent func(mux.Seq)) (json.RawMessage, error) {
	ctx, cancel := context.WithCancel(r.ctx)
	defer cancel()
	type res struct {
		data json.RawMessage
		err  error
	}
	ch := make(chan res, 1)
	go func() {
		d, err := r.c.Call(ctx, op, a, onEvent)
		ch <- res{d, err}
	}()
	for {
		select {
		case x := <-ch:
			r.servePrompts()
			if x.err != nil {
				return nil, fmt.Errorf("repl: %w", x.err)
			}
			return x.data, nil
		case <-r.promptNote:
			r.servePrompts()
		case <-r.sig:
			cancel()
		}
	}
}

// lineWriter writes whole lines through the editor (which redraws its
// prompt under them); a trailing partial line waits for its end or
// becomes the prompt of an answer. A partial line starting with CR (a
// progress bar) is drawn at once.
type lineWriter struct {
	mu      sync.Mutex
	ed      LineEditor
	partial []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	buf := append(w.partial, p...)
	var out, rest []byte
	if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
		out, rest = buf[:i+1], buf[i+1:]
	} else {
		rest = buf
	}
	if len(rest) > 0 && rest[0] == '\r' {
		out, rest = buf, nil
	}
	w.partial = append([]byte(nil), rest...)
	if len(out) > 0 {
		if _, err := w.ed.Write(out); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

func (w *lineWriter) takePartial() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := string(w.partial)
	w.partial = nil
	return s
}
