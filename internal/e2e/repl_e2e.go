package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	req "github.com/psmux/psmux/testenv/require"

	"github.com/psmux/psmux/testenv/opensshd"
)

// The REPL end to end: the real binary in a real tmux, driven with
// send-keys and observed with capture-pane.

type TmuxEnv struct {
	T    *testing.T
	Sock string
	M    *MuxEnv
	Home string
	Env  []string
	// Patience bounds each wait (30s when zero); tests that start
	// several pwsh processes at once give more.
	Patience time.Duration
}

func NewTmux(t *testing.T, sshd *opensshd.Sshd, extraEnv ...string) *TmuxEnv {
	t.Helper()
	req.Tool(t, req.Tmux, "tmux", "apt-get install tmux")
	m := NewMuxEnv(t)
	home := t.TempDir()
	if sshd != nil {
		os.MkdirAll(filepath.Join(home, ".ssh"), 0o700)
		cfg, err := os.ReadFile(sshd.SSHConfig)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(home, ".ssh", "config"), cfg, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	x := &TmuxEnv{T: t, Sock: fmt.Sprintf("psmux-repl-%d-%d", os.Getpid(), time.Now().UnixNano()), M: m, Home: home}
	x.Env = append([]string{"HOME=" + home, "PSMUX_SOCKET=" + m.Sock, "XDG_STATE_HOME=" + m.State, "XDG_RUNTIME_DIR=", "TERM=xterm"}, extraEnv...)
	x.Tmux("-f", "/dev/null", "new-session", "-d", "-x", "160", "-y", "50", "-s", "main", "sh")
	t.Cleanup(func() { exec.Command("tmux", "-L", x.Sock, "kill-server").Run() })
	return x
}

func (x *TmuxEnv) Tmux(args ...string) string {
	x.T.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", x.Sock}, args...)...).CombinedOutput()
	if err != nil {
		x.T.Fatalf("tmux %q: %v: %s", args, err, out)
	}
	return string(out)
}

// Start runs psmux with args in a new window and returns its target.
func (x *TmuxEnv) Start(window string, args ...string) string {
	x.T.Helper()
	env := make([]string, len(x.Env))
	for i, e := range x.Env { // a value may hold spaces (PSMUX_PWSH=pwsh -s)
		env[i] = "'" + strings.ReplaceAll(e, "'", `'\''`) + "'"
	}
	cmd := "env " + strings.Join(env, " ") + " " + PsmuxBin() + " " + strings.Join(args, " ") + "; echo psmux-exited-$?; sleep 600"
	x.Tmux("new-window", "-t", "main", "-n", window, cmd)
	return "main:" + window
}

func (x *TmuxEnv) Keys(target string, keys ...string) {
	x.T.Helper()
	x.Tmux(append([]string{"send-keys", "-t", target}, keys...)...)
}

// Line types text literally and presses Enter.
func (x *TmuxEnv) Line(target, text string) {
	x.T.Helper()
	x.Tmux("send-keys", "-t", target, "-l", text)
	x.Tmux("send-keys", "-t", target, "Enter")
}

func (x *TmuxEnv) Screen(target string, escapes bool) string {
	args := []string{"capture-pane", "-p", "-t", target}
	if escapes {
		args = append(args, "-e")
	}
	return x.Tmux(args...)
}

// Wait polls the pane until ok holds (there is no other way to observe
// a terminal); it fails after a generous deadline.
func (x *TmuxEnv) Wait(target, what string, ok func(string) bool) string {
	x.T.Helper()
	patience := x.Patience
	if patience == 0 {
		patience = 2 * time.Minute // a loaded CI machine
	}
	deadline := time.Now().Add(patience)
	for {
		s := x.Screen(target, false)
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			x.T.Fatalf("waiting for %s; the screen:\n%s\nserver log (with the goroutines of each server still running):\n%s", what, s, x.M.DumpServers())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// WaitBusy polls psmux ls until the session runs a command.
func (x *TmuxEnv) WaitBusy(session string) {
	x.T.Helper()
	deadline := time.Now().Add(2 * time.Minute) // a loaded CI machine
	for {
		for _, r := range x.M.Ls() {
			if r.Name == session && r.Availability == "Busy" {
				return
			}
		}
		if time.Now().After(deadline) {
			x.T.Fatalf("%s never became Busy", session)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (x *TmuxEnv) WaitFor(target, text string) string {
	x.T.Helper()
	return x.Wait(target, fmt.Sprintf("%q", text), func(s string) bool { return strings.Contains(s, text) })
}

// LastLine is the last non-empty line on the screen.
func LastLine(s string) string {
	ls := strings.Split(strings.TrimRight(s, "\n "), "\n")
	return strings.TrimRight(ls[len(ls)-1], " ")
}

func (x *TmuxEnv) WaitPrompt(target, re string) string {
	x.T.Helper()
	rx := regexp.MustCompile(re)
	return x.Wait(target, "prompt "+re, func(s string) bool { return rx.MatchString(LastLine(s)) })
}

// LocalCommand runs cmd at the psmux prompt on a cleared screen and
// returns the screen once the prompt is back: the command line, then
// what it printed.
func (x *TmuxEnv) LocalCommand(target, cmd string) string {
	x.T.Helper()
	x.Tmux("send-keys", "-t", target, "C-l")
	// the old screen holds the last command, which may contain this one
	x.Wait(target, "a cleared screen", func(scr string) bool { return strings.TrimSpace(scr) == "PS psmux>" })
	x.Line(target, cmd)
	squeeze := func(s string) string { return strings.Join(strings.Fields(s), "") } // a long line wraps on the screen
	return x.Wait(target, "the prompt after "+cmd, func(scr string) bool {
		return strings.Contains(squeeze(scr), squeeze(cmd)) && LastLine(scr) == "PS psmux>"
	})
}

const W1Prompt = `^\[w1\]: PS .*> ?$`

// ReplWithSession starts the REPL in tmux with session w1 on an sshd
// whose powershell subsystem is sub, and enters w1 (replOver).
func ReplWithSession(t *testing.T, sub string, extraEnv ...string) (*TmuxEnv, string) {
	t.Helper()
	return ReplOver(t, sub, extraEnv...)
}
