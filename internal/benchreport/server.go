package main

// The server benchmarks of bench-reliability.md §2 (d) and (e) and SPEC
// S12's server targets, against the psmux binary and a real sshd on
// loopback (testenv/opensshd, pwshsim behind `Subsystem powershell`,
// MaxSessions raised so every session rides one SSH connection):
//
//   - memory per idle session: VmRSS of a `psmux server --foreground`
//     process with N SSH sessions against the same process with none, and
//     the Go heap and stacks (after runtime.GC) of an in-process
//     mux.Server holding the same sessions;
//   - fan-out: `psmux exec -t GLOB -- 1` to N sessions, end to end,
//     against the slowest session's `psmux exec -t NAME -- 1` alone
//     (ratio_d of §2 (d)), interleaved run by run; a raw x/crypto fan-out
//     echo over N `cat` channels on one connection shows the floor;
//   - attach to a session holding 100 000 output lines, in a pty, until
//     the last line is drawn, against tmux 3.3a's attach to a pane with
//     100 000 lines of history and its capture-pane of them;
//   - issue 3's fan-out under fault: `psmux invoke h1,h2,h3` with h3
//     blackholed by testenv/faultproxy, against `psmux invoke h1` alone.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/psmux/psmux/mux"
	"github.com/psmux/psmux/testenv/faultproxy"
	"github.com/psmux/psmux/testenv/opensshd"
	"github.com/psmux/psmux/testenv/ptyterm"
)

// S12 targets for the server figures (SPEC.md S12).
const (
	targetIdleKiB   = 100.0 // ≤ 100 KiB per idle session
	targetFanout    = 1.2   // N sessions fanned out in ≤ 1.2× the slowest single session
	targetAttach    = 2.0   // attach with 100 000 buffered lines ≤ 2× tmux's attach
	ptyCols         = 120
	ptyRows         = 40
	serverOpWait    = 2 * time.Minute // bounds every client command
	attachWait      = time.Minute     // bounds one timed attach
	defaultThrottle = 32              // psmux exec's default --throttle
)

// serverConfig sizes the server benchmarks.
type serverConfig struct {
	enabled        bool
	counts         []int // session counts; the largest is created
	reps           int   // timed fan-out runs of each variant, interleaved with single-session sweeps
	attachN        int   // timed attaches of each kind
	fillLines      int   // output lines buffered in the attach session
	faultRuns      int   // invoke runs with one host blackholed
	aloneRuns      int   // invoke runs on one host
	connectTimeout time.Duration
	rawEchoN       int // raw fan-out echoes per count
}

func defaultServerConfig() serverConfig {
	return serverConfig{
		enabled:        true,
		counts:         []int{50, 200},
		reps:           5,
		attachN:        10,
		fillLines:      100000,
		faultRuns:      3,
		aloneRuns:      5,
		connectTimeout: 2 * time.Second,
		rawEchoN:       20,
	}
}

// ---- results ----

type serverResult struct {
	Skipped string

	elapsed               time.Duration
	loadBefore, loadAfter string
	procs                 int // pwshsim processes behind sshd at the largest count

	opens []time.Duration // `psmux new -F … ALIAS` wall time, every session
	rss   []memPoint      // the server process
	heap  []memPoint      // the in-process server
	hwm   int64           // the server process's VmHWM at the end (KiB)

	fan     []*fanCount
	rawFan  []*rawFan
	attach  *attachResult
	fault   *faultResult
	psmuxV  string
	sshConn int // SSH connections the server held (from sshd's log)
}

// memPoint is a memory reading with n idle sessions.
type memPoint struct {
	n          int
	kib        float64 // RSS, or heap + stacks
	heapKiB    float64 // in-process: HeapInuse
	stackKiB   float64 // in-process: StackInuse
	goroutines int     // in-process
}

// fanCount is the fan-out to one session count.
type fanCount struct {
	n       int
	glob    string
	names   []string
	singles [][]time.Duration // per session: `exec -t NAME -- 1` wall times
	runs    []*fanRuns        // one per throttle
}

// fanRuns are the timed fan-outs at one throttle.
type fanRuns struct {
	throttle int // 0: psmux's default
	wall     []time.Duration
	first    []time.Duration // until the first session's output line
	last     []time.Duration // until the last session's summary line
	took     []time.Duration // every session's "Completed in" of every run
}

// rawFan is the raw x/crypto fan-out echo over n `cat` channels.
type rawFan struct {
	n    int
	wall []time.Duration
}

type attachResult struct {
	lines     int
	fill      time.Duration // exec 1..lines through the server, output discarded
	logEvents uint64        // events in the session's log after the fill

	full, fullFirst []time.Duration // attach --since 1 until the last line
	fullBytes       int
	def, defFirst   []time.Duration // default attach, history already seen
	defBytes        int
	pipe            []time.Duration // attach --since 1, stdout a pipe
	capture         []time.Duration // psmux capture --since 1 into a pipe
	captureBytes    int
	others          int  // other sessions in the server meanwhile
	repl            bool // in a terminal, a default attach enters the REPL (this build's usage says so)
	// The same with hist alone in the server (the others removed).
	aloneFull, alonePipe, aloneCapture []time.Duration

	tmuxSkipped           string
	tmuxVersion           string
	tmuxAttach, tmuxFirst []time.Duration
	tmuxAttachBytes       int
	tmuxCapture           []time.Duration
	tmuxCaptureBytes      int
	tmuxCaptureLines      int
}

type faultResult struct {
	timeout  time.Duration
	alone    []time.Duration // invoke h1 alone, wall
	h1, h2   []time.Duration // until their summary lines in the faulted run
	h3       []time.Duration // until h3's summary line
	total    []time.Duration // the faulted run's wall time
	h3State  string
	h3Detail string // h3's error line
}

// ---- the run ----

