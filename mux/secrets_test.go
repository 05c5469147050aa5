package mux_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
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

// The registry and the server's log never hold a secret relayed through
// the server: an SSH password answered through the prompt relay and a
// SecureString typed for Read-Host -AsSecureString both reach the remote
// side, and then the registry is saved with the sessions that used them.
func TestRegistryAndLogKeepNoRelayedSecret(t *testing.T) {
	const password = "pw-Zq9-hunter2"
	const secure = "ss-Xk7-typed"
	sshd, err := sshserver.Start(sshserver.Options{Passwords: map[string]string{"bob": password}})
	if err != nil {
		t.Fatal(err)
	}
	defer sshd.Close()
	kh := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(kh, []byte(knownhosts.Line([]string{knownhosts.Normalize(sshd.Addr())}, sshd.HostKey())+"\n"), 0o600)
	flags := []string{"-F", os.DevNull, "-p", strconv.Itoa(sshd.Port()), "-o", "UserKnownHostsFile=" + kh,
		"-o", "IdentityAgent=none", "-o", "PubkeyAuthentication=no"}

	state := filepath.Join(t.TempDir(), "state", "sessions.json")
	var logMu sync.Mutex
	var logs strings.Builder
	_, dial := serveConfig(t, mux.Config{Version: "test", StateFile: state, Trace: true, Logf: func(f string, a ...any) {
		logMu.Lock()
		defer logMu.Unlock()
		fmt.Fprintf(&logs, f+"\n", a...)
	}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var asked sync.Map
	c := dial(true, func(p *mux.Prompt) mux.Answer {
		if p.SSH != nil {
			asked.Store("ssh", true)
			return mux.Answer{Answers: []string{password}}
		}
		asked.Store("secure", true)
		return mux.Answer{XML: string(clixml.Encode(nil, clixml.Value{Kind: clixml.SecureString, Text: secure}))}
	})
	if _, err := c.Call(ctx, "new", mux.NewArgs{Name: "pw", Dest: "bob@127.0.0.1", SSH: flags, Init: "$greeting = 'hi'"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, ok := asked.Load("ssh"); !ok {
		t.Fatal("the SSH password was not asked through the relay")
	}
	if _, _, err := c.Attach(ctx, mux.AttachArgs{Target: "pw"}, nil); err != nil {
		t.Fatal(err)
	}
	// The command comes from a second client, as `psmux exec` beside an
	// attached REPL: the attached one answers the prompt.
	var out []string
	data, err := dial(true, nil).Call(ctx, "exec", mux.ExecArgs{Target: "pw", Interactive: true, JSON: true,
		Script: "$s = Read-Host -AsSecureString; ConvertFrom-SecureString -SecureString $s -AsPlainText"}, func(e mux.Seq) {
		if e.Kind == mux.KindMsg {
			if v, err := e.Value(); err == nil {
				out = append(out, v.Text)
			}
		}
	})
	var res mux.ExecResult
	json.Unmarshal(data, &res)
	if _, ok := asked.Load("secure"); err != nil || !ok || res.State != "Completed" || len(out) != 1 || out[0] != secure {
		t.Fatalf("Read-Host -AsSecureString through the relay: %+v %v, output %q; want the typed value at the server", res, err, out)
	}
	// A save after both secrets went through: a second session on the
	// same (shared) connection.
	if _, err := c.Call(ctx, "new", mux.NewArgs{Name: "pw2", Dest: "bob@127.0.0.1", SSH: flags}, nil); err != nil {
		t.Fatal(err)
	}
	saved, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(saved), `"pw2"`) || !strings.Contains(string(saved), "$greeting") {
		t.Fatalf("the registry does not hold both sessions:\n%s", saved)
	}
	logMu.Lock()
	logged := logs.String()
	logMu.Unlock()
	if logged == "" {
		t.Fatal("the server logged nothing under Trace")
	}
	for _, secret := range []string{password, secure} {
		if strings.Contains(string(saved), secret) {
			t.Errorf("the registry holds the secret %q:\n%s", secret, saved)
		}
		if strings.Contains(logged, secret) {
			t.Errorf("the server's log holds the secret %q:\n%s", secret, logged)
		}
	}
}

// The log on disk never holds a prompt's secret answer (Read-Host
// -AsSecureString, Get-Credential's password): the journal files are
// scanned after the server shut down.
func TestJournalKeepsNoSecret(t *testing.T) {
	const secure = "ss-Jr4-journal"
	pwshsim := opensshd.BuildPwshsim(t)
	state := filepath.Join(t.TempDir(), "state", "sessions.json")
	srv, dial := serveConfig(t, mux.Config{Version: "test", StateFile: state})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := dial(true, func(p *mux.Prompt) mux.Answer {
		return mux.Answer{XML: string(clixml.Encode(nil, clixml.Value{Kind: clixml.SecureString, Text: secure}))}
	})
	if _, err := c.Call(ctx, "new", mux.NewArgs{Name: "j", Pwsh: []string{pwshsim, "-s"}}, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Attach(ctx, mux.AttachArgs{Target: "j"}, nil); err != nil { // the attached client answers prompts
		t.Fatal(err)
	}
	data, err := dial(true, nil).Call(ctx, "exec", mux.ExecArgs{Target: "j", Interactive: true, Script: "$s = Read-Host -AsSecureString 'secret'; 'read it'"}, nil)
	var res mux.ExecResult
	json.Unmarshal(data, &res)
	if err != nil || res.State != "Completed" {
		t.Fatalf("Read-Host -AsSecureString: %+v %v", res, err)
	}
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	var files int
	filepath.WalkDir(filepath.Dir(state), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := os.ReadFile(p)
		files++
		if strings.Contains(string(b), secure) {
			t.Errorf("%s holds the secret", p)
		}
		if strings.HasSuffix(p, ".seg") && !strings.Contains(string(b), "read it") {
			t.Errorf("%s, a segment of the log, does not hold the command's output", p)
		}
		return nil
	})
	if files < 2 {
		t.Fatalf("%d files in the state directory; want the registry and the log on disk", files)
	}
}
