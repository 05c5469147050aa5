package cli_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/psmux/psmux/internal/e2e"
)

// The CLI as a tmux user types it: --help and a bad flag never act,
// commands that read the server never start one, aliases and the nearest
// command for a typo.
func TestCLILikeTmux(t *testing.T) {
	m := e2e.NewMuxEnv(t)
	for _, args := range [][]string{{"ls"}, {"has", "-t", "x"}, {"capture", "-t", "x"}, {"exec", "-t", "x", "--", "1"}, {"kill-server"}} {
		r := m.Run(args...)
		if r.Code != 1 || r.Stderr != "psmux: no server running on "+m.Sock+"\n" {
			t.Fatalf("psmux %q with no server: exit %d, stderr %q; want 1 and tmux's no server running", args, r.Code, r.Stderr)
		}
	}
	// --help never acts: proxy's would start a server to bridge to
	if r := m.Run("proxy", "--help"); r.Code != 0 || !strings.Contains(r.Stdout+r.Stderr, "usage: psmux proxy") {
		t.Fatalf("psmux proxy --help: exit %d, stdout %q, stderr %q; want its usage", r.Code, r.Stdout, r.Stderr)
	}
	if _, err := os.Stat(m.Sock); err == nil {
		t.Fatalf("a command that only reads the server started one (%s exists)", m.Sock)
	}
	// a socket named with -L, as tmux's: the same, under $XDG_RUNTIME_DIR
	run := t.TempDir()
	cmd := e2e.Command(e2e.PsmuxBin(), "-L", "nosuch", "ls")
	cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+run, "PSMUX_SOCKET=", "XDG_STATE_HOME="+m.State)
	out, err := cmd.CombinedOutput()
	want := "psmux: no server running on " + filepath.Join(run, "psmux", "nosuch") + "\n"
	if cmd.ProcessState.ExitCode() != 1 || string(out) != want {
		t.Fatalf("psmux -L nosuch ls: %v, %q; want exit 1 and %q", err, out, want)
	}
	if left, _ := filepath.Glob(filepath.Join(run, "psmux", "*")); len(left) != 0 {
		t.Fatalf("psmux -L nosuch ls started a server: %v", left)
	}
	m.Must("new", "-n", "S", "--local", "--pwsh", e2e.PwshsimBin()+" -s")
	pid := m.ServerPID()
	for _, c := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"kill-server", "--help"}, 0, "usage: psmux kill-server"},
		{[]string{"kill-server", "-h"}, 0, "usage: psmux kill-server"},
		{[]string{"kill-server", "-t", "x"}, 2, "flag provided but not defined: -t"},
		{[]string{"kill-server", "now"}, 2, `unexpected argument "now"`},
		{[]string{"rm", "--help"}, 0, "usage: psmux rm"},
		{[]string{"proxy", "--help"}, 0, "usage: psmux proxy"},
		{[]string{"version", "--help"}, 0, "usage: psmux version"},
		{[]string{"version", "--bogus"}, 2, "flag provided but not defined: -bogus"},
		{[]string{"ls", "--bogus"}, 2, "flag provided but not defined: -bogus"},
		{[]string{"lss"}, 2, "unknown command: lss (did you mean ls?)"},
		{[]string{"new", "--policy", "Foo", "--local"}, 2, "psmux: new: unknown output policy \"Foo\": expected Block or Drop\n"},
	} {
		r := m.Run(c.args...)
		if r.Code != c.code || !strings.Contains(r.Stdout+r.Stderr, c.out) {
			t.Fatalf("psmux %q: exit %d, stdout %q, stderr %q; want %d and %q", c.args, r.Code, r.Stdout, r.Stderr, c.code, c.out)
		}
		if rows := m.Ls(); len(rows) != 1 || rows[0].State != "Opened" || e2e.Gone(pid) {
			t.Fatalf("after psmux %q the server or its session is gone: %+v", c.args, rows)
		}
	}
	for _, name := range []string{"a,b", "web*", "42"} {
		if r := m.Run("new", "-n", name, "--local", "--pwsh", e2e.PwshsimBin()+" -s"); r.Code != e2e.ExitUsage || !strings.Contains(r.Stderr, "session name") {
			t.Fatalf("new -n %q: exit %d, stderr %q; want 2 and why -t could not target it", name, r.Code, r.Stderr)
		}
	}
	if r := m.Must("version"); !strings.Contains(r.Stdout, "client protocol 1; PSRP 2.3 and 2.4") {
		t.Fatalf("version: %q", r.Stdout)
	}
	m.Must("kill-session", "-t", "S")
	if rows := m.Ls(); len(rows) != 0 {
		t.Fatalf("after kill-session: %+v", rows)
	}
}

// Every command's --help starts with its usage line, as tmux's do, and
// names in it each flag it lists below: no flag the command does not
// take (has, reconnect and jobs once listed rm's --all).
func TestHelpListsTheFlagsEachCommandTakes(t *testing.T) {
	m := e2e.NewMuxEnv(t)
	flagRe := regexp.MustCompile(`(?m)^  -([a-z][a-z-]*)`)
	for _, c := range []string{"new", "ls", "has", "exec", "attach", "capture", "jobs", "receive-job", "rm", "reconnect",
		"start-server", "kill-server", "server", "proxy", "invoke", "doctor", "cp", "version", "debug"} {
		r := m.Run(c, "--help")
		if r.Code != 0 || !strings.HasPrefix(r.Stdout, "usage: psmux "+c) {
			t.Errorf("psmux %s --help: exit %d, stdout %q; want 0 and its usage line first", c, r.Code, r.Stdout)
			continue
		}
		usage, _, _ := strings.Cut(r.Stdout, "\n  -")
		for _, f := range flagRe.FindAllStringSubmatch(r.Stdout, -1) {
			if !regexp.MustCompile(`-` + f[1] + `\b`).MatchString(usage) {
				t.Errorf("psmux %s --help lists -%s, which its usage does not name:\n%s", c, f[1], r.Stdout)
			}
		}
	}
	if _, err := os.Stat(m.Sock); err == nil {
		t.Fatalf("--help started a server (%s exists)", m.Sock)
	}
}