// runServerBench runs the server benchmarks. An sshd that is not
// installed skips them (the report says so); any other failure is an
// error.
func runServerBench(cfg config) (*serverResult, error) {
	sc := cfg.server
	if !sc.enabled {
		return &serverResult{Skipped: "not measured: -server=false"}, nil
	}
	if len(sc.counts) == 0 || !slices.IsSorted(sc.counts) || sc.counts[0] < 1 {
		return nil, errors.New("benchreport: -server-sessions wants increasing positive counts")
	}
	start := time.Now()
	h, err := newHarness()
	if err != nil {
		return nil, err
	}
	defer h.close()
	r := &serverResult{loadBefore: loadAvg()}
	if err := benchServer(cfg, h, r); err != nil {
		return nil, err
	}
	r.elapsed = time.Since(start)
	r.loadAfter = loadAvg()
	return r, nil
}

func benchServer(cfg config, h *harness, r *serverResult) error {
	sc := cfg.server
	maxN := sc.counts[len(sc.counts)-1]
	var (
		sshd            *opensshd.Sshd
		pwshsim, binDir string
	)
	err := h.run(func() {
		opensshd.Require(h)
		progress("server: building pwshsim and psmux")
		pwshsim = opensshd.BuildPwshsim(h)
		binDir = h.TempDir()
		extra := []string{fmt.Sprintf("MaxSessions %d", maxN+50)}
		if !cfg.ssh.readRC {
			extra = append(extra, "SetEnv SHLVL=1")
		}
		sshd = opensshd.Start(h, opensshd.Options{Subsystems: map[string]string{
			"powershell": pwshsim + " -sshs -NoLogo -NoProfile",
			"echo":       "/bin/cat",
		}, Extra: extra})
	})
	if err != nil {
		if h.skipped {
			r.Skipped = "not measured: " + strings.TrimPrefix(err.Error(), "benchreport: ")
			progress("server: %s", r.Skipped)
			return nil
		}
		return err
	}
	bin, err := buildPsmux(binDir)
	if err != nil {
		return err
	}
	if out, err := exec.Command(bin, "version").Output(); err == nil {
		r.psmuxV = strings.TrimSpace(string(out))
	}
	ccfg := sshd.ClientConfig(h)
	ccfg.Timeout = 30 * time.Second
	newArgs := func(name string) []string {
		return []string{"new", "-n", name, "-F", sshd.SSHConfig, sshd.Alias}
	}

	// Memory, in process: a mux.Server holding SSH sessions.
	if err := heapPerSession(sc, sshd, r); err != nil {
		return err
	}

	// The server process.
	srv, err := startMuxServer(bin, h.TempDir())
	if err != nil {
		return err
	}
	defer srv.stop()
	if _, err := srv.ok("ls", "--json"); err != nil {
		return err
	}
	time.Sleep(300 * time.Millisecond)
	rss0, err := srv.rssKiB()
	if err != nil {
		return err
	}
	r.rss = append(r.rss, memPoint{n: 0, kib: rss0})
	progress("server: psmux server process up, VmRSS %.0f KiB with no session", rss0)

	conns0 := strings.Count(sshd.Log(), "Accepted publickey")
	created := 0
	for gi, n := range sc.counts {
		fc := &fanCount{n: n, glob: groupGlob(gi, len(sc.counts))}
		if gi > 0 {
			fc.names = slices.Clone(r.fan[gi-1].names)
		}
		progress("server: opening sessions %d..%d over SSH (`psmux new -F … %s`, one shared connection)", created+1, n, sshd.Alias)
		for ; created < n; created++ {
			name := fmt.Sprintf("web%c%03d", 'a'+gi, created)
			run, err := srv.timed(nil, newArgs(name)...)
			if err != nil {
				return err
			}
			r.opens = append(r.opens, run.wall)
			fc.names = append(fc.names, name)
			if created == 0 {
				if err := srv.settleRSS(r, 1); err != nil {
					return err
				}
			}
		}
		if err := srv.settleRSS(r, n); err != nil {
			return err
		}
		last := r.rss[len(r.rss)-1]
		progress("server: %d sessions: VmRSS %.0f KiB, %.1f KiB per session over none", n, last.kib, (last.kib-rss0)/float64(n))
		r.fan = append(r.fan, fc)
	}
	rows, err := srv.ls()
	if err != nil {
		return err
	}
	for _, row := range rows {
		if row.State != "Opened" || row.Transport != "SSH" {
			return fmt.Errorf("benchreport: session %s is %s over %s, want Opened over SSH", row.Name, row.State, row.Transport)
		}
	}
	r.procs = countProcs(pwshsim)
	r.sshConn = strings.Count(sshd.Log(), "Accepted publickey") - conns0

	// Fan-out, interleaved with single-session sweeps.
	if err := fanout(sc, srv, r); err != nil {
		return err
	}
	if err := rawFanout(sc, sshd, ccfg, r); err != nil {
		return err
	}

	// Attach, in this server and in a second one holding only the
	// attach session.
	lone, err := startMuxServer(bin, h.TempDir())
	if err != nil {
		return err
	}
	defer lone.stop()
	if r.attach, err = attachBench(sc, srv, lone, newArgs("hist"), h.TempDir()); err != nil {
		return err
	}
	if err := lone.stop(); err != nil {
		return err
	}
	if v, err := srv.rssField("VmHWM"); err == nil {
		r.hwm = int64(v)
	}
	progress("server: kill-server")
	if err := srv.stop(); err != nil {
		return err
	}

	// Issue 3: fan-out with one host blackholed.
	if r.fault, err = faultBench(sc, h, sshd, bin); err != nil {
		return err
	}
	return nil
}

// groupGlob selects the first gi+1 groups of sessions (named web<g><nnn>
// with g = a, b, …): web* for all of them.
func groupGlob(gi, groups int) string {
	if gi == groups-1 {
		return "web*"
	}
	return fmt.Sprintf("web[a-%c]*", 'a'+gi)
}

