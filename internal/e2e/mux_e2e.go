package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/psmux/psmux/mux"
	"github.com/psmux/psmux/mux/sock"
	"github.com/psmux/psmux/testenv/faultproxy"
	"github.com/psmux/psmux/testenv/opensshd"
	"github.com/psmux/psmux/testenv/reap"
	"golang.org/x/crypto/ssh/knownhosts"
)

// End-to-end tests of the server: the real psmux binary as client and
// server, sessions on Debian's real sshd (pwshsim behind "Subsystem
// powershell"), or local pwshsim processes where the host does not
// matter.

// MuxEnv is one server's world: its socket and state directory.
type MuxEnv struct {
	T     testing.TB
	Sock  string
	State string
	Env   []string
}

func NewMuxEnv(t testing.TB) *MuxEnv {
	t.Helper()
	dir, err := os.MkdirTemp("", "psmux-mux")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o700)
	m := &MuxEnv{T: t, Sock: filepath.Join(dir, "s"), State: filepath.Join(dir, "state")}
	m.Env = []string{"XDG_STATE_HOME=" + m.State, "PSMUX_SOCKET=", "XDG_RUNTIME_DIR="}
	t.Cleanup(func() {
		m.Run("kill-server")
		reap.KillMentioning(m.Sock) // a server that did not go (it runs in a session of its own)
		os.RemoveAll(dir)
	})
	return m
}

func (m *MuxEnv) Cmd(args ...string) *exec.Cmd {
	cmd := Command(PsmuxBin(), append([]string{"-S", m.Sock}, args...)...)
	cmd.Env = append(os.Environ(), m.Env...)
	return cmd
}

func (m *MuxEnv) Run(args ...string) Result {
	m.T.Helper()
	return RunCmd(m.T, m.Cmd(args...))
}

func (m *MuxEnv) Must(args ...string) Result {
	m.T.Helper()
	r := m.Run(args...)
	if r.Code != 0 {
		m.T.Fatalf("psmux %q: exit %d, stdout %q, stderr %q\nserver log:\n%s", args, r.Code, r.Stdout, r.Stderr, m.Log())
	}
	return r
}

func (m *MuxEnv) Log() string {
	matches, _ := filepath.Glob(filepath.Join(m.State, "psmux", "*", "server.log"))
	var b strings.Builder
	for _, p := range matches {
		data, _ := os.ReadFile(p)
		b.Write(data)
	}
	return b.String()
}

func (m *MuxEnv) Ls() []mux.Info {
	m.T.Helper()
	r := m.Must("ls", "--json")
	var rows []mux.Info
	if err := json.Unmarshal([]byte(r.Stdout), &rows); err != nil {
		m.T.Fatalf("ls --json: %v: %q", err, r.Stdout)
	}
	return rows
}

// Client connects a client of the server's socket protocol named name
// (attached: interactive, as a REPL); it is closed when the test ends.
func (m *MuxEnv) Client(name string, interactive bool) *mux.Client {
	m.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := sock.Dial(ctx, m.Sock)
	if err != nil {
		m.T.Fatal(err)
	}
	c, err := mux.NewClient(conn, name, interactive)
	if err != nil {
		m.T.Fatal(err)
	}
	m.T.Cleanup(func() { c.Close() })
	return c
}

// WaitState polls psmux ls until session name is in state and returns
// its row; it fails after two minutes (a loaded CI machine).
func (m *MuxEnv) WaitState(name, state string) mux.Info {
	m.T.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		rows := m.Ls()
		for _, r := range rows {
			if r.Name == name && r.State == state {
				return r
			}
		}
		if time.Now().After(deadline) {
			m.T.Fatalf("%s not %s within 2m: %+v\n%s", name, state, rows, m.Must("capture", "-t", name).Stdout)
		}
		time.Sleep(50 * time.Millisecond) // polling the server
	}
}

