package server_test

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/psmux/psmux/internal/e2e"
)

// An attach client whose output goes to a reader that leaves (`psmux
// attach | head -1`) ends, as any program writing to a closed pipe does,
// though the server writes its output for it.
func TestAttachEndsWhenItsReaderLeaves(t *testing.T) {
	m := e2e.NewMuxEnv(t)
	m.Must("new", "-n", "s", "--local", "--pwsh", e2e.PwshsimBin()+" -s")
	m.Must("exec", "--async", "-t", "s", "--", "1..200000")
	cmd := m.Cmd("attach", "-t", "s", "--since", "1")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = w
	stdin, _ := cmd.StdinPipe() // kept open: the client follows the session
	defer stdin.Close()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if _, err := bufio.NewReader(r).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	r.Close() // the reader leaves
	ended := make(chan error, 1)
	go func() { ended <- cmd.Wait() }()
	select {
	case <-ended:
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		t.Fatal("the attach client goes on after the reader of its output left")
	}
}

// One event whose text is larger than a frame reaches the attach
// client's stdout whole (the server writes it in several print frames).
func TestAttachPrintsALargeEventWhole(t *testing.T) {
	const size = 13_000_000 // base64 in one frame would pass MaxFrame
	m := e2e.NewMuxEnv(t)
	m.Must("new", "-n", "s", "--local", "--budget", fmt.Sprint(256<<20), "--pwsh", e2e.PwshsimBin()+" -s")
	a := m.Attach("-t", "s")
	m.Must("exec", "-t", "s", "--", fmt.Sprintf("'x' * %d; 'after'", size))
	seen := false
	a.Until(t, "the large line, then the next", func(l string) bool {
		if strings.HasPrefix(l, "xxx") {
			if len(l) != size {
				t.Fatalf("the large line has %d bytes, want %d", len(l), size)
			}
			seen = true
		}
		return l == "after"
	})
	if !seen {
		t.Fatal("the large line never reached the client's stdout")
	}
	a.Stdin.Close()
	a.Wait()
}
