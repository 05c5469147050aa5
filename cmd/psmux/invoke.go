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
	"sync"
	"sync/atomic"
	"time"

	"github.com/psmux/psmux/mux"
	"github.com/psmux/psmux/repl"
	"github.com/psmux/psmux/sessions"
	"github.com/psmux/psmux/sessions/format"
	"github.com/psmux/psmux/sessions/psrp"
	"github.com/psmux/psmux/ssh"
	"golang.org/x/term"
)

const defaultPwsh = "pwsh -s -NoLogo -NoProfile"

const invokeUsage = "usage: psmux invoke [" + sshFlagsUsage + "] [--throttle N] [--json] [--max-received-object-size MB] DEST[,DEST…] [--] SCRIPT\n" +
	"       psmux invoke --local [--pwsh CMD] [--json] [--max-received-object-size MB] [--] SCRIPT"

const maxObjectUsage = "the largest object accepted from the server, in MB, as PowerShell's MaximumReceivedObjectSizeMB (default 200)"

// target is one place a script runs: a host over SSH or a local pwsh.
type target struct {
	name string
	// open starts the PowerShell end; ctx bounds the connecting, life
	// the lifetime of a child process.
	open func(ctx, life context.Context, diag func(sessions.DiagKind, string)) (sessions.Transport, string, error)
}

// outcome is how a run on one target ended, for the summary line and
// the exit status (SPEC S8).
type outcome struct {
	state     string // Completed, HadErrors, Failed, Stopped, Broken, Unreachable, AuthFailed
	hadErrors bool
	exit      int
	err       error
	took      time.Duration
}

func runInvoke(args []string, stdin *os.File, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("invoke", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sf ssh.Flags
	sf.Register(fs)
	local := fs.Bool("local", false, "run a local pwsh -s (or --pwsh CMD) instead of connecting to a host")
	pwsh := fs.String("pwsh", "", "the command that speaks OutOfProc on stdio (default $PSMUX_PWSH or \""+defaultPwsh+"\")")
	asJSON := fs.Bool("json", false, "print NDJSON events instead of formatted output")
	throttle := fs.Int("throttle", 32, "run at most this many destinations at once")
	maxObj := fs.Int("max-received-object-size", 0, maxObjectUsage)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), invokeUsage)
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, -1, stdout); !ok {
		return code
	}
	rest := fs.Args()
	if err := sf.Check(); err != nil {
		fmt.Fprintf(stderr, "psmux: invoke: %v\n", err)
		return exitUsage
	}
	if *maxObj < 0 || *maxObj > mux.MaxObjectMB {
		fmt.Fprintf(stderr, "psmux: invoke: --max-received-object-size %d: expected 1 to %d (MB)\n", *maxObj, mux.MaxObjectMB)
		return exitUsage
	}
	var dests []string
	if !*local {
		if len(rest) == 0 || rest[0] == "--" {
			fmt.Fprintln(stderr, "psmux: invoke: no destination given (or --local)")
			fs.Usage()
			return exitUsage
		}
		for d := range strings.SplitSeq(rest[0], ",") {
			if d = strings.TrimSpace(d); d != "" {
				dests = append(dests, d)
			}
		}
		rest = rest[1:]
	}
	if len(rest) > 0 && rest[0] == "--" {
		rest = rest[1:]
	}
	script := strings.Join(rest, " ")
	if strings.TrimSpace(script) == "" {
		fmt.Fprintln(stderr, "psmux: invoke: no script given")
		fs.Usage()
		return exitUsage
	}

	var targets []target
	var d *dialer
	if *local {
		argv, code := localArgv(*pwsh, stderr)
		if argv == nil {
			return code
		}
		targets = []target{{name: "local", open: func(_, life context.Context, diag func(sessions.DiagKind, string)) (sessions.Transport, string, error) {
			t, err := sessions.StartProcess(life, argv, diag)
			return t, "localhost", err
		}}}
	} else {
		var warnMu sync.Mutex
		d = newDialer(&sf, stdin, stderr, len(dests) > 1, func(msg string) {
			warnMu.Lock()
			defer warnMu.Unlock()
			fmt.Fprintln(stderr, strings.TrimRight(msg, "\n"))
		})
		defer d.close()
		for _, dest := range dests {
			if _, err := d.resolve(dest); err != nil {
				fmt.Fprintf(stderr, "psmux: invoke: %v\n", err)
				return exitUsage
			}
			targets = append(targets, target{name: dest, open: func(ctx, life context.Context, diag func(sessions.DiagKind, string)) (sessions.Transport, string, error) {
				return d.open(ctx, life, dest, diag)
			}})
		}
	}
	return invokeAll(targets, script, *asJSON, *maxObj<<20, max(*throttle, 1), stdin, stdout, stderr)
}

