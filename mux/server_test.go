package mux_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/psmux/psmux/mux"
	"github.com/psmux/psmux/sessions/clixml"
	"github.com/psmux/psmux/testenv/opensshd"
	"github.com/psmux/psmux/testenv/sshserver"
	"golang.org/x/crypto/ssh/knownhosts"
)

// serve starts an in-process server; each client gets one end of a pipe.
func serve(t *testing.T) (*mux.Server, func(interactive bool, onPrompt func(*mux.Prompt) mux.Answer) *mux.Client) {
	t.Helper()
	return serveConfig(t, mux.Config{Version: "test"})
}

// serveConfig is serve with a configuration of the test's own.
func serveConfig(t *testing.T, cfg mux.Config) (*mux.Server, func(interactive bool, onPrompt func(*mux.Prompt) mux.Answer) *mux.Client) {
	t.Helper()
	srv, err := mux.NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	dial := func(interactive bool, onPrompt func(*mux.Prompt) mux.Answer) *mux.Client {
		a, b := net.Pipe()
		served := make(chan struct{})
		go func() {
			defer close(served)
			srv.ServeConn(b)
		}()
		// Runs after the client's Close below (cleanups run last first):
		// the helper waits for the goroutine it started.
		t.Cleanup(func() {
			b.Close()
			select {
			case <-served:
			case <-time.After(30 * time.Second):
				t.Error("ServeConn did not return within 30s of its connection closing")
			}
		})
		c, err := mux.NewClient(a, "test", interactive)
		if err != nil {
			t.Fatal(err)
		}
		c.OnPrompt = onPrompt
		t.Cleanup(func() { c.Close() })
		return c
	}
	return srv, dial
}

