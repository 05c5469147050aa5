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
	"time"

	"github.com/psmux/psmux/mux"
)

// jobRow is a job started with Invoke-Command -AsJob.
type jobRow struct {
	ID      int
	Session string
	Job     int
	Command string
}

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
		for _, s := range sessions {
			data, err := r.call("exec", mux.ExecArgs{Target: s, Script: script, Async: true}, nil)
			if err != nil {
				return err
			}
			var res mux.ExecResult
			_ = json.Unmarshal(data, &res)
			r.mu.Lock()
			j := jobRow{ID: len(r.jobs) + 1, Session: res.Session, Job: res.Job, Command: script}
			if j.Session == "" {
				j.Session = s
			}
			r.jobs = append(r.jobs, j)
			r.mu.Unlock()
			r.printJobs([]jobRow{j})
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

func (r *repl) printJobs(js []jobRow) {
	r.printf("%-3s %-15s %-11s %-13s %s\n", "Id", "Name", "State", "Location", "Command")
	r.printf("%-3s %-15s %-11s %-13s %s\n", "--", "----", "-----", "--------", "-------")
	for _, j := range js {
		r.printf("%-3d %-15s %-11s %-13s %s\n", j.ID, "Job"+strconv.Itoa(j.ID), r.jobState(j), j.Session, j.Command)
	}
}

func (r *repl) jobState(j jobRow) string {
	data, err := r.c.Call(r.ctx, "jobs", mux.TargetArgs{Target: j.Session}, nil)
	if err != nil {
		return "Unknown"
	}
	var rows []mux.JobInfo
	_ = json.Unmarshal(data, &rows)
	for _, x := range rows {
		if x.ID == j.Job {
			return x.State
		}
	}
	return "Unknown"
}

func (r *repl) findJobs(a args) ([]jobRow, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if a["Id"] == "" {
		return append([]jobRow(nil), r.jobs...), nil
	}
	var out []jobRow
	for _, id := range a.list("Id") {
		n, _ := strconv.Atoi(id)
		found := false
		for _, j := range r.jobs {
			if j.ID == n {
				out = append(out, j)
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("repl: cannot find the job with the job ID %s", id)
		}
	}
	return out, nil
}

func (r *repl) cmdGetJob(a args) error {
	js, err := r.findJobs(a)
	if err != nil || len(js) == 0 {
		return err
	}
	r.printJobs(js)
	return nil
}

func (r *repl) cmdReceiveJob(a args) error {
	js, err := r.findJobs(a)
	if err != nil {
		return err
	}
	if a.has("Wait") {
		r.waitJobs(js)
	}
	for _, j := range js {
		rend := r.newRenderer(r.out)
		rend.Progress = false
		if _, err := r.call("capture", mux.CaptureArgs{Target: j.Session, Job: j.Job}, func(e mux.Seq) { r.renderTo(rend, e) }); err != nil {
			return err
		}
		rend.Finish()
	}
	return nil
}

func finished(state string) bool {
	switch state {
	case "Running", "NotStarted", "Stopping":
		return false
	}
	return true
}

func (r *repl) waitJobs(js []jobRow) {
	for _, j := range js {
		for !finished(r.jobState(j)) {
			select {
			case <-r.sig:
				return
			case <-r.promptNote:
				r.servePrompts()
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
}

func (r *repl) cmdWaitJob(a args) error {
	js, err := r.findJobs(a)
	if err != nil {
		return err
	}
	r.waitJobs(js)
	r.printJobs(js)
	return nil
}

func (r *repl) cmdStopJob(a args) error {
	js, err := r.findJobs(a)
	if err != nil {
		return err
	}
	for _, j := range js {
		if _, err := r.call("stop", mux.StopArgs{Target: j.Session, Job: j.Job}, nil); err != nil {
			return err
		}
	}
	return nil
}

func (r *repl) cmdRemoveJob(a args) error {
	js, err := r.findJobs(a)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	kept := r.jobs[:0]
	for _, j := range r.jobs {
		drop := false
		for _, x := range js {
			drop = drop || x.ID == j.ID
		}
		if !drop {
			kept = append(kept, j)
		}
	}
	r.jobs = kept
	return nil
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
