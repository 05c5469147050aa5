package main

import (
	"bufio"
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

	"github.com/psmux/psmux/mux"
	"github.com/psmux/psmux/repl"
	"github.com/psmux/psmux/sessions/format"
	"github.com/psmux/psmux/ssh"
	"golang.org/x/term"
)

// runAttach is `psmux attach -t S [-d] [-r] [--via DEST]`: on a terminal
// the REPL inside S (-d detaches S's other clients, -r makes this one
// read-only); otherwise the line-mode client, which replays what this
// client has not seen, follows live output, runs the input's statements
// in order and leaves at its end, printing tmux's message.
func runAttach(g global, args []string, stdin *os.File, stdout, stderr io.Writer) int {
	fs := newFlagSet("attach", "attach [-t S] [-d] [-r] [--since N] [--via [user@]host ["+sshFlagsUsage+"]]", stderr)
	target := fs.String("t", "", "session (default: the only one)")
	detachOthers := fs.Bool("d", false, "detach every other client of the session")
	readOnly := fs.Bool("r", false, "read-only: see output, run nothing")
	since := fs.Uint64("since", 0, "replay from this event sequence number (default: what no client has seen)")
	via := fs.String("via", "", "attach to the server on another host, through SSH and psmux proxy there")
	var sf ssh.Flags
	sf.Register(fs)
	if code, ok := parseFlags(fs, args, 0, stdout); !ok {
		return code
	}
	ctx := context.Background()
	var c *mux.Client
	var err error
	if *via != "" {
		c, err = connectVia(ctx, *via, &sf, g, stdin, stderr)
	} else {
		c, err = connect(ctx, g, true, stdin)
	}
	if err != nil {
		return muxError(stderr, err)
	}
	defer c.Close()
	name := *target
	if name == "" {
		data, err := c.Call(ctx, "ls", nil, nil)
		if err != nil {
			return muxError(stderr, err)
		}
		var rows []mux.Info
		_ = json.Unmarshal(data, &rows)
		if len(rows) != 1 {
			fmt.Fprintf(stderr, "psmux: %d sessions: name one with -t\n", len(rows))
			return exitUsage
		}
		name = rows[0].Name
	}
	if *since == 0 && term.IsTerminal(int(stdin.Fd())) {
		return replOn(ctx, c, replTarget{name, *detachOthers, *readOnly}, stdin, stdout, stderr)
	}

	// One reader of stdin: lines are commands, or answers while a
	// prompt is showing.
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdin)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var promptMu sync.Mutex
	// An answer read from the input shows after its question, as pwsh
	// shows it with piped input (a hidden one as the end of the line).
	readLine := func(hidden bool) (string, error) {
		l, ok := <-lines
		if !ok {
			return "", io.EOF
		}
		if hidden {
			fmt.Fprintln(stderr)
		} else {
			fmt.Fprintln(stderr, l)
		}
		return l, nil
	}
	width, _, color := terminalOut(stdout)
	// What this client prints may go through the server (below), which
	// then writes it and moves this client's cursor in one step.
	outSW := &switchWriter{local: stdout, w: stdout, gone: c.Done()}
	errSW := &switchWriter{local: stderr, w: stderr, gone: c.Done()}
	stdout, stderr = outSW, errSW
	var pr *mux.Printer
	defer func() { // everything printed is out before the client leaves
		if pr != nil {
			sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			_ = pr.Sync(sctx)
			cancel()
		}
	}()
	r := &repl.Renderer{Out: stdout, Err: stderr, Width: width, Format: format.Lines, Color: color, ReadLine: readLine}
	// SSH questions are read from the same line stream as commands.
	askSSH := ssh.PromptFunc(func(_ context.Context, req ssh.PromptRequest) ([]string, error) {
		var answers []string
		for _, q := range req.Questions {
			fmt.Fprint(stderr, q.Text)
			l, err := readLine(!q.Echo)
			if err != nil {
				return nil, fmt.Errorf("no answer: %w", err)
			}
			answers = append(answers, l)
		}
		return answers, nil
	})
	c.OnPrompt = func(p *mux.Prompt) mux.Answer {
		promptMu.Lock()
		defer promptMu.Unlock()
		return p.Reply(ctx, r, askSSH)
	}
	detached := make(chan string, 1)
	c.OnDetached = func(msg string) {
		select {
		case detached <- msg:
		default:
		}
	}
	var outMu sync.Mutex
	// the last command whose end this client has shown, so the next
	// statement runs (and the client leaves) only after its output
	var lastState atomic.Int64
	stateCh := make(chan struct{}, 1)
	// events wait until the reply has given the session's own name
	// (-t is case-insensitive): the response comes before any event
	outMu.Lock()
	aa := mux.AttachArgs{Target: name, Since: *since, ReadOnly: *readOnly, DetachOthers: *detachOthers}
	if *via == "" {
		aa.PrintPID = os.Getpid()
	}
	data, wait, err := c.Attach(ctx, aa,
		func(e mux.Seq) {
			outMu.Lock()
			if pr != nil {
				select {
				case <-c.Done():
					// the server is gone, and what it had not yet written
					// with it: show nothing after a gap; an attach resumes
					// after the last event it wrote
					outMu.Unlock()
					return
				default:
				}
				pr.Hold()
			}
			if e.Kind == mux.KindInput {
				fmt.Fprintf(stdout, "[%s]: PS> %s\n", name, e.Text)
			} else {
				render(r, e, name, stderr)
			}
			// acknowledge each event once it has been shown, so an attach
			// after this client resumes right after it; a command's end
			// counts as shown (and the client may leave) only after that.
			// Through the server, showing and acknowledging are one step.
			if pr != nil {
				_ = pr.Release(e.Seq)
			} else {
				_ = c.Ack(name, e.Seq)
			}
			outMu.Unlock()
			if e.Kind == mux.KindState && int64(e.Cmd) > lastState.Load() {
				lastState.Store(int64(e.Cmd))
				select {
				case stateCh <- struct{}{}:
				default:
				}
			}
		})
	if err != nil {
		outMu.Unlock()
		return muxError(stderr, err)
	}
	var first mux.AttachReply
	_ = json.Unmarshal(data, &first)
	if first.Session.Name != "" {
		name = first.Session.Name
	}
	if first.ServerPrints {
		pr = c.Printer(name, outSW.local, errSW.local)
		outSW.set(pr.Writer(1))
		errSW.set(pr.Writer(2))
	}
	outMu.Unlock()
	if first.Busy != "" {
		fmt.Fprintln(stderr, first.Busy)
	}
	ended := make(chan error, 1)
	go func() { ended <- wait() }()

	// Statements run in the order they were read, each after the one
	// before it ended, as the REPL runs them. The next line is read only
	// then: while a statement runs, lines answer its prompts (Read-Host
	// reads the line after it, as in pwsh with piped input). At the end
	// of the input the client waits for the last and exits with exec's
	// status.
	runOne := func(script string) int {
		data, err := c.Call(ctx, "exec", mux.ExecArgs{Target: name, Script: script, Interactive: true}, nil)
		var res mux.ExecResult
		if err == nil {
			_ = json.Unmarshal(data, &res)
		} else {
			outMu.Lock()
			fmt.Fprintf(stderr, "psmux: %v\n", err)
			outMu.Unlock()
		}
		shown := time.NewTimer(30 * time.Second) // an end the log dropped (Drop policy)
		defer shown.Stop()
		for err == nil && lastState.Load() < int64(res.Job) {
			select {
			case <-stateCh:
				continue
			case <-shown.C:
			case <-c.Done():
			}
			break
		}
		return execExit(res, err)
	}
	ran := make(chan int, 1)
	running := false
	code := exitOK
	var pending string
	in := lines // nil once the input ended
	for {
		next := in
		if running {
			next = nil // the running statement's prompts read the input
		}
		select {
		case <-c.Done():
			fmt.Fprintf(stderr, "psmux: %v\n", c.Err())
			return exitConnect
		case msg := <-detached:
			fmt.Fprintln(stderr, msg)
			return exitOK
		case err := <-ended:
			var e *mux.Error
			if errors.As(err, &e) && e.Code == "detached" {
				return exitOK
			}
			if err != nil {
				fmt.Fprintf(stderr, "psmux: %v\n", err)
				return exitConnect
			}
			return exitOK
		case one := <-ran:
			running = false
			code = exitFor([]outcome{{exit: code}, {exit: one}}, false)
			if in == nil {
				fmt.Fprintf(stderr, "[detached (from session %s)]\n", name)
				return code
			}
		case line, ok := <-next:
			if ok {
				if pending != "" {
					pending += "\n"
				}
				pending += line
			} else {
				in = nil
			}
			switch {
			case strings.TrimSpace(pending) == "":
				pending = ""
				if in == nil {
					fmt.Fprintf(stderr, "[detached (from session %s)]\n", name)
					return code
				}
			case ok && repl.Incomplete(pending):
			default:
				script := pending
				pending = ""
				running = true
				go func() { ran <- runOne(script) }()
			}
		}
	}
}