// buildPsmux builds cmd/psmux into dir.
func buildPsmux(dir string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", fmt.Errorf("benchreport: %w", err)
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("benchreport: build psmux: %w", err)
	}
	out := filepath.Join(dir, "psmux")
	cmd := exec.Command(goBin, "build", "-o", out, "./cmd/psmux")
	cmd.Dir = root
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("benchreport: go build psmux: %w\n%s", err, msg)
	}
	return out, nil
}

// countProcs counts the running processes whose command line starts
// with path.
func countProcs(path string) int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.HasPrefix(b, []byte(path+"\x00")) {
			n++
		}
	}
	return n
}

// ---- memory in process ----

// heapPerSession opens SSH sessions in an in-process mux.Server through
// its client protocol (net.Pipe) and reads the Go heap and stacks after
// a GC with 0, 1 and each count of sessions.
func heapPerSession(sc serverConfig, sshd *opensshd.Sshd, r *serverResult) error {
	maxN := sc.counts[len(sc.counts)-1]
	progress("server: in-process mux.Server, %d SSH sessions, Go heap and stacks after GC", maxN)
	srv, err := mux.NewServer(mux.Config{Version: "benchreport"})
	if err != nil {
		return fmt.Errorf("benchreport: %w", err)
	}
	a, b := net.Pipe()
	served := make(chan struct{})
	go func() { defer close(served); srv.ServeConn(a) }()
	cl, err := mux.NewClient(b, "benchreport", false)
	if err != nil {
		srv.Shutdown(context.Background())
		return fmt.Errorf("benchreport: %w", err)
	}
	defer func() {
		srv.Shutdown(context.Background())
		cl.Close()
		<-served
	}()
	ctx := context.Background()
	read := func(n int) {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		p := memPoint{n: n, heapKiB: float64(ms.HeapInuse) / 1024, stackKiB: float64(ms.StackInuse) / 1024, goroutines: runtime.NumGoroutine()}
		p.kib = p.heapKiB + p.stackKiB
		r.heap = append(r.heap, p)
	}
	read(0)
	for i := 0; i < maxN; i++ {
		cctx, cancel := context.WithTimeout(ctx, serverOpWait)
		_, err := cl.Call(cctx, "new", mux.NewArgs{Name: fmt.Sprintf("mem%03d", i), Dest: sshd.Alias, SSH: []string{"-F", sshd.SSHConfig}}, nil)
		cancel()
		if err != nil {
			return fmt.Errorf("benchreport: in-process new: %w", err)
		}
		if i == 0 || slices.Contains(sc.counts, i+1) {
			read(i + 1)
		}
	}
	z, last := r.heap[0], r.heap[len(r.heap)-1]
	progress("server: in process, %d sessions: %.1f KiB of heap + stacks per session, %.1f goroutines per session",
		last.n, (last.kib-z.kib)/float64(last.n), float64(last.goroutines-z.goroutines)/float64(last.n))
	return nil
}

// ---- the server process ----

// muxServer is a `psmux -S SOCK server --foreground` child and the
// environment its clients run in.
type muxServer struct {
	bin, sock string
	env       []string
	cmd       *exec.Cmd
	exited    chan struct{}
	stopped   bool

	mu  sync.Mutex
	log []string // the server's stderr lines (the last 200)
}

func clientEnv(state string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "XDG_STATE_HOME", "PSMUX_SOCKET", "TMUX", "TERM", "NO_COLOR":
			continue
		}
		env = append(env, kv)
	}
	return append(env, "XDG_STATE_HOME="+state, "TERM=xterm-256color")
}

func startMuxServer(bin, dir string) (*muxServer, error) {
	state := filepath.Join(dir, "state")
	if err := os.MkdirAll(state, 0o700); err != nil {
		return nil, fmt.Errorf("benchreport: %w", err)
	}
	s := &muxServer{bin: bin, sock: filepath.Join(dir, "sock"), env: clientEnv(state), exited: make(chan struct{})}
	s.cmd = exec.Command(bin, "-S", s.sock, "server", "--foreground")
	s.cmd.Env = s.env
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("benchreport: %w", err)
	}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("benchreport: start the psmux server: %w", err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 0, 4096), 1<<20)
		once := sync.Once{}
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.log = append(s.log, line)
			if len(s.log) > 200 {
				s.log = s.log[len(s.log)-200:]
			}
			s.mu.Unlock()
			if strings.Contains(line, "listening on ") {
				once.Do(func() { close(ready) })
			}
		}
		_ = s.cmd.Wait()
		close(s.exited)
	}()
	select {
	case <-ready:
		return s, nil
	case <-s.exited:
		return nil, fmt.Errorf("benchreport: the psmux server exited before listening:\n%s", s.lastLog())
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
		return nil, fmt.Errorf("benchreport: the psmux server did not report listening in 30 s:\n%s", s.lastLog())
	}
}

func (s *muxServer) lastLog() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.log, "\n")
}

// stop runs kill-server and waits for the process, killing it after
// 20 s; a second call does nothing.
func (s *muxServer) stop() error {
	if s.stopped {
		return nil
	}
	s.stopped = true
	_, err := s.timed(nil, "kill-server")
	select {
	case <-s.exited:
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
		if err == nil {
			err = errors.New("benchreport: the psmux server did not exit within 20 s of kill-server; killed")
		}
	}
	return err
}

// timedRun is one client command: its wall time and its output lines,
// each with when it was read.
type timedRun struct {
	wall     time.Duration
	out, err []timedLine
	exit     error
}

type timedLine struct {
	at   time.Duration
	text string
}

func (t *timedRun) stdout() string { return joinLines(t.out) }
func (t *timedRun) stderr() string { return joinLines(t.err) }

func joinLines(ls []timedLine) string {
	var b strings.Builder
	for _, l := range ls {
		b.WriteString(l.text)
		b.WriteByte('\n')
	}
	return b.String()
}

