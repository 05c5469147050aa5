package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/psmux/psmux/mux"
	"github.com/psmux/psmux/testenv/faultproxy"
	"github.com/psmux/psmux/testenv/opensshd"
	"github.com/psmux/psmux/testenv/reap"
	"golang.org/x/crypto/ssh/knownhosts"
)

// End-to-end tests of the server: the real psmux binary as client and
// server, sessions on Debian's real sshd (pwshsim behind "Subsystem
// powershell"), or local pwshsim processes where the host does not
// matter.

// muxEnv is one server's world: its socket and state directory.
type muxEnv struct {
	t     *testing.T
	sock  string
	state string
	env   []string
}

func newMuxEnv(t *testing.T) *muxEnv {
	t.Helper()
	dir, err := os.MkdirTemp("", "psmux-mux")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o700)
	m := &muxEnv{t: t, sock: filepath.Join(dir, "s"), state: filepath.Join(dir, "state")}
	m.env = []string{"XDG_STATE_HOME=" + m.state, "PSMUX_SOCKET=", "XDG_RUNTIME_DIR="}
	t.Cleanup(func() {
		m.run("kill-server")
		reap.KillMentioning(m.sock) // a server that did not go (it runs in a session of its own)
		os.RemoveAll(dir)
	})
	return m
}

func (m *muxEnv) cmd(args ...string) *exec.Cmd {
	cmd := command(psmuxBin(), append([]string{"-S", m.sock}, args...)...)
	cmd.Env = append(os.Environ(), m.env...)
	return cmd
}

func (m *muxEnv) run(args ...string) result {
	m.t.Helper()
	cmd := m.cmd(args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		m.t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

func (m *muxEnv) must(args ...string) result {
	m.t.Helper()
	r := m.run(args...)
	if r.code != 0 {
		m.t.Fatalf("psmux %q: exit %d, stdout %q, stderr %q\nserver log:\n%s", args, r.code, r.stdout, r.stderr, m.log())
	}
	return r
}

func (m *muxEnv) log() string {
	matches, _ := filepath.Glob(filepath.Join(m.state, "psmux", "*", "server.log"))
	var b strings.Builder
	for _, p := range matches {
		data, _ := os.ReadFile(p)
		b.Write(data)
	}
	return b.String()
}

func (m *muxEnv) ls() []mux.Info {
	m.t.Helper()
	r := m.must("ls", "--json")
	var rows []mux.Info
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		m.t.Fatalf("ls --json: %v: %q", err, r.stdout)
	}
	return rows
}

func (m *muxEnv) serverPID() int {
	m.t.Helper()
	re := regexp.MustCompile(`listening on .* \(pid (\d+)\)`)
	all := re.FindAllStringSubmatch(m.log(), -1)
	if len(all) == 0 {
		m.t.Fatalf("no server pid in the log:\n%s", m.log())
	}
	pid, _ := strconv.Atoi(all[len(all)-1][1])
	return pid
}

// mustAll runs `psmux ARGS` for each args, up to 8 at a time (as many
// users would), and fails on the first that fails.
func (m *muxEnv) mustAll(all [][]string) {
	m.t.Helper()
	res := make([]result, len(all))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, args := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			cmd := m.cmd(args...)
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			err := cmd.Run()
			res[i] = result{code: cmd.ProcessState.ExitCode(), stdout: out.String(), stderr: errb.String()}
			if err != nil && res[i].stderr == "" {
				res[i].stderr = err.Error()
			}
		}()
	}
	wg.Wait()
	for i, r := range res {
		if r.code != 0 {
			m.t.Fatalf("psmux %q: exit %d, stdout %q, stderr %q\nserver log:\n%s", all[i], r.code, r.stdout, r.stderr, m.log())
		}
	}
}

// newSSH opens a session on sshd (real OpenSSH, pwshsim behind its
// powershell subsystem).
func (m *muxEnv) newSSH(sshd *opensshd.Sshd, name string, extra ...string) {
	m.t.Helper()
	m.must(append(append([]string{"new", "-n", name}, extra...), "-F", sshd.SSHConfig, sshd.Alias)...)
}

