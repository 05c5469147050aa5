package cli_test

import (
	"bytes"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/psmux/psmux/internal/e2e"
)

// TestHostileLargeString: one 60 MB string from the server reaches exec
// whole and costs the psmux server at most 3× its size at its peak (SPEC
// S4; issue 12: it was 6.3×, and nothing was printed, exit 0, because the
// event was larger than a frame).
func TestHostileLargeString(t *testing.T) {
	const size = 60_000_000
	m := e2e.NewMuxEnv(t)
	m.Must("new", "-n", "big", "--budget", strconv.Itoa(256<<20), "--local", "--pwsh", e2e.PwshsimBin()+" -s")
	pid := m.ServerPID()
	start := int(e2e.VmRSS(t, pid) >> 10)
	cmd := m.Cmd("exec", "-t", "big", "--", "'x' * "+strconv.Itoa(size))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var xs, other int64
	buf := make([]byte, 64<<10)
	for {
		n, err := out.Read(buf)
		c := int64(bytes.Count(buf[:n], []byte("x")))
		xs, other = xs+c, other+int64(n)-c
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exec: %v (%d bytes out)", err, xs+other)
	}
	grew := int(e2e.VmHWM(t, pid)>>10) - start
	t.Logf("server peak RSS %d KiB above its start (%d KiB) for a %d-byte string: %.2f×", grew, start, size, float64(grew)*1024/size)
	if xs != size || other != 1 {
		t.Errorf("exec printed %d x and %d other bytes, want the %d-byte string and its newline", xs, other, size)
	}
	if grew*1024 > 3*size {
		t.Errorf("server peak RSS grew %d KiB for a %d-byte string, more than 3×", grew, size)
	}
}

// TestLargeObjectReachesTheClient: an object whose event is larger than a
// request frame (mux.MaxFrame, 16 MiB) reaches `exec --json` whole: the
// client reads event frames up to mux.MaxEventFrame.
func TestLargeObjectReachesTheClient(t *testing.T) {
	const size = 20_000_000
	m := e2e.NewMuxEnv(t)
	m.Must("new", "-n", "big", "--local", "--pwsh", e2e.PwshsimBin()+" -s")
	out := m.Must("exec", "-t", "big", "--json", "--", "'y' * "+strconv.Itoa(size)).Stdout
	first, _, _ := strings.Cut(out, "\n")
	var o struct{ Value string }
	if err := json.Unmarshal([]byte(first), &o); err != nil {
		t.Fatalf("exec --json printed %d bytes, its first line not an object: %v", len(out), err)
	}
	if s := o.Value; len(s) != size || strings.Trim(s, "y") != "" {
		t.Fatalf("exec --json printed a %d-byte string, want %d times y", len(s), size)
	}
}

// TestLongLinesShownOnce: a Write-Host of 3 MB, which pwsh sends as a
// record and as host calls (psrp-brief §8.4), and a 3 MB line of output
// (Out-Default's host call alone) each print once, whole, in order,
// through a server that logs long writes in pieces; against pwshsim and
// real pwsh.
func TestLongLinesShownOnce(t *testing.T) {
	const size = 3_000_000
	for name, server := range e2e.PwshServers(t) {
		t.Run(name, func(t *testing.T) {
			m := e2e.NewMuxEnv(t)
			m.Must("new", "-n", "l", "--local", "--pwsh", server)
			n := strconv.Itoa(size)
			out := m.Must("exec", "-t", "l", "--", "'a'; Write-Host ('h' * "+n+"); 'b'; 'o' * "+n+"; 'c'").Stdout
			want := "a\n" + strings.Repeat("h", size) + "\nb\n" + strings.Repeat("o", size) + "\nc\n"
			if out != want {
				t.Fatalf("exec printed %d bytes (%d h, %d o), want %d: each long line once, in order",
					len(out), strings.Count(out, "h"), strings.Count(out, "o"), len(want))
			}
		})
	}
}