// localArgv finds the local OutOfProc server's command line.
func localArgv(pwsh string, stderr io.Writer) ([]string, int) {
	cmdline := pwsh
	if cmdline == "" {
		cmdline = os.Getenv("PSMUX_PWSH")
	}
	if cmdline == "" {
		cmdline = defaultPwsh
		if _, err := exec.LookPath("pwsh"); err != nil {
			fmt.Fprintln(stderr, "psmux: pwsh not found on PATH: install PowerShell 7 (https://aka.ms/install-powershell),\n"+
				"or name a program that speaks the OutOfProc protocol with --pwsh CMD (or PSMUX_PWSH),\n"+
				"or run against a host over SSH")
			return nil, exitConnect
		}
	}
	argv, err := sessions.SplitCommand(cmdline)
	if err != nil {
		fmt.Fprintf(stderr, "psmux: invoke: --pwsh: %v\n", err)
		return nil, exitUsage
	}
	return argv, 0
}

// invokeAll runs script on every target, at most throttle at once. With
// more than one target each output line is prefixed "[name] " and a
// summary line per target closes the run.
func invokeAll(targets []target, script string, asJSON bool, maxObject, throttle int, stdin *os.File, stdout, stderr io.Writer) int {
	fan := len(targets) > 1
	var outMu sync.Mutex // one lock for both streams keeps lines whole
	sharedOut := &repl.LockedWriter{Mu: &outMu, W: stdout}
	sharedErr := &repl.LockedWriter{Mu: &outMu, W: stderr}

	// Ctrl-C stops the pipelines (Signal); a second one gives up on them.
	runCtx, stop := context.WithCancel(context.Background())
	defer stop()
	killCtx, kill := context.WithCancel(context.Background())
	defer kill()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt)
	defer signal.Stop(sigs)
	go func() {
		if _, ok := <-sigs; !ok {
			return
		}
		stop()
		if _, ok := <-sigs; ok {
			kill()
		}
	}()

	width, _, color := terminalOut(stdout)
	_, errTTY, _ := terminalOut(stderr)
	out, errs, flushAll := repl.Batch(stdout, stderr)
	defer flushAll()
	sharedOut.W, sharedErr.W = out, errs

	outcomes := make([]outcome, len(targets))
	mux.FanOut(len(targets), throttle, func(i int) {
		tg := targets[i]
		out, errw, flush := repl.Tagged(sharedOut, sharedErr, tg.name, fan && !asJSON)
		r := runner{name: tg.name, asJSON: asJSON, width: width, maxObject: maxObject,
			color: color, progress: errTTY && !fan}
		if !fan && stdin != nil && term.IsTerminal(int(stdin.Fd())) {
			r.in = stdin
		}
		outcomes[i] = r.run(runCtx, killCtx, tg, script, out, errw)
		flush()
		if fan && !asJSON {
			fmt.Fprintf(sharedErr, "[%s] %s in %s\n", tg.name, outcomes[i].state, outcomes[i].took.Round(time.Millisecond))
		}
	})
	return exitFor(outcomes, runCtx.Err() != nil)
}

// exitFor folds the outcomes into one exit status: connection trouble
// first, then a stop, then errors, then a busy session.
func exitFor(outs []outcome, stopped bool) int {
	code := exitOK
	rank := map[int]int{exitOK: 0, exitBusy: 1, exitErrors: 2, exitStopped: 3, exitConnect: 4}
	for _, o := range outs {
		if rank[o.exit] > rank[code] {
			code = o.exit
		}
	}
	if stopped && code == exitOK {
		code = exitStopped
	}
	return code
}

// runner runs one script on one target and renders it.
type runner struct {
	name   string
	asJSON bool
	// maxObject caps one object from the server in bytes; 0: 200 MB.
	maxObject int
	width     int
	color     bool
	progress  bool
	in        *os.File
}