// runTimed runs argv and times it from start to exit, stamping each
// line of its stdout and stderr as it arrives. A non-zero exit is in
// exit, not err.
func runTimed(env []string, timeout time.Duration, stdin io.Reader, argv ...string) (*timedRun, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdin = stdin
	op, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("benchreport: %w", err)
	}
	ep, err := cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("benchreport: %w", err)
	}
	r := &timedRun{}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("benchreport: start %s: %w", filepath.Base(argv[0]), err)
	}
	var wg sync.WaitGroup
	scan := func(rd io.Reader, dst *[]timedLine) {
		defer wg.Done()
		sc := bufio.NewScanner(rd)
		sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
		for sc.Scan() {
			*dst = append(*dst, timedLine{at: time.Since(t0), text: sc.Text()})
		}
	}
	wg.Add(2)
	go scan(op, &r.out)
	go scan(ep, &r.err)
	wg.Wait()
	r.exit = cmd.Wait()
	r.wall = time.Since(t0)
	if ctx.Err() != nil {
		return nil, fmt.Errorf("benchreport: %s did not finish within %s", strings.Join(argv[1:], " "), timeout)
	}
	return r, nil
}

// timed runs a client command; it fails unless it exits 0.
func (s *muxServer) timed(stdin io.Reader, args ...string) (*timedRun, error) {
	r, err := runTimed(s.env, serverOpWait, stdin, append([]string{s.bin, "-S", s.sock}, args...)...)
	if err != nil {
		return nil, err
	}
	if r.exit != nil {
		return nil, fmt.Errorf("benchreport: psmux %s: %v\n%s", strings.Join(args, " "), r.exit, r.stderr())
	}
	return r, nil
}

func (s *muxServer) ok(args ...string) (string, error) {
	r, err := s.timed(nil, args...)
	if err != nil {
		return "", err
	}
	return r.stdout(), nil
}

func (s *muxServer) ls() ([]mux.Info, error) {
	out, err := s.ok("ls", "--json")
	if err != nil {
		return nil, err
	}
	var rows []mux.Info
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		return nil, fmt.Errorf("benchreport: psmux ls --json: %w", err)
	}
	return rows, nil
}

func (s *muxServer) rssField(key string) (float64, error) {
	v := procField(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid), key)
	var kb float64
	if _, err := fmt.Sscanf(v, "%g kB", &kb); err != nil {
		return 0, fmt.Errorf("benchreport: %s of the psmux server: %q", key, v)
	}
	return kb, nil
}

func (s *muxServer) rssKiB() (float64, error) { return s.rssField("VmRSS") }

// settleRSS lets the server go idle for a moment and records its VmRSS
// with n sessions.
func (s *muxServer) settleRSS(r *serverResult, n int) error {
	time.Sleep(500 * time.Millisecond)
	kib, err := s.rssKiB()
	if err != nil {
		return err
	}
	r.rss = append(r.rss, memPoint{n: n, kib: kib})
	return nil
}

// ---- fan-out ----

var (
	summaryRE = regexp.MustCompile(`^\[([^\]]+)\] (\S+) in (\S+)$`)
	portRE    = regexp.MustCompile(`port [0-9]+`)
)

// fanout times `psmux exec -t GLOB -- 1` at every count, at psmux's
// default throttle and at --throttle N, and sweeps `psmux exec -t NAME
// -- 1` over every session between runs. The first round is a warm-up.
func fanout(sc serverConfig, srv *muxServer, r *serverResult) error {
	all := r.fan[len(r.fan)-1].names
	for _, fc := range r.fan {
		fc.runs = []*fanRuns{{throttle: 0}}
		if fc.n != defaultThrottle {
			fc.runs = append(fc.runs, &fanRuns{throttle: fc.n})
		}
		fc.singles = make([][]time.Duration, len(fc.names))
	}
	singles := map[string][]time.Duration{}
	progress("server: fan-out `exec -t GLOB -- 1` at %v sessions (throttle %d and N), %d + 1 warm-up rounds, each followed by `exec -t NAME -- 1` on every session alone",
		sc.counts, defaultThrottle, sc.reps)
	for rep := 0; rep <= sc.reps; rep++ {
		for _, fc := range r.fan {
			for _, fr := range fc.runs {
				args := []string{"exec", "-t", fc.glob}
				if fr.throttle > 0 {
					args = append(args, "--throttle", strconv.Itoa(fr.throttle))
				}
				run, err := srv.timed(nil, append(args, "--", "1")...)
				if err != nil {
					return err
				}
				first, last, took, err := checkFan(run, fc)
				if err != nil {
					return err
				}
				if rep > 0 {
					fr.wall = append(fr.wall, run.wall)
					fr.first = append(fr.first, first)
					fr.last = append(fr.last, last)
					fr.took = append(fr.took, took...)
				}
			}
		}
		for _, name := range all {
			run, err := srv.timed(nil, "exec", "-t", name, "--", "1")
			if err != nil {
				return err
			}
			if got := strings.TrimSpace(run.stdout()); got != "1" {
				return fmt.Errorf("benchreport: exec -t %s -- 1 printed %q", name, got)
			}
			if rep > 0 {
				singles[name] = append(singles[name], run.wall)
			}
		}
		if rep > 0 {
			var parts []string
			for _, fc := range r.fan {
				for _, fr := range fc.runs {
					parts = append(parts, fmt.Sprintf("N=%d throttle %s %s", fc.n, throttleName(fr.throttle), fmtDur(fr.wall[len(fr.wall)-1])))
				}
			}
			progress("server: round %d: %s", rep, strings.Join(parts, ", "))
		}
	}
	for _, fc := range r.fan {
		for i, name := range fc.names {
			fc.singles[i] = singles[name]
		}
		s := fc.slowest()
		progress("server: N=%d: fan-out p50 %s (throttle %d), %s (throttle N); slowest single session p50 %s, median session %s",
			fc.n, fmtDur(pct(fc.runs[0].wall, 50)), defaultThrottle, fmtDur(pct(fc.runs[len(fc.runs)-1].wall, 50)), fmtDur(s), fmtDur(fc.medianSingle()))
	}
	return nil
}

