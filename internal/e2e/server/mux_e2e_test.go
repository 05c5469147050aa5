package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/psmux/psmux/internal/e2e"
	"github.com/psmux/psmux/mux"
	"github.com/psmux/psmux/testenv/faultproxy"
	"github.com/psmux/psmux/testenv/opensshd"
	"golang.org/x/crypto/ssh/knownhosts"
)

func TestServerNewLsExecAcrossProcesses(t *testing.T) {
	opensshd.Require(t)
	e2e.EachSubsystem(t, func(t *testing.T, server, sub string) {
		sshd := e2e.StartSshd(t, sub)
		m := e2e.NewMuxEnv(t)
		r := m.Must("new", "-n", "web1", "-F", sshd.SSHConfig, sshd.Alias)
		if !strings.Contains(r.Stdout, "web1") || !strings.Contains(r.Stdout, "Opened") || !strings.Contains(r.Stdout, "Available") {
			t.Fatalf("new printed %q; want the row with State Opened", r.Stdout)
		}
		rows := m.Ls()
		if len(rows) != 1 {
			t.Fatalf("ls: %+v", rows)
		}
		row := rows[0]
		if row.ID != 1 || row.Name != "web1" || row.InstanceID == "" || row.ComputerName != sshd.Alias || row.State != "Opened" ||
			row.Availability != "Available" || row.Transport != "SSH" {
			t.Fatalf("ls --json row %+v", row)
		}
		raw := m.Must("ls", "--json").Stdout
		for _, key := range []string{`"Id"`, `"Name"`, `"InstanceId"`, `"ComputerName"`, `"State"`, `"Availability"`} {
			if !strings.Contains(raw, key) {
				t.Fatalf("ls --json lacks %s: %s", key, raw)
			}
		}
		m.Must("exec", "-t", "web1", "--", "$x = 42")
		if r := m.Must("exec", "-t", "web1", "--", "$x"); r.Stdout != "42\n" {
			t.Fatalf("second process: %q, want 42", r.Stdout)
		}
		if r := m.Run("has", "-t", "web1"); r.Code != 0 {
			t.Fatalf("has web1: %d", r.Code)
		}
		if r := m.Run("has", "-t", "web9"); r.Code != 1 {
			t.Fatalf("has web9: %d, want 1", r.Code)
		}
		if r := m.Run("exec", "-t", "web9", "--", "1"); r.Code != e2e.ExitUsage || !strings.Contains(r.Stderr, "can't find session: web9") {
			t.Fatalf("exec web9: %d %q", r.Code, r.Stderr)
		}
	})
}

