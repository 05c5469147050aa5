package repl

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"

	"github.com/psmux/psmux/ssh"
	"golang.org/x/term"
)

// TerminalPrompter answers SSH prompts (passwords, passphrases, 2FA
// codes, unknown host keys) on a terminal, one at a time, labelled with
// the destination when Label is set so prompts from a fan-out never
// interleave. Hidden questions are read without echo.
type TerminalPrompter struct {
	In    *os.File  // the terminal
	Err   io.Writer // where questions are written
	Label bool      // prefix "[dest] " to each question

	mu sync.Mutex
	r  *bufio.Reader
}

// Prompt implements ssh.Prompter.
func (p *TerminalPrompter) Prompt(ctx context.Context, req ssh.PromptRequest) ([]string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	label := ""
	if p.Label {
		label = "[" + req.Dest + "] "
	}
	for _, s := range []string{req.Name, req.Instruction} {
		if s = strings.TrimRight(s, "\n"); s != "" {
			for line := range strings.SplitSeq(s, "\n") {
				fmt.Fprintf(p.Err, "%s%s\n", label, line)
			}
		}
	}
	answers := make([]string, 0, len(req.Questions))
	for _, q := range req.Questions {
		fmt.Fprint(p.Err, label+q.Text)
		var line string
		if q.Echo {
			if p.r == nil {
				p.r = bufio.NewReader(p.In)
			}
			s, err := p.r.ReadString('\n')
			if err != nil && s == "" {
				fmt.Fprintln(p.Err) // what is said next starts a line of its own
				return nil, fmt.Errorf("repl: reading the answer: %w", err)
			}
			line = strings.TrimRight(s, "\r\n")
		} else {
			b, err := term.ReadPassword(int(p.In.Fd()))
			fmt.Fprintln(p.Err)
			if err != nil {
				return nil, fmt.Errorf("repl: reading the answer: %w", err)
			}
			line = string(b)
		}
		answers = append(answers, line)
	}
	return answers, nil
}

// AskpassPrompter answers SSH prompts by running an askpass program, as
// OpenSSH does with SSH_ASKPASS: the question is its argument, the
// answer the first line of its output. SSH_ASKPASS_PROMPT=confirm is
// set for host-key questions. It is for unattended use and tests.
type AskpassPrompter struct {
	Program string
	Err     io.Writer // instructions are shown here; nil drops them

	mu sync.Mutex
}

// Prompt implements ssh.Prompter.
func (p *AskpassPrompter) Prompt(ctx context.Context, req ssh.PromptRequest) ([]string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.Err != nil && req.Instruction != "" {
		fmt.Fprintf(p.Err, "[%s] %s\n", req.Dest, strings.TrimRight(req.Instruction, "\n"))
	}
	answers := make([]string, 0, len(req.Questions))
	for _, q := range req.Questions {
		cmd := exec.CommandContext(ctx, p.Program, q.Text)
		cmd.Env = os.Environ()
		if req.Kind == ssh.PromptHostKey {
			cmd.Env = append(cmd.Env, "SSH_ASKPASS_PROMPT=confirm")
		}
		var out bytes.Buffer
		cmd.Stdout = &limitedBuffer{b: &out, n: 64 << 10}
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("repl: askpass %s: %w", p.Program, err)
		}
		line, _, _ := strings.Cut(out.String(), "\n")
		answers = append(answers, strings.TrimRight(line, "\r"))
	}
	return answers, nil
}

type limitedBuffer struct {
	b *bytes.Buffer
	n int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.n - l.b.Len(); room > 0 {
		l.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// SSHPrompter picks how SSH questions are answered: an askpass program
// when SSH_ASKPASS is set and SSH_ASKPASS_REQUIRE says so (or there is
// no terminal), the terminal when stdin is one, and nobody otherwise
// (nil: every question fails, so nothing is ever accepted silently).
func SSHPrompter(stdin *os.File, stderr io.Writer, label bool) ssh.Prompter {
	askpass, require := os.Getenv("SSH_ASKPASS"), os.Getenv("SSH_ASKPASS_REQUIRE")
	tty := stdin != nil && term.IsTerminal(int(stdin.Fd()))
	switch {
	case askpass != "" && require == "force":
		return &AskpassPrompter{Program: askpass, Err: stderr}
	case tty:
		return &TerminalPrompter{In: stdin, Err: stderr, Label: label}
	case askpass != "" && require != "never":
		return &AskpassPrompter{Program: askpass, Err: stderr}
	}
	return nil
}
