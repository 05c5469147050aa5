package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/psmux/psmux/mux"
	"github.com/psmux/psmux/repl"
	"github.com/psmux/psmux/sessions/format"
)

// startJob is exec --async: one job of the server, a child per session;
// a line per child says where it started (or why it could not).
func startJob(ctx context.Context, c *mux.Client, a mux.JobArgs, asJSON bool, stdout, stderr io.Writer) int {
	data, err := c.Call(ctx, "job", a, nil)
	if err != nil {
		return muxError(stderr, err)
	}
	var row mux.JobRow
	if err := json.Unmarshal(data, &row); err != nil {
		fmt.Fprintf(stderr, "psmux: the server's job: %v\n", err)
		return exitErrors
	}
	if asJSON {
		fmt.Fprintf(stdout, "%s\n", data)
	}
	var outs []outcome
	for _, ch := range row.Children {
		if ch.Reason != "" {
			fmt.Fprintf(stderr, "psmux: %s: %s\n", ch.Session, ch.Reason)
			outs = append(outs, outcome{exit: muxErrorCode(&mux.Error{Code: ch.Code, Msg: ch.Reason})})
			continue
		}
		if !asJSON {
			fmt.Fprintf(stdout, "job %d started in %s (psmux receive-job %d)\n", row.ID, ch.Session, row.ID)
		}
	}
	return exitFor(outs, false)
}

// listJobs is `psmux jobs` with no session: the server's jobs, as
// Get-Job shows them.
func listJobs(ctx context.Context, c *mux.Client, asJSON bool, stdout, stderr io.Writer) int {
	data, err := c.Call(ctx, "job-ls", mux.JobsArgs{}, nil)
	if err != nil {
		return muxError(stderr, err)
	}
	if asJSON {
		fmt.Fprintf(stdout, "%s\n", data)
		return exitOK
	}
	var rows []mux.JobRow
	_ = json.Unmarshal(data, &rows)
	if len(rows) == 0 {
		fmt.Fprintln(stderr, "no jobs")
		return exitOK
	}
	repl.PrintJobs(stdout, rows, false)
	return exitOK
}

// runReceiveJob is `psmux receive-job [--keep] [--wait] ID...`: what the
// jobs produced since they were last received, as Receive-Job prints it.
func runReceiveJob(g global, args []string, stdin *os.File, stdout, stderr io.Writer) int {
	fs := newFlagSet("receive-job", "receive-job [--keep] [--wait] ID...", stderr)
	keep := fs.Bool("keep", false, "leave the output to be received again")
	wait := fs.Bool("wait", false, "wait for the jobs to end first")
	if code, ok := parseFlags(fs, args, -1, stdout); !ok {
		return code
	}
	var sel mux.JobsArgs
	for _, a := range fs.Args() {
		for _, x := range strings.Split(a, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(x))
			if err != nil {
				fmt.Fprintf(stderr, "psmux receive-job: %q is not a job Id\n", x)
				fs.Usage()
				return exitUsage
			}
			sel.IDs = append(sel.IDs, n)
		}
	}
	if len(sel.IDs) == 0 {
		fs.Usage()
		return exitUsage
	}
	ctx := context.Background()
	c, err := connect(ctx, g, false, stdin)
	if err != nil {
		return muxError(stderr, err)
	}
	defer c.Close()
	if *wait {
		if _, err := c.Call(ctx, "job-wait", sel, nil); err != nil {
			return muxError(stderr, err)
		}
	}
	data, err := c.Call(ctx, "job-ls", sel, nil)
	if err != nil {
		return muxError(stderr, err)
	}
	var rows []mux.JobRow
	_ = json.Unmarshal(data, &rows)
	code := exitOK
	for _, j := range rows {
		for _, ch := range j.Children {
			out, errw, flush := repl.Tagged(stdout, stderr, ch.Session, len(j.Children) > 1)
			rend := &repl.Renderer{Out: out, Err: errw, Width: 120, Format: format.Lines}
			data, err := c.Call(ctx, "job-receive", mux.JobsArgs{IDs: []int{ch.ID}, Keep: *keep}, func(e mux.Seq) { render(rend, e, ch.Session, errw) })
			rend.Finish()
			flush()
			if err != nil {
				return muxError(stderr, err)
			}
			var rep mux.ReceiveReply
			_ = json.Unmarshal(data, &rep)
			for _, f := range rep.Failed {
				fmt.Fprintf(stderr, "psmux: %s: %s\n", f.Session, f.Reason)
				code = exitErrors
			}
		}
	}
	return code
}
