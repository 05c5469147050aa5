package mux_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/psmux/psmux/mux"
	"github.com/psmux/psmux/sessions/clixml"
	"github.com/psmux/psmux/sessions/psrp"
	"github.com/psmux/psmux/testenv/opensshd"
)

// jobsOf lists jobs through a client.
func jobsOf(t *testing.T, ctx context.Context, c *mux.Client, op string, a mux.JobsArgs) []mux.JobRow {
	t.Helper()
	data, err := c.Call(ctx, op, a, nil)
	if err != nil {
		t.Fatalf("%s %+v: %v", op, a, err)
	}
	var rows []mux.JobRow
	if err := json.Unmarshal(data, &rows); err != nil {
		t.Fatal(err)
	}
	return rows
}

// lineOf is the text of an output line a job printed (jobs run with
// the remote formatter: a host call writes each line, or, for strings
// and numbers, the text-lines filter sends it as output).
func lineOf(e mux.Seq) (string, bool) {
	if e.Kind == mux.KindMsg && psrp.MessageType(e.Type) == psrp.PipelineOutput {
		// a line the text-lines filter sent as output (a string)
		v, err := e.Value()
		return v.Text, err == nil && v.Kind == clixml.String && v.Text != ""
	}
	if e.Kind != mux.KindHost {
		return "", false
	}
	c, err := e.HostCall()
	if err != nil || len(c.Params) == 0 {
		return "", false
	}
	l := strings.TrimRight(c.Params[len(c.Params)-1].Text, "\r\n")
	return l, l != ""
}

// receive returns the output lines a job-receive streams.
func receive(t *testing.T, ctx context.Context, c *mux.Client, id int, keep bool) []string {
	t.Helper()
	var out []string
	_, err := c.Call(ctx, "job-receive", mux.JobsArgs{IDs: []int{id}, Keep: keep}, func(e mux.Seq) {
		if l, ok := lineOf(e); ok {
			out = append(out, l)
		}
	})
	if err != nil {
		t.Fatalf("job-receive %d: %v", id, err)
	}
	return out
}