func TestServerNewLsExecAcrossProcesses(t *testing.T) {
	opensshd.Require(t)
	eachSubsystem(t, func(t *testing.T, server, sub string) {
		sshd := startSshd(t, sub)
		m := newMuxEnv(t)
		r := m.must("new", "-n", "web1", "-F", sshd.SSHConfig, sshd.Alias)
		if !strings.Contains(r.stdout, "web1") || !strings.Contains(r.stdout, "Opened") || !strings.Contains(r.stdout, "Available") {
			t.Fatalf("new printed %q; want the row with State Opened", r.stdout)
		}
		rows := m.ls()
		if len(rows) != 1 {
			t.Fatalf("ls: %+v", rows)
		}
		row := rows[0]
		if row.ID != 1 || row.Name != "web1" || row.InstanceID == "" || row.ComputerName != sshd.Alias || row.State != "Opened" ||
			row.Availability != "Available" || row.Transport != "SSH" {
			t.Fatalf("ls --json row %+v", row)
		}
		raw := m.must("ls", "--json").stdout
		for _, key := range []string{`"Id"`, `"Name"`, `"InstanceId"`, `"ComputerName"`, `"State"`, `"Availability"`} {
			if !strings.Contains(raw, key) {
				t.Fatalf("ls --json lacks %s: %s", key, raw)
			}
		}
		m.must("exec", "-t", "web1", "--", "$x = 42")
		if r := m.must("exec", "-t", "web1", "--", "$x"); r.stdout != "42\n" {
			t.Fatalf("second process: %q, want 42", r.stdout)
		}
		if r := m.run("has", "-t", "web1"); r.code != 0 {
			t.Fatalf("has web1: %d", r.code)
		}
		if r := m.run("has", "-t", "web9"); r.code != 1 {
			t.Fatalf("has web9: %d, want 1", r.code)
		}
		if r := m.run("exec", "-t", "web9", "--", "1"); r.code != exitUsage || !strings.Contains(r.stderr, "can't find session: web9") {
			t.Fatalf("exec web9: %d %q", r.code, r.stderr)
		}
	})
}

