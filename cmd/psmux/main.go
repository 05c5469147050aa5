// Command psmux keeps PowerShell sessions alive over SSH the way tmux
// keeps shells alive. This file parses flags and wires packages together.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/psmux/psmux/sessions"
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
	if c := lookup(args[0]); c != nil {
		return c.run(g, args[1:], stdin, stdout, stderr)
	}
	if n := nearest(args[0]); n != "" {
		fmt.Fprintf(stderr, "psmux: unknown command: %s (did you mean %s?)\n", args[0], n)
	} else {
		fmt.Fprintf(stderr, "psmux: unknown command: %s\n%s", args[0], usage())
	}
	return exitUsage
}
