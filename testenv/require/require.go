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
	if c := strings.TrimSpace(os.Getenv("PSMUX_PWSH")); c != "" {
		return c
	}
	if b := PwshBin(); b != "" {
		return b + " -s -NoLogo -NoProfile"
	}
	return ""
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

// PwshSubsystem returns the command for an sshd "Subsystem powershell"
// line running real pwsh (-sshs), or skips/fails like PwshServer.
func PwshSubsystem(t testing.TB) string {
	t.Helper()
	return SSHS(PwshServer(t))
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

// ChildLauncher writes a shell script that runs cmd's program as a child
// (no exec), as the dotnet global tool's pwsh does, and returns the
// command line with the script in place of the program.
func ChildLauncher(t testing.TB, cmd string) string {
	t.Helper()
	f := strings.Fields(cmd)
	if len(f) == 0 {
		t.Fatal("require: empty command")
	}
	p := filepath.Join(t.TempDir(), "pwsh-launcher")
	script := fmt.Sprintf("#!/bin/sh\n%q \"$@\"\necho launcher-exit >/dev/null\n", f[0])
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return strings.Join(append([]string{p}, f[1:]...), " ")
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
