package main

import (
	"strings"
	"testing"
)

// Ctrl-C on a running command shows what Enter-PSSession shows: the
// stop's error, rendered by the remote Out-Default ("Error: The pipeline
// has been stopped."), then the prompt.
func TestREPLCtrlCShowsStopPwsh(t *testing.T) {
	x, w := replPwsh(t)
	x.line(w, "Start-Sleep 30")
	x.waitBusy("w1") // Ctrl-C before the command starts would only clear a line
	x.keys(w, "C-c")
	s := x.waitPrompt(w, w1Prompt)
	_, after, _ := strings.Cut(s, "Start-Sleep 30")
	if !strings.Contains(after, "Error: The pipeline has been stopped.") {
		t.Fatalf("no stop message after Ctrl-C:\n%s", s)
	}
}
