package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync/atomic"
	"time"

	"github.com/psmux/psmux/repl"
	"github.com/psmux/psmux/sessions"
	"github.com/psmux/psmux/sessions/format"
	"github.com/psmux/psmux/sessions/psrp"
	"golang.org/x/term"
)

const defaultPwsh = "pwsh -s -NoLogo -NoProfile"

func runInvoke(args []string, stdin *os.File, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("invoke", flag.ContinueOnError)
	fs.SetOutput(stderr)
	local := fs.Bool("local", false, "run a local pwsh -s (or --pwsh CMD) instead of connecting to a host")
	pwsh := fs.String("pwsh", "", "the command that speaks OutOfProc on stdio (default $PSMUX_PWSH or \""+defaultPwsh+"\")")
	asJSON := fs.Bool("json", false, "print NDJSON events instead of formatted output")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: psmux invoke --local [--pwsh CMD] [--json] [--] SCRIPT")
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	script := strings.Join(fs.Args(), " ")
	if strings.TrimSpace(script) == "" {
		fmt.Fprintln(stderr, "psmux: invoke: no script given")
		fs.Usage()
		return exitUsage
	}
	if !*local {
		fmt.Fprintln(stderr, "psmux: invoke: only --local is available in this build (SSH destinations come with the ssh transport)")
		return exitUsage
	}
	cmdline := *pwsh
	if cmdline == "" {
		cmdline = os.Getenv("PSMUX_PWSH")
	}
	if cmdline == "" {
		cmdline = defaultPwsh
		if _, err := exec.LookPath("pwsh"); err != nil {
			fmt.Fprintln(stderr, "psmux: pwsh not found on PATH: install PowerShell 7 (https://aka.ms/install-powershell),\n"+
				"or name a program that speaks the OutOfProc protocol with --pwsh CMD (or PSMUX_PWSH),\n"+
				"or run against a host over SSH")
			return exitConnect
		}
	}
	argv, err := splitCommand(cmdline)
	if err != nil {
		fmt.Fprintf(stderr, "psmux: invoke: --pwsh: %v\n", err)
		return exitUsage
	}
	return invokeLocal(argv, script, *asJSON, stdin, stdout, stderr)
}

func invokeLocal(argv []string, script string, asJSON bool, stdin *os.File, stdout, stderr io.Writer) int {
	start := time.Now()
	// After the session's clean close pwsh exits 4000 with one stderr line
	// ("An unknown element "" was received…"); that is normal, not news.
	var closing atomic.Bool
	diag := func(k sessions.DiagKind, text string) {
		if closing.Load() && k == sessions.DiagStderr {
			return
		}
		switch k {
		case sessions.DiagNoise:
			fmt.Fprintf(stderr, "psmux: remote noise: %s\n", text)
		default:
			fmt.Fprintf(stderr, "psmux: remote error: %s\n", text)
		}
	}
	procCtx, killProc := context.WithCancel(context.Background())
	defer killProc()
	t, err := sessions.StartProcess(procCtx, argv, diag)
	if err != nil {
		fmt.Fprintf(stderr, "psmux: %v\n", err)
		return exitConnect
	}
	width, outTTY := 120, false
	if f, ok := stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		outTTY = true
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
			width = w
		}
	}
	host := psrp.TerminalHost(width, 50, "psmux")
	if asJSON {
		host = psrp.NoHost()
	}
	openCtx, cancelOpen := context.WithTimeout(context.Background(), 60*time.Second)
	conn, err := sessions.Open(openCtx, t, sessions.Options{Host: host, Diag: diag})
	cancelOpen()
	if err != nil {
		fmt.Fprintf(stderr, "psmux: cannot open a session with %s: %v\n", argv[0], err)
		_ = t.Close()
		return exitConnect
	}

	// Ctrl-C stops the pipeline (Signal); a second one gives up on it.
	runCtx, stop := context.WithCancel(context.Background())
	defer stop()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt)
	defer signal.Stop(sigs)
	go func() {
		if _, ok := <-sigs; !ok {
			return
		}
		stop()
		if _, ok := <-sigs; ok {
			killProc()
		}
	}()

	var h sessions.Handler
	var renderer *repl.Renderer
	var jw *repl.JSONWriter
	if asJSON {
		jw = &repl.JSONWriter{W: stdout, Session: "local", Computer: "localhost"}
		h = jw
	} else {
		errTTY := false
		if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			errTTY = true
		}
		renderer = &repl.Renderer{Out: stdout, Err: stderr, Width: width, Format: format.Lines,
			Color: outTTY && os.Getenv("NO_COLOR") == "", Progress: errTTY}
		if stdin != nil && term.IsTerminal(int(stdin.Fd())) {
			renderer.In = stdin
		}
		h = renderer
	}
	res, err := conn.Invoke(runCtx, psrp.ScriptPipeline(script, !asJSON), nil, h)
	if renderer != nil {
		renderer.Finish()
	}
	closeCtx, cancelClose := context.WithTimeout(context.Background(), 10*time.Second)
	closing.Store(err == nil)
	cerr := conn.Close(closeCtx)
	cancelClose()
	if err != nil {
		var be *sessions.BrokenError
		if errors.As(err, &be) {
			fmt.Fprintf(stderr, "psmux: %v\n", err)
			return exitConnect
		}
		fmt.Fprintf(stderr, "psmux: %v\n", err)
		return exitConnect
	}
	if cerr != nil {
		fmt.Fprintf(stderr, "psmux: %v\n", cerr)
	}
	hadErrors := res.HadErrors || (renderer != nil && renderer.Errors() > 0)
	if jw != nil {
		jw.End(res.State.String(), hadErrors, time.Since(start))
	}
	switch res.State {
	case psrp.Stopped:
		return exitStopped
	case psrp.Failed:
		if renderer != nil {
			fmt.Fprintln(stderr, renderer.Red(repl.ConciseError(res.Reason)))
		}
		return exitErrors
	}
	if runCtx.Err() != nil {
		return exitStopped
	}
	if hadErrors {
		return exitErrors
	}
	return exitOK
}

// splitCommand splits a command line like a POSIX shell does for words:
// blanks separate, single and double quotes group, backslash escapes.
func splitCommand(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inWord := false
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else if c == '\\' && quote == '"' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
				i++
				cur.WriteByte(s[i])
			} else {
				cur.WriteByte(c)
			}
		case c == '\'' || c == '"':
			quote, inWord = c, true
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote in %q", quote, s)
	}
	if inWord {
		out = append(out, cur.String())
	}
	if len(out) == 0 {
		return nil, errors.New("empty command")
	}
	return out, nil
}