// switchWriter writes to local, or, once set, to the server's Printer
// (after the attach reply); when the server is gone (gone closed) or
// cannot take it, to local again.
type switchWriter struct {
	local io.Writer
	gone  <-chan struct{}
	mu    sync.Mutex
	w     io.Writer
}

func (s *switchWriter) set(w io.Writer) {
	s.mu.Lock()
	s.w = w
	s.mu.Unlock()
}

func (s *switchWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.gone:
		s.w = s.local
	default:
	}
	if s.w != s.local {
		if n, err := s.w.Write(b); err == nil {
			return n, nil
		}
		s.w = s.local
	}
	return s.local.Write(b)
}

// connectVia reaches a server on another host: an SSH channel running
// `psmux proxy` there carries the client protocol.
func connectVia(ctx context.Context, dest string, sf *ssh.Flags, g global, stdin *os.File, stderr io.Writer) (*mux.Client, error) {
	cfg, err := ssh.Resolve(dest, sf.Overrides())
	if err != nil {
		return nil, err
	}
	cl, err := ssh.Dial(ctx, cfg, ssh.DialOptions{Prompter: repl.SSHPrompter(stdin, stderr, false),
		Warn: func(m string) { fmt.Fprintln(stderr, strings.TrimSpace(m)) }})
	if err != nil {
		return nil, err
	}
	cmd := proxyCommand(g)
	if sf.Exec != "" {
		cmd = sf.Exec
	}
	ch, err := cl.Open(ctx, ssh.ChannelSpec{Exec: cmd}, func(line string) { fmt.Fprintf(stderr, "psmux: %s: %s\n", dest, line) })
	if err != nil {
		cl.Close()
		return nil, err
	}
	interactive := stdin != nil && term.IsTerminal(int(stdin.Fd()))
	c, err := mux.NewClient(&viaConn{ch: ch, cl: cl}, "psmux "+version+" via "+dest, interactive)
	if err != nil {
		return nil, fmt.Errorf("%s: %w (is psmux on its PATH?)", dest, err)
	}
	return c, nil
}

// proxyCommand is the far side's `psmux proxy`, with this command's -L
// or -S (they name the far server's socket: no local server is used).
func proxyCommand(g global) string {
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
	cmd := "psmux"
	if g.label != "" {
		cmd += " -L " + q(g.label)
	}
	if g.socket != "" {
		cmd += " -S " + q(g.socket)
	}
	return cmd + " proxy"
}

type viaConn struct {
	ch *ssh.Channel
	cl *ssh.Client
}

func (v *viaConn) Read(p []byte) (int, error)  { return v.ch.Read(p) }
func (v *viaConn) Write(p []byte) (int, error) { return v.ch.Write(p) }
func (v *viaConn) Close() error {
	err := v.ch.Close()
	v.cl.Close()
	return err
}
