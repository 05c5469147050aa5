// Command psmux keeps PowerShell sessions alive over SSH the way tmux
// keeps shells alive. This file parses flags and wires packages together.
package main

import (
	"fmt"
	"io"
	"os"
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
  invoke [SSHFLAGS] DEST[,DEST…] [--json] [--throttle N] [--] SCRIPT
                                                     run SCRIPT in temporary sessions on hosts
  invoke --local [--pwsh CMD] [--json] [--] SCRIPT   ... or in a local pwsh
  cp [SSHFLAGS] SRC DST                              copy a file over SFTP; one side is DEST:path
  doctor [SSHFLAGS] [--json] DEST                    check reachability, host key, auth, subsystem, pwsh
  debug decode [--format outofproc|fragments|wsman]  decode captured PSRP traffic (stdin)
  version                                            print the version

SSHFLAGS: -l USER -p PORT -i KEY -J JUMP -o Key=Value -F CONFIG
          --subsystem NAME --exec CMD --ssh-client=go|system --connect-timeout D
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin *os.File, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "invoke":
		return runInvoke(args[1:], stdin, stdout, stderr)
	case "cp":
		return runCp(args[1:], stdin, stdout, stderr)
	case "doctor":
		return runDoctor(args[1:], stdin, stdout, stderr)
	case "debug":
		return runDebug(args[1:], stdin, stdout, stderr)
	case "version", "-V", "--version":
		fmt.Fprintf(stdout, "psmux %s\n", version)
		return exitOK
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "psmux: unknown command: %s\n%s", args[0], usage)
	return exitUsage
}
