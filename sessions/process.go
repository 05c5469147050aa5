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
	p := &ProcessTransport{cmd: cmd, stdin: stdin, stdout: stdout, waited: make(chan struct{})}
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

// Close closes stdin, waits for the child (killing it if it does not exit
// after its stdin closed), and reports a non-zero exit other than 4000.
func (p *ProcessTransport) Close() error {
	p.once.Do(func() {
		_ = p.stdin.Close()
		done := make(chan error, 1)
		go func() {
			p.errs.Wait()
			done <- p.cmd.Wait()
		}()
		select {
		case p.exit = <-done:
		case <-time.After(exitGrace):
			// pwsh exits as soon as its stdin ends; one that does not is killed.
			_ = p.cmd.Process.Kill()
			p.exit = <-done
		}
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
