//go:build linux

package ptyterm

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestUntilSeesAMarkerAcrossReadsAndHangsUp: the marker is found when it
// comes in two writes, the command has a terminal (its stdin is a tty),
// and the hang-up ends a command that would otherwise run on.
func TestUntilSeesAMarkerAcrossReadsAndHangsUp(t *testing.T) {
	script := `[ -t 0 ] && printf 'mar'; sleep 0.1; printf 'ker'; exec sleep 600`
	start := time.Now()
	// a command that takes the hang-up's default action even when the
	// test runs with SIGHUP ignored (under nohup), which it would inherit
	d, err := Until([]string{"env", "--default-signal=HUP", "/bin/sh", "-c", script}, os.Environ(), 80, 24, []byte("marker"), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if d <= 0 || time.Since(start) > 20*time.Second {
		t.Fatalf("found after %v, returned after %v: the hang-up did not end the command", d, time.Since(start))
	}
	_, err = Until([]string{"/bin/sh", "-c", "printf nothing"}, os.Environ(), 80, 24, []byte("marker"), 30*time.Second)
	if err == nil || !strings.Contains(err.Error(), "nothing") {
		t.Fatalf("a command that never writes the marker: %v, want an error quoting what it wrote", err)
	}
}
