package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/psmux/psmux/mux"
	"github.com/psmux/psmux/repl"
	"github.com/psmux/psmux/sessions/psrp"
	"github.com/psmux/psmux/sessions/trace"
)

// StartTracingServer runs `psmux server --foreground --trace DIR` for m
// and waits until it listens.
func StartTracingServer(t *testing.T, m *MuxEnv, dir string) {
	t.Helper()
	cmd := m.Cmd("server", "--foreground", "--trace", dir)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	listening := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		once := sync.Once{}
		for sc.Scan() {
			if strings.Contains(sc.Text(), "listening on") {
				once.Do(func() { close(listening) })
			}
		}
	}()
	t.Cleanup(func() {
		m.Run("kill-server")
		_ = cmd.Wait()
	})
	select {
	case <-listening:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("the tracing server did not start")
	}
}

// Utf16le is s as .NET keeps it in memory (and SecureString encrypts it).
func Utf16le(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = append(b, byte(u), byte(u>>8))
	}
	return b
}

// ExecWithAnswers runs script in session through a client of its own
// attached to it, that answers hidden prompts with the hidden answers in turn and
// visible ones with "alice"; it returns the rendered output.
func ExecWithAnswers(t *testing.T, m *MuxEnv, session, script string, hidden ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := m.Client("trace-test", true)
	defer c.Close() // detached when it returns, as before
	var out, errb LockedBuffer
	var mu sync.Mutex
	r := &repl.Renderer{Out: &out, Err: &errb, Width: 120, ReadLine: func(h bool) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		if !h {
			return "alice", nil
		}
		a := hidden[0]
		hidden = hidden[1:]
		return a, nil
	}}
	c.OnPrompt = func(p *mux.Prompt) mux.Answer { return p.Reply(ctx, r, nil) }
	// Prompts go to an attached interactive client, as in the REPL.
	// Events may come on the attachment and the exec both: show each once.
	seen := map[uint64]bool{}
	ended := make(chan int, 64) // commands whose state event was shown
	show := func(e mux.Seq) {
		mu.Lock()
		dup := seen[e.Seq]
		seen[e.Seq] = true
		mu.Unlock()
		if !dup {
			e.Render(ctx, r)
			if e.Kind == mux.KindState {
				select {
				case ended <- e.Cmd:
				default:
				}
			}
		}
	}
	if _, _, err := c.Attach(ctx, mux.AttachArgs{Target: session}, show); err != nil {
		t.Fatalf("attach: %v", err)
	}
	done := make(chan error, 1)
	var res mux.ExecResult
	go func() {
		data, err := c.Call(ctx, "exec", mux.ExecArgs{Target: session, Script: script, Interactive: true}, show)
		if err == nil {
			err = json.Unmarshal(data, &res)
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exec: %v\nstdout:\n%s\nstderr:\n%s\nserver log:\n%s", err, out.String(), errb.String(), m.Log())
		}
	case <-time.After(3 * time.Minute): // Call goes on waiting after ctx asks the server to stop
		t.Fatalf("exec did not end\nstdout:\n%s\nserver log:\n%s", out.String(), m.Log())
	}
	// The exec ends when the command does; its output comes on the
	// attachment, which may still be on its way: wait for its end there.
	for cmd := 0; cmd != res.Job; {
		select {
		case cmd = <-ended:
		case <-ctx.Done():
			t.Fatalf("the attachment never showed command %d's end\nstdout:\n%s", res.Job, out.String())
		}
	}
	r.Finish()
	return out.String() + errb.String()
}

// CheckNoSecret fails if a secret is in data as text, UTF-16LE or base64
// of either, or inside any line's decoded payload.
func CheckNoSecret(t *testing.T, data []byte, secrets []string) {
	t.Helper()
	for _, s := range secrets {
		forms := map[string][]byte{"text": []byte(s), "utf-16le": Utf16le(s),
			"base64":          []byte(base64.StdEncoding.EncodeToString([]byte(s))),
			"base64 utf-16le": []byte(base64.StdEncoding.EncodeToString(Utf16le(s)))}
		for form, b := range forms {
			if bytes.Contains(data, b) {
				t.Fatalf("the trace holds %q as %s", s, form)
			}
			for _, line := range bytes.Split(data, []byte("\n")) {
				line = bytes.TrimPrefix(bytes.TrimPrefix(line, []byte("C> ")), []byte("S> "))
				p, err := psrp.ParsePacket(line)
				if err == nil && bytes.Contains(p.Payload, b) {
					t.Fatalf("a trace packet carries %q as %s: %s", s, form, line)
				}
			}
		}
	}
}

// CountSecureStrings counts {"SecureString": …} values in a decoded
// message and fails on one that is not the mask.
func CountSecureStrings(t *testing.T, v any) int {
	n := 0
	switch v := v.(type) {
	case map[string]any:
		if ss, ok := v["SecureString"]; ok && len(v) == 1 {
			if ss != trace.Mask {
				t.Fatalf("an unmasked SecureString in the trace: %v", ss)
			}
			return 1
		}
		for _, x := range v {
			n += CountSecureStrings(t, x)
		}
	case []any:
		for _, x := range v {
			n += CountSecureStrings(t, x)
		}
	}
	return n
}