func throttleName(t int) string {
	if t == 0 {
		return strconv.Itoa(defaultThrottle) + " (default)"
	}
	return strconv.Itoa(t)
}

// checkFan checks that every session of fc printed 1 and Completed, and
// returns when the first output line and the last summary line came and
// every session's own time.
func checkFan(run *timedRun, fc *fanCount) (first, last time.Duration, took []time.Duration, err error) {
	outs := 0
	for _, l := range run.out {
		if strings.HasPrefix(l.text, "[web") && strings.HasSuffix(l.text, "] 1") {
			if outs == 0 {
				first = l.at
			}
			outs++
		}
	}
	done := map[string]bool{}
	for _, l := range run.err {
		m := summaryRE.FindStringSubmatch(l.text)
		if m == nil {
			continue
		}
		if m[2] != "Completed" {
			return 0, 0, nil, fmt.Errorf("benchreport: fan-out: %s", l.text)
		}
		d, perr := time.ParseDuration(m[3])
		if perr != nil {
			return 0, 0, nil, fmt.Errorf("benchreport: fan-out summary %q: %w", l.text, perr)
		}
		done[m[1]] = true
		took = append(took, d)
		last = l.at
	}
	if outs != fc.n || len(done) != fc.n {
		return 0, 0, nil, fmt.Errorf("benchreport: fan-out to %s: %d outputs and %d Completed, want %d of each\n%s", fc.glob, outs, len(done), fc.n, run.stderr())
	}
	return first, last, took, nil
}

// slowest is §2 (d)'s denominator: the largest per-session p50 of the
// single-session runs.
func (fc *fanCount) slowest() time.Duration {
	var m time.Duration
	for _, s := range fc.singles {
		m = max(m, pct(s, 50))
	}
	return m
}

// medianSingle is the median over the sessions of their p50s.
func (fc *fanCount) medianSingle() time.Duration {
	var p50s []time.Duration
	for _, s := range fc.singles {
		p50s = append(p50s, pct(s, 50))
	}
	return pct(p50s, 50)
}

// allSingles pools every single-session sample.
func (fc *fanCount) allSingles() []time.Duration {
	var all []time.Duration
	for _, s := range fc.singles {
		all = append(all, s...)
	}
	return all
}

// rawFanout is the floor of a fan-out over one SSH connection: n raw
// x/crypto channels to `cat`; each round writes one byte to every
// channel at once and ends when every echo is back.
func rawFanout(sc serverConfig, sshd *opensshd.Sshd, ccfg *gossh.ClientConfig, r *serverResult) error {
	progress("server: raw fan-out echo over 1, %v `cat` channels on one x/crypto connection, %d rounds each", sc.counts, sc.rawEchoN)
	c, err := gossh.Dial("tcp", sshd.Addr, ccfg)
	if err != nil {
		return fmt.Errorf("benchreport: raw dial: %w", err)
	}
	defer c.Close()
	var chans []gossh.Channel
	defer func() {
		for _, ch := range chans {
			ch.Close()
		}
	}()
	for _, n := range append([]int{1}, sc.counts...) {
		for len(chans) < n {
			ch, err := rawSubsystem(c, "echo")
			if err != nil {
				return err
			}
			chans = append(chans, ch)
		}
		rf := &rawFan{n: n}
		for i := 0; i <= sc.rawEchoN; i++ {
			errs := make(chan error, n)
			t0 := time.Now()
			for _, ch := range chans[:n] {
				go func() {
					_, err := echoOnce(ch)
					errs <- err
				}()
			}
			for range n {
				if err := <-errs; err != nil {
					return err
				}
			}
			if i > 0 {
				rf.wall = append(rf.wall, time.Since(t0))
			}
		}
		r.rawFan = append(r.rawFan, rf)
	}
	return nil
}

// ---- attach ----

