package e2e

import (
	"regexp"
	"strings"
	"testing"

	"github.com/psmux/psmux/testenv/opensshd"
	req "github.com/psmux/psmux/testenv/require"
)

// REPL behaviours checked against pwsh's own Enter-PSSession: each test
// runs the REPL in real tmux over the real sshd, its Subsystem real pwsh
// (and pwshsim beside it where pwshsim can do the same).

// ReplOver is replWithSession over an sshd whose Subsystem is subsystem.
func ReplOver(t *testing.T, subsystem string, extraEnv ...string) (*TmuxEnv, string) {
	t.Helper()
	opensshd.Require(t)
	sshd := StartSshd(t, subsystem)
	x := NewTmux(t, sshd, extraEnv...)
	w := x.Start("one")
	x.WaitPrompt(w, `^PS psmux>$`)
	x.Line(w, "New-PSSession -HostName psmux-test -Name w1")
	x.Wait(w, "the row", func(s string) bool { return regexp.MustCompile(`\d+ w1 +SSH`).MatchString(s) })
	x.WaitPrompt(w, `^PS psmux>$`)
	x.Line(w, "Enter-PSSession w1")
	x.WaitPrompt(w, W1Prompt)
	return x, w
}

// ReplPwsh is replOver with real pwsh as the Subsystem; it skips without
// pwsh, and fails under PSMUX_REQUIRE=pwsh.
func ReplPwsh(t *testing.T, extraEnv ...string) (*TmuxEnv, string) {
	t.Helper()
	p := RealPwsh(t)
	if p == "" {
		req.Missing(t, req.Pwsh, "no pwsh: . shared/pwsh/env.sh")
	}
	return ReplOver(t, req.SSHS(p), extraEnv...)
}

// ForSubsystems runs f against real pwsh and pwshsim.
func ForSubsystems(t *testing.T, f func(t *testing.T, x *TmuxEnv, w string)) {
	t.Run("pwsh", func(t *testing.T) { x, w := ReplPwsh(t); f(t, x, w) })
	t.Run("pwshsim", func(t *testing.T) { x, w := ReplOver(t, SubsystemCommand(t)); f(t, x, w) })
}

const LocalPromptRe = `^PS psmux>$`

// Secret answers a hidden prompt, checking that it shows a * for each
// character as pwsh's console does.
func (x *TmuxEnv) Secret(w, prompt, answer string) {
	x.T.Helper()
	x.Wait(w, prompt, func(s string) bool { return strings.HasPrefix(LastLine(s), prompt) })
	x.Tmux("send-keys", "-t", w, "-l", answer)
	masked := prompt + " " + strings.Repeat("*", len(answer))
	x.Wait(w, masked, func(s string) bool { return LastLine(s) == masked })
	x.Keys(w, "Enter")
}