func (m *MuxEnv) ServerPID() int {
	m.T.Helper()
	re := regexp.MustCompile(`listening on .* \(pid (\d+)\)`)
	all := re.FindAllStringSubmatch(m.Log(), -1)
	if len(all) == 0 {
		m.T.Fatalf("no server pid in the log:\n%s", m.Log())
	}
	pid, _ := strconv.Atoi(all[len(all)-1][1])
	return pid
}

// MustAll runs `psmux ARGS` for each args, up to 8 at a time (as many
// users would), and fails on the first that fails.
func (m *MuxEnv) MustAll(all [][]string) {
	m.T.Helper()
	res := make([]Result, len(all))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, args := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			cmd := m.Cmd(args...)
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			err := cmd.Run()
			res[i] = Result{Code: cmd.ProcessState.ExitCode(), Stdout: out.String(), Stderr: errb.String()}
			if err != nil && res[i].Stderr == "" {
				res[i].Stderr = err.Error()
			}
		}()
	}
	wg.Wait()
	for i, r := range res {
		if r.Code != 0 {
			m.T.Fatalf("psmux %q: exit %d, stdout %q, stderr %q\nserver log:\n%s", all[i], r.Code, r.Stdout, r.Stderr, m.Log())
		}
	}
}

// NewSSH opens a session on sshd (real OpenSSH, pwshsim behind its
// powershell subsystem).
func (m *MuxEnv) NewSSH(sshd *opensshd.Sshd, name string, extra ...string) {
	m.T.Helper()
	m.Must(append(append([]string{"new", "-n", name}, extra...), "-F", sshd.SSHConfig, sshd.Alias)...)
}

// Attacher is a running `psmux attach` whose output the test reads.
type Attacher struct {
	Cmd     *exec.Cmd
	Stdin   io.WriteCloser
	Out     *bufio.Scanner
	Errb    *LockedBuffer
	ErrLine chan string // stderr, a line at a time; closed at its end
	ErrDone chan struct{}
}

// Wait waits for the client to exit, stderr read to its end.
func (a *Attacher) Wait() error {
	<-a.ErrDone
	return a.Cmd.Wait()
}

type LockedBuffer struct {
	Mu sync.Mutex
	B  bytes.Buffer
}

func (l *LockedBuffer) Write(p []byte) (int, error) {
	l.Mu.Lock()
	defer l.Mu.Unlock()
	return l.B.Write(p)
}

func (l *LockedBuffer) String() string {
	l.Mu.Lock()
	defer l.Mu.Unlock()
	return l.B.String()
}

// WaitErr reads stderr lines until one contains s; it fails at the end
// of stderr or after two minutes.
func (a *Attacher) WaitErr(t *testing.T, s string) {
	t.Helper()
	deadline := time.NewTimer(2 * time.Minute) // a loaded CI machine
	defer deadline.Stop()
	for {
		select {
		case l, ok := <-a.ErrLine:
			if !ok {
				t.Fatalf("attach stderr ended without %q: %q", s, a.Errb.String())
			}
			if strings.Contains(l, s) {
				return
			}
		case <-deadline.C:
			t.Fatalf("no %q on attach's stderr after two minutes: %q", s, a.Errb.String())
		}
	}
}

func (m *MuxEnv) Attach(args ...string) *Attacher {
	m.T.Helper()
	return m.AttachAs("", args...)
}

// AttachAs is Attach for the client named client (PSMUX_CLIENT: the
// server keeps a cursor per client name); "" is Attach's own.
func (m *MuxEnv) AttachAs(client string, args ...string) *Attacher {
	m.T.Helper()
	cmd := m.Cmd(append([]string{"attach"}, args...)...)
	if client != "" {
		cmd.Env = append(cmd.Environ(), "PSMUX_CLIENT="+client)
	}
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	a := &Attacher{Cmd: cmd, Stdin: stdin, Errb: &LockedBuffer{}, ErrLine: make(chan string, 1024)}
	if err := cmd.Start(); err != nil {
		m.T.Fatal(err)
	}
	errDone := make(chan struct{})
	a.ErrDone = errDone
	go func() {
		defer close(errDone)
		defer close(a.ErrLine)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			a.Errb.Write(append(sc.Bytes(), '\n'))
			select {
			case a.ErrLine <- sc.Text():
			default: // nobody is waiting for stderr lines; the buffer keeps them
			}
		}
	}()
	m.T.Cleanup(func() { reap.KillGroup(cmd); <-errDone; cmd.Wait() })
	a.Out = bufio.NewScanner(stdout)
	a.Out.Buffer(make([]byte, 64<<10), 32<<20)
	return a
}