// attachBench fills a session named hist with lines of output, in srv
// (which holds the fan-out's sessions) and in lone (hist alone), and
// times attaches to it in a pty, interleaved round by round with tmux's
// attach and capture-pane over a pane with the same history. The
// headline kinds run every round; the breakdown kinds (the lone server,
// stdout a pipe, capture) every other round. Round 0 is a warm-up.
func attachBench(sc serverConfig, srv, lone *muxServer, newArgs []string, tmuxDir string) (*attachResult, error) {
	a := &attachResult{lines: sc.fillLines}
	if out, err := exec.Command(srv.bin, "help").Output(); err == nil {
		a.repl = strings.Contains(string(out), "enter a session in the REPL")
	}
	for i, s := range []*muxServer{srv, lone} {
		if _, err := s.timed(nil, newArgs...); err != nil {
			return nil, err
		}
		progress("server: filling session hist with `1..%d` (psmux exec, output discarded)", sc.fillLines)
		fill, err := s.timed(nil, "exec", "-t", "hist", "--", fmt.Sprintf("1..%d", sc.fillLines))
		if err != nil {
			return nil, err
		}
		if n := len(fill.out); n != sc.fillLines {
			return nil, fmt.Errorf("benchreport: the fill printed %d lines, want %d", n, sc.fillLines)
		}
		if i > 0 {
			continue
		}
		a.fill = fill.wall
		rows, err := s.ls()
		if err != nil {
			return nil, err
		}
		a.others = len(rows) - 1
		for _, row := range rows {
			if row.Name == "hist" {
				a.logEvents = row.LastSeq
			}
		}
	}

	tm, err := startTmux(sc.fillLines, srv.env, tmuxDir)
	if err != nil {
		a.tmuxSkipped = "not measured: " + strings.TrimPrefix(err.Error(), "benchreport: ")
		progress("server: tmux %s", a.tmuxSkipped)
	} else {
		defer tm.kill()
		a.tmuxVersion = tm.version
	}
	last := strconv.Itoa(sc.fillLines)
	full := func(s *muxServer) []string {
		return []string{s.bin, "-S", s.sock, "attach", "-t", "hist", "--since", "1"}
	}
	progress("server: attach in a %d×%d pty, %d + 1 warm-up rounds: tmux attach and capture-pane, psmux attach --since 1 and attach after a marker; every other round psmux with hist alone, into a pipe, capture",
		ptyCols, ptyRows, sc.attachN)
	for i := 0; i <= sc.attachN; i++ {
		keep := i > 0
		if tm != nil {
			pr, err := ptyUntil(tm.attachArgv(), tm.env, &substrMatch{needle: []byte(last)}, hangUp)
			if err != nil {
				return nil, fmt.Errorf("%w (tmux attach)", err)
			}
			run, err := runTimed(tm.env, attachWait, nil, tm.captureArgv()...)
			if err != nil {
				return nil, err
			}
			if run.exit != nil {
				return nil, fmt.Errorf("benchreport: tmux capture-pane: %v\n%s", run.exit, run.stderr())
			}
			if keep {
				a.tmuxAttach = append(a.tmuxAttach, pr.until)
				a.tmuxFirst = append(a.tmuxFirst, pr.first)
				a.tmuxAttachBytes = pr.bytes
				a.tmuxCapture = append(a.tmuxCapture, run.wall)
				a.tmuxCaptureBytes = len(run.stdout())
				a.tmuxCaptureLines = len(run.out)
			}
		}
		pr, err := ptyUntil(full(srv), srv.env, &lineMatch{want: last}, typeEOF)
		if err != nil {
			return nil, fmt.Errorf("%w (psmux attach --since 1)", err)
		}
		if keep {
			a.full = append(a.full, pr.until)
			a.fullFirst = append(a.fullFirst, pr.first)
			a.fullBytes = pr.bytes
		}
		// A marker no client has seen: the default attach replays it
		// (and what little else is new) and nothing of the history.
		mark := fmt.Sprintf("mark%d", i)
		if _, err := srv.timed(nil, "exec", "-t", "hist", "--", fmt.Sprintf("'mark'+'%d'", i)); err != nil {
			return nil, err
		}
		pr, err = ptyUntil([]string{srv.bin, "-S", srv.sock, "attach", "-t", "hist"}, srv.env, &lineMatch{want: mark}, typeEOF)
		if err != nil {
			return nil, fmt.Errorf("%w (psmux attach)", err)
		}
		if keep {
			a.def = append(a.def, pr.until)
			a.defFirst = append(a.defFirst, pr.first)
			a.defBytes = pr.bytes
		}
		if i%2 != 0 {
			continue
		}
		pr, err = ptyUntil(full(lone), lone.env, &lineMatch{want: last}, typeEOF)
		if err != nil {
			return nil, fmt.Errorf("%w (psmux attach --since 1, hist alone)", err)
		}
		var pipes, caps [2]time.Duration
		for k, s := range []*muxServer{srv, lone} {
			if pipes[k], err = pipeUntil(full(s), s.env, &lineMatch{want: last}); err != nil {
				return nil, fmt.Errorf("%w (psmux attach --since 1 into a pipe)", err)
			}
			run, err := s.timed(nil, "capture", "-t", "hist", "--since", "1")
			if err != nil {
				return nil, err
			}
			if len(run.out) < sc.fillLines {
				return nil, fmt.Errorf("benchreport: psmux capture printed %d lines, want at least %d", len(run.out), sc.fillLines)
			}
			caps[k] = run.wall
			if k == 0 {
				a.captureBytes = len(run.stdout())
			}
		}
		if keep {
			a.aloneFull = append(a.aloneFull, pr.until)
			a.pipe = append(a.pipe, pipes[0])
			a.alonePipe = append(a.alonePipe, pipes[1])
			a.capture = append(a.capture, caps[0])
			a.aloneCapture = append(a.aloneCapture, caps[1])
		}
	}
	progress("server: attach p50: tmux %s; psmux full replay %s (pipe %s, alone %s / %s), seen history %s; capture: tmux %s, psmux %s (alone %s)",
		fmtDur(pct(a.tmuxAttach, 50)), fmtDur(pct(a.full, 50)), fmtDur(pct(a.pipe, 50)), fmtDur(pct(a.aloneFull, 50)), fmtDur(pct(a.alonePipe, 50)),
		fmtDur(pct(a.def, 50)), fmtDur(pct(a.tmuxCapture, 50)), fmtDur(pct(a.capture, 50)), fmtDur(pct(a.aloneCapture, 50)))
	return a, nil
}

// tmuxServer is a tmux server on a private -L socket holding one pane
// that printed `seq N` with history-limit N.
type tmuxServer struct {
	bin, sock, version string
	env                []string
}