// Jobs belong to the server: a job started by one client over two
// sessions is one parent job with a child per session; another client
// lists, waits for and receives it; what was received is not received
// again unless -Keep; Ids are never reused after Remove-Job; a running
// job is removed only with -Force.
func TestJobsBelongToTheServer(t *testing.T) {
	pwshsim := opensshd.BuildPwshsim(t)
	_, dial := serve(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a, b := dial(false, nil), dial(false, nil)
	for _, n := range []string{"w1", "w2"} {
		if _, err := a.Call(ctx, "new", mux.NewArgs{Name: n, Pwsh: []string{pwshsim, "-s"}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	release := filepath.Join(t.TempDir(), "release")
	held := fmt.Sprintf("'one'; while (-not (Test-Path '%s')) { Start-Sleep -Milliseconds 20 }; 'two'", release)
	data, err := a.Call(ctx, "job", mux.JobArgs{Target: "w*", Script: held}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var row mux.JobRow
	json.Unmarshal(data, &row)
	if row.Name != "Job"+fmt.Sprint(row.ID) || row.State != "Running" || row.Location != "w1, w2" || len(row.Children) != 2 {
		t.Fatalf("the job over w1 and w2: %+v; want one Running parent with two children", row)
	}
	ids := map[int]bool{row.ID: true}
	for _, c := range row.Children {
		if ids[c.ID] {
			t.Fatalf("Id %d used twice: %+v", c.ID, row)
		}
		ids[c.ID] = true
	}

	// Another client sees it, and receives what is there so far, kept.
	rows := jobsOf(t, ctx, b, "job-ls", mux.JobsArgs{})
	if len(rows) != 1 || rows[0].ID != row.ID || len(rows[0].Children) != 2 {
		t.Fatalf("the other client's Get-Job: %+v", rows)
	}
	for _, c := range row.Children { // 'one' reaches each log before the release
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) { // polling the server's log
			if got := receive(t, ctx, b, c.ID, true); strings.Join(got, ",") == "one" {
				break
			} else if time.Now().After(deadline) {
				t.Fatalf("child %d in %s: %q before the release; want one", c.ID, c.Session, got)
			}
		}
	}
	if rows := jobsOf(t, ctx, b, "job-ls", mux.JobsArgs{IDs: []int{row.ID}}); !rows[0].HasMoreData {
		t.Fatalf("after a receive with Keep: %+v; want HasMoreData", rows[0])
	}
	// Remove-Job refuses a running job.
	if _, err := b.Call(ctx, "job-remove", mux.JobsArgs{IDs: []int{row.ID}}, nil); err == nil || !strings.Contains(err.Error(), "because the job is not finished") {
		t.Fatalf("removing a running job: %v; want PowerShell's refusal", err)
	}
	if err := os.WriteFile(release, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	rows = jobsOf(t, ctx, b, "job-wait", mux.JobsArgs{Names: []string{"job*"}})
	if len(rows) != 1 || rows[0].State != "Completed" || !rows[0].HasMoreData {
		t.Fatalf("after Wait-Job: %+v", rows)
	}
	// Receive-Job on the parent: every child's output, in child order.
	var got []string
	if _, err := a.Call(ctx, "job-receive", mux.JobsArgs{IDs: []int{row.ID}}, func(e mux.Seq) {
		if l, ok := lineOf(e); ok {
			got = append(got, fmt.Sprintf("%d:%s", e.Cmd, l))
		}
	}); err != nil {
		t.Fatal(err)
	}
	c1, c2 := row.Children[0].ID, row.Children[1].ID
	if want := fmt.Sprintf("%d:one,%d:two,%d:one,%d:two", c1, c1, c2, c2); strings.Join(got, ",") != want {
		t.Fatalf("Receive-Job %d: %q; want %q", row.ID, got, want)
	}
	if got := receive(t, ctx, b, row.ID, false); len(got) != 0 {
		t.Fatalf("a second Receive-Job: %q; want nothing (received already)", got)
	}
	if rows := jobsOf(t, ctx, b, "job-ls", mux.JobsArgs{}); rows[0].HasMoreData {
		t.Fatalf("after the receive: %+v; want no more data", rows[0])
	}

	// Ids are never reused once a job is removed.
	if _, err := b.Call(ctx, "job-remove", mux.JobsArgs{IDs: []int{row.ID}}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Call(ctx, "job-ls", mux.JobsArgs{IDs: []int{row.ID}}, nil); err == nil || !strings.Contains(err.Error(), "cannot find a job with the job ID") {
		t.Fatalf("Get-Job -Id of a removed job: %v", err)
	}
	data, err = b.Call(ctx, "job", mux.JobArgs{Target: "w2", Script: "'again'"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var again mux.JobRow
	json.Unmarshal(data, &again)
	if ids[again.ID] || again.ID <= c2 {
		t.Fatalf("the job after Remove-Job got Id %d; Ids so far %v", again.ID, ids)
	}
	jobsOf(t, ctx, a, "job-wait", mux.JobsArgs{IDs: []int{again.ID}})

	// A busy session's child fails at once with PowerShell's busy text;
	// the others run; the parent ends Failed. Remove-Job -Force stops a
	// running job and removes it.
	os.Remove(release)
	data, err = a.Call(ctx, "job", mux.JobArgs{Target: "w1", Script: held, Name: "held"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var hold mux.JobRow
	json.Unmarshal(data, &hold)
	data, err = a.Call(ctx, "job", mux.JobArgs{Target: "w1,w2", Script: "'both'"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var both mux.JobRow
	json.Unmarshal(data, &both)
	if both.Children[0].State != "Failed" || !strings.Contains(both.Children[0].Reason, "a pipeline is already running") || both.Children[1].Reason != "" {
		t.Fatalf("a job over a busy w1 and a free w2: %+v", both)
	}
	if rows := jobsOf(t, ctx, a, "job-wait", mux.JobsArgs{IDs: []int{both.ID}}); rows[0].State != "Failed" {
		t.Fatalf("the parent of a failed and a completed child: %+v; want Failed", rows[0])
	}
	var rep mux.ReceiveReply
	data, _ = a.Call(ctx, "job-receive", mux.JobsArgs{IDs: []int{both.ID}}, nil)
	json.Unmarshal(data, &rep)
	if len(rep.Failed) != 1 || rep.Failed[0].Session != "w1" {
		t.Fatalf("receiving a job whose child never started: %+v; want w1's error", rep)
	}
	if _, err := a.Call(ctx, "job-remove", mux.JobsArgs{Names: []string{"held"}, Force: true}, nil); err != nil {
		t.Fatal(err)
	}
	var sessJobs []mux.JobInfo
	data, _ = a.Call(ctx, "jobs", mux.TargetArgs{Target: "w1"}, nil)
	json.Unmarshal(data, &sessJobs)
	for _, j := range sessJobs {
		if j.ID == hold.Children[0].ID && j.State != "Stopped" {
			t.Fatalf("Remove-Job -Force left the held command %s", j.State)
		}
	}
	var e *mux.Error
	if _, err := a.Call(ctx, "job-ls", mux.JobsArgs{Names: []string{"held"}}, nil); !errors.As(err, &e) || e.Code != mux.CodeNotFound {
		t.Fatalf("Get-Job -Name held after Remove-Job -Force: %v", err)
	}
}

// A Start-Job job (JobArgs.Local) runs in a local process of its own
// that no session target names, and Shutdown ends that process with the
// other sessions.
func TestBackgroundJobEndsWithTheServer(t *testing.T) {
	pwshsim := opensshd.BuildPwshsim(t)
	srv, dial := serve(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := dial(false, nil)
	data, err := c.Call(ctx, "job", mux.JobArgs{Script: "$PID; while ($true) { Start-Sleep -Milliseconds 20 }", Local: []string{pwshsim, "-s"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var row mux.JobRow
	json.Unmarshal(data, &row)
	if row.TypeName != "BackgroundJob" || row.Location != "localhost" || row.State != "Running" {
		t.Fatalf("Start-Job's row: %+v", row)
	}
	if _, err := c.Call(ctx, "find", mux.TargetArgs{Target: "localhost"}, nil); err == nil {
		t.Fatal("a background job's process is a session a target names")
	}
	var pid int
	for deadline := time.Now().Add(time.Minute); pid == 0; time.Sleep(20 * time.Millisecond) { // polling the server's log
		_, err := c.Call(ctx, "job-receive", mux.JobsArgs{IDs: []int{row.ID}, Keep: true}, func(e mux.Seq) {
			if l, ok := lineOf(e); ok {
				fmt.Sscan(l, &pid)
			}
		})
		if err != nil || time.Now().After(deadline) {
			t.Fatalf("the job's pid: %v", err)
		}
	}
	if mux.ProcessGone(pid) {
		t.Fatalf("the job's process %d is gone while the job runs", pid)
	}
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if !mux.ProcessGone(pid) {
		t.Fatalf("the job's process %d outlived the server's Shutdown", pid)
	}
}
