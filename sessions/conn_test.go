package sessions_test

import (
	"bytes"
	"context"
	"errors"
	req "github.com/psmux/psmux/testenv/require"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/psmux/psmux/sessions"
	"github.com/psmux/psmux/sessions/clixml"
	"github.com/psmux/psmux/sessions/psrp"
	"github.com/psmux/psmux/testenv/pwshsim"
)

// memTransport connects a Conn to an in-process pwshsim server.
type memTransport struct {
	r    *io.PipeReader
	w    *io.PipeWriter
	sr   *io.PipeReader // the server's input
	sw   *io.PipeWriter // the server's output
	exit chan struct{}  // closed when the server has returned
}

func (m *memTransport) Read(b []byte) (int, error)  { return m.r.Read(b) }
func (m *memTransport) Write(b []byte) (int, error) { return m.w.Write(b) }
func (m *memTransport) CloseWrite() error           { return m.w.Close() }
func (m *memTransport) Close() error {
	m.w.Close()
	<-m.exit
	m.r.Close()
	return nil
}

// die ends the server as a crashing process does: its output ends (EOF
// at the client) and it reads no more.
func (m *memTransport) die() {
	m.sw.Close()
	m.sr.CloseWithError(errors.New("memTransport: the server process is gone"))
}

func startMem(t *testing.T, opts pwshsim.ServerOptions) (*memTransport, *strings.Builder) {
	t.Helper()
	cr, sw := io.Pipe() // server → client
	sr, cw := io.Pipe() // client → server
	var stderr strings.Builder
	var mu sync.Mutex
	m := &memTransport{r: cr, w: cw, sr: sr, sw: sw, exit: make(chan struct{})}
	srv := pwshsim.NewServer(sr, sw, lockedWriter{&mu, &stderr}, opts)
	go func() {
		srv.Serve()
		sw.Close()
		sr.Close()
		close(m.exit)
	}()
	return m, &stderr
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// recorder is a Handler that keeps everything and answers prompts.
type recorder struct {
	mu     sync.Mutex
	msgs   []psrp.MessageType
	values []clixml.Value
	calls  []psrp.HostCallMsg
	answer func(psrp.HostCallMsg) (clixml.Value, *clixml.Value)
	onCall chan psrp.HostMethod
}

func (r *recorder) Message(t psrp.MessageType, v clixml.Value) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, t)
	r.values = append(r.values, v)
}

func (r *recorder) HostCall(ctx context.Context, c psrp.HostCallMsg) (clixml.Value, *clixml.Value) {
	r.mu.Lock()
	r.calls = append(r.calls, c)
	r.mu.Unlock()
	if r.onCall != nil {
		r.onCall <- c.Method
	}
	if r.answer != nil && !c.Method.Void() {
		return r.answer(c)
	}
	return clixml.Value{}, nil
}

func (r *recorder) outputs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for i, t := range r.msgs {
		if t == psrp.PipelineOutput {
			out = append(out, r.values[i].Str())
		}
	}
	return out
}

func (r *recorder) count(t psrp.MessageType) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, m := range r.msgs {
		if m == t {
			n++
		}
	}
	return n
}

// transports yields the transports the suite runs against: in memory,
// over a pipe to the pwshsim binary, and a real pwsh when there is one.
func transports(t *testing.T) map[string]func(t *testing.T) sessions.Transport {
	t.Helper()
	out := map[string]func(t *testing.T) sessions.Transport{
		"memory": func(t *testing.T) sessions.Transport { m, _ := startMem(t, pwshsim.ServerOptions{}); return m },
		"process": func(t *testing.T) sessions.Transport {
			return startProcess(t, []string{pwshsimBinary(t), "-s"})
		},
	}
	if argv := pwshArgv(t); argv != nil {
		out["pwsh"] = func(t *testing.T) sessions.Transport {
			return startProcess(t, argv)
		}
	}
	return out
}

// pwshArgv is the real pwsh server's command line, nil without one.
func pwshArgv(t *testing.T) []string {
	t.Helper()
	cmd := req.PwshCommand()
	if cmd == "" && req.Required(req.Pwsh) {
		cmd = req.PwshServer(t)
	}
	if cmd == "" {
		return nil
	}
	return strings.Fields(cmd)
}