// startTmux starts a tmux server on a socket in dir (-S; tmux leaves
// the socket file behind when it exits, and the harness removes dir).
func startTmux(lines int, env []string, dir string) (*tmuxServer, error) {
	bin, err := exec.LookPath("tmux")
	if err != nil {
		return nil, errors.New("tmux not installed")
	}
	t := &tmuxServer{bin: bin, sock: filepath.Join(dir, "tmux"), env: env}
	if out, err := exec.Command(bin, "-V").Output(); err == nil {
		t.version = strings.TrimSpace(string(out))
	}
	conf := filepath.Join(dir, "tmux.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, "set -g history-limit %d\n", lines), 0o600); err != nil {
		return nil, fmt.Errorf("benchreport: %w", err)
	}
	cmd := exec.Command(bin, "-S", t.sock, "-f", conf, "new-session", "-d", "-s", "hist",
		"-x", strconv.Itoa(ptyCols), "-y", strconv.Itoa(ptyRows), fmt.Sprintf("seq %d; cat", lines))
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.kill()
		return nil, fmt.Errorf("benchreport: tmux new-session: %v: %s", err, out)
	}
	want := strconv.Itoa(lines)
	deadline := time.Now().Add(30 * time.Second)
	for {
		c := exec.Command(bin, "-S", t.sock, "capture-pane", "-p", "-t", "hist")
		c.Env = env
		out, err := c.Output()
		if err == nil && slices.Contains(strings.Fields(string(out)), want) {
			break
		}
		if time.Now().After(deadline) {
			t.kill()
			return nil, errors.New("benchreport: tmux: the pane did not print its lines within 30 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return t, nil
}

func (t *tmuxServer) attachArgv() []string {
	return []string{t.bin, "-S", t.sock, "attach", "-t", "hist"}
}

func (t *tmuxServer) captureArgv() []string {
	return []string{t.bin, "-S", t.sock, "capture-pane", "-p", "-t", "hist", "-S", "-", "-E", "-"}
}

func (t *tmuxServer) kill() {
	c := exec.Command(t.bin, "-S", t.sock, "kill-server")
	c.Env = t.env
	_ = c.Run()
}

// ptyResult is one program run in a pty until a marker was drawn.
type ptyResult struct {
	first, until time.Duration // first byte, marker drawn
	bytes        int           // bytes read until the marker
}

// matcher watches a terminal's output for a marker.
type matcher interface {
	feed(p []byte) bool
}

// substrMatch finds needle anywhere in the stream (tmux draws the screen
// with cursor movements between the lines).
type substrMatch struct {
	needle, tail []byte
}

func (m *substrMatch) feed(p []byte) bool {
	buf := append(m.tail, p...)
	if bytes.Contains(buf, m.needle) {
		return true
	}
	k := min(len(buf), len(m.needle)-1)
	m.tail = append(m.tail[:0], buf[len(buf)-k:]...)
	return false
}

// lineMatch finds a line that reads exactly want on the terminal: escape
// sequences removed, and only what follows the line's last carriage
// return (a prompt redrawn before the output is overwritten by it).
type lineMatch struct {
	want    string
	partial []byte
}

var ansiRE = regexp.MustCompile(`\x1b(\[[0-9;?<=>]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[()][0-9A-Za-z]|[=>78DEHMc])`)

func (m *lineMatch) feed(p []byte) bool {
	m.partial = append(m.partial, p...)
	for {
		i := bytes.IndexByte(m.partial, '\n')
		if i < 0 {
			return false
		}
		line := ansiRE.ReplaceAll(bytes.TrimRight(m.partial[:i], "\r"), nil)
		if j := bytes.LastIndexByte(line, '\r'); j >= 0 {
			line = line[j+1:]
		}
		m.partial = m.partial[i+1:]
		if string(line) == m.want {
			return true
		}
	}
}

// Ways to end a program in a pty once its marker is drawn: Ctrl-D twice
// (psmux's line-mode attach detaches at the first end of input; its REPL
// leaves the session at the first and exits at the second), or the
// hang-up a terminal's closing sends (tmux's client then exits and the
// session stays). ptyUntil hangs up 3 s after the keys if the program is
// still running.
var (
	typeEOF = func(cmd *exec.Cmd, master *os.File) {
		_, _ = master.Write([]byte("\x04"))
		time.Sleep(100 * time.Millisecond)
		_, _ = master.Write([]byte("\x04"))
	}
	hangUp = func(cmd *exec.Cmd, master *os.File) { _ = cmd.Process.Signal(syscall.SIGHUP) }
)

// ptyUntil runs argv in a fresh pty of ptyCols × ptyRows and times it
// from start until its output holds the marker; it then ends it with
// quit (and a hang-up 3 s later), drains the terminal and waits for the
// program, killing it if it has not exited 10 s after the hang-up.
func ptyUntil(argv, env []string, m matcher, quit func(*exec.Cmd, *os.File)) (ptyResult, error) {
	var pr ptyResult
	master, slave, err := ptyterm.Open(ptyCols, ptyRows)
	if err != nil {
		return pr, err
	}
	defer master.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = ptyterm.Attr()
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		slave.Close()
		return pr, fmt.Errorf("benchreport: start %s: %w", filepath.Base(argv[0]), err)
	}
	slave.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	_ = master.SetReadDeadline(t0.Add(attachWait))
	buf := make([]byte, 64<<10)
	var seen bytes.Buffer // the start of the output, for an error message
	found := false
	for !found {
		n, err := master.Read(buf)
		if n > 0 {
			if pr.first == 0 {
				pr.first = time.Since(t0)
			}
			pr.bytes += n
			if seen.Len() < 4096 {
				seen.Write(buf[:min(n, 4096)])
			}
			if m.feed(buf[:n]) {
				pr.until = time.Since(t0)
				found = true
			}
		}
		if err != nil && !found {
			_ = cmd.Process.Kill()
			<-exited
			return pr, fmt.Errorf("benchreport: %s: no marker after %d bytes (%v); it began:\n%q",
				strings.Join(argv[1:], " "), pr.bytes, err, seen.String())
		}
	}
	_ = master.SetReadDeadline(time.Time{})
	drained := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, master); close(drained) }()
	quit(cmd, master)
	select {
	case <-exited:
	case <-time.After(3 * time.Second):
		hangUp(cmd, master) // as closing the terminal would
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			master.Close()
			<-drained
			return pr, fmt.Errorf("benchreport: %s did not exit when told to nor on a hang-up; killed", strings.Join(argv[1:], " "))
		}
	}
	master.Close()
	<-drained
	return pr, nil
}

