package main

import (
	"io"
	"os"

	"golang.org/x/term"
)

// terminalOut is how output to w is drawn: the terminal's width (120
// when w is no terminal), whether w is one, and whether to colour it (a
// terminal, and NO_COLOR unset, as pwsh's console decides).
func terminalOut(w io.Writer) (width int, tty, color bool) {
	width = 120
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return width, false, false
	}
	if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 0 {
		width = cols
	}
	return width, true, os.Getenv("NO_COLOR") == ""
}
