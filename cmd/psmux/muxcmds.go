package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/psmux/psmux/sessions/clixml"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"time"

	"github.com/psmux/psmux/mux"
	"github.com/psmux/psmux/repl"
	"github.com/psmux/psmux/sessions"
	"github.com/psmux/psmux/sessions/format"
	"github.com/psmux/psmux/ssh"
)

// muxError maps a server error to the exit status of SPEC S8 and prints
// it the way tmux and PowerShell word theirs.
func muxError(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "psmux: %s\n", strings.TrimPrefix(strings.TrimPrefix(err.Error(), "sock: "), "mux: "))
	var nse *mux.NoServerError
	if errors.As(err, &nse) {
		return exitErrors
	}
	var e *mux.Error
	if errors.As(err, &e) {
		switch e.Code {
		case mux.CodeNotFound, mux.CodeUsage, mux.CodeExists, mux.CodeReadOnly:
			return exitUsage
		case mux.CodeBusy:
			return exitBusy
		case mux.CodeStopped:
			return exitStopped
		case mux.CodeFailed:
			return exitErrors
		}
	}
	return exitConnect
}

func newFlagSet(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: psmux "+usage)
		fs.PrintDefaults()
	}
	return fs
}

// promptHandler answers what the server asks this client: SSH questions
// on the terminal, host prompts through r (nil: none).
func promptHandler(stdin *os.File, stderr io.Writer, r *repl.Renderer) func(p *mux.Prompt) mux.Answer {
	tp := repl.SSHPrompter(stdin, stderr, true)
	var h sessions.Handler
	if r != nil {
		h = r
	}
	return func(p *mux.Prompt) mux.Answer { return p.Reply(context.Background(), h, tp) }
}

// render shows one event through h (a Renderer or a JSONWriter).
// Session notices go to stderr.
func render(h sessions.Handler, e mux.Seq, name string, stderr io.Writer) {
	if e.Render(context.Background(), h) {
		return
	}
	switch e.Kind {
	case mux.KindNoise:
		fmt.Fprintf(stderr, "psmux: %s: remote: %s\n", name, e.Text)
	case mux.KindSession:
		fmt.Fprintf(stderr, "psmux: session %s: %s\n", name, e.Text)
	case mux.KindPrompt:
		fmt.Fprintf(stderr, "psmux: session %s: %s\n", name, e.Text)
	}
}

func printRows(w io.Writer, rows []mux.Info) {
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(w, "%3s %-15s %-9s %-15s %-15s %-13s %-20s %13s\n", "Id", "Name", "Transport", "ComputerName", "ComputerType", "State", "ConfigurationName", "Availability")
	fmt.Fprintf(w, "%3s %-15s %-9s %-15s %-15s %-13s %-20s %13s\n", "--", "----", "---------", "------------", "------------", "-----", "-----------------", "------------")
	for _, r := range rows {
		state := r.State
		if r.Restored && state == "Opened" {
			state = "Restored"
		}
		fmt.Fprintf(w, "%3d %-15s %-9s %-15s %-15s %-13s %-20s %13s\n", r.ID, trunc(r.Name, 15), r.Transport, trunc(r.ComputerName, 15),
			r.ComputerType, state, trunc(r.ConfigurationName, 20), r.Availability)
	}
	for _, r := range rows {
		switch {
		case r.WaitingForInput:
			fmt.Fprintf(w, "%s: waiting for input (psmux attach -t %s)\n", r.Name, r.Name)
		case r.State == "Broken" && r.Reason != "":
			fmt.Fprintf(w, "%s: Broken: %s (psmux reconnect -t %s)\n", r.Name, r.Reason, r.Name)
		}
	}
}