func (r runner) run(runCtx, killCtx context.Context, tg target, script string, stdout, stderr io.Writer) outcome {
	start := time.Now()
	end := func(o outcome) outcome { o.took = time.Since(start); return o }
	// After the session's close pwsh exits 4000 with one error line, on
	// stderr (-s) or as __NamedPipeError__ (-sshs): "An unknown element ""
	// was received…". After a clean end or one the user asked for
	// (Ctrl-C, --timeout) that is normal, not news.
	var closing atomic.Bool
	diag := func(k sessions.DiagKind, text string) {
		if closing.Load() && (k == sessions.DiagStderr || k == sessions.DiagPipeError) {
			return
		}
		switch k {
		case sessions.DiagNoise:
			fmt.Fprintf(stderr, "psmux: remote noise: %s\n", text)
		default:
			fmt.Fprintf(stderr, "psmux: remote error: %s\n", text)
		}
	}
	procCtx, killProc := context.WithCancel(killCtx)
	defer killProc()
	openCtx, cancelOpen := context.WithTimeout(runCtx, 2*time.Minute)
	defer cancelOpen()
	t, computer, err := tg.open(openCtx, procCtx, diag)
	if err != nil {
		if runCtx.Err() != nil { // Ctrl-C while connecting
			fmt.Fprintf(stderr, "psmux: %s: interrupted\n", tg.name)
			return end(outcome{state: "Stopped", exit: exitStopped, err: err})
		}
		fmt.Fprintf(stderr, "psmux: %s\n", mux.DescribeErr(err))
		return end(failure(err))
	}
	stopKill := context.AfterFunc(procCtx, func() { _ = t.Close() })
	defer stopKill()

	host := psrp.TerminalHost(r.width, 50)
	if r.asJSON {
		host = psrp.NoHost()
	}
	conn, err := sessions.Open(openCtx, t, sessions.Options{Host: host, Diag: diag, MaxReceivedObjectSize: r.maxObject})
	cancelOpen()
	if err != nil && runCtx.Err() != nil {
		fmt.Fprintf(stderr, "psmux: %s: interrupted\n", tg.name)
		_ = t.Close()
		return end(outcome{state: "Stopped", exit: exitStopped, err: err})
	}
	if err != nil {
		fmt.Fprintf(stderr, "psmux: cannot open a session with %s: %s\n", tg.name, mux.DescribeErr(err))
		_ = t.Close()
		return end(failure(err))
	}

	var h sessions.Handler
	var renderer *repl.Renderer
	var jw *repl.JSONWriter
	if r.asJSON {
		jw = &repl.JSONWriter{W: stdout, Session: r.name, Computer: computer}
		h = jw
	} else {
		renderer = &repl.Renderer{Out: stdout, Err: stderr, Width: r.width, Format: format.Lines,
			Color: r.color, Progress: r.progress, In: r.in}
		h = renderer
	}
	p := psrp.ScriptPipeline(script, false)
	if !r.asJSON {
		p = conn.TextPipeline(runCtx, script)
	}
	res, err := conn.Invoke(runCtx, p, nil, h)
	if renderer != nil {
		renderer.Finish()
	}
	closeCtx, cancelClose := context.WithTimeout(killCtx, 10*time.Second)
	closing.Store(err == nil || runCtx.Err() != nil) // a clean end, or one the user asked for (Ctrl-C, --timeout)
	cerr := conn.Close(closeCtx)
	cancelClose()
	_ = t.Close()
	if err != nil {
		fmt.Fprintf(stderr, "psmux: %s: %s\n", tg.name, mux.DescribeErr(err))
		o := failure(err)
		if jw != nil {
			jw.End(o.state, true, time.Since(start), mux.DescribeErr(err))
		}
		return end(o)
	}
	if cerr != nil && !errors.Is(cerr, sessions.ErrClosed) {
		fmt.Fprintf(stderr, "psmux: %s: %s\n", tg.name, mux.DescribeErr(cerr))
	}
	hadErrors := res.HadErrors || (renderer != nil && renderer.Errors() > 0)
	o := outcome{state: "Completed", exit: exitOK, hadErrors: hadErrors}
	switch {
	case res.State == psrp.Stopped || runCtx.Err() != nil:
		o.state, o.exit = "Stopped", exitStopped
	case res.State == psrp.Failed:
		o.state, o.exit = "Failed", exitErrors
	case hadErrors:
		o.state, o.exit = "HadErrors", exitErrors
	}
	if jw != nil {
		reason := ""
		if res.State == psrp.Failed {
			reason = sessions.ErrorText(res.Reason)
		}
		jw.End(res.State.String(), hadErrors, time.Since(start), reason)
	}
	return end(o)
}

// failure classifies an error that ended a run before it completed.
func failure(err error) outcome {
	var ue *ssh.UnreachableError
	var ae *ssh.AuthError
	var hk *ssh.HostKeyError
	var be *sessions.BrokenError
	switch {
	case errors.As(err, &ae):
		return outcome{state: "AuthFailed", exit: exitConnect, err: err}
	case errors.As(err, &ue), errors.As(err, &hk):
		return outcome{state: "Unreachable", exit: exitConnect, err: err}
	case errors.As(err, &be):
		return outcome{state: "Broken", exit: exitConnect, err: err}
	case errors.Is(err, context.Canceled):
		return outcome{state: "Stopped", exit: exitStopped, err: err}
	}
	return outcome{state: "Broken", exit: exitConnect, err: err}
}