// Until reads lines until one satisfies ok; it fails at EOF, or after
// two minutes (it then kills the client, which ends its output).
func (a *Attacher) Until(t *testing.T, what string, ok func(string) bool) string {
	t.Helper()
	var expired atomic.Bool
	timer := time.AfterFunc(2*time.Minute, func() { // a loaded CI machine
		expired.Store(true)
		reap.KillGroup(a.Cmd)
	})
	defer timer.Stop()
	for a.Out.Scan() {
		if ok(a.Out.Text()) {
			return a.Out.Text()
		}
	}
	if expired.Load() {
		t.Fatalf("no %s on attach's output after two minutes; stderr %q", what, a.Errb.String())
	}
	t.Fatalf("attach output ended before %s; stderr %q", what, a.Errb.String())
	return ""
}

// WaitAttached polls ls until session has n attached clients (an attach
// started in the background is attached only once the server says so).
func (m *MuxEnv) WaitAttached(session string, n int) {
	m.T.Helper()
	deadline := time.Now().Add(2 * time.Minute) // a loaded CI machine
	for {
		for _, r := range m.Ls() {
			if r.Name == session && r.Attached >= n {
				return
			}
		}
		if time.Now().After(deadline) {
			m.T.Fatalf("%s never had %d clients attached: %+v", session, n, m.Ls())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var _ = faultproxy.New
var _ = knownhosts.Line

// VmHWM is a process's peak resident memory in bytes.
func VmHWM(t *testing.T, pid int) int64 { return ProcStatus(t, pid, "VmHWM:") }

// VmRSS is a process's resident memory in bytes.
func VmRSS(t *testing.T, pid int) int64 { return ProcStatus(t, pid, "VmRSS:") }

func ProcStatus(t *testing.T, pid int, key string) int64 {
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

// ServerLog is the stderr of a server a test started in the foreground,
// a line at a time.
type ServerLog struct {
	Lines chan string // closed at the end of stderr
	All   *LockedBuffer
}

// Serve starts the server in the foreground with args, as the test's own
// child (it dies with the test), and returns once it listens.
func (m *MuxEnv) Serve(args ...string) *ServerLog {
	m.T.Helper()
	srv := m.Cmd(append([]string{"server", "--foreground"}, args...)...)
	stderr, err := srv.StderrPipe()
	if err != nil {
		m.T.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		m.T.Fatal(err)
	}
	l := &ServerLog{Lines: make(chan string, 1024), All: &LockedBuffer{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(l.Lines)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			l.All.Write(append(sc.Bytes(), '\n'))
			l.Lines <- sc.Text()
		}
	}()
	m.T.Cleanup(func() {
		reap.KillGroup(srv)
		go func() { // nobody reads the lines any more
			for range l.Lines {
			}
		}()
		<-done
		srv.Wait()
	})
	l.WaitFor(m.T, "listening on")
	return l
}

// WaitFor reads the log until a line contains s and returns the line; it
// fails at the log's end or after two minutes.
func (l *ServerLog) WaitFor(t testing.TB, s string) string {
	t.Helper()
	deadline := time.After(2 * time.Minute)
	for {
		select {
		case line, ok := <-l.Lines:
			if !ok {
				t.Fatalf("the server log ended without %q:\n%s", s, l.All.String())
			}
			if strings.Contains(line, s) {
				return line
			}
		case <-deadline:
			t.Fatalf("no %q in the server log after two minutes:\n%s", s, l.All.String())
		}
	}
}