// pipeUntil runs argv with its stdin and stdout pipes and times it
// until its stdout holds the marker; it then closes its stdin (psmux
// attach detaches at end of input) and waits for it.
func pipeUntil(argv, env []string, m matcher) (time.Duration, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	in, err := cmd.StdinPipe()
	if err != nil {
		return 0, fmt.Errorf("benchreport: %w", err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, fmt.Errorf("benchreport: %w", err)
	}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("benchreport: start %s: %w", filepath.Base(argv[0]), err)
	}
	timer := time.AfterFunc(attachWait, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()
	buf := make([]byte, 64<<10)
	var d time.Duration
	n := 0
	for d == 0 {
		k, err := out.Read(buf)
		n += k
		if k > 0 && m.feed(buf[:k]) {
			d = time.Since(t0)
		}
		if err != nil && d == 0 {
			in.Close()
			_ = cmd.Wait()
			return 0, fmt.Errorf("benchreport: %s: no marker after %d bytes (%v)", strings.Join(argv[1:], " "), n, err)
		}
	}
	in.Close()
	_, _ = io.Copy(io.Discard, out)
	if err := cmd.Wait(); err != nil {
		return 0, fmt.Errorf("benchreport: %s: %w", strings.Join(argv[1:], " "), err)
	}
	return d, nil
}

// ---- issue 3: fan-out under fault ----

// faultBench runs `psmux invoke h1,h2,h3` with h3 blackholed (each host
// a faultproxy in front of sshd, so three connections to three
// addresses) against `psmux invoke h1` alone, interleaved.
func faultBench(sc serverConfig, h *harness, sshd *opensshd.Sshd, bin string) (*faultResult, error) {
	f := &faultResult{timeout: sc.connectTimeout}
	var proxies []*faultproxy.Proxy
	defer func() {
		for _, p := range proxies {
			p.Close()
		}
	}()
	var conf, known strings.Builder
	for i := 1; i <= 3; i++ {
		p, err := faultproxy.New(sshd.Addr)
		if err != nil {
			return nil, fmt.Errorf("benchreport: %w", err)
		}
		proxies = append(proxies, p)
		known.WriteString(knownhosts.Line([]string{knownhosts.Normalize(p.Addr())}, sshd.HostKey) + "\n")
		fmt.Fprintf(&conf, "Host h%d\n    HostName 127.0.0.1\n    Port %d\n    User %s\n    IdentityFile %s\n    IdentitiesOnly yes\n"+
			"    UserKnownHostsFile %s\n    GlobalKnownHostsFile /dev/null\n    StrictHostKeyChecking yes\n",
			i, p.Port(), sshd.User, sshd.ClientKey, filepath.Join(sshd.Dir, "known_hosts_proxies"))
	}
	proxies[2].Blackhole(true)
	dir := h.TempDir()
	if err := os.WriteFile(filepath.Join(sshd.Dir, "known_hosts_proxies"), []byte(known.String()), 0o600); err != nil {
		return nil, fmt.Errorf("benchreport: %w", err)
	}
	cfgPath := filepath.Join(dir, "ssh_config")
	if err := os.WriteFile(cfgPath, []byte(conf.String()), 0o600); err != nil {
		return nil, fmt.Errorf("benchreport: %w", err)
	}
	env := clientEnv(filepath.Join(dir, "state"))
	to := sc.connectTimeout.String()
	alone := []string{bin, "invoke", "-F", cfgPath, "--connect-timeout", to, "h1", "--", "'x'"}
	faulted := []string{bin, "invoke", "-F", cfgPath, "--connect-timeout", to, "h1,h2,h3", "--", "'x'"}
	progress("server: issue 3: `psmux invoke --connect-timeout %s h1,h2,h3 -- \"'x'\"` with h3 blackholed, %d runs, vs `invoke h1` alone, %d runs (+1 warm-up)", to, sc.faultRuns, sc.aloneRuns)
	runs := max(sc.faultRuns, sc.aloneRuns)
	for i := 0; i <= runs; i++ {
		if i <= sc.aloneRuns {
			run, err := runTimed(env, serverOpWait, nil, alone...)
			if err != nil {
				return nil, err
			}
			if run.exit != nil || strings.TrimSpace(run.stdout()) != "x" {
				return nil, fmt.Errorf("benchreport: psmux invoke h1: %v: %q\n%s", run.exit, run.stdout(), run.stderr())
			}
			if i > 0 {
				f.alone = append(f.alone, run.wall)
			}
		}
		if i == 0 || i > sc.faultRuns {
			continue
		}
		run, err := runTimed(env, serverOpWait, nil, faulted...)
		if err != nil {
			return nil, err
		}
		var h1, h2, h3 time.Duration
		for _, l := range run.err {
			m := summaryRE.FindStringSubmatch(l.text)
			switch {
			case m == nil:
				if strings.Contains(l.text, "h3") && f.h3Detail == "" {
					f.h3Detail = portRE.ReplaceAllString(l.text, "port PORT")
				}
			case m[1] == "h1" && m[2] == "Completed":
				h1 = l.at
			case m[1] == "h2" && m[2] == "Completed":
				h2 = l.at
			case m[1] == "h3":
				h3, f.h3State = l.at, m[2]
			}
		}
		if h1 == 0 || h2 == 0 || h3 == 0 {
			return nil, fmt.Errorf("benchreport: invoke h1,h2,h3: missing summary lines\n%s", run.stderr())
		}
		f.h1 = append(f.h1, h1)
		f.h2 = append(f.h2, h2)
		f.h3 = append(f.h3, h3)
		f.total = append(f.total, run.wall)
	}
	progress("server: issue 3: h1 and h2 done at %s and %s (p50), h3 %s at %s, total %s; h1 alone %s",
		fmtDur(pct(f.h1, 50)), fmtDur(pct(f.h2, 50)), f.h3State, fmtDur(pct(f.h3, 50)), fmtDur(pct(f.total, 50)), fmtDur(pct(f.alone, 50)))
	return f, nil
}

// intList is a comma-separated list of counts on the command line.
type intList []int

func (l *intList) String() string {
	var parts []string
	for _, n := range *l {
		parts = append(parts, strconv.Itoa(n))
	}
	return strings.Join(parts, ",")
}

func (l *intList) Set(s string) error {
	var out intList
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return err
		}
		out = append(out, n)
	}
	*l = out
	return nil
}