func startProcess(t *testing.T, argv []string) sessions.Transport {
	t.Helper()
	p, err := sessions.StartProcess(context.Background(), argv, func(k sessions.DiagKind, s string) { t.Logf("diag %d: %s", k, s) })
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// pwshsimBinary builds testenv/cmd/pwshsim once per test run.
func pwshsimBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "psmux-pwshsim")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "pwshsim")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/psmux/psmux/testenv/cmd/pwshsim").CombinedOutput()
		if err != nil {
			buildErr = errors.New(string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("build pwshsim: %v", buildErr)
	}
	return binPath
}

func open(t *testing.T, tr sessions.Transport, host psrp.HostInfo) *sessions.Conn {
	t.Helper()
	c, err := sessions.Open(context.Background(), tr, sessions.Options{Host: host})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// bounded, as every caller's close is: a server that never
		// acknowledges fails the test instead of hanging it
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return c
}

func run(t *testing.T, c *sessions.Conn, script string, h *recorder) sessions.Result {
	t.Helper()
	res, err := c.Invoke(context.Background(), psrp.ScriptPipeline(script, false), nil, h)
	if err != nil {
		t.Fatalf("%s: %v", script, err)
	}
	return res
}

func TestClientAgainstPwshsim(t *testing.T) {
	for name, mk := range transports(t) {
		t.Run(name, func(t *testing.T) {
			c := open(t, mk(t), psrp.NoHost())
			if c.Negotiated() == "" {
				t.Fatal("no negotiated protocol version")
			}
			h := &recorder{}
			if res := run(t, c, `$x = 40 + 2; "answer: $x"`, h); res.State != psrp.Completed || res.HadErrors {
				t.Fatalf("state %v errors %v", res.State, res.HadErrors)
			}
			if got := h.outputs(); len(got) != 1 || got[0] != "answer: 42" {
				t.Fatalf("outputs %q", got)
			}
			h = &recorder{}
			run(t, c, `$x`, h)
			if got := h.outputs(); len(got) != 1 || got[0] != "42" {
				t.Fatalf("variable did not persist: %q", got)
			}
			h = &recorder{}
			if res := run(t, c, `1..3`, h); res.State != psrp.Completed {
				t.Fatalf("1..3: %v", res.State)
			}
			if got := strings.Join(h.outputs(), ","); got != "1,2,3" {
				t.Fatalf("1..3 gave %q", got)
			}
			h = &recorder{}
			res := run(t, c, `Write-Error boom`, h)
			if !res.HadErrors || h.count(psrp.ErrorRecord) != 1 || res.State != psrp.Completed {
				t.Fatalf("Write-Error: state %v errors %v records %d", res.State, res.HadErrors, h.count(psrp.ErrorRecord))
			}
			if msg := sessions.ErrorText(h.values[0]); msg != "boom" {
				t.Fatalf("error text %q", msg)
			}
			h = &recorder{}
			res = run(t, c, `throw "bad"`, h)
			if res.State != psrp.Failed || sessions.ErrorText(res.Reason) != "bad" {
				t.Fatalf("throw: %v %q", res.State, sessions.ErrorText(res.Reason))
			}
		})
	}
}

