package server_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/psmux/psmux/internal/e2e"
	req "github.com/psmux/psmux/testenv/require"
)

// textLines is how many lines BenchmarkTextOutput prints (issue 15).
const textLines = 100000

// BenchmarkTextOutput prints `1..100000` as text against real pwsh
// behind Debian's sshd, each on an idle machine (settle): through
// `psmux invoke`, through `psmux exec` on a server session, and as
// objects with `invoke --json`; beside pwsh's own `Invoke-Command
// -HostName` (timed inside pwsh, its own start left out) and the
// no-PSRP floor, `ssh host pwsh -NoProfile -c`. It reports each time,
// the ratios issue 15 bounds, the clients' peak RSS, the server's CPU
// during exec against exec's wall time, and whether psmux printed the
// floor's text exactly.
func BenchmarkTextOutput(b *testing.B) {
	sshd := realPwshHost(b, 2)
	m := e2e.NewMuxEnv(b)
	m.NewSSH(sshd, "t")
	server := m.ServerPID()
	script := fmt.Sprintf("1..%d", textLines)
	var want bytes.Buffer
	for i := 1; i <= textLines; i++ {
		fmt.Fprintln(&want, i)
	}
	type ran struct {
		took  time.Duration
		rssKB int64
		out   []byte
	}
	timed := func(what string, cmd *exec.Cmd) ran {
		b.Helper()
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		settle(b)
		start := time.Now()
		if err := cmd.Run(); err != nil {
			b.Fatalf("%s: %v\n%s", what, err, errb.String())
		}
		r := ran{took: time.Since(start), out: out.Bytes()}
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			r.rssKB = ru.Maxrss
		}
		return r
	}
	invoke := func(extra ...string) *exec.Cmd {
		args := append(append([]string{"invoke", "-F", sshd.SSHConfig}, extra...), sshd.Alias, "--", script)
		return e2e.Command(e2e.PsmuxBin(), args...)
	}
	pwshScript := fmt.Sprintf(`$sw = [Diagnostics.Stopwatch]::StartNew()
Invoke-Command -HostName 127.0.0.1 -Port %d -UserName '%s' -KeyFilePath '%s' -Options @{UserKnownHostsFile='%s'} -ScriptBlock { %s }
[Console]::Error.WriteLine($sw.Elapsed.TotalMilliseconds)`, sshd.Port, sshd.User, sshd.ClientKey, sshd.KnownHosts, script)
	m.Must("exec", "-t", "t", "--", "1") // the session's first command costs more
	var text, exe, json, floor ran
	var pwsh time.Duration
	var serverCPU time.Duration
	for b.Loop() {
		text = timed("psmux invoke", invoke())
		cpu0 := procCPU(b, server)
		exe = timed("psmux exec", m.Cmd("exec", "-t", "t", "--", script))
		serverCPU = procCPU(b, server) - cpu0
		json = timed("psmux invoke --json", invoke("--json"))
		cmd := exec.Command(req.PwshBin(), "-NoLogo", "-NoProfile", "-NonInteractive", "-Command", pwshScript)
		var errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &bytes.Buffer{}, &errb
		settle(b)
		if err := cmd.Run(); err != nil {
			b.Fatalf("pwsh's own client: %v\n%s", err, errb.String())
		}
		lines := strings.Fields(errb.String())
		ms, err := strconv.ParseFloat(lines[len(lines)-1], 64)
		if err != nil {
			b.Fatalf("pwsh's own client: %v\n%s", err, errb.String())
		}
		pwsh = time.Duration(ms * float64(time.Millisecond))
		floor = timed("ssh host pwsh -c", exec.Command("ssh", "-F", sshd.SSHConfig, sshd.Alias, req.PwshBin(), "-NoProfile", "-NonInteractive", "-c", script))
	}
	identical := 1.0
	for what, r := range map[string]ran{"invoke": text, "exec": exe, "ssh host pwsh -c": floor} {
		if !bytes.Equal(r.out, want.Bytes()) {
			identical = 0
			b.Logf("%s printed %d bytes, not the %d of 1..%d one a line", what, len(r.out), want.Len(), textLines)
		}
	}
	s := func(d time.Duration) float64 { return d.Seconds() }
	b.ReportMetric(s(text.took), "s-invoke")
	b.ReportMetric(s(exe.took), "s-exec")
	b.ReportMetric(s(json.took), "s-json")
	b.ReportMetric(s(pwsh), "s-pwsh")
	b.ReportMetric(s(floor.took), "s-ssh-pwsh-c")
	b.ReportMetric(s(text.took)/s(pwsh), "invoke/pwsh")
	b.ReportMetric(s(exe.took)/s(pwsh), "exec/pwsh")
	b.ReportMetric(s(text.took)/s(floor.took), "invoke/floor")
	b.ReportMetric(s(exe.took)/s(floor.took), "exec/floor")
	b.ReportMetric(s(json.took)/s(pwsh), "json/pwsh")
	b.ReportMetric(float64(max(text.rssKB, exe.rssKB))/1024, "client-MB")
	b.ReportMetric(s(serverCPU)/s(exe.took), "server-cpu/wall")
	b.ReportMetric(identical, "identical")
}

// procCPU returns the CPU time process pid has used (user and system).
func procCPU(b *testing.B, pid int) time.Duration {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// the fields after the command's name, which is in parentheses
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		b.Fatalf("/proc/%d/stat: %q", pid, data)
	}
	return time.Duration(utime+stime) * time.Second / 100 // clock ticks (USER_HZ)
}

// millionLines is how many lines BenchmarkTextOutputMillion prints.
const millionLines = 1000000

// BenchmarkTextOutputMillion prints `1..1000000` as text through `psmux
// invoke` against real pwsh behind Debian's sshd and reports the
// client's peak RSS (issue 15: at most 32 MB throughout, whatever the
// output's size) and whether every line arrived, in order. pwsh's server
// sets the pace (its own memory and time grow faster than the output).
func BenchmarkTextOutputMillion(b *testing.B) {
	sshd := realPwshHost(b, 1)
	var took time.Duration
	var rssKB int64
	var lines seqLines
	for b.Loop() {
		lines = seqLines{}
		cmd := e2e.Command(e2e.PsmuxBin(), "invoke", "-F", sshd.SSHConfig, sshd.Alias, "--", fmt.Sprintf("1..%d", millionLines))
		var errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &lines, &errb
		settle(b)
		start := time.Now()
		if err := cmd.Run(); err != nil {
			b.Fatalf("psmux invoke: %v\n%s", err, errb.String())
		}
		took = time.Since(start)
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			rssKB = ru.Maxrss // psmux's own: it starts no process for SSH
		}
	}
	inOrder := 0.0
	if lines.n == millionLines && !lines.bad {
		inOrder = 1
	} else {
		b.Logf("%d lines, in order: %v; want 1..%d", lines.n, !lines.bad, millionLines)
	}
	b.ReportMetric(took.Seconds(), "s-invoke")
	b.ReportMetric(float64(rssKB)/1024, "client-MB")
	b.ReportMetric(inOrder, "all-in-order")
}

// seqLines checks that what is written to it is 1, 2, 3 … one a line,
// keeping only the line being written.
type seqLines struct {
	n   int
	cur []byte
	bad bool
}

func (c *seqLines) Write(p []byte) (int, error) {
	for _, ch := range p {
		if ch != '\n' {
			c.cur = append(c.cur, ch)
			continue
		}
		c.n++
		if string(c.cur) != strconv.Itoa(c.n) {
			c.bad = true
		}
		c.cur = c.cur[:0]
	}
	return len(p), nil
}
