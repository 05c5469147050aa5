package cli_test

// Hostile PowerShell servers through a live psmux server (SPEC S4,
// bench-reliability.md R10): a hostile server breaks its own session,
// never the psmux server. The fake servers are this test binary run with
// hostileFakeArg; what they send is written out by hand, not with psmux's
// encoders.

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/psmux/psmux/internal/e2e"
)

// hostileFakeArg as the first argument makes this binary a fake server.
const hostileFakeArg = "-psmux-hostile-fake"

func init() {
	if len(os.Args) >= 3 && os.Args[1] == hostileFakeArg {
		hostileFake(os.Args[2])
		os.Exit(0)
	}
}

// hostileFake plays one hostile server on stdin and stdout, then reads
// stdin until psmux goes.
func hostileFake(mode string) {
	w := bufio.NewWriterSize(os.Stdout, 64<<10)
	switch mode {
	case "silent": // never answers
	case "noise": // 300 MB of lines before any packet
		line := append(bytes.Repeat([]byte("noise "), 170), '\n') // 1021 bytes
		for n := 0; n < 300<<20; n += len(line) {
			if _, err := w.Write(line); err != nil {
				os.Exit(0) // psmux went
			}
		}
	case "guids": // 10 000 messages started on fresh PSGuids, none finished
		for range 10000 {
			var g [16]byte
			_, _ = rand.Read(g[:])
			// A fragment header: object id 1, fragment id 0, Start only,
			// a 16-byte blob of the message's first bytes.
			frag := make([]byte, 21+16)
			binary.BigEndian.PutUint64(frag[0:], 1)
			frag[16] = 1
			binary.BigEndian.PutUint32(frag[17:], 16)
			fmt.Fprintf(w, "<Data Stream='Default' PSGuid='%x-%x-%x-%x-%x'>%s</Data>\n",
				g[0:4], g[4:6], g[6:8], g[8:10], g[10:16], base64.StdEncoding.EncodeToString(frag))
		}
	}
	_ = w.Flush()
	_, _ = io.Copy(io.Discard, os.Stdin)
}

func hostileFakeCmd(mode string) string {
	exe, err := os.Executable()
	if err != nil {
		panic(err)
	}
	return exe + " " + hostileFakeArg + " " + mode
}

// TestHostileServerBreaksOnlyItsSession: each hostile server fails its
// `new` with exit 3 and the cap it broke, the psmux server's peak memory
// stays under 64 MiB above where it started, and two other sessions keep
// answering.
func TestHostileServerBreaksOnlyItsSession(t *testing.T) {
	m := e2e.NewMuxEnv(t)
	for _, n := range []string{"ok1", "ok2"} {
		m.Must("new", "-n", n, "--local", "--pwsh", e2e.PwshsimBin()+" -s")
	}
	pid := m.ServerPID()
	start := int(e2e.VmRSS(t, pid) >> 10)
	for _, c := range []struct{ mode, want string }{
		{"guids", "which is no pipeline of this pool (only the pool's and its pipelines' streams are buffered)"},
		{"noise", "more than the noise cap of 16777216 bytes (16 MiB)"},
	} {
		t.Run(c.mode, func(t *testing.T) {
			r := m.Run("new", "-n", "bad-"+c.mode, "--local", "--pwsh", hostileFakeCmd(c.mode))
			if r.Code != e2e.ExitConnect || !strings.Contains(r.Stderr, c.want) {
				t.Fatalf("new against %s: exit %d, stderr %q; want exit %d and %q", c.mode, r.Code, r.Stderr, e2e.ExitConnect, c.want)
			}
			grew := int(e2e.VmHWM(t, pid)>>10) - start
			t.Logf("server peak RSS %d KiB above its start (%d KiB)", grew, start)
			if grew > 64<<10 {
				t.Errorf("server peak RSS grew %d KiB above its start (%d KiB), more than 64 MiB", grew, start)
			}
			for _, n := range []string{"ok1", "ok2"} {
				if r := m.Must("exec", "-t", n, "--", "6*7"); r.Stdout != "42\n" {
					t.Errorf("exec in %s after the hostile server: %q", n, r.Stdout)
				}
			}
		})
	}
}

// TestHostileSilentServerNew: a server that never answers fails `new`
// within --connect-timeout, with exit 3 and the duration in the message.
func TestHostileSilentServerNew(t *testing.T) {
	m := e2e.NewMuxEnv(t)
	m.Must("new", "-n", "ok", "--local", "--pwsh", e2e.PwshsimBin()+" -s")
	began := time.Now()
	r := m.Run("new", "-n", "silent", "--connect-timeout", "2s", "--local", "--pwsh", hostileFakeCmd("silent"))
	took := time.Since(began)
	t.Logf("new against a silent server returned after %s", took)
	const want = "no answer from the PowerShell server within 2 s"
	if r.Code != e2e.ExitConnect || !strings.Contains(r.Stderr, want) {
		t.Fatalf("new against a silent server: exit %d, stderr %q; want exit %d and %q", r.Code, r.Stderr, e2e.ExitConnect, want)
	}
	// The bound is the timeout plus the time to start a process and tear
	// it down; a hang would take until the test's deadline.
	if took > 10*time.Second {
		t.Errorf("new took %s with a 2 s handshake timeout", took)
	}
	if r := m.Must("exec", "-t", "ok", "--", "6*7"); r.Stdout != "42\n" {
		t.Errorf("exec in ok after the silent server: %q", r.Stdout)
	}
}
