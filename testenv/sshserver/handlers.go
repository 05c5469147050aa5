package sshserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/pkg/sftp"

	"github.com/psmux/psmux/testenv/pwshsim"
)

// commandWaitDelay bounds how long Command waits for a program's output
// pipes after it exited (or after it was killed on cancellation).
const commandWaitDelay = 5 * time.Second

// Pwshsim returns a handler that runs the in-process pwsh simulator with
// the channel as its stdio. The exit status is the simulator's
// (pwshsim.ExitUnhandled, 4000, after the session ends) truncated to 8 bits
// as a process's would be, so it reports 160 exactly like a real pwsh behind
// OpenSSH's sshd.
func Pwshsim(opts pwshsim.ServerOptions) Handler {
	return func(ctx context.Context, _ string, stdin io.Reader, stdout, stderr io.Writer) int {
		stop := context.AfterFunc(ctx, func() { closeReader(stdin) })
		defer stop()
		return pwshsim.NewServer(stdin, stdout, stderr, opts).Serve() & 0xff
	}
}

// Command returns a handler that runs argv[0] with arguments argv[1:] and
// the channel as its stdin, stdout and stderr; the exec command or
// subsystem name is not passed to it. The program is killed when the
// handler's context is cancelled. The exit status is the program's, 255 if
// a signal ended it, and 127 (with a message on stderr) if it could not be
// started.
func Command(argv ...string) Handler {
	argv = append([]string(nil), argv...)
	return func(ctx context.Context, _ string, stdin io.Reader, stdout, stderr io.Writer) int {
		if len(argv) == 0 {
			fmt.Fprintln(stderr, "sshserver: Command: no program given")
			return 127
		}
		c := exec.CommandContext(ctx, argv[0], argv[1:]...)
		c.Stdout, c.Stderr = stdout, stderr
		c.WaitDelay = commandWaitDelay
		in, err := c.StdinPipe()
		if err != nil {
			fmt.Fprintf(stderr, "sshserver: %s: %v\n", argv[0], err)
			return 127
		}
		if err := c.Start(); err != nil {
			fmt.Fprintf(stderr, "sshserver: %s: %v\n", argv[0], err)
			return 127
		}
		// Copy stdin ourselves rather than through c.Stdin: exec would wait
		// for that copy, which blocks until the client sends EOF.
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = io.Copy(in, stdin)
			in.Close()
		}()
		err = c.Wait()
		closeReader(stdin)
		wg.Wait()
		if err == nil {
			return 0
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if code := ee.ExitCode(); code >= 0 {
				return code
			}
			return 255
		}
		if errors.Is(err, exec.ErrWaitDelay) && c.ProcessState != nil && c.ProcessState.ExitCode() >= 0 {
			return c.ProcessState.ExitCode()
		}
		fmt.Fprintf(stderr, "sshserver: %s: %v\n", argv[0], err)
		return 255
	}
}

// SFTP returns a handler serving SFTP (github.com/pkg/sftp) on the real
// filesystem; relative paths resolve against root, or against the process's
// working directory when root is "". It exits 0 when the client ends the
// session cleanly and 1 otherwise.
func SFTP(root string) Handler {
	return func(ctx context.Context, _ string, stdin io.Reader, stdout, stderr io.Writer) int {
		var opts []sftp.ServerOption
		if root != "" {
			opts = append(opts, sftp.WithServerWorkingDirectory(root))
		}
		srv, err := sftp.NewServer(stdio{stdin, stdout}, opts...)
		if err != nil {
			fmt.Fprintf(stderr, "sshserver: sftp: %v\n", err)
			return 1
		}
		stop := context.AfterFunc(ctx, func() { srv.Close() })
		defer stop()
		if err := srv.Serve(); err != nil {
			fmt.Fprintf(stderr, "sshserver: sftp: %v\n", err)
			return 1
		}
		return 0
	}
}

// defaultExec is the exec handler when Options.Exec is nil.
func defaultExec(ctx context.Context, cmd string, stdin io.Reader, stdout, stderr io.Writer) int {
	if strings.Contains(cmd, "pwsh") {
		sshs := false
		for _, f := range strings.Fields(cmd) {
			switch strings.ToLower(f) {
			case "-sshs", "-sshservermode":
				sshs = true
			}
		}
		return Pwshsim(pwshsim.ServerOptions{SSHS: sshs})(ctx, cmd, stdin, stdout, stderr)
	}
	fmt.Fprintf(stderr, "sshserver: %s: command not found\n", cmd)
	return 127
}

// closeReader closes r if it can be closed; the server's stdin pipes can.
func closeReader(r io.Reader) {
	if c, ok := r.(io.Closer); ok {
		c.Close()
	}
}

// stdio joins a handler's stdin and stdout into the ReadWriteCloser
// sftp.NewServer wants. Close closes only stdin: the server closes the
// channel after the handler returns.
type stdio struct {
	io.Reader
	io.Writer
}

func (s stdio) Close() error {
	closeReader(s.Reader)
	return nil
}