// servedW1 is an in-process server with a pwshsim session w1, opened by
// the interactive client a it returns with dial; ctx ends after a minute.
func servedW1(t *testing.T) (context.Context, func(bool, func(*mux.Prompt) mux.Answer) *mux.Client, *mux.Client) {
	t.Helper()
	pwshsim := opensshd.BuildPwshsim(t)
	_, dial := serve(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	a := dial(true, nil)
	if _, err := a.Call(ctx, "new", mux.NewArgs{Name: "w1", Pwsh: []string{pwshsim, "-s"}}, nil); err != nil {
		t.Fatal(err)
	}
	return ctx, dial, a
}

func TestPromptWaitsForAnInteractiveClient(t *testing.T) {
	ctx, dial, a := servedW1(t)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// exec (non-interactive) fails fast on a prompt.
	data, err := a.Call(ctx, "exec", mux.ExecArgs{Target: "w1", Script: "Read-Host 'name'"}, nil)
	var res mux.ExecResult
	json.Unmarshal(data, &res)
	if err != nil || !res.HadErrors {
		t.Fatalf("non-interactive Read-Host: %+v %v; want it to fail at once", res, err)
	}

	// Typed interactively by a client that is not attached: it waits.
	done := make(chan mux.ExecResult, 1)
	execEnded := make(chan struct{})
	var out []string
	go func() {
		defer close(execEnded)
		data, err := a.Call(ctx, "exec", mux.ExecArgs{Target: "w1", Script: "Read-Host 'name'", Interactive: true, JSON: true}, func(e mux.Seq) {
			if e.Kind == mux.KindMsg {
				if v, err := e.Value(); err == nil {
					out = append(out, v.Text)
				}
			}
		})
		var r mux.ExecResult
		json.Unmarshal(data, &r)
		if err != nil {
			r.State = err.Error()
		}
		done <- r
	}()
	// An attached client sees the prompt event, then ls says waiting.
	b := dial(true, func(p *mux.Prompt) mux.Answer {
		if p.Session != "w1" || !strings.Contains(p.XML, "name") {
			return mux.Answer{Error: "unexpected prompt " + p.XML}
		}
		// Read-Host -Prompt arrives as the host's Prompt method, answered
		// with a hashtable of field name → value.
		return mux.Answer{XML: string(clixml.Encode(nil, clixml.Hashtable(clixml.DictEntry{Key: clixml.Str("name"), Value: clixml.Str("psmux")})))}
	})
	waiting := make(chan struct{})
	watcher := dial(false, nil)
	watched := make(chan struct{})
	defer func() { // the test waits for the goroutines it started
		cancel()
		limit := time.After(30 * time.Second)
		for _, g := range []struct {
			ended <-chan struct{}
			what  string
		}{{watched, "the watcher's Attach"}, {execEnded, "the interactive exec"}} {
			select {
			case <-g.ended:
			case <-limit:
				t.Errorf("%s did not return within 30s of its context ending", g.what)
			}
		}
	}()
	go func() {
		defer close(watched)
		watcher.Attach(ctx, mux.AttachArgs{Target: "w1", Since: 1, ReadOnly: true}, func(e mux.Seq) {
			if e.Kind == mux.KindPrompt {
				select {
				case <-waiting:
				default:
					close(waiting)
				}
			}
		})
	}()
	select {
	case <-waiting:
	case <-ctx.Done():
		t.Fatal("no prompt event reached the watcher")
	}
	data, err = a.Call(ctx, "ls", nil, nil)
	var rows []mux.Info
	json.Unmarshal(data, &rows)
	if err != nil || len(rows) != 1 || !rows[0].WaitingForInput || rows[0].Availability != "Busy" {
		t.Fatalf("ls while waiting: %+v %v", rows, err)
	}
	// The interactive client attaches and answers.
	if _, _, err := b.Attach(ctx, mux.AttachArgs{Target: "w1"}, nil); err != nil {
		t.Fatal(err)
	}
	var r mux.ExecResult
	select {
	case r = <-done:
	case <-ctx.Done():
		t.Fatal("the interactive exec did not finish after the answer")
	}
	if r.State != "Completed" || len(out) != 1 || out[0] != "psmux" {
		t.Fatalf("after the answer: %+v, output %q", r, out)
	}
}

func TestSSHPasswordRelayedToTheClient(t *testing.T) {
	srv, err := sshserver.Start(sshserver.Options{Passwords: map[string]string{"bob": "hunter2"}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	kh := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(kh, []byte(knownhosts.Line([]string{knownhosts.Normalize(srv.Addr())}, srv.HostKey())+"\n"), 0o600)
	_, dial := serve(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	flags := []string{"-F", os.DevNull, "-p", strconv.Itoa(srv.Port()), "-o", "UserKnownHostsFile=" + kh,
		"-o", "IdentityAgent=none", "-o", "PubkeyAuthentication=no"}
	var asked []*mux.Prompt
	c := dial(true, func(p *mux.Prompt) mux.Answer {
		asked = append(asked, p)
		return mux.Answer{Answers: []string{"hunter2"}}
	})
	if _, err := c.Call(ctx, "new", mux.NewArgs{Name: "pw", Dest: "bob@127.0.0.1", SSH: flags}, nil); err != nil {
		t.Fatal(err)
	}
	if len(asked) != 1 || asked[0].SSH == nil || asked[0].Dest != "bob@127.0.0.1" || asked[0].SSH.Questions[0].Echo ||
		!strings.Contains(asked[0].SSH.Questions[0].Text, "password") {
		t.Fatalf("prompts %+v", asked)
	}
	// A second session to the same destination shares the connection:
	// no new question.
	if _, err := c.Call(ctx, "new", mux.NewArgs{Name: "pw1", Dest: "bob@127.0.0.1", SSH: flags}, nil); err != nil || len(asked) != 1 {
		t.Fatalf("second session: %v, %d prompts", err, len(asked))
	}
	// Once both are gone, so is the connection; a client without a
	// terminal is never asked, and the open fails at once.
	if _, err := c.Call(ctx, "rm", mux.TargetArgs{All: true}, nil); err != nil {
		t.Fatal(err)
	}
	c2 := dial(false, nil)
	_, err = c2.Call(ctx, "new", mux.NewArgs{Name: "pw2", Dest: "bob@127.0.0.1", SSH: append(flags, "-o", "ServerAliveInterval=7")}, nil)
	var e *mux.Error
	if !errors.As(err, &e) || e.Code != mux.CodeConnect || !strings.Contains(err.Error(), "Permission denied") {
		t.Fatalf("non-interactive new: %v", err)
	}
}

func TestPromptCompleteAndHistory(t *testing.T) {
	ctx, dial, a := servedW1(t)
	data, err := a.Call(ctx, "prompt", mux.TargetArgs{Target: "w1"}, nil)
	var pr mux.PromptResult
	json.Unmarshal(data, &pr)
	if err != nil || !strings.HasPrefix(pr.Prompt, "PS ") || !strings.HasSuffix(pr.Prompt, "> ") {
		t.Fatalf("prompt: %+v %v", pr, err)
	}
	data, err = a.Call(ctx, "complete", mux.CompleteArgs{Target: "w1", Line: "Get-Loc", Cursor: 7}, nil)
	var c mux.Completion
	json.Unmarshal(data, &c)
	if err != nil || c.ReplacementIndex != 0 || c.ReplacementLength != 7 || len(c.Matches) == 0 || c.Matches[0] != "Get-Location" {
		t.Fatalf("complete Get-Loc: %+v %v", c, err)
	}
	for _, l := range []string{"$x = 1", "$x", "$x"} {
		a.Call(ctx, "history", mux.HistoryArgs{Target: "w1", Line: l}, nil)
	}
	b := dial(true, nil) // another client, another terminal
	data, _ = b.Call(ctx, "history", mux.HistoryArgs{Target: "w1"}, nil)
	var h []string
	json.Unmarshal(data, &h)
	if strings.Join(h, "|") != "$x = 1|$x" {
		t.Fatalf("history %q", h)
	}
	// Neither the prompt nor completion shows up in the session's log.
	var kinds []string
	b.Call(ctx, "capture", mux.CaptureArgs{Target: "w1"}, func(e mux.Seq) {
		if e.Kind == mux.KindInput {
			kinds = append(kinds, e.Text)
		}
	})
	if len(kinds) != 0 {
		t.Fatalf("the log shows %q", kinds)
	}
}

// Prompts asked at the same moment (two clients entering, or a client's
// prompt beside its completion) each get the prompt function's text:
// one waits for the other's quiet pipeline instead of falling back to
// "PS> " (CI saw a REPL enter a session with the fallback prompt).
func TestConcurrentPromptsAnswered(t *testing.T) {
	ctx, dial, a := servedW1(t)
	b := dial(true, nil)
	var wg sync.WaitGroup
	errs := make(chan string, 40)
	for _, c := range []*mux.Client{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				data, err := c.Call(ctx, "prompt", mux.PromptArgs{Target: "w1"}, nil)
				var pr mux.PromptResult
				json.Unmarshal(data, &pr)
				if err != nil || pr.Fallback || pr.Busy {
					errs <- fmt.Sprintf("%+v %v", pr, err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("a prompt asked beside another: %s; want the prompt function's text", e)
	}
}

// A command typed in the REPL joins the session's history with the exec
// request itself, so a client that attaches as soon as the command ended
// finds it under Up (CI: a separate history request sent beside the exec
// had not arrived when the next client attached).
func TestExecWithHistoryRecordsItFirst(t *testing.T) {
	ctx, dial, a := servedW1(t)
	if _, err := a.Call(ctx, "exec", mux.ExecArgs{Target: "w1", Script: "$x = 7", History: true}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Call(ctx, "exec", mux.ExecArgs{Target: "w1", Script: "'not typed'"}, nil); err != nil {
		t.Fatal(err)
	}
	data, err := dial(true, nil).Call(ctx, "history", mux.HistoryArgs{Target: "w1"}, nil)
	var h []string
	json.Unmarshal(data, &h)
	if err != nil || strings.Join(h, "|") != "$x = 7" {
		t.Fatalf("history after exec with History: %q %v; want only the typed command", h, err)
	}
}
