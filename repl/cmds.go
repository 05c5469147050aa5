package repl

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/psmux/psmux/mux"
)

func (r *repl) rows(data json.RawMessage) {
	var rows []mux.Info
	if json.Unmarshal(data, &rows) != nil {
		var one mux.Info
		if json.Unmarshal(data, &one) != nil {
			return
		}
		rows = []mux.Info{one}
	}
	if r.cfg.PrintRows != nil {
		r.cfg.PrintRows(r.out, rows)
		return
	}
	for _, x := range rows {
		r.printf("%3d %-15s %-13s %s\n", x.ID, x.Name, x.State, x.Availability)
	}
}

func (r *repl) cmdNew(a args) error {
	na := mux.NewArgs{Name: a["Name"]}
	if a.has("Local") {
		pw := os.Getenv("PSMUX_PWSH")
		if pw == "" {
			pw = "pwsh -s -NoLogo -NoProfile"
		}
		na.Pwsh = strings.Fields(pw)
	} else {
		if a["HostName"] == "" {
			return fmt.Errorf("repl: New-PSSession: -HostName or -Local is required")
		}
		na.Dest = a["HostName"]
		if u := a["UserName"]; u != "" {
			na.SSH = append(na.SSH, "-l", u)
		}
		if p := a["Port"]; p != "" {
			na.SSH = append(na.SSH, "-p", p)
		}
		if k := a["KeyFilePath"]; k != "" {
			if abs, err := filepath.Abs(k); err == nil {
				k = abs
			}
			na.SSH = append(na.SSH, "-i", k)
		}
		if s := a["Subsystem"]; s != "" {
			na.SSH = append(na.SSH, "--subsystem", s)
		}
	}
	data, err := r.call("new", na, nil)
	if err != nil {
		return err
	}
	r.rows(data)
	return nil
}

func (r *repl) cmdLs(a args) error {
	op, arg := "ls", any(nil)
	if a["Name"] != "" {
		op, arg = "find", mux.TargetArgs{Target: a["Name"]}
	}
	data, err := r.call(op, arg, nil)
	if err != nil {
		return err
	}
	r.rows(data)
	return nil
}

func target(a args) string {
	if a["Name"] != "" {
		return a["Name"]
	}
	return a["Id"]
}

func (r *repl) cmdEnter(a args) error {
	t := target(a)
	if t == "" {
		return fmt.Errorf("repl: Enter-PSSession: name a session (-Name or -Id)")
	}
	return r.enter(t)
}

func (r *repl) cmdExit(args) error {
	r.mu.Lock()
	in := r.session != ""
	r.mu.Unlock()
	if !in {
		return io.EOF
	}
	r.leave()
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
	t := target(a)
	if t == "" {
		return fmt.Errorf("repl: name a session (-Name or -Id)")
	}
	data, err := r.call("find", mux.TargetArgs{Target: t}, nil)
	if err != nil {
		return err
	}
	r.rows(data)
	return nil
}

// cmdReceive prints the session's whole output log.
func (r *repl) cmdReceive(a args) error {
	t := target(a)
	if t == "" {
		return fmt.Errorf("repl: Receive-PSSession: name a session (-Name or -Id)")
	}
	rend := r.newRenderer(r.out)
	rend.Progress = false
	_, err := r.call("capture", mux.CaptureArgs{Target: t}, func(e mux.Seq) { r.renderTo(rend, e) })
	rend.Finish()
	return err
}

func (r *repl) cmdRm(a args) error {
	t := target(a)
	if t == "" {
		return fmt.Errorf("repl: Remove-PSSession: name a session (-Name or -Id)")
	}
	_, err := r.call("rm", mux.TargetArgs{Target: t}, nil)
	return err
}

func (r *repl) cmdInvoke(a args) error {
	sessions := a.list("Session")
	script := a["ScriptBlock"]
	if len(sessions) == 0 || script == "" {
		return fmt.Errorf("repl: Invoke-Command: -Session and -ScriptBlock are required")
	}
	if a.has("AsJob") {
		data, err := r.call("job", mux.JobArgs{Target: strings.Join(sessions, ","), Script: script, Name: a["JobName"]}, nil)
		if err != nil {
			return err
		}
		var row mux.JobRow
		if err := json.Unmarshal(data, &row); err != nil {
			return fmt.Errorf("repl: the server's job: %w", err)
		}
		r.printJobs([]mux.JobRow{row}, false)
		for _, c := range row.Children {
			if c.Reason != "" {
				r.printf("[%s] %s\n", c.Session, r.rend.Red(c.Reason))
			}
		}
		return nil
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, len(sessions))
	for i, s := range sessions {
		pw := &PrefixWriter{W: &LockedWriter{Mu: &mu, W: r.out}, Prefix: "[" + s + "] "}
		rend := r.newRenderer(pw)
		rend.Progress = false
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = r.c.Call(r.ctx, "exec", mux.ExecArgs{Target: s, Script: script}, func(e mux.Seq) { r.renderTo(rend, e) })
			rend.Finish()
			pw.Flush()
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for waiting := true; waiting; {
		select {
		case <-done:
			waiting = false
		case <-r.promptNote:
			r.servePrompts()
		case <-r.sig:
			for _, s := range sessions {
				go func() { _, _ = r.c.Call(r.ctx, "stop", mux.StopArgs{Target: s}, nil) }()
			}
		}
	}
	for i, err := range errs {
		if err != nil {
			r.printf("[%s] %s\n", sessions[i], r.rend.Red(err.Error()))
		}
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

// jobsArgs turns -Id and -Name into the server's selection.
func jobsArgs(a args) (mux.JobsArgs, error) {
	var ja mux.JobsArgs
	for _, id := range a.list("Id") {
		n, err := strconv.Atoi(id)
		if err != nil {
			return ja, fmt.Errorf("repl: cannot bind parameter 'Id': cannot convert value %q to type System.Int32", id)
		}
		ja.IDs = append(ja.IDs, n)
	}
	ja.Names = a.list("Name")
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
			var w io.Writer = r.out
			var pw *PrefixWriter
			if len(j.Children) > 1 {
				pw = &PrefixWriter{W: r.out, Prefix: "[" + c.Session + "] "}
				w = pw
			}
			rend := r.newRenderer(w)
			rend.Progress = false
			data, err := r.call("job-receive", mux.JobsArgs{IDs: []int{c.ID}, Keep: a.has("Keep")}, func(e mux.Seq) { r.renderTo(rend, e) })
			rend.Finish()
			if pw != nil {
				pw.Flush()
			}
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
	src, dst := a["Path"], a["Destination"]
	if src == "" || dst == "" {
		return fmt.Errorf("repl: Copy-Item: -Path and -Destination are required")
	}
	var ca mux.CopyArgs
	switch {
	case a["ToSession"] != "":
		local, err := filepath.Abs(src)
		if err != nil {
			return fmt.Errorf("repl: Copy-Item: %w", err)
		}
		ca = mux.CopyArgs{Target: a["ToSession"], Local: local, Remote: dst, Upload: true}
	case a["FromSession"] != "":
		local, err := filepath.Abs(dst)
		if err != nil {
			return fmt.Errorf("repl: Copy-Item: %w", err)
		}
		ca = mux.CopyArgs{Target: a["FromSession"], Local: local, Remote: src}
	default:
		return fmt.Errorf("repl: Copy-Item: psmux copies with -ToSession or -FromSession")
	}
	_, err := r.call("cp", ca, nil)
	return err
}

func (r *repl) cmdHelp(args) error {
	printHelp(r.out, r.cmds)
	return nil
}
