package server_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/psmux/psmux/internal/e2e"
	"github.com/psmux/psmux/mux"
	"github.com/psmux/psmux/sessions"
	"github.com/psmux/psmux/sessions/clixml"
	"github.com/psmux/psmux/sessions/psrp"
	"github.com/psmux/psmux/ssh"
	"github.com/psmux/psmux/testenv/opensshd"
	req "github.com/psmux/psmux/testenv/require"
)

// Benchmarks against real pwsh (../shared/pwsh) behind Debian's sshd on
// loopback, each with pwsh's own client measured in the same run over
// the same sshd as its baseline (issue 15). They skip without pwsh, and
// fail without it when PSMUX_REQUIRE lists pwsh.

// realPwshHost starts sshd with real pwsh behind Subsystem powershell.
func realPwshHost(b *testing.B, sessions int) *opensshd.Sshd {
	b.Helper()
	p := e2e.RealPwsh(b)
	if p == "" {
		b.Skip("no real pwsh: see ../shared/pwsh")
	}
	return opensshd.Start(b, opensshd.Options{
		Subsystems: map[string]string{"powershell": req.SSHS(p)},
		Extra:      []string{fmt.Sprintf("MaxSessions %d", sessions+10)},
	})
}

// pwshSessions is pwsh script that opens n sessions to sshd into $s.
func pwshSessions(sshd *opensshd.Sshd, n int) string {
	return fmt.Sprintf(`$ErrorActionPreference = 'Stop'
$s = 1..%d | ForEach-Object { New-PSSession -HostName 127.0.0.1 -Port %d -UserName '%s' -KeyFilePath '%s' -Options @{UserKnownHostsFile='%s'} }`,
		n, sshd.Port, sshd.User, sshd.ClientKey, sshd.KnownHosts)
}

// pwshInvokeMs runs pwsh's own client: it opens n sessions to sshd with
// New-PSSession, runs warm rounds of `Invoke-Command -Session $all { 1 }`
// to warm up, and returns the median milliseconds of rounds more. pwsh
// runs a measured round each time it reads a line; with settled, each
// starts on an idle machine (settle), as BenchmarkFanOut measures psmux.
func pwshInvokeMs(b *testing.B, sshd *opensshd.Sshd, n, warm, rounds int, settled bool) float64 {
	b.Helper()
	script := pwshSessions(sshd, n) + fmt.Sprintf(`
1..%d | ForEach-Object { $null = Invoke-Command -Session $s { 1 } }
'ready'
while ($null -ne [Console]::In.ReadLine()) { (Measure-Command { $null = Invoke-Command -Session $s { 1 } }).TotalMilliseconds }
Remove-PSSession $s`, warm)
	return pwshRounds(b, script, rounds, settled)
}

// pwshRounds runs script in pwsh, which prints "ready" and then, for
// each line it reads, the milliseconds of one measured round; it asks
// for rounds of them, each on an idle machine if settled, and returns
// their median.
func pwshRounds(b *testing.B, script string, rounds int, settled bool) float64 {
	b.Helper()
	cmd := exec.Command(req.PwshBin(), "-NoLogo", "-NoProfile", "-NonInteractive", "-Command", script)
	var errb strings.Builder
	cmd.Stderr = &errb
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { in.Close(); _ = cmd.Wait() }()
	lines := bufio.NewScanner(out)
	for lines.Scan() && lines.Text() != "ready" {
	}
	var took []time.Duration
	for range rounds {
		if settled {
			settle(b)
		}
		if _, err := in.Write([]byte("\n")); err != nil || !lines.Scan() {
			b.Fatalf("pwsh's own client: %v %v\n%s", err, lines.Err(), errb.String())
		}
		ms, err := strconv.ParseFloat(strings.TrimSpace(lines.Text()), 64)
		if err != nil {
			b.Fatalf("pwsh's own client: %v\n%s", err, errb.String())
		}
		took = append(took, time.Duration(ms*float64(time.Millisecond)))
	}
	return medianMs(took)
}

