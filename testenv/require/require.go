package require

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Env is the variable listing what must be present.
const Env = "PSMUX_REQUIRE"

// The things a test can need.
const (
	Pwsh     = "pwsh"
	OpenSSH  = "openssh"
	Tmux     = "tmux"
	Corpus   = "corpus"
	Root     = "root"
	Psrpcore = "psrpcore"
	Python   = "python3"
)

// Required reports whether PSMUX_REQUIRE lists what (or "all").
func Required(what string) bool {
	for _, w := range strings.Split(os.Getenv(Env), ",") {
		w = strings.TrimSpace(w)
		if strings.EqualFold(w, what) || strings.EqualFold(w, "all") {
			return true
		}
	}
	return false
}

// Missing skips t saying why and how to provide what, or fails it when
// PSMUX_REQUIRE lists what.
func Missing(t testing.TB, what, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if Required(what) {
		t.Fatalf("%s missing but %s=%s requires it: %s", what, Env, os.Getenv(Env), msg)
	}
	t.Skipf("%s missing (set %s=%s to make this a failure): %s", what, Env, what, msg)
}

// PwshBin returns the absolute path of a real pwsh launcher, or "" when
// none is found. It does not look at PSMUX_PWSH, which is a command line.
func PwshBin() string {
	if p, err := exec.LookPath("pwsh"); err == nil {
		if abs, err := filepath.Abs(p); err == nil {
			return abs
		}
	}
	if p := os.Getenv("PSMUX_PWSH_BIN"); p != "" {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	return ""
}

// PwshCommand returns the OutOfProc command line of a real pwsh
// ($PSMUX_PWSH, else "<bin> -s -NoLogo -NoProfile"), or "" when there is
// none.
func PwshCommand() string {
	c := strings.TrimSpace(os.Getenv("PSMUX_PWSH"))
	if c == "" {
		if b := PwshBin(); b != "" {
			c = b + " -s -NoLogo -NoProfile"
		}
	}
	if c != "" && os.Getenv("PSMUX_PWSH_LAUNCHER") == "child" {
		if l, err := childLauncher(strings.Fields(c)[0]); err == nil {
			c = l + c[len(strings.Fields(c)[0]):]
		}
	}
	return c
}

// childLauncher writes (once per uid and program) a shell script that
// runs prog as its child instead of exec'ing it, as the dotnet global
// tool's pwsh does, and returns its path. PSMUX_PWSH_LAUNCHER=child makes
// PwshCommand use it, so the whole suite can run with pwsh behind such a
// launcher.
func childLauncher(prog string) (string, error) {
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("psmux-launcher-%d", os.Getuid()))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	p := filepath.Join(dir, strings.NewReplacer("/", "_").Replace(prog))
	script := fmt.Sprintf("#!/bin/sh\n%q \"$@\"\nexit $?\n", prog)
	if b, err := os.ReadFile(p); err == nil && string(b) == script {
		return p, nil
	}
	tmp, err := os.CreateTemp(dir, "launcher")
	if err != nil {
		return "", err
	}
	if _, err := tmp.WriteString(script); err != nil {
		tmp.Close()
		return "", err
	}
	tmp.Close()
	if err := os.Chmod(tmp.Name(), 0o755); err != nil {
		return "", err
	}
	return p, os.Rename(tmp.Name(), p)
}

// PwshServer returns the OutOfProc command line of a real pwsh, or skips
// (fails under PSMUX_REQUIRE=pwsh) when there is none.
func PwshServer(t testing.TB) string {
	t.Helper()
	c := PwshCommand()
	if c == "" {
		Missing(t, Pwsh, "no real pwsh: run `. ../shared/pwsh/env.sh` from the project root (or set PSMUX_PWSH='pwsh -s -NoLogo -NoProfile')")
	}
	return c
}

// SSHS turns an OutOfProc command line ("… -s …") into the SSH subsystem
// form ("… -sshs …").
func SSHS(cmd string) string {
	f := strings.Fields(cmd)
	for i, a := range f {
		if strings.EqualFold(a, "-s") || strings.EqualFold(a, "-ServerMode") {
			f[i] = "-sshs"
			return strings.Join(f, " ")
		}
	}
	return cmd + " -sshs"
}

// Tool returns the absolute path of a program from PATH (or one of the
// fallbacks), or skips/fails for what.
func Tool(t testing.TB, what, name, install string, fallbacks ...string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		for _, f := range fallbacks {
			if _, serr := os.Stat(f); serr == nil {
				p, err = f, nil
				break
			}
		}
	}
	if err == nil {
		p, err = filepath.Abs(p)
	}
	if err != nil {
		Missing(t, what, "%s not found: %s", name, install)
	}
	return p
}

// Rooted skips/fails unless the test runs as root.
func Rooted(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		Missing(t, Root, "needs root to %s", why)
	}
}
