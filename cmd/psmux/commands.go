package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/psmux/psmux/mux"
	"github.com/psmux/psmux/sessions/psrp"
)

// cliCommand is one command of the CLI: its names (the first is its
// own, the rest tmux's or PowerShell's aliases), its synopsis lines for
// the usage, and what runs it. The one table serves dispatch, the usage
// and the suggestion after an unknown command.
type cliCommand struct {
	names    []string
	synopsis [][2]string // {the form, what it does}
	run      func(g global, args []string, stdin *os.File, stdout, stderr io.Writer) int
}

// targetCmd runs one of the commands that only name sessions.
func targetCmd(op string) func(global, []string, *os.File, io.Writer, io.Writer) int {
	return func(g global, args []string, stdin *os.File, stdout, stderr io.Writer) int {
		return runTargetCmd(g, op, args, stdin, stdout, stderr)
	}
}

var cliCommands []cliCommand

func init() { // set here: help refers to the table
	cliCommands = []cliCommand{
		{[]string{"new", "new-session"}, [][2]string{{"new [-n NAME] [SSHFLAGS] DEST | --local [--pwsh CMD]", "open a session in the server, print its row"}}, runNew},
		{[]string{"ls", "list-sessions"}, [][2]string{{"ls [--json]", "the sessions (Get-PSSession)"}}, runLs},
		{[]string{"has", "has-session"}, [][2]string{{"has -t S", "exit 0 if S exists, 1 if not"}}, targetCmd("has")},
		{[]string{"exec"}, [][2]string{{"exec -t TARGETS [--json] [--throttle N] [--timeout D] [--async] [--] SCRIPT", "run SCRIPT in sessions (names, ids, globs, comma lists)"}}, runExec},
		{nil, [][2]string{{"(no command)", "the REPL (PS psmux> ), starting the server if needed"}}, nil},
		{[]string{"attach", "a", "attach-session"}, [][2]string{{"attach|a [-t S] [-d] [-r] [--via DEST]", "enter a session in the REPL (line mode when stdin is not a terminal)"}}, runAttach},
		{[]string{"capture"}, [][2]string{{"capture -t S [--since N] [--job N] [--json]", "print a session's output log"}}, runCapture},
		{[]string{"jobs"}, [][2]string{{"jobs [--json]", "the server's jobs (exec --async, Invoke-Command -AsJob)"},
			{"jobs -t S [--json]", "the session's commands and their states"}}, targetCmd("jobs")},
		{[]string{"receive-job", "rcjb"}, [][2]string{{"receive-job [--keep] [--wait] ID...", "what jobs printed since they were last received"}}, runReceiveJob},
		{[]string{"rm", "kill-session"}, [][2]string{{"rm|kill-session -t TARGETS | --all", "close sessions (Remove-PSSession)"}}, targetCmd("rm")},
		{[]string{"reconnect"}, [][2]string{{"reconnect -t S", "reopen a Broken session and re-run its init script"}}, targetCmd("reconnect")},
		{[]string{"start-server", "start"}, [][2]string{{"start-server|start", "start the server if none runs (it restores saved sessions)"}}, runStartServer},
		{[]string{"kill-server"}, [][2]string{{"kill-server", "stop the server and every session"}}, runKillServer},
		{[]string{"server"}, [][2]string{{"server [--foreground] [--trace DIR]", "run the server (started on demand otherwise)"}},
			func(g global, args []string, _ *os.File, _, stderr io.Writer) int { return runServer(g, args, stderr) }},
		{[]string{"proxy"}, [][2]string{{"proxy", "bridge stdin/stdout to the server (for attach --via)"}},
			func(g global, args []string, stdin *os.File, stdout, stderr io.Writer) int {
				fs := newFlagSet("proxy", "proxy", stderr)
				if code, ok := parseFlags(fs, args, 0, stdout); !ok {
					return code
				}
				return runProxy(g, stdin, stdout, stderr)
			}},
		{[]string{"invoke"}, [][2]string{{"invoke [SSHFLAGS] DEST[,DEST…] [--json] [--throttle N] [--] SCRIPT", "run SCRIPT in temporary sessions on hosts, no server"},
			{"invoke --local [--pwsh CMD] [--json] [--] SCRIPT", "... or in a local pwsh"}},
			func(_ global, args []string, stdin *os.File, stdout, stderr io.Writer) int {
				return runInvoke(args, stdin, stdout, stderr)
			}},
		{[]string{"cp"}, [][2]string{{"cp [SSHFLAGS] SRC DST", "copy a file over SFTP; one side is S:path (a session) or DEST:path"}}, runCp},
		{[]string{"doctor"}, [][2]string{{"doctor [SSHFLAGS] [--json] DEST", "check reachability, host key, auth, subsystem, pwsh"}},
			func(_ global, args []string, stdin *os.File, stdout, stderr io.Writer) int {
				return runDoctor(args, stdin, stdout, stderr)
			}},
		{[]string{"debug"}, [][2]string{{"debug decode [--format outofproc|fragments|wsman]", "decode captured PSRP traffic (stdin)"}},
			func(_ global, args []string, stdin *os.File, stdout, stderr io.Writer) int {
				return runDebug(args, stdin, stdout, stderr)
			}},
		{[]string{"version", "-V", "--version"}, [][2]string{{"version", "print the version"}}, runVersion},
		{[]string{"help", "-h", "--help"}, nil, func(_ global, _ []string, _ *os.File, stdout, _ io.Writer) int {
			fmt.Fprint(stdout, usage())
			return exitOK
		}},
	}
}

func runVersion(_ global, args []string, _ *os.File, stdout, stderr io.Writer) int {
	fs := newFlagSet("version", "version", stderr)
	if code, ok := parseFlags(fs, args, 0, stdout); !ok {
		return code
	}
	fmt.Fprintf(stdout, "psmux %s (client protocol %d; PSRP %s and %s; OutOfProc over SSH and local processes)\n",
		version, mux.ProtocolVersion, psrp.ProtocolVersion23, psrp.ProtocolVersion24)
	return exitOK
}

// lookup finds a command by any of its names.
func lookup(name string) *cliCommand {
	for i, c := range cliCommands {
		for _, n := range c.names {
			if n == name {
				return &cliCommands[i]
			}
		}
	}
	return nil
}

// usage is the CLI's usage, from the table.
func usage() string {
	var b strings.Builder
	b.WriteString("usage: psmux [-L NAME | -S PATH] [command] [flags]\n\ncommands:\n")
	for _, c := range cliCommands {
		for _, s := range c.synopsis {
			if len(s[0]) <= 50 {
				fmt.Fprintf(&b, "  %-50s %s\n", s[0], s[1])
			} else {
				fmt.Fprintf(&b, "  %s\n  %-50s %s\n", s[0], "", s[1])
			}
		}
	}
	b.WriteString(`
SSHFLAGS: -l USER -p PORT -i KEY -J JUMP -o Key=Value -F CONFIG
          --subsystem NAME --exec CMD --ssh-client=go|system --connect-timeout D
`)
	return b.String()
}