// TestAsyncBusyAndSyncWait holds an async command until the test creates
// a file: meanwhile a second async command is refused with PowerShell's
// busy text and a synchronous one, seen arriving in the server's trace,
// waits for the first to end before it runs.
func TestAsyncBusyAndSyncWait(t *testing.T) {
	opensshd.Require(t)
	e2e.EachSubsystem(t, func(t *testing.T, server, sub string) {
		sshd := e2e.StartSshd(t, sub)
		m := e2e.NewMuxEnv(t)
		log := m.Serve("--trace", t.TempDir())
		m.Must("new", "-n", "web1", "-F", sshd.SSHConfig, sshd.Alias)
		release := filepath.Join(t.TempDir(), "release")
		held := fmt.Sprintf("while (-not (Test-Path '%s')) { Start-Sleep -Milliseconds 50 }; 'released'", release)
		r := m.Must("exec", "--async", "-t", "web1", "--", held)
		if !strings.Contains(r.Stdout, "job 1 started") {
			t.Fatalf("async: %q", r.Stdout)
		}
		r = m.Run("exec", "--async", "-t", "web1", "--", "1")
		if r.Code != e2e.ExitBusy || !strings.Contains(r.Stderr, "a pipeline is already running") {
			t.Fatalf("second async: exit %d, stderr %q; want 5 and PowerShell's busy text", r.Code, r.Stderr)
		}
		if rows := m.Ls(); rows[0].Availability != "Busy" {
			t.Fatalf("availability while running: %s", rows[0].Availability)
		}
		waiting := m.Cmd("exec", "-t", "web1", "--", "'after'")
		var out, errb bytes.Buffer
		waiting.Stdout, waiting.Stderr = &out, &errb
		if err := waiting.Start(); err != nil {
			t.Fatal(err)
		}
		log.WaitFor(t, "'after'") // the synchronous exec reached the server while job 1 runs
		if err := os.WriteFile(release, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := waiting.Wait(); err != nil || out.String() != "after\n" {
			t.Fatalf("sync exec: %v, stdout %q, stderr %q", err, out.String(), errb.String())
		}
		var jobs []mux.JobInfo
		json.Unmarshal([]byte(m.Must("jobs", "-t", "web1", "--json").Stdout), &jobs)
		if len(jobs) < 2 || jobs[0].State != "Completed" || jobs[0].End.After(jobs[len(jobs)-1].Start) {
			t.Fatalf("jobs %+v: the synchronous command must start after the async one ended", jobs)
		}
		if r := m.Must("capture", "-t", "web1", "--job", "1"); !strings.Contains(r.Stdout, "released") {
			t.Fatalf("capture --job 1: %q", r.Stdout)
		}
	})
}

func TestCaptureKeepsOutputWithNoClient(t *testing.T) {
	opensshd.Require(t)
	e2e.EachSubsystem(t, func(t *testing.T, server, sub string) {
		sshd := e2e.StartSshd(t, sub)
		m := e2e.NewMuxEnv(t)
		m.Must("new", "-n", "web1", "-F", sshd.SSHConfig, sshd.Alias)
		total := 100000
		if server != "pwshsim" { // real pwsh sends each number as a message of its own: slower
			total = 5000
		}
		m.Must("exec", "--async", "-t", "web1", "--", fmt.Sprintf("1..%d", total))
		m.Must("exec", "-t", "web1", "--", "'done'") // waits for the job
		r := m.Must("capture", "-t", "web1")
		var nums []int
		for _, l := range strings.Split(r.Stdout, "\n") {
			if n, err := strconv.Atoi(strings.TrimSpace(l)); err == nil {
				nums = append(nums, n)
			}
		}
		if len(nums) != total {
			t.Fatalf("capture has %d numbers, want %d", len(nums), total)
		}
		for i, n := range nums {
			if n != i+1 {
				t.Fatalf("line %d is %d: out of order", i, n)
			}
		}
	})
}

func TestAttachResumesAfterSIGKILL(t *testing.T) {
	opensshd.Require(t)
	e2e.EachSubsystem(t, func(t *testing.T, server, sub string) {
		sshd := e2e.StartSshd(t, sub)
		m := e2e.NewMuxEnv(t)
		m.NewSSH(sshd, "web1")
		total, mid := 20000, 5000
		if server != "pwshsim" {
			total, mid = 4000, 1000
		}
		m.Must("exec", "--async", "-t", "web1", "--", fmt.Sprintf("1..%d", total))
		m.Must("exec", "-t", "web1", "--", "'end'")
		a := m.Attach("-t", "web1")
		last := 0
		a.Until(t, fmt.Sprintf("line %d", mid), func(l string) bool {
			if n, err := strconv.Atoi(l); err == nil {
				if n != last+1 {
					t.Fatalf("first client: %d after %d", n, last)
				}
				last = n
			}
			return last >= mid
		})
		a.Cmd.Process.Signal(syscall.SIGKILL)
		// what the first client printed before it died, read to the end
		for a.Out.Scan() {
			if n, err := strconv.Atoi(a.Out.Text()); err == nil {
				if n != last+1 {
					t.Fatalf("first client: %d after %d", n, last)
				}
				last = n
			}
		}
		a.Wait()
		if rows := m.Ls(); rows[0].State != "Opened" {
			t.Fatalf("session after the client died: %+v", rows[0])
		}
		b := m.Attach("-t", "web1")
		first := 0
		prev := 0
		b.Until(t, "the end", func(l string) bool {
			if n, err := strconv.Atoi(l); err == nil {
				if first == 0 {
					first = n
				} else if n != prev+1 {
					t.Fatalf("second client: %d after %d", n, prev)
				}
				prev = n
			}
			return l == "end"
		})
		// The server writes what the client prints and acknowledges it in
		// the same step, so the resume point is exactly the event after
		// the last one that reached the first client's stdout, wherever
		// the kill fell: nothing twice, nothing missing.
		if first != last+1 || prev != total {
			t.Fatalf("second client started at %d and ended at %d; the first client printed up to %d: want %d..%d", first, prev, last, last+1, total)
		}
		b.Stdin.Close()
	})
}

func TestTwoClientsReadOnlyAndDetachOthers(t *testing.T) {
	opensshd.Require(t)
	e2e.EachSubsystem(t, func(t *testing.T, server, sub string) {
		sshd := e2e.StartSshd(t, sub)
		m := e2e.NewMuxEnv(t)
		m.NewSSH(sshd, "web1")
		a := m.Attach("-t", "web1")
		// --since 1: the read-only client sees the whole log, whenever it
		// gets attached.
		ro := m.Attach("-t", "web1", "-r", "--since", "1")
		fmt.Fprintln(a.Stdin, "'from a'")
		a.Until(t, "a's own output", func(l string) bool { return l == "from a" })
		ro.Until(t, "a's output on the read-only client", func(l string) bool { return l == "from a" })
		fmt.Fprintln(ro.Stdin, "'from ro'")
		ro.Stdin.Close()
		ro.Wait()
		// the server's refusal (mux.CodeReadOnly), not the client's own
		if !strings.Contains(ro.Errb.String(), "this client is attached read-only (-r) and cannot run commands") {
			t.Fatalf("read-only client stderr %q: want the server's refusal", ro.Errb.String())
		}
		d := m.Attach("-t", "web1", "-d")
		if err := a.Wait(); err != nil {
			t.Fatalf("detached client exit: %v", err)
		}
		if !strings.Contains(a.Errb.String(), "[detached (from session web1)]") {
			t.Fatalf("detached client said %q", a.Errb.String())
		}
		fmt.Fprintln(d.Stdin, "'from d'")
		d.Until(t, "d's output", func(l string) bool { return l == "from d" })
		if r := m.Must("capture", "-t", "web1"); strings.Contains(r.Stdout, "from ro") {
			t.Fatalf("the read-only client ran a command: %q", r.Stdout)
		}
	})
}

func TestServerKill9AndRestore(t *testing.T) {
	opensshd.Require(t)
	e2e.EachSubsystem(t, func(t *testing.T, server, sub string) {
		sshd := e2e.StartSshd(t, sub)
		m := e2e.NewMuxEnv(t)
		m.NewSSH(sshd, "keep", "--init", "$greeting = 'restored'")
		// "gone" reaches the host through a proxy that is gone after the restart.
		proxy, err := faultproxy.New(sshd.Addr)
		if err != nil {
			t.Fatal(err)
		}
		kh := filepath.Join(t.TempDir(), "known_hosts")
		os.WriteFile(kh, []byte(knownhosts.Line([]string{knownhosts.Normalize(proxy.Addr())}, sshd.HostKey)+"\n"), 0o600)
		m.NewSSH(sshd, "gone", "-p", strconv.Itoa(proxy.Port()), "-o", "UserKnownHostsFile="+kh)
		a := m.Attach("-t", "keep", "--since", "1")
		a.Until(t, "the attach to start", func(l string) bool { return strings.Contains(l, "$greeting") })
		pid := m.ServerPID()
		syscall.Kill(pid, syscall.SIGKILL)
		proxy.Close()
		if err := a.Wait(); err == nil {
			t.Fatal("the attached client exited 0 after the server died")
		}
		if !strings.Contains(a.Errb.String(), "lost the server") {
			t.Fatalf("attached client said %q", a.Errb.String())
		}
		e2e.WaitGone(t, pid)   // its socket may outlive the connection the client saw close
		m.Must("start-server") // a new server, which restores the registry
		rows := m.Ls()
		if len(rows) != 2 {
			t.Fatalf("after restart: %+v", rows)
		}
		for _, r := range rows {
			if r.Name == "gone" && r.State != "Broken" && r.State != "Opening" {
				t.Fatalf("gone: %+v, want Broken with the reason", r)
			}
		}
		// The restored session reopens in the background; a command waits for it.
		r := m.Must("exec", "-t", "keep", "--", "$greeting")
		if r.Stdout != "restored\n" {
			t.Fatalf("init script after restore: %q", r.Stdout)
		}
		// "gone" failed to reopen: Broken, with the reason, once its reopen
		// has run; exec says it is broken.
		if r := m.Run("exec", "-t", "gone", "--", "1"); r.Code != e2e.ExitConnect || !strings.Contains(r.Stderr, "closed or broken") {
			t.Fatalf("exec on the broken session: %d %q", r.Code, r.Stderr)
		}
		for _, r := range m.Ls() {
			if r.Name == "gone" && (r.State != "Broken" || r.Reason == "") {
				t.Fatalf("gone after restore: %+v, want Broken with a reason", r)
			}
		}
	})
}

// TestBlockPolicyBoundedAndLossless runs a command that prints far more
// than the session's 1 MiB budget while a client reads: every line arrives,
// in order, and the server grows by less than the budget plus 64 MiB. With
// pwshsim the default run prints 100 MiB (enough to break the bound if the
// log kept it all) and PSMUX_LONG=1 prints 1 GB; real pwsh prints 2 MiB,
// for the fidelity of its output (the bound is pwshsim's to check).
func TestBlockPolicyBoundedAndLossless(t *testing.T) {
	opensshd.Require(t)
	e2e.EachSubsystem(t, func(t *testing.T, server, sub string) {
		lines := 100000 // ~100 MiB
		if e2e.Long() {
			lines = 1000000 // 1 GB
		}
		if server != "pwshsim" {
			lines = 2000
		}
		sshd := e2e.StartSshd(t, sub)
		m := e2e.NewMuxEnv(t)
		const budget = 1 << 20
		m.NewSSH(sshd, "big", "--policy", "Block", "--budget", strconv.Itoa(budget))
		base := e2e.VmRSS(t, m.ServerPID())
		a := m.Attach("-t", "big")
		m.Must("exec", "--async", "-t", "big", "--", fmt.Sprintf("1..%d | %% { \"$_ \" + ('x' * 1000) }; 'end'", lines))
		n := 0
		pad := strings.Repeat("x", 1000)
		a.Until(t, "the end", func(l string) bool {
			if l == "end" {
				return true
			}
			if strings.HasPrefix(l, "[big]: PS") {
				return false
			}
			n++
			if want := strconv.Itoa(n) + " " + pad; l != want {
				t.Fatalf("line %d: %.40q…; lost or reordered output", n, l)
			}
			return false
		})
		if n != lines {
			t.Fatalf("got %d lines, want %d", n, lines)
		}
		hwm := e2e.VmHWM(t, m.ServerPID())
		t.Logf("server RSS %d MiB with the session open, peak %d MiB after %d MiB of output with a %d MiB budget", base>>20, hwm>>20, (lines*1006)>>20, budget>>20)
		if server == "pwshsim" && hwm-base > budget+64<<20 {
			t.Fatalf("the server grew by %d MiB, want under budget + 64 MiB", (hwm-base)>>20)
		}
	})
}

func TestDropPolicyCountsDropped(t *testing.T) {
	opensshd.Require(t)
	e2e.EachSubsystem(t, func(t *testing.T, server, sub string) {
		sshd := e2e.StartSshd(t, sub)
		m := e2e.NewMuxEnv(t)
		m.NewSSH(sshd, "drop", "--policy", "Drop", "--budget", "65536")
		total := 20000
		if server != "pwshsim" {
			total = 3000
		}
		m.Must("exec", "--async", "-t", "drop", "--", fmt.Sprintf("1..%d", total))
		m.Must("exec", "-t", "drop", "--", "'done'")
		rows := m.Ls()
		if rows[0].Dropped == 0 {
			t.Fatalf("ls shows no dropped events: %+v", rows[0])
		}
		r := m.Must("capture", "-t", "drop")
		if !strings.Contains(r.Stderr, "events were dropped") || !strings.Contains(r.Stdout, strconv.Itoa(total)) {
			t.Fatalf("capture: stderr %q, tail of stdout %q", r.Stderr, r.Stdout[max(0, len(r.Stdout)-100):])
		}
	})
}

// TestBrokenOnResetWhileOthersAnswer resets one session's connection
// while others on the same host keep answering: 10 of them on pwshsim, 2
// on real pwsh (each real pwsh is a process of its own).
func TestBrokenOnResetWhileOthersAnswer(t *testing.T) {
	opensshd.Require(t)
	e2e.EachSubsystem(t, func(t *testing.T, server, sub string) {
		others := 10
		if server != "pwshsim" {
			others = 2
		}
		sshd := e2e.StartSshd(t, sub, "MaxSessions 50")
		proxy, kh := e2e.Proxied(t, sshd)
		m := e2e.NewMuxEnv(t)
		keep := []string{"-o", "ServerAliveInterval=1", "-o", "ServerAliveCountMax=3"}
		m.Must(append(append([]string{"new", "-n", "flaky", "--init", "$inited = 'yes'", "-F", sshd.SSHConfig, "-p", strconv.Itoa(proxy.Port()),
			"-o", "UserKnownHostsFile=" + kh}, keep...), sshd.Alias)...)
		var news [][]string
		for i := range others {
			news = append(news, append(append([]string{"new", "-n", fmt.Sprintf("ok%d", i), "-F", sshd.SSHConfig}, keep...), sshd.Alias))
		}
		m.MustAll(news)
		m.Must("exec", "-t", "flaky", "--", "$inited = 'changed'")
		a := m.Attach("-t", "flaky")
		proxy.ResetAll()
		// The attached client sees the session break.
		a.WaitErr(t, "Broken")
		a.Stdin.Close()
		for _, r := range m.Ls() {
			if r.Name == "flaky" && (r.State != "Broken" || r.Reason == "") {
				t.Fatalf("flaky: %+v", r)
			}
		}
		r := m.Run("exec", "-t", "ok*", "--", "'alive'")
		if r.Code != 0 || strings.Count(r.Stdout, "alive") != others || strings.Count(r.Stderr, "Completed") != others {
			t.Fatalf("the other sessions: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
		}
		if r := m.Run("exec", "-t", "flaky", "--", "1"); r.Code != e2e.ExitConnect {
			t.Fatalf("exec on the Broken session: %d %q", r.Code, r.Stderr)
		}
		r = m.Must("reconnect", "-t", "flaky")
		if !strings.Contains(r.Stderr, "state from before are gone") {
			t.Fatalf("reconnect said %q", r.Stderr)
		}
		if r := m.Must("exec", "-t", "flaky", "--", "$inited"); r.Stdout != "yes\n" {
			t.Fatalf("after reconnect the init script ran? $inited = %q", r.Stdout)
		}
	})
}

func TestUnsafeSocketDirRefused(t *testing.T) {
	base := t.TempDir()
	world := filepath.Join(base, "world")
	os.Mkdir(world, 0o777)
	os.Chmod(world, 0o777)
	link := filepath.Join(base, "link")
	safe := filepath.Join(base, "safe")
	os.Mkdir(safe, 0o700)
	os.Symlink(safe, link)
	for _, dir := range []string{world, link} {
		cmd := e2e.Command(e2e.PsmuxBin(), "-S", filepath.Join(dir, "s"), "server", "--foreground")
		cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+filepath.Join(base, "state"))
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), dir) {
			t.Fatalf("server on %s: %v %q; want a refusal naming the directory and why", dir, err, out)
		}
		t.Logf("%s: %s", filepath.Base(dir), strings.TrimSpace(string(out)))
	}
}