// TestAsyncBusyAndSyncWait holds an async command until the test creates
// a file: meanwhile a second async command is refused with PowerShell's
// busy text and a synchronous one, seen arriving in the server's trace,
// waits for the first to end before it runs.
func TestAsyncBusyAndSyncWait(t *testing.T) {
	opensshd.Require(t)
	eachSubsystem(t, func(t *testing.T, server, sub string) {
		sshd := startSshd(t, sub)
		m := newMuxEnv(t)
		log := m.serve("--trace", t.TempDir())
		m.must("new", "-n", "web1", "-F", sshd.SSHConfig, sshd.Alias)
		release := filepath.Join(t.TempDir(), "release")
		held := fmt.Sprintf("while (-not (Test-Path '%s')) { Start-Sleep -Milliseconds 50 }; 'released'", release)
		r := m.must("exec", "--async", "-t", "web1", "--", held)
		if !strings.Contains(r.stdout, "job 1 started") {
			t.Fatalf("async: %q", r.stdout)
		}
		r = m.run("exec", "--async", "-t", "web1", "--", "1")
		if r.code != exitBusy || !strings.Contains(r.stderr, "a pipeline is already running") {
			t.Fatalf("second async: exit %d, stderr %q; want 5 and PowerShell's busy text", r.code, r.stderr)
		}
		if rows := m.ls(); rows[0].Availability != "Busy" {
			t.Fatalf("availability while running: %s", rows[0].Availability)
		}
		waiting := m.cmd("exec", "-t", "web1", "--", "'after'")
		var out, errb bytes.Buffer
		waiting.Stdout, waiting.Stderr = &out, &errb
		if err := waiting.Start(); err != nil {
			t.Fatal(err)
		}
		log.waitFor(t, "'after'") // the synchronous exec reached the server while job 1 runs
		if err := os.WriteFile(release, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := waiting.Wait(); err != nil || out.String() != "after\n" {
			t.Fatalf("sync exec: %v, stdout %q, stderr %q", err, out.String(), errb.String())
		}
		var jobs []mux.JobInfo
		json.Unmarshal([]byte(m.must("jobs", "-t", "web1", "--json").stdout), &jobs)
		if len(jobs) < 2 || jobs[0].State != "Completed" || jobs[0].End.After(jobs[len(jobs)-1].Start) {
			t.Fatalf("jobs %+v: the synchronous command must start after the async one ended", jobs)
		}
		if r := m.must("capture", "-t", "web1", "--job", "1"); !strings.Contains(r.stdout, "released") {
			t.Fatalf("capture --job 1: %q", r.stdout)
		}
	})
}

func TestCaptureKeepsOutputWithNoClient(t *testing.T) {
	opensshd.Require(t)
	eachSubsystem(t, func(t *testing.T, server, sub string) {
		sshd := startSshd(t, sub)
		m := newMuxEnv(t)
		m.must("new", "-n", "web1", "-F", sshd.SSHConfig, sshd.Alias)
		total := 100000
		if server != "pwshsim" { // real pwsh sends each number as a message of its own: slower
			total = 5000
		}
		m.must("exec", "--async", "-t", "web1", "--", fmt.Sprintf("1..%d", total))
		m.must("exec", "-t", "web1", "--", "'done'") // waits for the job
		r := m.must("capture", "-t", "web1")
		var nums []int
		for _, l := range strings.Split(r.stdout, "\n") {
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

// attacher is a running `psmux attach` whose output the test reads.
type attacher struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	out     *bufio.Scanner
	errb    *lockedBuffer
	errLine chan string // stderr, a line at a time; closed at its end
	errDone chan struct{}
}

// wait waits for the client to exit, stderr read to its end.
func (a *attacher) wait() error {
	<-a.errDone
	return a.cmd.Wait()
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitErr reads stderr lines until one contains s.
func (a *attacher) waitErr(t *testing.T, s string) {
	t.Helper()
	for l := range a.errLine {
		if strings.Contains(l, s) {
			return
		}
	}
	t.Fatalf("attach stderr ended without %q: %q", s, a.errb.String())
}

func (m *muxEnv) attach(args ...string) *attacher {
	m.t.Helper()
	cmd := m.cmd(append([]string{"attach"}, args...)...)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	a := &attacher{cmd: cmd, stdin: stdin, errb: &lockedBuffer{}, errLine: make(chan string, 1024)}
	if err := cmd.Start(); err != nil {
		m.t.Fatal(err)
	}
	errDone := make(chan struct{})
	a.errDone = errDone
	go func() {
		defer close(errDone)
		defer close(a.errLine)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			a.errb.Write(append(sc.Bytes(), '\n'))
			select {
			case a.errLine <- sc.Text():
			default: // nobody is waiting for stderr lines; the buffer keeps them
			}
		}
	}()
	m.t.Cleanup(func() { reap.KillGroup(cmd); <-errDone; cmd.Wait() })
	a.out = bufio.NewScanner(stdout)
	a.out.Buffer(make([]byte, 64<<10), 4<<20)
	return a
}

// until reads lines until one satisfies ok; it fails at EOF.
func (a *attacher) until(t *testing.T, what string, ok func(string) bool) string {
	t.Helper()
	for a.out.Scan() {
		if ok(a.out.Text()) {
			return a.out.Text()
		}
	}
	t.Fatalf("attach output ended before %s; stderr %q", what, a.errb.String())
	return ""
}

func TestAttachResumesAfterSIGKILL(t *testing.T) {
	opensshd.Require(t)
	eachSubsystem(t, func(t *testing.T, server, sub string) {
		sshd := startSshd(t, sub)
		m := newMuxEnv(t)
		m.newSSH(sshd, "web1")
		total, mid := 20000, 5000
		if server != "pwshsim" {
			total, mid = 4000, 1000
		}
		m.must("exec", "--async", "-t", "web1", "--", fmt.Sprintf("1..%d", total))
		m.must("exec", "-t", "web1", "--", "'end'")
		a := m.attach("-t", "web1")
		last := 0
		a.until(t, fmt.Sprintf("line %d", mid), func(l string) bool {
			if n, err := strconv.Atoi(l); err == nil {
				if n != last+1 {
					t.Fatalf("first client: %d after %d", n, last)
				}
				last = n
			}
			return last >= mid
		})
		a.cmd.Process.Signal(syscall.SIGKILL)
		// what the first client printed before it died, read to the end
		for a.out.Scan() {
			if n, err := strconv.Atoi(a.out.Text()); err == nil {
				if n != last+1 {
					t.Fatalf("first client: %d after %d", n, last)
				}
				last = n
			}
		}
		a.wait()
		if rows := m.ls(); rows[0].State != "Opened" {
			t.Fatalf("session after the client died: %+v", rows[0])
		}
		b := m.attach("-t", "web1")
		first := 0
		prev := 0
		b.until(t, "the end", func(l string) bool {
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
		// A client acknowledges each event right after printing it, so the
		// resume point is the event after the last one it printed; only the
		// one event printed in the instant before SIGKILL, before its
		// acknowledgement left, can be shown again.
		if (first != last+1 && first != last) || prev != total {
			t.Fatalf("second client started at %d and ended at %d; the first client printed up to %d: want %d..%d (or %d.. when the kill fell between printing and acknowledging), nothing missing", first, prev, last, last+1, total, last)
		}
		b.stdin.Close()
	})
}

func TestTwoClientsReadOnlyAndDetachOthers(t *testing.T) {
	opensshd.Require(t)
	eachSubsystem(t, func(t *testing.T, server, sub string) {
		sshd := startSshd(t, sub)
		m := newMuxEnv(t)
		m.newSSH(sshd, "web1")
		a := m.attach("-t", "web1")
		// --since 1: the read-only client sees the whole log, whenever it
		// gets attached.
		ro := m.attach("-t", "web1", "-r", "--since", "1")
		fmt.Fprintln(a.stdin, "'from a'")
		a.until(t, "a's own output", func(l string) bool { return l == "from a" })
		ro.until(t, "a's output on the read-only client", func(l string) bool { return l == "from a" })
		fmt.Fprintln(ro.stdin, "'from ro'")
		ro.stdin.Close()
		ro.wait()
		if !strings.Contains(ro.errb.String(), "read-only") {
			t.Fatalf("read-only client stderr %q", ro.errb.String())
		}
		d := m.attach("-t", "web1", "-d")
		if err := a.wait(); err != nil {
			t.Fatalf("detached client exit: %v", err)
		}
		if !strings.Contains(a.errb.String(), "[detached (from session web1)]") {
			t.Fatalf("detached client said %q", a.errb.String())
		}
		fmt.Fprintln(d.stdin, "'from d'")
		d.until(t, "d's output", func(l string) bool { return l == "from d" })
		if r := m.must("capture", "-t", "web1"); strings.Contains(r.stdout, "from ro") {
			t.Fatalf("the read-only client ran a command: %q", r.stdout)
		}
	})
}

func TestServerKill9AndRestore(t *testing.T) {
	opensshd.Require(t)
	eachSubsystem(t, func(t *testing.T, server, sub string) {
		sshd := startSshd(t, sub)
		m := newMuxEnv(t)
		m.newSSH(sshd, "keep", "--init", "$greeting = 'restored'")
		// "gone" reaches the host through a proxy that is gone after the restart.
		proxy, err := faultproxy.New(sshd.Addr)
		if err != nil {
			t.Fatal(err)
		}
		kh := filepath.Join(t.TempDir(), "known_hosts")
		os.WriteFile(kh, []byte(knownhosts.Line([]string{knownhosts.Normalize(proxy.Addr())}, sshd.HostKey)+"\n"), 0o600)
		m.newSSH(sshd, "gone", "-p", strconv.Itoa(proxy.Port()), "-o", "UserKnownHostsFile="+kh)
		a := m.attach("-t", "keep", "--since", "1")
		a.until(t, "the attach to start", func(l string) bool { return strings.Contains(l, "$greeting") })
		pid := m.serverPID()
		syscall.Kill(pid, syscall.SIGKILL)
		proxy.Close()
		if err := a.wait(); err == nil {
			t.Fatal("the attached client exited 0 after the server died")
		}
		if !strings.Contains(a.errb.String(), "lost the server") {
			t.Fatalf("attached client said %q", a.errb.String())
		}
		rows := m.ls() // starts a new server, which restores the registry
		if len(rows) != 2 {
			t.Fatalf("after restart: %+v", rows)
		}
		for _, r := range rows {
			if r.Name == "gone" && r.State != "Broken" && r.State != "Opening" {
				t.Fatalf("gone: %+v, want Broken with the reason", r)
			}
		}
		// The restored session reopens in the background; a command waits for it.
		r := m.must("exec", "-t", "keep", "--", "$greeting")
		if r.stdout != "restored\n" {
			t.Fatalf("init script after restore: %q", r.stdout)
		}
		// "gone" failed to reopen: Broken, with the reason, once its reopen
		// has run; exec says it is broken.
		if r := m.run("exec", "-t", "gone", "--", "1"); r.code != exitConnect || !strings.Contains(r.stderr, "closed or broken") {
			t.Fatalf("exec on the broken session: %d %q", r.code, r.stderr)
		}
		for _, r := range m.ls() {
			if r.Name == "gone" && (r.State != "Broken" || r.Reason == "") {
				t.Fatalf("gone after restore: %+v, want Broken with a reason", r)
			}
		}
	})
}

var _ = faultproxy.New
var _ = knownhosts.Line

// vmHWM is a process's peak resident memory in bytes.
func vmHWM(t *testing.T, pid int) int64 { return procStatus(t, pid, "VmHWM:") }

// vmRSS is a process's resident memory in bytes.
func vmRSS(t *testing.T, pid int) int64 { return procStatus(t, pid, "VmRSS:") }

func procStatus(t *testing.T, pid int, key string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, key) {
			f := strings.Fields(l)
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	t.Fatalf("no %s", key)
	return 0
}

// TestBlockPolicyBoundedAndLossless runs a command that prints far more
// than the session's 1 MiB budget while a client reads: every line arrives,
// in order, and the server grows by less than the budget plus 64 MiB. With
// pwshsim the default run prints 100 MiB (enough to break the bound if the
// log kept it all) and PSMUX_LONG=1 prints 1 GB; real pwsh prints 2 MiB,
// for the fidelity of its output (the bound is pwshsim's to check).
func TestBlockPolicyBoundedAndLossless(t *testing.T) {
	opensshd.Require(t)
	eachSubsystem(t, func(t *testing.T, server, sub string) {
		lines := 100000 // ~100 MiB
		if long() {
			lines = 1000000 // 1 GB
		}
		if server != "pwshsim" {
			lines = 2000
		}
		sshd := startSshd(t, sub)
		m := newMuxEnv(t)
		const budget = 1 << 20
		m.newSSH(sshd, "big", "--policy", "Block", "--budget", strconv.Itoa(budget))
		base := vmRSS(t, m.serverPID())
		a := m.attach("-t", "big")
		m.must("exec", "--async", "-t", "big", "--", fmt.Sprintf("1..%d | %% { \"$_ \" + ('x' * 1000) }; 'end'", lines))
		n := 0
		pad := strings.Repeat("x", 1000)
		a.until(t, "the end", func(l string) bool {
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
		hwm := vmHWM(t, m.serverPID())
		t.Logf("server RSS %d MiB with the session open, peak %d MiB after %d MiB of output with a %d MiB budget", base>>20, hwm>>20, (lines*1006)>>20, budget>>20)
		if server == "pwshsim" && hwm-base > budget+64<<20 {
			t.Fatalf("the server grew by %d MiB, want under budget + 64 MiB", (hwm-base)>>20)
		}
	})
}

func TestDropPolicyCountsDropped(t *testing.T) {
	opensshd.Require(t)
	eachSubsystem(t, func(t *testing.T, server, sub string) {
		sshd := startSshd(t, sub)
		m := newMuxEnv(t)
		m.newSSH(sshd, "drop", "--policy", "Drop", "--budget", "65536")
		total := 20000
		if server != "pwshsim" {
			total = 3000
		}
		m.must("exec", "--async", "-t", "drop", "--", fmt.Sprintf("1..%d", total))
		m.must("exec", "-t", "drop", "--", "'done'")
		rows := m.ls()
		if rows[0].Dropped == 0 {
			t.Fatalf("ls shows no dropped events: %+v", rows[0])
		}
		r := m.must("capture", "-t", "drop")
		if !strings.Contains(r.stderr, "events were dropped") || !strings.Contains(r.stdout, strconv.Itoa(total)) {
			t.Fatalf("capture: stderr %q, tail of stdout %q", r.stderr, r.stdout[max(0, len(r.stdout)-100):])
		}
	})
}

// TestBrokenOnResetWhileOthersAnswer resets one session's connection
// while others on the same host keep answering: 10 of them on pwshsim, 2
// on real pwsh (each real pwsh is a process of its own).
func TestBrokenOnResetWhileOthersAnswer(t *testing.T) {
	opensshd.Require(t)
	eachSubsystem(t, func(t *testing.T, server, sub string) {
		others := 10
		if server != "pwshsim" {
			others = 2
		}
		sshd := startSshd(t, sub, "MaxSessions 50")
		proxy, kh := proxied(t, sshd)
		m := newMuxEnv(t)
		keep := []string{"-o", "ServerAliveInterval=1", "-o", "ServerAliveCountMax=3"}
		m.must(append(append([]string{"new", "-n", "flaky", "--init", "$inited = 'yes'", "-F", sshd.SSHConfig, "-p", strconv.Itoa(proxy.Port()),
			"-o", "UserKnownHostsFile=" + kh}, keep...), sshd.Alias)...)
		var news [][]string
		for i := range others {
			news = append(news, append(append([]string{"new", "-n", fmt.Sprintf("ok%d", i), "-F", sshd.SSHConfig}, keep...), sshd.Alias))
		}
		m.mustAll(news)
		m.must("exec", "-t", "flaky", "--", "$inited = 'changed'")
		a := m.attach("-t", "flaky")
		proxy.ResetAll()
		// The attached client sees the session break.
		a.waitErr(t, "Broken")
		a.stdin.Close()
		for _, r := range m.ls() {
			if r.Name == "flaky" && (r.State != "Broken" || r.Reason == "") {
				t.Fatalf("flaky: %+v", r)
			}
		}
		r := m.run("exec", "-t", "ok*", "--", "'alive'")
		if r.code != 0 || strings.Count(r.stdout, "alive") != others || strings.Count(r.stderr, "Completed") != others {
			t.Fatalf("the other sessions: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		if r := m.run("exec", "-t", "flaky", "--", "1"); r.code != exitConnect {
			t.Fatalf("exec on the Broken session: %d %q", r.code, r.stderr)
		}
		r = m.must("reconnect", "-t", "flaky")
		if !strings.Contains(r.stderr, "state from before are gone") {
			t.Fatalf("reconnect said %q", r.stderr)
		}
		if r := m.must("exec", "-t", "flaky", "--", "$inited"); r.stdout != "yes\n" {
			t.Fatalf("after reconnect the init script ran? $inited = %q", r.stdout)
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
		cmd := command(psmuxBin(), "-S", filepath.Join(dir, "s"), "server", "--foreground")
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
	eachSubsystem(t, func(t *testing.T, server, sub string) {
		sshd := startSshd(t, sub)
		m := newMuxEnv(t)
		log := m.serve("--idle-check", "100ms")
		m.newSSH(sshd, "sleepy", "--idle-timeout", "2s")
		m.newSSH(sshd, "awake")
		if l := log.waitFor(t, "IdleTimeout"); !strings.Contains(l, "sleepy") {
			t.Fatalf("server log: %q", l)
		}
		rows := m.ls()
		if len(rows) != 1 || rows[0].Name != "awake" {
			t.Fatalf("after the idle timeout: %+v", rows)
		}
	})
}

// serverLog is the stderr of a server a test started in the foreground,
// a line at a time.
type serverLog struct {
	lines chan string // closed at the end of stderr
	all   *lockedBuffer
}

// serve starts the server in the foreground with args, as the test's own
// child (it dies with the test), and returns once it listens.
func (m *muxEnv) serve(args ...string) *serverLog {
	m.t.Helper()
	srv := m.cmd(append([]string{"server", "--foreground"}, args...)...)
	stderr, err := srv.StderrPipe()
	if err != nil {
		m.t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		m.t.Fatal(err)
	}
	l := &serverLog{lines: make(chan string, 1024), all: &lockedBuffer{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(l.lines)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			l.all.Write(append(sc.Bytes(), '\n'))
			l.lines <- sc.Text()
		}
	}()
	m.t.Cleanup(func() {
		reap.KillGroup(srv)
		go func() { // nobody reads the lines any more
			for range l.lines {
			}
		}()
		<-done
		srv.Wait()
	})
	l.waitFor(m.t, "listening on")
	return l
}

// waitFor reads the log until a line contains s and returns the line; it
// fails at the log's end or after two minutes.
func (l *serverLog) waitFor(t *testing.T, s string) string {
	t.Helper()
	deadline := time.After(2 * time.Minute)
	for {
		select {
		case line, ok := <-l.lines:
			if !ok {
				t.Fatalf("the server log ended without %q:\n%s", s, l.all.String())
			}
			if strings.Contains(line, s) {
				return line
			}
		case <-deadline:
			t.Fatalf("no %q in the server log after two minutes:\n%s", s, l.all.String())
		}
	}
}

// TestExecFanOutFiftySessions runs one command in 50 sessions matched by
// a pattern: 50 on pwshsim, 3 on real pwsh (a process each).
func TestExecFanOutFiftySessions(t *testing.T) {
	opensshd.Require(t)
	eachSubsystem(t, func(t *testing.T, server, sub string) {
		n := 50
		if server != "pwshsim" {
			n = 3
		}
		sshd := startSshd(t, sub, "MaxSessions 60")
		m := newMuxEnv(t)
		news := [][]string{{"new", "-n", "db", "-F", sshd.SSHConfig, sshd.Alias}}
		for i := range n {
			news = append(news, []string{"new", "-n", fmt.Sprintf("web%02d", i), "-F", sshd.SSHConfig, sshd.Alias})
		}
		m.mustAll(news)
		r := m.run("exec", "-t", "web*", "--", "$PSVersionTable.PSVersion.Major")
		if r.code != 0 {
			t.Fatalf("exit %d\n%s", r.code, r.stderr)
		}
		for i := range n {
			name := fmt.Sprintf("web%02d", i)
			if !strings.Contains(r.stdout, "["+name+"] 7\n") || !strings.Contains(r.stderr, "["+name+"] Completed in ") {
				t.Fatalf("%s: no output or summary\nstdout %s\nstderr %s", name, r.stdout, r.stderr)
			}
		}
		if strings.Contains(r.stdout+r.stderr, "[db]") {
			t.Fatal("db matched web*")
		}
		if c := strings.Count(r.stderr, "Completed in "); c != n {
			t.Fatalf("%d summary lines, want %d", c, n)
		}
	})
}

func TestAttachViaSSH(t *testing.T) {
	opensshd.Require(t)
	sshd := startSshd(t, subsystemCommand(t))
	remote := newMuxEnv(t) // the server "on the other host": another socket
	remote.newSSH(sshd, "far")
	remote.must("exec", "-t", "far", "--", "'hello from far'")
	local := newMuxEnv(t)
	proxyCmd := fmt.Sprintf("env XDG_STATE_HOME=%s %s -S %s proxy", remote.state, psmuxBin(), remote.sock)
	a := local.attach("-t", "far", "--since", "1", "--via", sshd.Alias, "-F", sshd.SSHConfig, "--exec", proxyCmd)
	a.until(t, "the remote session's output", func(l string) bool { return l == "hello from far" })
	fmt.Fprintln(a.stdin, "'typed here'")
	a.until(t, "a command run through the tunnel", func(l string) bool { return l == "typed here" })
	a.stdin.Close()
	a.wait()
}

func TestCpOverSessionConnection(t *testing.T) {
	opensshd.Require(t)
	sshd := startSshd(t, subsystemCommand(t))
	m := newMuxEnv(t)
	m.newSSH(sshd, "web1")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	data := bytes.Repeat([]byte("psmux\x00\xff"), 1<<16)
	os.WriteFile(src, data, 0o600)
	remote := filepath.Join(t.TempDir(), "remote")
	m.must("cp", src, "web1:"+remote)
	back := filepath.Join(dir, "back")
	m.must("cp", "web1:"+remote, back)
	for _, p := range []string{remote, back} {
		if got, _ := os.ReadFile(p); !bytes.Equal(got, data) {
			t.Fatalf("%s differs", p)
		}
	}
}
