package repl_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/psmux/psmux/internal/e2e"
	"github.com/psmux/psmux/testenv/opensshd"
)

// A block of commands pasted into the REPL in tmux runs in the order of
// its lines, each after the one before it (every round, plain and as a
// bracketed paste), as pwsh's console runs them.
func TestREPLPastedLinesRunInOrder(t *testing.T) {
	opensshd.Require(t)
	x, w := e2e.ReplWithSession(t, e2e.SubsystemCommand(t))
	x.WaitPrompt(w, e2e.W1Prompt)
	const n = 12
	for round, bracketed := range []bool{false, true, false, true} {
		base := 100 * (round + 1)
		var block strings.Builder
		var want []string
		for i := range n {
			fmt.Fprintf(&block, "'%d'\n", base+i)
			want = append(want, strconv.Itoa(base+i))
		}
		x.Tmux("set-buffer", "-b", "paste", block.String())
		args := []string{"paste-buffer", "-b", "paste", "-t", w}
		if bracketed {
			args = append(args, "-p")
		}
		x.Tmux(args...)
		last := regexp.MustCompile(`(?m)` + want[n-1] + `$`)
		x.Wait(w, "the last pasted line's output", func(string) bool { return last.MatchString(history(x, w)) })
		x.WaitPrompt(w, e2e.W1Prompt)
		// The order they ran in is the session's log (the pane may show
		// an output beside a line typed ahead, as a terminal does).
		log := x.M.Must("capture", "-t", "w1").Stdout
		var got []string
		for _, l := range strings.Split(log, "\n") {
			l = strings.TrimSpace(l)
			if v, err := strconv.Atoi(l); err == nil && v >= base && v < base+100 {
				got = append(got, l)
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("round %d (bracketed %v): outputs in the session's log %q, want %q\n%s\nthe pane:\n%s", round, bracketed, got, want, log, history(x, w))
		}
		if strings.Contains(history(x, w), "200~") {
			t.Fatalf("a paste marker reached the line:\n%s", history(x, w))
		}
	}
}

// Up recalls a command typed over several lines whole, and Enter runs
// it again whole.
func TestREPLUpRecallsMultiLineCommand(t *testing.T) {
	opensshd.Require(t)
	x, w := e2e.ReplWithSession(t, e2e.SubsystemCommand(t))
	x.WaitPrompt(w, e2e.W1Prompt)
	x.Line(w, "(40 +")
	x.WaitPrompt(w, `^>>$`)
	x.Line(w, "2)")
	answer := regexp.MustCompile(`(?m)^42$`)
	x.Wait(w, "42", func(s string) bool { return answer.MatchString(s) })
	x.WaitPrompt(w, e2e.W1Prompt)
	x.Keys(w, "Up")
	x.Wait(w, "the whole command recalled", func(s string) bool {
		l := e2e.LastLine(s)
		return strings.Contains(l, "(40 +") && strings.HasSuffix(l, "2)")
	})
	x.Keys(w, "Enter")
	x.Wait(w, "42 twice", func(string) bool { return len(answer.FindAllString(history(x, w), -1)) == 2 })
	x.WaitPrompt(w, e2e.W1Prompt)
}

// history is the pane with its scrollback.
func history(x *e2e.TmuxEnv, target string) string {
	return x.Tmux("capture-pane", "-p", "-S", "-1000", "-t", target)
}

// attach -d opens the REPL here and detaches the session's other REPL
// client, which prints tmux's line and exits; attach -r opens the REPL
// read-only: the prompt comes, a typed command is refused with a
// message and runs nowhere, and C-b d leaves.
func TestREPLAttachDetachOthersAndReadOnly(t *testing.T) {
	opensshd.Require(t)
	x, w := e2e.ReplWithSession(t, e2e.SubsystemCommand(t))
	x.WaitPrompt(w, e2e.W1Prompt)
	w2 := x.Start("two", "attach", "-d", "-t", "w1")
	x.WaitPrompt(w2, e2e.W1Prompt)
	x.WaitFor(w, "[detached (from session w1)]")
	x.WaitFor(w, "psmux-exited-0")
	x.Line(w2, "'from two'")
	x.Wait(w2, "from two", func(s string) bool { return regexp.MustCompile(`(?m)^from two$`).MatchString(s) })
	x.WaitPrompt(w2, e2e.W1Prompt)

	w3 := x.Start("three", "attach", "-r", "-t", "w1")
	x.WaitPrompt(w3, e2e.W1Prompt)
	x.Line(w3, "'from three'")
	x.WaitFor(w3, "read-only")
	if out := x.M.Must("capture", "-t", "w1").Stdout; strings.Contains(out, "from three") {
		t.Fatalf("the read-only client's command reached the session:\n%s", out)
	}
	x.Keys(w3, "C-b", "d")
	x.WaitFor(w3, "[detached (from session w1)]")
	x.WaitFor(w3, "psmux-exited-0")
}

// Entering a session shows at most a screenful of what this client has
// not seen, the newest, after a line saying how many earlier events
// capture shows.
func TestREPLEnterShowsAScreenful(t *testing.T) {
	opensshd.Require(t)
	x, w := e2e.ReplWithSession(t, e2e.SubsystemCommand(t))
	x.WaitPrompt(w, e2e.W1Prompt)
	x.Keys(w, "C-b", "d")
	x.WaitFor(w, "psmux-exited-0")
	x.M.Must("exec", "--async", "-t", "w1", "--", "1..500")
	x.M.Must("exec", "-t", "w1", "--", "'done'") // runs after it: the 500 are in the log
	w2 := x.Start("two", "attach", "-t", "w1")
	x.WaitPrompt(w2, e2e.W1Prompt)
	s := history(x, w2)
	notice := regexp.MustCompile(`\[(\d+) earlier events not shown: psmux capture -t w1 --since (\d+) shows them\]`).FindStringSubmatch(s)
	if notice == nil {
		t.Fatalf("no line about the events not shown:\n%s", s)
	}
	if !regexp.MustCompile(`(?m)^500$`).MatchString(s) || regexp.MustCompile(`(?m)^400$`).MatchString(s) {
		t.Fatalf("want the newest events (500), not the whole replay (400):\n%s", s)
	}
	skipped, _ := strconv.Atoi(notice[1])
	since, _ := strconv.Atoi(notice[2])
	out := x.M.Must("capture", "-t", "w1", "--since", notice[2]).Stdout
	if skipped < 400 || !strings.Contains(out, "\n400\n") {
		t.Fatalf("%d skipped from %d; capture --since %d shows %d bytes", skipped, since, since, len(out))
	}
}

// Lines typed while a command runs wait, as in pwsh's console: when it
// ends, each shows after a prompt of its own and runs, in order; C-b d
// and the REPL's own interrupts print no "^C"; entering prints no
// "Opened" line.
func TestREPLTypedAheadFollowsItsPrompt(t *testing.T) {
	opensshd.Require(t)
	e2e.EachSubsystem(t, func(t *testing.T, server, sub string) {
		x, w := e2e.ReplWithSession(t, sub)
		x.WaitPrompt(w, e2e.W1Prompt)
		release := filepath.Join(t.TempDir(), "release")
		x.Line(w, fmt.Sprintf("while (-not (Test-Path '%s')) { Start-Sleep -Milliseconds 50 }; 'first'", release))
		x.WaitBusy("w1")
		x.Line(w, "'second'")
		x.Line(w, "'third'")
		if err := os.WriteFile(release, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		want := regexp.MustCompile(`(?m)^first\n\[w1\]: PS .*> 'second'\nsecond\n\[w1\]: PS .*> 'third'\nthird\n\[w1\]: PS .*>$`)
		x.Wait(w, "each typed-ahead line after its prompt, then its output", func(string) bool { return want.MatchString(history(x, w)) })
		x.Keys(w, "C-b", "d")
		x.WaitFor(w, "psmux-exited-0")
		if h := history(x, w); strings.Contains(h, "^C") || !regexp.MustCompile(`(?m)^\[detached \(from session w1\)\]$`).MatchString(h) {
			t.Fatalf("after C-b d: a ^C, or no detach line on a line of its own:\n%s", h)
		} else if strings.Contains(h, "session w1: Opened") { // pwsh's Enter-PSSession prints nothing before the prompt
			t.Fatalf("entering w1 printed its Opened event:\n%s", h)
		}
	})
}

// C-b d while a command runs detaches at once, as tmux does: the client
// exits and gives the terminal back while the command goes on in the
// session (it does not wait for the command's end, reading keys meant
// for the shell).
func TestREPLDetachDuringACommandReturnsAtOnce(t *testing.T) {
	opensshd.Require(t)
	x, w := e2e.ReplWithSession(t, e2e.SubsystemCommand(t))
	x.WaitPrompt(w, e2e.W1Prompt)
	release := filepath.Join(t.TempDir(), "release")
	x.Line(w, fmt.Sprintf("while (-not (Test-Path '%s')) { Start-Sleep -Milliseconds 50 }; 'after the detach'", release))
	x.WaitBusy("w1")
	x.Keys(w, "C-b", "d")
	x.WaitFor(w, "psmux-exited-0") // the command is held until the release below
	if rows := x.M.Ls(); rows[0].Availability != "Busy" {
		t.Fatalf("after the detach: %+v; want the command still running", rows[0])
	}
	if err := os.WriteFile(release, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	x.M.Must("exec", "-t", "w1", "--", "'next'") // runs after the held command has ended
	if out := x.M.Must("capture", "-t", "w1").Stdout; !strings.Contains(out, "after the detach") {
		t.Fatalf("the command did not go on after the detach:\n%s", out)
	}
}
