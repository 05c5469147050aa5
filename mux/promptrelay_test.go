package mux_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/psmux/psmux/mux"
	"github.com/psmux/psmux/testenv/sshserver"
	"golang.org/x/crypto/ssh/knownhosts"
)

// waitingInSSHPrompt counts the goroutines inside the server's SSH
// prompt relay: asking a client or waiting for their turn.
func waitingInSSHPrompt() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), "mux.(*Server).sshPrompt(")
		}
		buf = make([]byte, 2*len(buf))
	}
}

// SSH questions from a fan-out are asked one destination at a time (SPEC
// S3: "prompts from a fan-out never interleave"): two sessions opened at
// once on two password hosts by one interactive client; the first
// question is held open until the second connection also waits in the
// relay, and at no point are two questions open.
func TestPromptRelayOneDestinationAtATime(t *testing.T) {
	kh := filepath.Join(t.TempDir(), "known_hosts")
	passwords := map[string]string{} // destination → its password
	var dests []string
	for i := range 2 {
		pw := fmt.Sprintf("pw-%d-relay", i)
		sshd, err := sshserver.Start(sshserver.Options{Passwords: map[string]string{"bob": pw}})
		if err != nil {
			t.Fatal(err)
		}
		defer sshd.Close()
		f, err := os.OpenFile(kh, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(f, knownhosts.Line([]string{knownhosts.Normalize(sshd.Addr())}, sshd.HostKey()))
		f.Close()
		dest := "bob@127.0.0.1:" + strconv.Itoa(sshd.Port())
		passwords[dest] = pw
		dests = append(dests, dest)
	}
	flags := []string{"-F", os.DevNull, "-o", "UserKnownHostsFile=" + kh, "-o", "IdentityAgent=none", "-o", "PubkeyAuthentication=no"}

	_, dial := serveConfig(t, mux.Config{Version: "test"})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var mu sync.Mutex
	open, most, asked := 0, 0, map[string]int{}
	c := dial(true, func(p *mux.Prompt) mux.Answer {
		mu.Lock()
		open++
		most = max(most, open)
		asked[p.Dest]++
		first := len(asked) == 1 && asked[p.Dest] == 1
		mu.Unlock()
		defer func() {
			mu.Lock()
			open--
			mu.Unlock()
		}()
		if first { // hold it until the other connection is in the relay too
			for waitingInSSHPrompt() < 2 {
				mu.Lock()
				twice := most > 1
				mu.Unlock()
				if twice || ctx.Err() != nil {
					break
				}
				runtime.Gosched()
			}
		}
		pw, ok := passwords[p.Dest]
		if p.SSH == nil || !ok {
			return mux.Answer{Error: fmt.Sprintf("a question not labelled with a destination: %+v", p)}
		}
		return mux.Answer{Answers: []string{pw}}
	})
	errs := make(chan error, 2)
	for i, dest := range dests {
		go func() {
			_, err := c.Call(ctx, "new", mux.NewArgs{Name: fmt.Sprintf("h%d", i), Dest: dest, SSH: flags}, nil)
			errs <- err
		}()
	}
	for range dests {
		if err := <-errs; err != nil {
			t.Fatalf("new: %v", err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if most != 1 {
		t.Fatalf("%d SSH questions were open at once; want one destination at a time", most)
	}
	for _, d := range dests {
		if asked[d] != 1 {
			t.Fatalf("questions per destination %v; want one for each of %v", asked, dests)
		}
	}
}
