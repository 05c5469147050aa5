package ssh_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/psmux/psmux/internal/e2e"
)

func readme(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e2e.Root(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The README's run command, its first code block's first line, run as
// written from the repository's root: exit 0, the answer on stdout and
// nothing on stderr.
func TestReadmeRunCommand(t *testing.T) {
	block := regexp.MustCompile("(?s)```sh\n(.*?)\n```").FindStringSubmatch(readme(t))
	if block == nil {
		t.Fatal("the README has no sh code block")
	}
	line, _, _ := strings.Cut(strings.Split(block[1], "\n")[0], "   #")
	if !strings.Contains(line, "go run ./cmd/psmux") {
		t.Fatalf("the README's first command is %q; want the run command", line)
	}
	cmd := exec.Command("sh", "-c", line)
	cmd.Dir = e2e.Root()
	// as a user runs it: CI's GOFLAGS=-v would make go run list packages
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GOFLAGS=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil || stdout.String() != "answer: 42\n" || stderr.Len() != 0 {
		t.Fatalf("%s: %v, stdout %q, stderr %q; want answer: 42 and nothing on stderr", line, err, stdout.String(), stderr.String())
	}
}

// The README's REPL example, typed in tmux against the testhost of its
// walkthrough, as a newcomer would: the session opens, C-b d detaches
// while a command runs, and attach from another terminal shows the rest
// with the state kept.
func TestReadmeREPLWalkthrough(t *testing.T) {
	for _, step := range []string{"PSMUX_SSH_CONFIG=/tmp/th/ssh_config go run ./cmd/psmux", "PS psmux> New-PSSession -HostName psmux-test -Name w1",
		"PS psmux> Enter-PSSession w1", "> $x = 7", "> 1..5 | % { Start-Sleep 1; $_ }", "[detached (from session w1)]", "go run ./cmd/psmux attach -t w1"} {
		if !strings.Contains(readme(t), step) {
			t.Fatalf("the README's REPL example no longer shows %q; keep this test and the README in step", step)
		}
	}
	dir := startTesthost(t)
	x := e2e.NewTmux(t, nil, "PSMUX_SSH_CONFIG="+filepath.Join(dir, "ssh_config"))
	w := x.Start("one")
	x.WaitPrompt(w, `^PS psmux>$`)
	x.Line(w, "New-PSSession -HostName psmux-test -Name w1")
	x.Wait(w, "the w1 row", regexp.MustCompile(`\d+ w1 +SSH .*Opened`).MatchString)
	x.WaitPrompt(w, `^PS psmux>$`)
	x.Line(w, "Enter-PSSession w1")
	x.WaitPrompt(w, e2e.W1Prompt)
	x.Line(w, "$x = 7")
	x.WaitPrompt(w, e2e.W1Prompt)
	x.Line(w, "1..5 | % { Start-Sleep 1; $_ }")
	x.Wait(w, "the first number", regexp.MustCompile(`(?m)^1$`).MatchString)
	x.Keys(w, "C-b", "d")
	x.WaitFor(w, "[detached (from session w1)]")
	x.WaitFor(w, "psmux-exited-0")
	w2 := x.Start("two", "attach", "-t", "w1")
	x.Wait(w2, "the rest of the numbers", regexp.MustCompile(`(?m)^5$`).MatchString)
	x.WaitPrompt(w2, e2e.W1Prompt)
	x.Line(w2, "$x")
	x.Wait(w2, "$x kept", regexp.MustCompile(`(?m)^7$`).MatchString)
}