func TestIdleSessionClosed(t *testing.T) {
	opensshd.Require(t)
	e2e.EachSubsystem(t, func(t *testing.T, server, sub string) {
		sshd := e2e.StartSshd(t, sub)
		m := e2e.NewMuxEnv(t)
		log := m.Serve("--idle-check", "100ms")
		// Two sessions with the same IdleTimeout that must not close: one
		// with a client attached, one running a command (held on a file).
		// They are set up before sleepy is created, so when sleepy's
		// timeout fires theirs would have too. (6 s: long enough for the
		// client and the command to arrive after their session opened,
		// on a loaded machine too.)
		m.NewSSH(sshd, "attached", "--idle-timeout", "6s")
		a := m.Attach("-t", "attached")
		m.WaitAttached("attached", 1)
		m.NewSSH(sshd, "running", "--idle-timeout", "6s")
		release := filepath.Join(t.TempDir(), "release")
		m.Must("exec", "--async", "-t", "running", "--", fmt.Sprintf("while (-not (Test-Path '%s')) { Start-Sleep -Milliseconds 50 }", release))
		m.NewSSH(sshd, "sleepy", "--idle-timeout", "6s")
		m.NewSSH(sshd, "awake")
		if l := log.WaitFor(t, "IdleTimeout"); !strings.Contains(l, "session sleepy (") {
			t.Fatalf("the first idle close: %q; want sleepy's", l)
		}
		state := func() map[string]string {
			out := map[string]string{}
			for _, r := range m.Ls() {
				out[r.Name] = r.State
			}
			return out
		}
		st := state()
		if st["attached"] != "Opened" || st["running"] != "Opened" || st["awake"] != "Opened" || (st["sleepy"] != "Closed" && st["sleepy"] != "Closing") {
			t.Fatalf("after sleepy's idle timeout: %v; want attached, running and awake Opened", st)
		}
		// Once the client leaves and the command ends, they close too.
		a.Stdin.Close()
		a.Wait()
		if err := os.WriteFile(release, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		closed := map[string]bool{}
		for range 2 {
			l := log.WaitFor(t, "IdleTimeout")
			for _, n := range []string{"attached", "running"} {
				if strings.Contains(l, "session "+n+" (") {
					closed[n] = true
				}
			}
		}
		if !closed["attached"] || !closed["running"] {
			t.Fatalf("idle closes after the client left and the command ended: %v", closed)
		}
		if st := state(); st["awake"] != "Opened" {
			t.Fatalf("awake (no IdleTimeout set below the default) is %q", st["awake"])
		}
	})
}

// TestExecFanOutFiftySessions runs one command in 50 sessions matched by
// a pattern: 50 on pwshsim, 3 on real pwsh (a process each).
func TestExecFanOutFiftySessions(t *testing.T) {
	opensshd.Require(t)
	e2e.EachSubsystem(t, func(t *testing.T, server, sub string) {
		n := 50
		if server != "pwshsim" {
			n = 3
		}
		sshd := e2e.StartSshd(t, sub, "MaxSessions 60")
		m := e2e.NewMuxEnv(t)
		news := [][]string{{"new", "-n", "db", "-F", sshd.SSHConfig, sshd.Alias}}
		for i := range n {
			news = append(news, []string{"new", "-n", fmt.Sprintf("web%02d", i), "-F", sshd.SSHConfig, sshd.Alias})
		}
		m.MustAll(news)
		r := m.Run("exec", "-t", "web*", "--", "$PSVersionTable.PSVersion.Major")
		if r.Code != 0 {
			t.Fatalf("exit %d\n%s", r.Code, r.Stderr)
		}
		for i := range n {
			name := fmt.Sprintf("web%02d", i)
			if !strings.Contains(r.Stdout, "["+name+"] 7\n") || !strings.Contains(r.Stderr, "["+name+"] Completed in ") {
				t.Fatalf("%s: no output or summary\nstdout %s\nstderr %s", name, r.Stdout, r.Stderr)
			}
		}
		if strings.Contains(r.Stdout+r.Stderr, "[db]") {
			t.Fatal("db matched web*")
		}
		if c := strings.Count(r.Stderr, "Completed in "); c != n {
			t.Fatalf("%d summary lines, want %d", c, n)
		}
	})
}

func TestAttachViaSSH(t *testing.T) {
	opensshd.Require(t)
	sshd := e2e.StartSshd(t, e2e.SubsystemCommand(t))
	remote := e2e.NewMuxEnv(t) // the server "on the other host": another socket
	remote.NewSSH(sshd, "far")
	remote.Must("exec", "-t", "far", "--", "'hello from far'")
	local := e2e.NewMuxEnv(t)
	proxyCmd := fmt.Sprintf("env XDG_STATE_HOME=%s %s -S %s proxy", remote.State, e2e.PsmuxBin(), remote.Sock)
	a := local.Attach("-t", "far", "--since", "1", "--via", sshd.Alias, "-F", sshd.SSHConfig, "--exec", proxyCmd)
	a.Until(t, "the remote session's output", func(l string) bool { return l == "hello from far" })
	fmt.Fprintln(a.Stdin, "'typed here'")
	a.Until(t, "a command run through the tunnel", func(l string) bool { return l == "typed here" })
	// attach -d on the far server detaches the --via client too, which
	// says so as tmux's client does
	remote.WaitAttached("far", 1)
	d := remote.Attach("-d", "-t", "far")
	a.WaitErr(t, "[detached (from session far)]")
	if err := a.Wait(); err != nil {
		t.Fatalf("the --via client detached by attach -d: %v (stderr %q)", err, a.Errb.String())
	}
	fmt.Fprintln(d.Stdin, "'from d'")
	d.Until(t, "d's output", func(l string) bool { return l == "from d" })
	d.Stdin.Close()
	d.Wait()
}

func TestCpOverSessionConnection(t *testing.T) {
	opensshd.Require(t)
	sshd := e2e.StartSshd(t, e2e.SubsystemCommand(t))
	m := e2e.NewMuxEnv(t)
	m.NewSSH(sshd, "web1")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	data := bytes.Repeat([]byte("psmux\x00\xff"), 1<<16)
	os.WriteFile(src, data, 0o600)
	remote := filepath.Join(t.TempDir(), "remote")
	m.Must("cp", src, "web1:"+remote)
	back := filepath.Join(dir, "back")
	m.Must("cp", "web1:"+remote, back)
	for _, p := range []string{remote, back} {
		if got, _ := os.ReadFile(p); !bytes.Equal(got, data) {
			t.Fatalf("%s differs", p)
		}
	}
}