func trunc(s string, n int) string {
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// runNew is `psmux new [-n NAME] [SSHFLAGS] DEST | --local [--pwsh CMD]`.
func runNew(g global, args []string, stdin *os.File, stdout, stderr io.Writer) int {
	fs := newFlagSet("new", "new [-n NAME] [--init SCRIPT] [--reconnect] [--idle-timeout D] [--policy Block|Drop] [--budget BYTES] [--max-runspaces N] [--max-received-object-size MB] ["+sshFlagsUsage+"] [--json] DEST | --local [--pwsh CMD]", stderr)
	var sf ssh.Flags
	sf.Register(fs)
	name := fs.String("n", "", "session name (default Runspace<Id>)")
	init := fs.String("init", "", "script run when the session opens and after reconnect")
	reconnect := fs.Bool("reconnect", false, "reopen the session by itself when its link breaks (1 s, doubling to 60 s while the host answers; up to 1 h)")
	idle := fs.Duration("idle-timeout", 0, "close the session after this long with no client and no command (default 2h; -1s: never)")
	policy := fs.String("policy", "", "output log policy when full: Block (default) or Drop")
	budget := fs.Int64("budget", 0, "output log memory budget in bytes (default 64 MiB)")
	maxRS := fs.Int("max-runspaces", 1, "pipelines that may run at once")
	maxObj := fs.Int("max-received-object-size", 0, maxObjectUsage)
	local := fs.Bool("local", false, "a local pwsh -s (or --pwsh CMD) instead of a host")
	pwsh := fs.String("pwsh", "", "the local OutOfProc server command")
	asJSON := fs.Bool("json", false, "print the row as JSON")
	if code, ok := parseFlags(fs, args, -1, stdout); !ok {
		return code
	}
	if err := sf.Check(); err != nil {
		fmt.Fprintf(stderr, "psmux: new: %v\n", err)
		return exitUsage
	}
	a := mux.NewArgs{Name: *name, Init: *init, IdleTimeout: *idle, Policy: *policy, Budget: *budget, MaxRunspace: *maxRS, MaxObjectMB: *maxObj,
		ConnectTimeout: sf.ConnectTimeout, Reconnect: *reconnect}
	switch {
	case *local:
		argv, code := localArgv(*pwsh, stderr)
		if argv == nil {
			return code
		}
		a.Pwsh = argv
	case fs.NArg() == 1:
		a.Dest = fs.Arg(0)
		a.SSH = absFlags(sf.Args())
	default:
		fs.Usage()
		return exitUsage
	}
	ctx := context.Background()
	c, err := connect(ctx, g, true, stdin)
	if err != nil {
		return muxError(stderr, err)
	}
	defer c.Close()
	c.OnPrompt = promptHandler(stdin, stderr, nil)
	// Ctrl-C while connecting gives up the open (the server drops the
	// session it was opening) and says so, exit 4
	callCtx, interrupted := interruptible(ctx)
	defer interrupted()
	data, err := c.Call(callCtx, "new", a, nil)
	if err != nil {
		if callCtx.Err() != nil {
			fmt.Fprintln(stderr, "psmux: new: interrupted")
			return exitStopped
		}
		return muxError(stderr, err)
	}
	if *asJSON {
		fmt.Fprintf(stdout, "%s\n", data)
		return exitOK
	}
	var row mux.Info
	_ = json.Unmarshal(data, &row)
	printRows(stdout, []mux.Info{row})
	return exitOK
}

// interruptible is ctx ended by the first SIGINT (a terminal's Ctrl-C);
// later ones are swallowed until stop, which restores SIGINT's default.
func interruptible(ctx context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancel(ctx)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt)
	go func() { // ends with ctx
		select {
		case <-sigs:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, func() { signal.Stop(sigs); cancel() }
}

// absFlags makes file arguments (-F, -i) absolute: the server runs in
// another directory.
func absFlags(args []string) []string {
	out := append([]string(nil), args...)
	for i := 0; i+1 < len(out); i++ {
		if out[i] == "-F" || out[i] == "-i" {
			if abs, err := absPath(out[i+1]); err == nil {
				out[i+1] = abs
			}
			i++
		}
	}
	return out
}

// runLs is `psmux ls [--json]`.
func runLs(g global, args []string, stdin *os.File, stdout, stderr io.Writer) int {
	fs := newFlagSet("ls", "ls [--json]", stderr)
	asJSON := fs.Bool("json", false, "print the sessions as JSON")
	if code, ok := parseFlags(fs, args, 0, stdout); !ok {
		return code
	}
	ctx := context.Background()
	c, err := connect(ctx, g, false, stdin)
	if err != nil {
		return muxError(stderr, err)
	}
	defer c.Close()
	data, err := c.Call(ctx, "ls", nil, nil)
	if err != nil {
		return muxError(stderr, err)
	}
	var rows []mux.Info
	_ = json.Unmarshal(data, &rows)
	if *asJSON {
		if rows == nil {
			rows = []mux.Info{}
		}
		b, _ := json.Marshal(rows)
		fmt.Fprintf(stdout, "%s\n", b)
		return exitOK
	}
	if len(rows) == 0 {
		fmt.Fprintln(stderr, "no sessions")
		return exitOK
	}
	printRows(stdout, rows)
	return exitOK
}

// targetCmd runs a request that takes -t TARGET (has, rm, reconnect,
// jobs, kill-server) and prints its answer.
func runTargetCmd(g global, op string, args []string, stdin *os.File, stdout, stderr io.Writer) int {
	usage := map[string]string{"has": "has -t S", "rm": "rm -t TARGETS | --all", "reconnect": "reconnect -t TARGETS",
		"jobs": "jobs [-t S] [--json]  (without -t: the server's jobs; with it: the session's commands)", "kill-server": "kill-server"}[op]
	fs := newFlagSet(op, usage, stderr)
	target := fs.String("t", "", "session: name, id, glob or comma list")
	var all, asJSON bool // only where the command takes them
	if op == "rm" {
		fs.BoolVar(&all, "all", false, "every session")
	}
	if op == "jobs" {
		fs.BoolVar(&asJSON, "json", false, "print as JSON")
	}
	if code, ok := parseFlags(fs, args, 0, stdout); !ok {
		return code
	}
	if op != "kill-server" && op != "jobs" && *target == "" && !(op == "rm" && all) {
		fs.Usage()
		return exitUsage
	}
	ctx := context.Background()
	c, err := connect(ctx, g, false, stdin)
	if err != nil {
		return muxError(stderr, err)
	}
	defer c.Close()
	c.OnPrompt = promptHandler(stdin, stderr, nil)
	if op == "jobs" && *target == "" {
		return listJobs(ctx, c, asJSON, stdout, stderr)
	}
	data, err := c.Call(ctx, op, mux.TargetArgs{Target: *target, All: all}, nil)
	if err != nil {
		var e *mux.Error
		if op == "has" && errors.As(err, &e) && e.Code == mux.CodeNotFound {
			fmt.Fprintf(stderr, "psmux: %v\n", err)
			return 1
		}
		return muxError(stderr, err)
	}
	switch op {
	case "rm":
		var names []string
		_ = json.Unmarshal(data, &names)
		for _, n := range names {
			fmt.Fprintf(stdout, "removed %s\n", n)
		}
	case "reconnect":
		var rep mux.ReconnectReply
		_ = json.Unmarshal(data, &rep)
		for _, row := range rep.Sessions {
			fmt.Fprintf(stderr, "psmux: %s reconnected: a new runspace; variables and state from before are gone\n", row.Name)
		}
		printRows(stdout, rep.Sessions)
		for _, f := range rep.Failed {
			fmt.Fprintf(stderr, "psmux: %s: %s\n", f.Name, f.Error)
		}
		if len(rep.Failed) > 0 {
			return 1
		}
	case "jobs":
		if asJSON {
			fmt.Fprintf(stdout, "%s\n", data)
			break
		}
		var rows []mux.JobInfo
		_ = json.Unmarshal(data, &rows)
		fmt.Fprintf(stdout, "%3s %-12s %-9s %s\n", "Id", "State", "HadErrors", "Command")
		for _, j := range rows {
			fmt.Fprintf(stdout, "%3d %-12s %-9v %s\n", j.ID, j.State, j.HadErrors, trunc(strings.ReplaceAll(j.Command, "\n", " "), 60))
		}
	}
	return exitOK
}

// runExec is `psmux exec -t TARGETS [--json] [--throttle N] [--timeout
// D] [--async] [--] SCRIPT`: the script runs in each session (at most
// throttle at once), output streamed back, one summary line per session
// when there are several.
func runExec(g global, args []string, stdin *os.File, stdout, stderr io.Writer) int {
	fs := newFlagSet("exec", "exec -t TARGETS [--json] [--throttle N] [--timeout D] [--async] [--] SCRIPT", stderr)
	target := fs.String("t", "", "sessions: names, ids, globs (web*) or a comma list")
	asJSON := fs.Bool("json", false, "print NDJSON events")
	throttle := fs.Int("throttle", 32, "run in at most this many sessions at once")
	timeout := fs.Duration("timeout", 0, "stop the command after this long (exit 4)")
	async := fs.Bool("async", false, "start the command as a job and return at once (fails if the session is busy)")
	if code, ok := parseFlags(fs, args, -1, stdout); !ok {
		return code
	}
	script := strings.Join(fs.Args(), " ")
	if *target == "" || strings.TrimSpace(script) == "" {
		fs.Usage()
		return exitUsage
	}
	width, _, color := terminalOut(stdout) // errors and warnings in colour, as invoke shows them
	stdout, stderr, flush := repl.Batch(stdout, stderr)
	defer flush()
	ctx := context.Background()
	c, err := connect(ctx, g, false, stdin)
	if err != nil {
		return muxError(stderr, err)
	}
	defer c.Close()
	if *async {
		return startJob(ctx, c, mux.JobArgs{Target: *target, Script: script, Timeout: *timeout}, *asJSON, stdout, stderr)
	}
	data, err := c.Call(ctx, "find", mux.TargetArgs{Target: *target}, nil)
	if err != nil {
		return muxError(stderr, err)
	}
	var rows []mux.Info
	_ = json.Unmarshal(data, &rows)

	runCtx, stop := interruptible(ctx) // Ctrl-C stops the commands
	defer stop()

	fan := len(rows) > 1
	var outMu sync.Mutex
	sharedOut := &repl.LockedWriter{Mu: &outMu, W: stdout}
	sharedErr := &repl.LockedWriter{Mu: &outMu, W: stderr}
	outcomes := make([]outcome, len(rows))
	mux.FanOut(len(rows), *throttle, func(i int) {
		row := rows[i]
		start := time.Now()
		out, errw, flush := repl.Tagged(sharedOut, sharedErr, row.Name, fan && !*asJSON)
		var h sessions.Handler
		var renderer *repl.Renderer
		var jw *repl.JSONWriter
		if *asJSON {
			jw = &repl.JSONWriter{W: out, Session: row.Name, Computer: row.ComputerName}
			h = jw
		} else {
			renderer = &repl.Renderer{Out: out, Err: errw, Width: width, Format: format.Lines, Color: color}
			h = renderer
		}
		var mu sync.Mutex
		data, err := c.Call(runCtx, "exec", mux.ExecArgs{Target: row.Name, Script: script, JSON: *asJSON, Timeout: *timeout},
			func(e mux.Seq) {
				mu.Lock()
				defer mu.Unlock()
				render(h, e, row.Name, errw)
			})
		if renderer != nil {
			renderer.Finish()
		}
		o := outcome{took: time.Since(start)}
		var res mux.ExecResult
		if err == nil {
			_ = json.Unmarshal(data, &res)
		}
		switch {
		case err != nil:
			fmt.Fprintf(errw, "psmux: %s\n", err)
			o.state, o.exit = "Failed", muxErrorCode(err)
			if o.exit == exitConnect {
				o.state = "Broken"
			}
			if o.exit == exitBusy {
				o.state = "Busy"
			}
		case res.Lost != "":
			fmt.Fprintf(errw, "psmux: %s: %s\n", row.Name, res.Lost)
			o.state, o.exit = "Broken", exitConnect
		case res.State == "Stopped" || runCtx.Err() != nil:
			if _, err := clixml.Decode([]byte(res.Reason)); res.Reason != "" && err != nil && runCtx.Err() == nil && !*asJSON {
				// why psmux stopped it (a record is shown by the server)
				fmt.Fprintf(errw, "psmux: %s: %s\n", row.Name, res.Reason)
			} else if *timeout > 0 && res.Reason == "" && runCtx.Err() == nil && !*asJSON && o.took >= *timeout {
				// the server stopped it at the deadline: say so, not just exit 4
				fmt.Fprintf(errw, "psmux: %s: stopped: the command ran longer than --timeout %s\n", row.Name, *timeout)
			}
			o.state, o.exit = "Stopped", exitStopped
		case res.State == "Failed":
			if renderer != nil && res.Reason != "" {
				if _, err := clixml.Decode([]byte(res.Reason)); err != nil {
					// not a record (the server shows those): why psmux could not run it
					fmt.Fprintf(errw, "psmux: %s: %s\n", row.Name, res.Reason)
				}
			}
			o.state, o.exit = "Failed", exitErrors
		case res.HadErrors:
			o.state, o.exit = "HadErrors", exitErrors
		default:
			o.state = "Completed"
		}
		if jw != nil && err == nil {
			st, reason := res.State, ""
			if res.Lost != "" {
				st = o.state
			}
			if res.State == "Failed" {
				reason = repl.FailureText(res.Reason)
			}
			jw.End(st, res.HadErrors, o.took, reason)
		}
		flush()
		if fan && !*asJSON {
			fmt.Fprintf(sharedErr, "[%s] %s in %s\n", row.Name, o.state, o.took.Round(time.Millisecond))
		}
		outcomes[i] = o
	})
	return exitFor(outcomes, false)
}

func muxErrorCode(err error) int {
	return muxError(io.Discard, err)
}

// runCapture is `psmux capture -t S [--since N] [--job N] [--json]`.
func runCapture(g global, args []string, stdin *os.File, stdout, stderr io.Writer) int {
	fs := newFlagSet("capture", "capture -t S [--since N] [--job N] [--json]", stderr)
	target := fs.String("t", "", "session")
	since := fs.Uint64("since", 0, "from this event sequence number")
	jobID := fs.Int("job", 0, "only this job's output")
	asJSON := fs.Bool("json", false, "print NDJSON events")
	if code, ok := parseFlags(fs, args, 0, stdout); !ok {
		return code
	}
	if *target == "" {
		fs.Usage()
		return exitUsage
	}
	stdout, stderr, flush := repl.Batch(stdout, stderr)
	defer flush()
	ctx := context.Background()
	c, err := connect(ctx, g, false, stdin)
	if err != nil {
		return muxError(stderr, err)
	}
	defer c.Close()
	var h sessions.Handler
	var renderer *repl.Renderer
	var jw *repl.JSONWriter
	if *asJSON {
		// the session's name and computer, as exec --json labels its lines
		jw = &repl.JSONWriter{W: stdout, Session: *target}
		if data, err := c.Call(ctx, "find", mux.TargetArgs{Target: *target}, nil); err == nil {
			var rows []mux.Info
			if json.Unmarshal(data, &rows) == nil && len(rows) == 1 {
				jw.Session, jw.Computer = rows[0].Name, rows[0].ComputerName
			}
		}
		h = jw
	} else {
		renderer = &repl.Renderer{Out: stdout, Err: stderr, Width: 120, Format: format.Lines}
		h = renderer
	}
	started := map[int]int64{}         // command → when its input was logged
	runCtx, stop := interruptible(ctx) // Ctrl-C: what was printed so far is flushed
	defer stop()
	_, err = c.Call(runCtx, "capture", mux.CaptureArgs{Target: *target, Since: *since, Job: *jobID}, func(e mux.Seq) {
		switch {
		case e.Kind == mux.KindInput && renderer != nil:
			fmt.Fprintf(stdout, "PS> %s\n", e.Text)
			return
		case e.Kind == mux.KindInput:
			started[e.Cmd] = e.TS
		case e.Kind == mux.KindState && jw != nil:
			var took time.Duration
			if ts, ok := started[e.Cmd]; ok {
				took = time.Duration(e.TS-ts) * time.Millisecond
			}
			reason := ""
			if e.Text == "Failed" {
				reason = repl.FailureText(e.XML)
			}
			jw.End(e.Text, e.HadErrors, took, reason)
			return
		}
		render(h, e, *target, stderr)
	})
	if renderer != nil {
		renderer.Finish()
	}
	if err != nil && runCtx.Err() != nil {
		return exitStopped
	}
	if err != nil {
		return muxError(stderr, err)
	}
	return exitOK
}

// runStartServer is tmux's start-server: a server on the socket, started
// if none runs (ls, exec and the rest never start one).
func runStartServer(g global, args []string, stdin *os.File, stdout, stderr io.Writer) int {
	fs := newFlagSet("start-server", "start-server", stderr)
	if code, ok := parseFlags(fs, args, 0, stdout); !ok {
		return code
	}
	c, err := connect(context.Background(), g, true, stdin)
	if err != nil {
		return muxError(stderr, err)
	}
	c.Close()
	return exitOK
}

// killServerPatience bounds how long kill-server waits for the server to
// close its sessions and exit.
const killServerPatience = time.Minute

// runKillServer stops the server and every session, and returns when the
// server process is gone.
func runKillServer(g global, args []string, stdin *os.File, stdout, stderr io.Writer) int {
	fs := newFlagSet("kill-server", "kill-server", stderr)
	if code, ok := parseFlags(fs, args, 0, stdout); !ok {
		return code
	}
	ctx := context.Background()
	c, err := connect(ctx, g, false, stdin)
	if err != nil {
		return muxError(stderr, err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, killServerPatience)
	defer cancel()
	if err := c.KillServer(ctx); err != nil {
		return muxError(stderr, err)
	}
	return exitOK
}

// execExit is the exit status of one exec's result: connection trouble,
// a stop, errors (SPEC S8).
func execExit(res mux.ExecResult, err error) int {
	switch {
	case err != nil:
		return muxErrorCode(err)
	case res.Lost != "":
		return exitConnect
	case res.State == "Stopped":
		return exitStopped
	case res.State == "Failed", res.HadErrors:
		return exitErrors
	}
	return exitOK
}
