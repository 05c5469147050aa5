package cli_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/psmux/psmux/internal/e2e"
)

// attachScript pipes script into `psmux attach -t S` and returns its
// stdout and exit status.
func attachScript(t *testing.T, m *e2e.MuxEnv, script string) (string, int) {
	t.Helper()
	cmd := m.Cmd("attach", "-t", "S")
	cmd.Stdin = strings.NewReader(script)
	r := e2e.RunCmd(t, cmd)
	return r.Stdout, r.Code
}

var outputLine = regexp.MustCompile(`(?m)^[a-z0-9]+$`)

// A script piped into attach runs as the REPL would run it typed: whole
// statements (a function over several lines is one), in order, each
// after the one before ended; the client waits for the last and exits
// with exec's status.
func TestAttachScriptRunsInOrder(t *testing.T) {
	m := e2e.NewMuxEnv(t)
	m.Must("new", "-n", "S", "--local", "--pwsh", e2e.PwshsimBin()+" -s")
	for i := range 20 {
		out, code := attachScript(t, m, "\"a\"\n\"b\"\n\"c\"\n\"d\"\n\"e\"\n")
		if got := strings.Join(outputLine.FindAllString(out, -1), " "); got != "a b c d e" || code != 0 {
			t.Fatalf("run %d: output lines %q, exit %d; want a b c d e, 0\n%s", i, got, code, out)
		}
	}
	if out, code := attachScript(t, m, "function sq($n) {\n  $n * $n\n}\nsq 7\n"); !regexp.MustCompile(`(?m)^49$`).MatchString(out) || code != 0 {
		t.Fatalf("a function over three lines: exit %d\n%s", code, out)
	}
	if out, code := attachScript(t, m, "Start-Sleep 2; \"slept\"\n\"second\"\n"); strings.Join(outputLine.FindAllString(out, -1), " ") != "slept second" || code != 0 {
		t.Fatalf("a statement that takes a while, then another: exit %d\n%s", code, out)
	}
	if out, code := attachScript(t, m, "'before'\nWrite-Error bad\n'after'\n"); code != e2e.ExitErrors || !strings.Contains(out, "after") {
		t.Fatalf("a script with a failing line: exit %d, want 1 (and the rest run)\n%s", code, out)
	}
}

// -t is case-insensitive, as PowerShell's session names are; the
// client labels the session's commands with its own name.
func TestAttachTargetCaseInsensitive(t *testing.T) {
	m := e2e.NewMuxEnv(t)
	m.Must("new", "-n", "Web", "--local", "--pwsh", e2e.PwshsimBin()+" -s")
	cmd := m.Cmd("attach", "-t", "WEB")
	cmd.Stdin = strings.NewReader("'hi'\n")
	r := e2e.RunCmd(t, cmd)
	if r.Code != 0 || !strings.Contains(r.Stdout, "[Web]: PS> 'hi'\nhi\n") {
		t.Fatalf("attach -t WEB: exit %d, stdout %q; want the command under [Web]", r.Code, r.Stdout)
	}
}

// While a piped statement runs, the lines after it answer its prompts,
// as pwsh reads them with piped input: Read-Host takes the next line
// (shown after its question), which does not also run as a command.
func TestAttachScriptAnswersPromptsFromTheInput(t *testing.T) {
	for name, server := range e2e.PwshServers(t) {
		t.Run(name, func(t *testing.T) {
			m := e2e.NewMuxEnv(t)
			m.Must("new", "-n", "S", "--local", "--pwsh", server)
			cmd := m.Cmd("attach", "-t", "S")
			cmd.Stdin = strings.NewReader("$a = Read-Host 'name'\nBob\n\"got $a\"\n\"next\"\n")
			r := e2e.RunCmd(t, cmd)
			if r.Code != 0 || !strings.Contains(r.Stdout, "got Bob\n") || !strings.Contains(r.Stdout, "\nnext\n") {
				t.Fatalf("exit %d; want 0 with got Bob and next\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
			}
			if strings.Contains(r.Stdout, "PS> Bob") || !strings.Contains(r.Stderr, "name: Bob\n") {
				t.Fatalf("the answer ran as a command, or was not shown after its question\nstdout:\n%s\nstderr:\n%s", r.Stdout, r.Stderr)
			}
		})
	}
}