// BenchmarkCommandOnOpenSession runs a trivial command on an open
// session of a live server, through the client protocol as the REPL
// sends it (typed at its prompt: Out-Default, the terminal's size, the
// session's history), and reports its milliseconds beside pwsh's
// `Invoke-Command -Session` on a session to the same sshd (issue 15: at
// most 0.5×). It also reports the command as `psmux exec -t S` sends it
// (psrp.TextPipeline's filter instead of Out-Default), on a session of
// its own so that each pwsh runs as many commands as pwsh's own client
// sends its session, after the REPL's (each pwsh goes on compiling in
// the background for a while after a burst of commands: taken in turn,
// each session's commands would wait for the other's).
func BenchmarkCommandOnOpenSession(b *testing.B) {
	sshd := realPwshHost(b, 2)
	m := e2e.NewMuxEnv(b)
	m.NewSSH(sshd, "c")
	m.NewSSH(sshd, "e")
	cl := m.Client("bench", true)
	run := func(a mux.ExecArgs) time.Duration {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		start := time.Now()
		if _, err := cl.Call(ctx, "exec", a, nil); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	typed := mux.ExecArgs{Target: "c", Script: "1", Interactive: true, KeepRunning: true, History: true, Width: 120, Height: 50}
	viaExec := mux.ExecArgs{Target: "e", Script: "1"}
	run(typed) // the first command of a runspace costs more
	var took, execTook []time.Duration
	for b.Loop() {
		took = append(took, run(typed))
	}
	settle(b) // b.Loop has stopped the timer
	run(viaExec)
	for range took {
		execTook = append(execTook, run(viaExec))
	}
	psmuxMs, execMs := medianMs(took), medianMs(execTook) // as pwsh's figure is
	pwshMs := pwshInvokeMs(b, sshd, 1, 1, 200, false)
	b.ReportMetric(psmuxMs, "ms/command")
	b.ReportMetric(pwshMs, "pwsh-ms/command")
	b.ReportMetric(psmuxMs/pwshMs, "psmux/pwsh")
	b.ReportMetric(execMs, "exec-ms/command")
	b.ReportMetric(execMs/pwshMs, "exec/pwsh")
}

// BenchmarkFanOut runs a trivial command in 10 open sessions at once:
// with `psmux exec -t 'f*'` through a live server, and through the
// sessions package called in this process on 10 connections of its own,
// in turn; and reports each, their ratio (issue 15: at most 1.3) and the
// ratio to pwsh's `Invoke-Command -Session` over 10 sessions to the same
// sshd (at most 0.3).
func BenchmarkFanOut(b *testing.B) {
	const n = 10
	sshd := realPwshHost(b, 2*n)
	m := e2e.NewMuxEnv(b)
	var news [][]string
	for i := range n {
		news = append(news, []string{"new", "-n", fmt.Sprintf("f%d", i), "-F", sshd.SSHConfig, sshd.Alias})
	}
	m.MustAll(news)
	conns := openDirect(b, sshd, n)
	direct := func() {
		var wg sync.WaitGroup
		for _, c := range conns {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				// text, as exec runs it
				if _, err := c.Invoke(ctx, psrp.ScriptPipeline("1", true), nil, discard{}); err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
	}
	viaServer := func() { m.Must("exec", "-t", "f*", "--", "1") }
	// Warm up both; each measured fan-out then waits until the 20 pwsh
	// processes have finished the work a burst of commands leaves them
	// (.NET's tiered compiler re-compiles hot methods in the background
	// for a second or two after: 0.6 s of CPU per process after 20
	// commands, measured): with 20 of them on 2 cores, measuring during
	// it times the machine's queue, and a client process that has to
	// start (exec) suffers most.
	for range fanOutWarmUp {
		viaServer()
		direct()
	}
	// the same requests from a client in this process: the server's
	// part without the CLI process's start
	cl := m.Client("bench", false)
	viaClient := func() {
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				if _, err := cl.Call(ctx, "exec", mux.ExecArgs{Target: fmt.Sprintf("f%d", i), Script: "1"}, nil); err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
	}
	// each on an idle machine, as a command typed after a pause finds it
	timed := func(f func()) time.Duration {
		b.StopTimer()
		settle(b)
		b.StartTimer()
		start := time.Now()
		f()
		return time.Since(start)
	}
	var server, inProcess, client []time.Duration
	for b.Loop() {
		client = append(client, timed(viaClient))
		server = append(server, timed(viaServer))
		inProcess = append(inProcess, timed(direct))
	}
	serverMs, directMs := medianMs(server), medianMs(inProcess)
	b.ReportMetric(medianMs(client), "client-ms/fan-out")
	b.ReportMetric(medianMs(client)/directMs, "client/in-process")
	pwshMs := pwshInvokeMs(b, sshd, n, fanOutWarmUp, 10, true)
	b.ReportMetric(serverMs, "ms/fan-out")
	b.ReportMetric(directMs, "in-process-ms/fan-out")
	b.ReportMetric(pwshMs, "pwsh-ms/fan-out")
	b.ReportMetric(serverMs/directMs, "server/in-process")
	b.ReportMetric(serverMs/pwshMs, "psmux/pwsh")
}

// fanOutWarmUp is how many fan-outs of each kind BenchmarkFanOut makes
// before it measures.
const fanOutWarmUp = 30

// settle waits until the machine is idle (at least 90 % of its CPU time
// idle over 250 ms, by /proc/stat), a minute at most.
func settle(b *testing.B) {
	b.Helper()
	idle := func() (idle, total uint64) {
		data, err := os.ReadFile("/proc/stat")
		if err != nil {
			b.Fatal(err)
		}
		line, _, _ := strings.Cut(string(data), "\n")
		for i, f := range strings.Fields(line)[1:] {
			v, _ := strconv.ParseUint(f, 10, 64)
			total += v
			if i == 3 || i == 4 { // idle, iowait
				idle += v
			}
		}
		return idle, total
	}
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	i0, t0 := idle()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); {
		<-t.C
		i1, t1 := idle()
		if t1 > t0 && float64(i1-i0)/float64(t1-t0) >= 0.9 {
			return
		}
		i0, t0 = i1, t1
	}
	b.Logf("the machine did not settle in a minute")
}

// medianMs is the median of ds in milliseconds.
func medianMs(ds []time.Duration) float64 {
	slices.Sort(ds)
	return float64(ds[len(ds)/2].Microseconds()) / 1000
}

// openDirect opens n sessions to sshd with the ssh and sessions
// packages, in this process.
func openDirect(b *testing.B, sshd *opensshd.Sshd, n int) []*sessions.Conn {
	b.Helper()
	f, err := ssh.ParseFlags([]string{"-F", sshd.SSHConfig})
	if err != nil {
		b.Fatal(err)
	}
	cfg, err := ssh.Resolve(sshd.Alias, f.Overrides())
	if err != nil {
		b.Fatal(err)
	}
	pool := &ssh.Pool{}
	b.Cleanup(func() { pool.Close() })
	var conns []*sessions.Conn
	for range n {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		ch, err := pool.Open(ctx, cfg, f.Spec(), nil)
		if err != nil {
			cancel()
			b.Fatal(err)
		}
		// with a console host, as the server's sessions have: Out-Default
		// writes through it
		c, err := sessions.Open(ctx, ch, sessions.Options{Host: psrp.TerminalHost(120, 50)})
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c.Close(ctx)
		})
		conns = append(conns, c)
	}
	return conns
}

// discard is a sessions.Handler that keeps nothing.
type discard struct{}

func (discard) Message(psrp.MessageType, clixml.Value) {}
func (discard) HostCall(context.Context, psrp.HostCallMsg) (clixml.Value, *clixml.Value) {
	return clixml.Value{}, nil
}
