package repl

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/psmux/psmux/mux"
)

func (r *repl) cmdExit(args) error {
	r.mu.Lock()
	in := r.session != ""
	r.mu.Unlock()
	if !in {
		return io.EOF
	}
	r.exitSession()
	return nil
}

// psmux's sessions never leave the server, so Disconnect-PSSession and
// Connect-PSSession only show where a session stands; detaching is the
// client's business (C-b d).
func (r *repl) cmdDisconnect(a args) error {
	if err := r.cmdConnect(a); err != nil {
		return err
	}
	r.printf("psmux: sessions stay open in the server with no client; C-b d detaches this client, psmux attach comes back\n")
	return nil
}

func (r *repl) cmdConnect(a args) error {
	rows, err := r.named("Connect-PSSession", a)
	if err != nil {
		return err
	}
	r.printRows(rows)
	return nil
}

// cmdReceive prints the session's whole output log.
func (r *repl) cmdReceive(a args) error {
	x, err := r.one("Receive-PSSession", a)
	if err != nil {
		return err
	}
	rend := r.newRenderer(r.out)
	rend.Progress = false
	_, err = r.call("capture", mux.CaptureArgs{Target: strconv.Itoa(x.ID)}, func(e mux.Seq) { r.renderTo(rend, e) })
	rend.Finish()
	return err
}

// cmdClear clears the terminal (the editor is not reading: the psmux
// prompt runs its commands in turn), as Clear-Host does.
func (r *repl) cmdClear(args) error {
	if r.cfg.IsTerminal() {
		fmt.Fprint(r.cfg.Stdout, "\x1b[H\x1b[2J\x1b[3J")
	}
	return nil
}

func (r *repl) renderTo(rend *Renderer, e mux.Seq) { e.Render(r.ctx, rend) }

// PrintJobs prints jobs as Get-Job does; with children, each parent's
// child jobs follow it.
func PrintJobs(w io.Writer, js []mux.JobRow, children bool) {
	if len(js) == 0 {
		return
	}
	const f = "%-6v %-15s %-15s %-13s %-15s %-20s %s\n"
	fmt.Fprintf(w, f, "Id", "Name", "PSJobTypeName", "State", "HasMoreData", "Location", "Command")
	fmt.Fprintf(w, f, "--", "----", "-------------", "-----", "-----------", "--------", "-------")
	cmd := func(s string) string { return strings.ReplaceAll(strings.TrimSpace(s), "\n", " ") }
	psBool := func(b bool) string { return map[bool]string{true: "True", false: "False"}[b] }
	for _, j := range js {
		fmt.Fprintf(w, f, j.ID, j.Name, j.TypeName, j.State, psBool(j.HasMoreData), j.Location, cmd(j.Command))
		if !children {
			continue
		}
		for _, c := range j.Children {
			fmt.Fprintf(w, f, c.ID, "Job"+strconv.Itoa(c.ID), "", c.State, psBool(c.HasMoreData), c.Session, cmd(j.Command))
		}
	}
}

func (r *repl) printJobs(js []mux.JobRow, children bool) { PrintJobs(r.out, js, children) }

// Tagged returns out and errw with each line prefixed "[name] " when
// on (output of several sessions or hosts at once), and the flush of a
// last partial line.
func Tagged(out, errw io.Writer, name string, on bool) (io.Writer, io.Writer, func()) {
	if !on {
		return out, errw, func() {}
	}
	pOut := &PrefixWriter{W: out, Prefix: "[" + name + "] "}
	pErr := &PrefixWriter{W: errw, Prefix: "[" + name + "] "}
	return pOut, pErr, func() { pOut.Flush(); pErr.Flush() }
}

// jobsArgs turns -Id and -Name into the server's selection. A word in
// the first position that is not a number is a name, as PowerShell's
// job cmdlets bind it (their Name parameter set is positional too).
func jobsArgs(a args) (mux.JobsArgs, error) {
	var ja mux.JobsArgs
	ja.Names = a.list("Name")
	for _, id := range a.list("Id") {
		n, err := strconv.Atoi(id)
		if err != nil && a.has(positional("Id")) {
			ja.Names = append(ja.Names, id)
			continue
		}
		if err != nil {
			return ja, fmt.Errorf("repl: cannot bind parameter 'Id': cannot convert value %q to type System.Int32", id)
		}
		ja.IDs = append(ja.IDs, n)
	}
	ja.Keep, ja.Force = a.has("Keep"), a.has("Force")
	return ja, nil
}

