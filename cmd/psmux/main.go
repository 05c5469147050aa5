// Command psmux keeps PowerShell sessions alive over SSH the way tmux
// keeps shells alive. This file parses flags and wires packages together.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/psmux/psmux/mux"
	"github.com/psmux/psmux/sessions"
	"github.com/psmux/psmux/sessions/psrp"
)

// Exit statuses of exec/invoke (SPEC S8).
const (
	exitOK      = 0
	exitErrors  = 1
	exitUsage   = 2
	exitConnect = 3
	exitStopped = 4
	exitBusy    = 5
)

var version = "0.1.0-dev"

const usage = `usage: psmux [-L NAME | -S PATH] [command] [flags]

commands:
  new [-n NAME] [SSHFLAGS] DEST | --local [--pwsh CMD]   open a session in the server, print its row
  ls [--json]                                        the sessions (Get-PSSession)
  has -t S                                           exit 0 if S exists, 1 if not
  exec -t TARGETS [--json] [--throttle N] [--timeout D] [--async] [--] SCRIPT
                                                     run SCRIPT in sessions (names, ids, globs, comma lists)
  (no command)                                       the REPL (PS psmux> ), starting the server if needed
  attach|a [-t S] [-d] [-r] [--via DEST]             enter a session in the REPL (line mode when stdin is not a terminal)
  capture -t S [--since N] [--job N] [--json]        print a session's output log
  jobs [--json]                                      the server's jobs (exec --async, Invoke-Command -AsJob)
  jobs -t S [--json]                                 the session's commands and their states
  receive-job [--keep] [--wait] ID...                what jobs printed since they were last received
  rm|kill-session -t TARGETS | --all                 close sessions (Remove-PSSession)
  reconnect -t S                                     reopen a Broken session and re-run its init script
  start-server|start                                 start the server if none runs (it restores saved sessions)
  kill-server                                        stop the server and every session
  server [--foreground] [--trace DIR]                run the server (started on demand otherwise)
  proxy                                              bridge stdin/stdout to the server (for attach --via)
  invoke [SSHFLAGS] DEST[,DEST…] [--json] [--throttle N] [--] SCRIPT
                                                     run SCRIPT in temporary sessions on hosts, no server
  invoke --local [--pwsh CMD] [--json] [--] SCRIPT   ... or in a local pwsh
  cp [SSHFLAGS] SRC DST                              copy a file over SFTP; one side is S:path (a session) or DEST:path
  doctor [SSHFLAGS] [--json] DEST                    check reachability, host key, auth, subsystem, pwsh
  debug decode [--format outofproc|fragments|wsman]  decode captured PSRP traffic (stdin)
  version                                            print the version

SSHFLAGS: -l USER -p PORT -i KEY -J JUMP -o Key=Value -F CONFIG
          --subsystem NAME --exec CMD --ssh-client=go|system --connect-timeout D
`

func main() {
	sessions.ClientVersion = version
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin *os.File, stdout, stderr io.Writer) int {
	var g global
	for len(args) >= 2 && (args[0] == "-L" || args[0] == "-S") {
		if args[0] == "-L" {
			g.label = args[1]
		} else {
			g.socket = args[1]
		}
		args = args[2:]
	}
	if len(args) == 0 {
		return runRepl(g, stdin, stdout, stderr)
	}
	rest := args[1:]
	switch args[0] {
	case "invoke":
		return runInvoke(rest, stdin, stdout, stderr)
	case "cp":
		return runCp(g, rest, stdin, stdout, stderr)
	case "doctor":
		return runDoctor(rest, stdin, stdout, stderr)
	case "new", "new-session":
		return runNew(g, rest, stdin, stdout, stderr)
	case "ls", "list-sessions":
		return runLs(g, rest, stdin, stdout, stderr)
	case "has", "has-session", "rm", "kill-session", "reconnect", "jobs":
		op := args[0]
		switch op {
		case "has-session":
			op = "has"
		case "kill-session":
			op = "rm"
		}
		return runTargetCmd(g, op, rest, stdin, stdout, stderr)
	case "exec":
		return runExec(g, rest, stdin, stdout, stderr)
	case "capture":
		return runCapture(g, rest, stdin, stdout, stderr)
	case "receive-job", "rcjb":
		return runReceiveJob(g, rest, stdin, stdout, stderr)
	case "attach", "a", "attach-session":
		return runAttach(g, rest, stdin, stdout, stderr)
	case "start-server", "start":
		return runStartServer(g, rest, stdin, stdout, stderr)
	case "kill-server":
		return runKillServer(g, rest, stdin, stdout, stderr)
	case "server":
		return runServer(g, rest, stderr)
	case "proxy":
		return runProxy(g, stdin, stdout, stderr)
	case "debug":
		return runDebug(rest, stdin, stdout, stderr)
	case "version", "-V", "--version":
		fmt.Fprintf(stdout, "psmux %s (client protocol %d; PSRP %s and %s; OutOfProc over SSH and local processes)\n",
			version, mux.ProtocolVersion, psrp.ProtocolVersion23, psrp.ProtocolVersion24)
		return exitOK
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	if n := nearest(args[0]); n != "" {
		fmt.Fprintf(stderr, "psmux: unknown command: %s (did you mean %s?)\n", args[0], n)
	} else {
		fmt.Fprintf(stderr, "psmux: unknown command: %s\n%s", args[0], usage)
	}
	return exitUsage
}
