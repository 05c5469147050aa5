package server_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/psmux/psmux/internal/e2e"
	"github.com/psmux/psmux/testenv/faultproxy"
	"github.com/psmux/psmux/testenv/opensshd"
)

// chaosResult is what one command of the soak came to.
type chaosResult struct {
	completed   bool          // exit 0, its output checked
	interrupted bool          // ended Failed or Broken by a reset
	took        time.Duration // from start to exit
}

// TestChaosSoakR1 is bench-reliability's R1 at reduced scale: sessions
// through the server over real sshd, each behind a fault proxy that
// resets its connection at random moments, run numbered commands. Every
// command that reports Completed printed its whole sequence once, in
// order (0 lost, 0 duplicated); every other one ended Failed or Broken,
// none hung; a broken session is reconnected and the work goes on.
// 10 sessions × 100 commands by default, 50 × 1000 with PSMUX_LONG=1.
func TestChaosSoakR1(t *testing.T) {
	opensshd.Require(t)
	sessions, commands := 10, 100
	if e2e.Long() {
		sessions, commands = 50, 1000
	}
	const k = 20        // numbers each command prints
	const resetP = 0.05 // chance a command has its connection reset
	const hung = 2 * time.Minute
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)

	sshd := e2e.StartSshd(t, e2e.SubsystemCommand(t))
	m := e2e.NewMuxEnv(t)
	proxies := make([]*faultproxy.Proxy, sessions)
	var opens [][]string
	for i := range proxies {
		p, kh := e2e.Proxied(t, sshd)
		proxies[i] = p
		opens = append(opens, []string{"new", "-n", fmt.Sprintf("c%d", i), "-p", strconv.Itoa(p.Port()),
			"-o", "UserKnownHostsFile=" + kh, "-F", sshd.SSHConfig, sshd.Alias})
	}
	m.MustAll(opens)

	var reconnects atomic.Int64
	results := make([][]chaosResult, sessions)
	errs := make(chan error, sessions)
	var wg sync.WaitGroup
	start := time.Now()
	for s := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(seed), uint64(s)))
			name := fmt.Sprintf("c%d", s)
			for i := range commands {
				nonce := fmt.Sprintf("n%d-%d-%d", seed%1000, s, i)
				if rng.Float64() < resetP {
					// mid-command, or before it reaches the host
					time.AfterFunc(time.Duration(rng.IntN(30))*time.Millisecond, proxies[s].ResetAll)
				}
				r, err := chaosCommand(m, name, nonce, k, hung)
				if err != nil {
					errs <- fmt.Errorf("%s command %d: %w", name, i, err)
					return
				}
				results[s] = append(results[s], r)
				if r.interrupted {
					if err := chaosReconnect(m, name, hung); err != nil {
						errs <- err
						return
					}
					reconnects.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.Fatalf("server log:\n%s", m.Log())
	}
	var all []time.Duration
	completed, interrupted, resets := 0, 0, int64(0)
	for s := range sessions {
		resets += proxies[s].Stats().Resets
		for _, r := range results[s] {
			all = append(all, r.took)
			if r.completed {
				completed++
			} else {
				interrupted++
			}
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	elapsed := time.Since(start)
	t.Logf("%d sessions × %d commands in %v (%.0f commands/s): %d Completed (0 lost, 0 duplicated), %d interrupted, %d connections reset, %d reconnects; command time p50 %v p99 %v",
		sessions, commands, elapsed.Round(time.Millisecond), float64(sessions*commands)/elapsed.Seconds(),
		completed, interrupted, resets, reconnects.Load(),
		all[len(all)/2].Round(time.Millisecond), all[len(all)*99/100].Round(time.Millisecond))
	if completed == 0 {
		t.Fatal("no command completed")
	}
}

// chaosCommand runs one numbered command on session name and checks
// what it came to.
func chaosCommand(m *e2e.MuxEnv, name, nonce string, k int, hung time.Duration) (chaosResult, error) {
	script := fmt.Sprintf("'%s'; 1..%d; '%s-end'", nonce, k, nonce)
	cmd := m.Cmd("exec", "-t", name, "--", script)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	began := time.Now()
	if err := cmd.Start(); err != nil {
		return chaosResult{}, err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(hung):
		_ = cmd.Process.Kill()
		<-done
		return chaosResult{}, fmt.Errorf("hung: no end after %v; output so far %q", hung, out.String())
	}
	r := chaosResult{took: time.Since(began)}
	switch code := cmd.ProcessState.ExitCode(); code {
	case e2e.ExitOK:
		want := append([]string{nonce}, chaosNumbers(k)...)
		want = append(want, nonce+"-end")
		if got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n"); !slices.Equal(got, want) {
			return r, fmt.Errorf("Completed with output %q, want %q (lost or duplicated)", got, want)
		}
		r.completed = true
	case e2e.ExitErrors, e2e.ExitConnect:
		// Failed or Broken: whatever it printed is a prefix of its
		// sequence, never a line twice.
		got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		seen := map[string]bool{}
		for _, l := range got {
			if l != "" && seen[l] {
				return r, fmt.Errorf("interrupted with %q printed twice", l)
			}
			seen[l] = true
		}
		r.interrupted = true
	default:
		return r, fmt.Errorf("exit %d (want 0, or 1/3 for Failed/Broken): stdout %q stderr %q", code, out.String(), errb.String())
	}
	return r, nil
}

// chaosReconnect reopens a session a reset broke, trying again while the
// reset is still being noticed or the proxy resets the new connection.
func chaosReconnect(m *e2e.MuxEnv, name string, hung time.Duration) error {
	deadline := time.Now().Add(hung)
	for {
		r := m.Run("reconnect", "-t", name)
		if r.Code == e2e.ExitOK {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: reconnect failed for %v: exit %d %q", name, hung, r.Code, r.Stderr)
		}
	}
}

func chaosNumbers(k int) []string {
	out := make([]string, k)
	for i := range out {
		out[i] = strconv.Itoa(i + 1)
	}
	return out
}
