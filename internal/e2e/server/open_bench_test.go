package server_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/psmux/psmux/internal/e2e"
	"github.com/psmux/psmux/testenv/faultproxy"
	"golang.org/x/crypto/ssh/knownhosts"
)

// BenchmarkSessionOpen opens a session on real pwsh behind Debian's
// sshd with `psmux new` through a live server (the client's start
// included; the session is removed, untimed, before the next), beside
// pwsh's own `New-PSSession -HostName` to the same sshd, timed inside
// one pwsh process (its start left out), and reports their ratio. Both
// include pwsh's start on the far side, which dominates.
func BenchmarkSessionOpen(b *testing.B) {
	sshd := realPwshHost(b, 2)
	m := e2e.NewMuxEnv(b)
	m.NewSSH(sshd, "warm") // the server is up and has met the host
	var psmux []time.Duration
	for i := 0; b.Loop() || i == 0; i++ {
		b.StopTimer()
		settle(b)
		b.StartTimer()
		name := fmt.Sprintf("o%d", i)
		start := time.Now()
		m.NewSSH(sshd, name)
		d := time.Since(start)
		b.StopTimer()
		m.Must("rm", "-t", name)
		b.StartTimer()
		if i > 0 { // the first warms up
			psmux = append(psmux, d)
		}
	}
	pwsh := pwshOpenMs(b, pwshSessions(sshd, 1), max(len(psmux), 3))
	pm := medianMs(psmux)
	b.ReportMetric(pm, "ms/open")
	b.ReportMetric(pwsh, "pwsh-ms/open")
	b.ReportMetric(pm/pwsh, "psmux/pwsh")
}

// pwshOpenMs runs opener (a script setting $s to a new session) in one
// pwsh process, once to warm up and then rounds times, each on an idle
// machine, and returns the median milliseconds of the rounds.
func pwshOpenMs(b *testing.B, opener string, rounds int) float64 {
	b.Helper()
	script := fmt.Sprintf(`%s
Remove-PSSession $s
'ready'
while ($null -ne [Console]::In.ReadLine()) {
    $ms = (Measure-Command { %s }).TotalMilliseconds
    Remove-PSSession $s
    $ms
}`, opener, opener)
	return pwshRounds(b, script, rounds, true)
}

// faultTimeout is the --connect-timeout of BenchmarkFanOutUnderFault.
const faultTimeout = 2 * time.Second

// summaryLine is the line invoke prints on stderr for each host of a
// fan-out: "[h1] Completed in 812ms".
var summaryLine = regexp.MustCompile(`^\[([^\]]+)\] (\S+) in \S+$`)

// BenchmarkFanOutUnderFault runs `psmux invoke --connect-timeout 2s
// h1,h2,h3` to real pwsh behind Debian's sshd, each host its own
// faultproxy in front of it and h3's blackholed (it accepts TCP and
// forwards nothing), beside `psmux invoke h1,h2` without it. It reports
// when h1's and h2's results come against the same without h3 (the
// healthy hosts wait for nothing: about 1; the two pwsh starting at once
// share the machine's cores either way) and when the run ends against
// the connect timeout (the dead host costs the timeout, not more: about
// 1).
func BenchmarkFanOutUnderFault(b *testing.B) {
	sshd := realPwshHost(b, 3)
	dir := b.TempDir()
	var conf, known strings.Builder
	knownPath := filepath.Join(dir, "known_hosts")
	var proxies []*faultproxy.Proxy
	for i := 1; i <= 3; i++ {
		p, err := faultproxy.New(sshd.Addr)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { p.Close() })
		proxies = append(proxies, p)
		known.WriteString(knownhosts.Line([]string{knownhosts.Normalize(p.Addr())}, sshd.HostKey) + "\n")
		fmt.Fprintf(&conf, "Host h%d\n    HostName 127.0.0.1\n    Port %d\n    User %s\n    IdentityFile %s\n    IdentitiesOnly yes\n"+
			"    UserKnownHostsFile %s\n    GlobalKnownHostsFile /dev/null\n    StrictHostKeyChecking yes\n",
			i, p.Port(), sshd.User, sshd.ClientKey, knownPath)
	}
	proxies[2].Blackhole(true)
	cfg := filepath.Join(dir, "ssh_config")
	if err := os.WriteFile(knownPath, []byte(known.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte(conf.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	invoke := func(hosts string) (at map[string]time.Duration, state map[string]string, took time.Duration) {
		b.Helper()
		cmd := e2e.Command(e2e.PsmuxBin(), "invoke", "-F", cfg, "--connect-timeout", faultTimeout.String(), hosts, "--", "'x'")
		stderr, err := cmd.StderrPipe()
		if err != nil {
			b.Fatal(err)
		}
		settle(b)
		start := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		at, state = map[string]time.Duration{}, map[string]string{}
		var all []string
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			all = append(all, sc.Text())
			if m := summaryLine.FindStringSubmatch(sc.Text()); m != nil {
				at[m[1]], state[m[1]] = time.Since(start), m[2]
			}
		}
		_ = cmd.Wait() // exits 1 when a host fails
		took = time.Since(start)
		if state["h1"] != "Completed" || state["h2"] != "Completed" || strings.Contains(hosts, "h3") && (state["h3"] == "" || state["h3"] == "Completed") {
			b.Fatalf("invoke %s: summary lines %v\n%s", hosts, state, strings.Join(all, "\n"))
		}
		return at, state, took
	}
	var healthy, h1, h2, total []time.Duration
	for i := 0; b.Loop() || i == 0; i++ {
		pair, _, _ := invoke("h1,h2")
		at, _, t := invoke("h1,h2,h3")
		if i > 0 { // the first of each warms up
			healthy = append(healthy, max(pair["h1"], pair["h2"]))
			h1, h2, total = append(h1, at["h1"]), append(h2, at["h2"]), append(total, t)
		}
	}
	hm := medianMs(healthy)
	b.ReportMetric(hm, "without-h3-ms")
	b.ReportMetric(medianMs(h1), "h1-ms")
	b.ReportMetric(medianMs(h2), "h2-ms")
	b.ReportMetric(medianMs(total), "total-ms")
	b.ReportMetric(max(medianMs(h1), medianMs(h2))/hm, "with/without-h3")
	b.ReportMetric(medianMs(total)/float64(faultTimeout.Milliseconds()), "total/timeout")
}
