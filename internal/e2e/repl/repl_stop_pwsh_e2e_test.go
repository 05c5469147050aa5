package repl_test

import (
	"strings"
	"testing"

	"github.com/psmux/psmux/internal/e2e"
)

// Ctrl-C on a running command shows what Enter-PSSession shows: the
// stop's error, rendered by the remote Out-Default ("Error: The pipeline
// has been stopped."), then the prompt.
func TestREPLCtrlCShowsStopPwsh(t *testing.T) {
	x, w := e2e.ReplPwsh(t)
	x.Line(w, "Start-Sleep 30")
	x.WaitBusy("w1") // Ctrl-C before the command starts would only clear a line
	x.Keys(w, "C-c")
	s := x.WaitPrompt(w, e2e.W1Prompt)
	_, after, _ := strings.Cut(s, "Start-Sleep 30")
	if !strings.Contains(after, "Error: The pipeline has been stopped.") {
		t.Fatalf("no stop message after Ctrl-C:\n%s", s)
	}
}
