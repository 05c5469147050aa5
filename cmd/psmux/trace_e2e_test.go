package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/psmux/psmux/mux"
	"github.com/psmux/psmux/mux/sock"
	"github.com/psmux/psmux/repl"
	"github.com/psmux/psmux/sessions/psrp"
	"github.com/psmux/psmux/sessions/trace"
)

// startTracingServer runs `psmux server --foreground --trace DIR` for m
// and waits until it listens.
func startTracingServer(t *testing.T, m *muxEnv, dir string) {
	t.Helper()
	cmd := m.cmd("server", "--foreground", "--trace", dir)
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
		m.run("kill-server")
		_ = cmd.Wait()
	})
	select {
	case <-listening:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("the tracing server did not start")
	}
}

// utf16le is s as .NET keeps it in memory (and SecureString encrypts it).
func utf16le(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = append(b, byte(u), byte(u>>8))
	}
	return b
}

// TestServerTraceMasksSecrets runs a live server with --trace against
// pwshsim and real pwsh: each session gets DIR/<name>.oop, `psmux debug
// decode` reads it without complaint, and the secrets typed for
// Read-Host -AsSecureString and Get-Credential and the literal given to
// ConvertTo-SecureString -AsPlainText appear nowhere in it, in any form.
func TestServerTraceMasksSecrets(t *testing.T) {
	for name, server := range map[string]string{"pwshsim": pwshsimBin() + " -s", "pwsh": realPwsh(t)} {
		if server == "" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			m := newMuxEnv(t)
			dir := t.TempDir()
			startTracingServer(t, m, dir)
			m.must("new", "-n", "tr1", "--local", "--pwsh", server)

			secrets := []string{"rh-S3cret-typed", "gc-P4ssw0rd-typed"}
			script := `$s = Read-Host -AsSecureString 'pin'; "len=$($s.Length)"; $s; $c = Get-Credential; "user=$($c.UserName) plen=$($c.Password.Length)"; $c`
			if name == "pwsh" {
				secrets = append(secrets, "cv-Pl4intext-given")
				script += `; $v = ConvertTo-SecureString 'cv-Pl4intext-given' -AsPlainText -Force; "vlen=$($v.Length)"; $v`
			}
			out := execWithAnswers(t, m, "tr1", script, secrets[0], secrets[1])
			// pwshsim's SecureString has no Length; real pwsh proves the
			// answers arrived whole.
			if name == "pwsh" {
				for _, want := range []string{"len=15", "user=alice plen=17", "vlen=18"} {
					if !strings.Contains(out, want) {
						t.Fatalf("the answers did not reach the session: want %q in\n%s", want, out)
					}
				}
			} else if !strings.Contains(out, "user=alice") {
				t.Fatalf("the credential did not reach the session:\n%s", out)
			}
			m.must("rm", "-t", "tr1")

			path := filepath.Join(dir, "tr1.oop")
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("no trace for the session: %v", err)
			}
			checkNoSecret(t, data, secrets)

			dec := m.cmd("debug", "decode")
			dec.Stdin = bytes.NewReader(data)
			var decOut, decErr bytes.Buffer
			dec.Stdout, dec.Stderr = &decOut, &decErr
			if err := dec.Run(); err != nil {
				t.Fatalf("debug decode: %v\n%s", err, decErr.String())
			}
			types := map[string]int{}
			masked := 0
			for _, l := range strings.Split(strings.TrimSpace(decOut.String()), "\n") {
				var rec struct {
					Direction, Type string
					Data            any
				}
				if err := json.Unmarshal([]byte(l), &rec); err != nil {
					t.Fatalf("decode output %q: %v", l, err)
				}
				types[rec.Direction+" "+rec.Type]++
				masked += countSecureStrings(t, rec.Data)
				if rec.Type == "ENCRYPTED_SESSION_KEY" && !strings.Contains(l, `"EncryptedSessionKey":"`+trace.Mask+`"`) {
					t.Fatalf("the session key is not masked: %s", l)
				}
			}
			for _, want := range []string{"ClientToServer SESSION_CAPABILITY", "ServerToClient SESSION_CAPABILITY", "ClientToServer CREATE_PIPELINE",
				"ServerToClient PIPELINE_HOST_CALL", "ClientToServer PIPELINE_HOST_RESPONSE", "ServerToClient PIPELINE_STATE"} {
				if types[want] == 0 {
					t.Fatalf("the trace has no %s message: %v", want, types)
				}
			}
			// The two answers at least, each masked.
			if masked < 2 {
				t.Fatalf("%d masked SecureStrings in the trace, want at least 2:\n%s", masked, decOut.String())
			}
		})
	}
}

// execWithAnswers runs script in session through a client of its own
// attached to it, that answers hidden prompts with the hidden answers in turn and
// visible ones with "alice"; it returns the rendered output.
func execWithAnswers(t *testing.T, m *muxEnv, session, script string, hidden ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := sock.Dial(ctx, m.sock)
	if err != nil {
		t.Fatal(err)
	}
	c, err := mux.NewClient(conn, "trace-test", true)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var out, errb lockedBuffer
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
	show := func(e mux.Seq) {
		mu.Lock()
		dup := seen[e.Seq]
		seen[e.Seq] = true
		mu.Unlock()
		if !dup {
			e.Render(ctx, r)
		}
	}
	if _, _, err := c.Attach(ctx, mux.AttachArgs{Target: session}, show); err != nil {
		t.Fatalf("attach: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := c.Call(ctx, "exec", mux.ExecArgs{Target: session, Script: script, Interactive: true}, show)
		done <- err
	}()
	select {
	case err = <-done:
	case <-time.After(3 * time.Minute): // Call goes on waiting after ctx asks the server to stop
		t.Fatalf("exec did not end\nstdout:\n%s\nserver log:\n%s", out.String(), m.log())
	}
	r.Finish()
	if err != nil {
		t.Fatalf("exec: %v\nstdout:\n%s\nstderr:\n%s\nserver log:\n%s", err, out.String(), errb.String(), m.log())
	}
	return out.String() + errb.String()
}

// checkNoSecret fails if a secret is in data as text, UTF-16LE or base64
// of either, or inside any line's decoded payload.
func checkNoSecret(t *testing.T, data []byte, secrets []string) {
	t.Helper()
	for _, s := range secrets {
		forms := map[string][]byte{"text": []byte(s), "utf-16le": utf16le(s),
			"base64":          []byte(base64.StdEncoding.EncodeToString([]byte(s))),
			"base64 utf-16le": []byte(base64.StdEncoding.EncodeToString(utf16le(s)))}
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

// countSecureStrings counts {"SecureString": …} values in a decoded
// message and fails on one that is not the mask.
func countSecureStrings(t *testing.T, v any) int {
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
			n += countSecureStrings(t, x)
		}
	case []any:
		for _, x := range v {
			n += countSecureStrings(t, x)
		}
	}
	return n
}
