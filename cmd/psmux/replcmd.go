package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/psmux/psmux/mux"
	"github.com/psmux/psmux/repl"
	"github.com/psmux/psmux/sessions/format"
	"golang.org/x/term"
)

// runRepl is `psmux` with no command: the REPL at the local prompt,
// starting the server on demand.
func runRepl(g global, stdin *os.File, stdout, stderr io.Writer) int {
	ctx := context.Background()
	c, err := connect(ctx, g, true, stdin)
	if err != nil {
		return muxError(stderr, err)
	}
	defer c.Close()
	return replOn(ctx, c, replTarget{}, stdin, stdout, stderr)
}

// replTarget is the session the REPL enters at start (name "": the
// local prompt) and how (attach -d, -r).
type replTarget struct {
	name                   string
	detachOthers, readOnly bool
}

// replOn runs the REPL over a connected client, entered in target
// ("" for the local prompt).
func replOn(ctx context.Context, c *mux.Client, target replTarget, stdin *os.File, stdout, stderr io.Writer) int {
	isTerm := func() bool { return term.IsTerminal(int(stdin.Fd())) }
	width := func() int {
		if w, _, err := term.GetSize(int(stdin.Fd())); err == nil && w > 0 {
			return w
		}
		return 120
	}
	height := func() int {
		if _, h, err := term.GetSize(int(stdin.Fd())); err == nil && h > 0 {
			return h
		}
		return 0
	}
	err := repl.Run(ctx, repl.Config{
		Stdin: stdin, Stdout: stdout, Stderr: stderr,
		IsTerminal: isTerm, Width: width, Height: height,
		Client: c, Target: target.name, DetachOthers: target.detachOthers, ReadOnly: target.readOnly,
		Color:     isTerm() && os.Getenv("NO_COLOR") == "",
		Format:    format.Lines,
		PrintRows: printRows,
	})
	if err != nil {
		fmt.Fprintf(stderr, "psmux: %v\n", err)
		return exitConnect
	}
	return exitOK
}
