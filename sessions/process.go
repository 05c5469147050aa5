package sessions

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// ExitUnhandled is the exit status pwsh's server uses after any fatal
// condition, including the normal end of stdin (psrp-brief §1.6).
const ExitUnhandled = 4000

// ProcessTransport runs a local program that speaks OutOfProc on stdio
// (pwsh -s, pwshsim, or another implementation).
type ProcessTransport struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout io.ReadCloser
	stderr io.ReadCloser
	errs   sync.WaitGroup
	once   sync.Once
	waited chan struct{}
	exit   error
}

// StartProcess starts argv. Each stderr line goes to diag.
func StartProcess(ctx context.Context, argv []string, diag func(DiagKind, string)) (*ProcessTransport, error) {
	if len(argv) == 0 {
		return nil, errors.New("sessions: no command to start")
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = os.Environ()
	// Its own process group: a terminal's Ctrl-C reaches psmux alone (it
	// becomes a Signal), and stopping it stops whatever it started too (a
	// launcher such as the dotnet tool's pwsh runs the real pwsh as a child).
	cmd.SysProcAttr = groupAttr()
	cmd.Cancel = func() error { return killGroup(cmd.Process) }
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("sessions: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("sessions: %w", err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("sessions: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("sessions: start %s: %w", argv[0], err)
	}
	p := &ProcessTransport{cmd: cmd, stdin: stdin, stdout: stdout, stderr: stderr, waited: make(chan struct{})}
	p.errs.Add(1)
	go func() {
		defer p.errs.Done()
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 4096), 1<<20)
		for sc.Scan() {
			if diag != nil {
				diag(DiagStderr, strings.TrimRight(sc.Text(), "\r"))
			}
		}
	}()
	return p, nil
}

func (p *ProcessTransport) Read(b []byte) (int, error)  { return p.stdout.Read(b) }
func (p *ProcessTransport) Write(b []byte) (int, error) { return p.stdin.Write(b) }

// CloseWrite closes the child's stdin.
func (p *ProcessTransport) CloseWrite() error { return p.stdin.Close() }

// Close closes stdin, waits for the child (killing its whole process
// group if it does not exit after its stdin closed), and reports a
// non-zero exit other than 4000. After a kill it closes its ends of the
// pipes and never waits on them for long: a grandchild that kept them
// open cannot hold Close.
func (p *ProcessTransport) Close() error {
	p.once.Do(func() {
		_ = p.stdin.Close()
		exited := make(chan error, 1)
		go func() {
			st, err := p.cmd.Process.Wait()
			if err == nil && !st.Success() {
				err = &exec.ExitError{ProcessState: st}
			}
			exited <- err
		}()
		select {
		case p.exit = <-exited:
		case <-time.After(exitGrace):
			// pwsh exits as soon as its stdin ends; one that does not (or
			// is blocked writing output nobody reads) is killed.
			_ = killGroup(p.cmd.Process)
			p.exit = <-exited
		}
		// Whatever is left of the group (a launcher's child) goes too.
		_ = killGroup(p.cmd.Process)
		drained := make(chan struct{})
		go func() { p.errs.Wait(); close(drained) }()
		select {
		case <-drained:
		case <-time.After(exitGrace):
		}
		_ = p.stdout.Close()
		_ = p.stderr.Close()
		close(p.waited)
	})
	var ee *exec.ExitError
	// 4000 reaches a Unix parent as 4000 & 0xff = 160.
	if errors.As(p.exit, &ee) && (ee.ExitCode() == ExitUnhandled || ee.ExitCode() == ExitUnhandled&0xff || ee.ExitCode() == -1) {
		return nil
	}
	if p.exit != nil {
		return fmt.Errorf("sessions: remote process: %w", p.exit)
	}
	return nil
}

// Abort kills the server's process group at once, then closes as Close
// does: for a session that broke, whose output nobody will read again.
func (p *ProcessTransport) Abort() error {
	_ = killGroup(p.cmd.Process)
	return p.Close()
}

// exitGrace is how long a server may take to exit after its stdin closed.
const exitGrace = 5 * time.Second

// SplitCommand splits a command line like a POSIX shell does for words:
// blanks separate, single and double quotes group, backslash escapes.
func SplitCommand(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inWord := false
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else if c == '\\' && quote == '"' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
				i++
				cur.WriteByte(s[i])
			} else {
				cur.WriteByte(c)
			}
		case c == '\'' || c == '"':
			quote, inWord = c, true
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("sessions: unterminated %c quote in %q", quote, s)
	}
	if inWord {
		out = append(out, cur.String())
	}
	if len(out) == 0 {
		return nil, errors.New("sessions: empty command line")
	}
	return out, nil
}