func TestStopSendsSignal(t *testing.T) {
	m, _ := startMem(t, pwshsim.ServerOptions{})
	c := open(t, m, psrp.NoHost())
	ctx, cancel := context.WithCancel(context.Background())
	h := &recorder{onCall: make(chan psrp.HostMethod, 1)}
	done := make(chan sessions.Result)
	go func() {
		res, err := c.Invoke(ctx, psrp.ScriptPipeline(`Write-Output started; Start-Sleep 30`, false), nil, &outputSignal{h, cancel})
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	res := <-done
	if res.State != psrp.Stopped {
		t.Fatalf("state %v, want Stopped", res.State)
	}
	// The session survives a stop.
	if r := run(t, c, `'still here'`, &recorder{}); r.State != psrp.Completed {
		t.Fatalf("after stop: %v", r.State)
	}
}

// outputSignal cancels the invocation as soon as output arrives.
type outputSignal struct {
	*recorder
	cancel context.CancelFunc
}

func (o *outputSignal) Message(t psrp.MessageType, v clixml.Value) {
	o.recorder.Message(t, v)
	if t == psrp.PipelineOutput {
		o.cancel()
	}
}

func TestPipelineInput(t *testing.T) {
	m, _ := startMem(t, pwshsim.ServerOptions{})
	c := open(t, m, psrp.NoHost())
	h := &recorder{}
	res, err := c.Invoke(context.Background(), psrp.ScriptPipeline(`$input`, false), []clixml.Value{clixml.I32(1), clixml.Str("two")}, h)
	if err != nil || res.State != psrp.Completed {
		t.Fatalf("%v %v", res.State, err)
	}
	if got := strings.Join(h.outputs(), ","); got != "1,two" {
		t.Fatalf("outputs %q", got)
	}
}

func TestHostCallsAnswered(t *testing.T) {
	servers := map[string]func(t *testing.T) sessions.Transport{}
	for _, proto := range []string{"2.3", "2.4"} {
		servers["pwshsim "+proto] = func(t *testing.T) sessions.Transport {
			m, _ := startMem(t, pwshsim.ServerOptions{Protocol: proto})
			return m
		}
	}
	if mk, ok := transports(t)["pwsh"]; ok {
		servers["pwsh"] = mk
	}
	for name, mk := range servers {
		t.Run(name, func(t *testing.T) {
			c := open(t, mk(t), psrp.TerminalHost(80, 25))
			h := &recorder{answer: func(call psrp.HostCallMsg) (clixml.Value, *clixml.Value) {
				switch call.Method {
				case psrp.ReadLine:
					return clixml.Str("typed"), nil
				case psrp.ReadLineAsSecureString:
					return clixml.Value{Kind: clixml.SecureString, Text: "s3cret"}, nil
				case psrp.PromptForChoice:
					return clixml.I32(1), nil
				}
				return clixml.Value{}, sessions.HostError(call.Method, "no")
			}}
			run(t, c, `$a = Read-Host; "got $a"`, h)
			run(t, c, `$host.UI.PromptForChoice('c', 'm', @('&Yes', '&No'), 0)`, h)
			// The server shows what the SecureString it received holds.
			run(t, c, `$s = Read-Host -AsSecureString; ConvertFrom-SecureString -SecureString $s -AsPlainText`, h)
			if got := h.outputs(); strings.Join(got, "|") != "got typed|1|s3cret" {
				t.Fatalf("outputs %q, want the three answers back", got)
			}
			var asked []psrp.HostMethod
			h.mu.Lock()
			defer h.mu.Unlock()
			for _, call := range h.calls {
				if !call.Method.Void() {
					asked = append(asked, call.Method)
				}
			}
			if want := []psrp.HostMethod{psrp.ReadLine, psrp.PromptForChoice, psrp.ReadLineAsSecureString}; !slices.Equal(asked, want) {
				t.Fatalf("host calls %v, want %v", asked, want)
			}
			if proto, ok := strings.CutPrefix(name, "pwshsim "); ok && c.Negotiated() != proto {
				t.Fatalf("negotiated %s, want %s", c.Negotiated(), proto)
			}
		})
	}
}

func TestBrokenWhenServerDies(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m, _ := startMem(t, pwshsim.ServerOptions{})
	c, err := sessions.Open(ctx, m, sessions.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	// A pipeline is running when the server process dies.
	h := &recorder{}
	out := make(chan struct{})
	running := make(chan error, 1)
	go func() {
		_, err := c.Invoke(ctx, psrp.ScriptPipeline("'started'; Start-Sleep 30", false), nil, &outputNotice{h, out})
		running <- err
	}()
	select {
	case <-out:
	case err := <-running:
		t.Fatalf("the pipeline ended before the server died: %v", err)
	case <-ctx.Done():
		t.Fatal("no output from the running pipeline")
	}
	m.die()
	var be *sessions.BrokenError
	select {
	case err := <-running:
		if !errors.As(err, &be) {
			t.Fatalf("the running Invoke ended with %v, want a BrokenError", err)
		}
	case <-ctx.Done():
		t.Fatal("the running Invoke did not end after the server died")
	}
	wantEndedByEOF(ctx, t, c)
	if _, err := c.Invoke(ctx, psrp.ScriptPipeline("1", false), nil, &recorder{}); !errors.As(err, &be) {
		t.Fatalf("Invoke after the server died: %v, want BrokenError", err)
	}
}

// wantEndedByEOF waits for c to end and checks that it broke because the
// server's output ended.
func wantEndedByEOF(ctx context.Context, t *testing.T, c *sessions.Conn) {
	t.Helper()
	select {
	case <-c.Done():
	case <-ctx.Done():
		t.Fatal("the connection did not end after the server died")
	}
	var be *sessions.BrokenError
	if err := c.Err(); !errors.As(err, &be) || !strings.Contains(err.Error(), "closed its output") {
		t.Fatalf("Err() = %v, want a BrokenError saying the output ended", err)
	}
}

// outputNotice closes out at the first output.
type outputNotice struct {
	*recorder
	out chan struct{}
}

func (o *outputNotice) Message(t psrp.MessageType, v clixml.Value) {
	o.recorder.Message(t, v)
	if t == psrp.PipelineOutput && o.recorder.count(psrp.PipelineOutput) == 1 {
		close(o.out)
	}
}

// TestInvokeWithADoneContextRunsNothing: a command whose ctx ended before
// Invoke (Ctrl-C while the connection was being asked about the
// text-lines filter) is Stopped without a pipeline on the wire.
func TestInvokeWithADoneContextRunsNothing(t *testing.T) {
	for name, mk := range transports(t) {
		t.Run(name, func(t *testing.T) {
			tr := &commandCounter{Transport: mk(t)}
			c := open(t, tr, psrp.NoHost())
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			before := tr.n.Load()
			res, err := c.Invoke(ctx, psrp.ScriptPipeline("$global:ran = 'yes'", false), nil, &recorder{})
			if err != nil || res.State != psrp.Stopped {
				t.Fatalf("Invoke with a done ctx: %v, %v; want Stopped", res.State, err)
			}
			if n := tr.n.Load() - before; n != 0 {
				t.Fatalf("%d pipelines sent for a command whose ctx was done", n)
			}
			h := &recorder{}
			run(t, c, "\"ran=$global:ran\"", h)
			if got := h.outputs(); len(got) != 1 || got[0] != "ran=" {
				t.Fatalf("the command ran: %q", got)
			}
		})
	}
}

// commandCounter counts the OutOfProc Command packets (a new pipeline)
// written through it.
type commandCounter struct {
	sessions.Transport
	n atomic.Int32
}

func (c *commandCounter) Write(b []byte) (int, error) {
	c.n.Add(int32(bytes.Count(b, []byte("<Command "))))
	return c.Transport.Write(b)
}

// TestTextPipelineUsesTheFilter: where nothing stands in its way, the
// connection's probe passes and a text pipeline ends in the text-lines
// filter, whose leading numbers come back as output lines, with no host
// call (a filter that always refused would print the same through
// Out-Default, only slower: this is what tells).
func TestTextPipelineUsesTheFilter(t *testing.T) {
	for name, mk := range transports(t) {
		t.Run(name, func(t *testing.T) {
			c := open(t, mk(t), psrp.NoHost())
			p := c.TextPipeline(context.Background(), "1..3")
			if !p.EndsInLinesFilter() {
				t.Fatalf("the probe failed: the pipeline ends in %q", p.Cmds[len(p.Cmds)-1].Cmd)
			}
			h := &recorder{}
			res, err := c.Invoke(context.Background(), p, nil, h)
			if err != nil || res.State != psrp.Completed {
				t.Fatalf("Invoke: %v %v", res.State, err)
			}
			if got := h.outputs(); !slices.Equal(got, []string{"1", "2", "3"}) || len(h.calls) != 0 {
				t.Fatalf("outputs %q, %d host calls; want 1, 2, 3 as output and none", got, len(h.calls))
			}
		})
	}
}