// jobCall sends a job request and decodes the rows it answers with.
func (r *repl) jobCall(op string, a args) ([]mux.JobRow, error) {
	ja, err := jobsArgs(a)
	if err != nil {
		return nil, err
	}
	data, err := r.call(op, ja, nil)
	if err != nil {
		return nil, err
	}
	var rows []mux.JobRow
	if err := json.Unmarshal(data, &rows); err != nil {
		return nil, fmt.Errorf("repl: the server's jobs: %w", err)
	}
	return rows, nil
}

func (r *repl) cmdGetJob(a args) error {
	rows, err := r.jobCall("job-ls", a)
	if err != nil {
		return err
	}
	r.printJobs(rows, a.has("IncludeChildJob"))
	return nil
}

// cmdReceiveJob prints what each child of the jobs produced since the
// last Receive-Job (all of it with -Keep left it), tagged [session]
// when a job ran in several sessions.
func (r *repl) cmdReceiveJob(a args) error {
	rows, err := r.jobCall("job-ls", a)
	if err != nil {
		return err
	}
	if a.has("Wait") {
		if _, err := r.jobCall("job-wait", a); err != nil {
			return err
		}
	}
	for _, j := range rows {
		for _, c := range j.Children {
			w, _, flush := Tagged(r.out, io.Discard, c.Session, len(j.Children) > 1)
			rend := r.newRenderer(w)
			rend.Progress = false
			data, err := r.call("job-receive", mux.JobsArgs{IDs: []int{c.ID}, Keep: a.has("Keep")}, func(e mux.Seq) { r.renderTo(rend, e) })
			rend.Finish()
			flush()
			if err != nil {
				return err
			}
			var rep mux.ReceiveReply
			_ = json.Unmarshal(data, &rep)
			for _, f := range rep.Failed {
				r.printf("[%s] %s\n", f.Session, r.rend.Red(f.Reason))
			}
		}
	}
	return nil
}

func (r *repl) cmdWaitJob(a args) error {
	rows, err := r.jobCall("job-wait", a)
	if err != nil {
		return err
	}
	r.printJobs(rows, false)
	return nil
}

func (r *repl) cmdStopJob(a args) error {
	_, err := r.jobCall("job-stop", a)
	return err
}

func (r *repl) cmdRemoveJob(a args) error {
	ja, err := jobsArgs(a)
	if err != nil {
		return err
	}
	_, err = r.call("job-remove", ja, nil)
	return err
}

func (r *repl) cmdCopy(a args) error {
	src, dst := a.get("Path"), a.get("Destination")
	if src == "" || dst == "" {
		return fmt.Errorf("repl: Copy-Item: -Path and -Destination are required")
	}
	var ca mux.CopyArgs
	switch {
	case a.get("ToSession") != "":
		local, err := filepath.Abs(src)
		if err != nil {
			return fmt.Errorf("repl: Copy-Item: %w", err)
		}
		ca = mux.CopyArgs{Target: a.get("ToSession"), Local: local, Remote: dst, Upload: true}
	case a.get("FromSession") != "":
		local, err := filepath.Abs(dst)
		if err != nil {
			return fmt.Errorf("repl: Copy-Item: %w", err)
		}
		ca = mux.CopyArgs{Target: a.get("FromSession"), Local: local, Remote: src}
	default:
		return fmt.Errorf("repl: Copy-Item: psmux copies with -ToSession or -FromSession")
	}
	_, err := r.call("cp", ca, nil)
	return err
}

func (r *repl) cmdHelp(a args) error {
	if n := a.get("Name"); n != "" {
		c := lookup(r.cmds, n)
		if c == nil {
			return fmt.Errorf("repl: Get-Help: psmux has no command %s (Get-Help lists them; in a session, Get-Help is the remote one)", n)
		}
		printCommandHelp(r.out, c)
		return nil
	}
	printHelp(r.out, r.cmds)
	return nil
}
