package main

// The SSH benchmarks of bench-reliability.md §2 against Debian's real sshd
// on loopback (testenv/opensshd), with pwshsim behind `Subsystem
// powershell`:
//
//   - (b) session open, cold (TCP + SSH + channel + RunspacePool Opened)
//     and warm (a new channel on an open connection), against a raw
//     x/crypto channel to a `cat` subsystem and its first echoed byte;
//   - (a) command round trip on an open session ($null and 1) against a
//     1-byte echo on a raw channel to `cat` on the same connection, on
//     loopback and through testenv/faultproxy at emulated RTTs;
//   - (c) bulk output, 1e5 strings of 100 characters, against a raw
//     channel download (`head -c N /dev/zero`) on the same connection.
//
// Every baseline is measured in the same run, interleaved with the figure
// it is compared with, so that drift on a shared machine hits both.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/psmux/psmux/internal/benchdata"
	"github.com/psmux/psmux/sessions"
	"github.com/psmux/psmux/sessions/clixml"
	"github.com/psmux/psmux/sessions/psrp"
	"github.com/psmux/psmux/ssh"
	"github.com/psmux/psmux/testenv/faultproxy"
	"github.com/psmux/psmux/testenv/opensshd"
)

// S12 targets for the SSH figures (SPEC.md S12) and the §2 (b) proposal.
const (
	targetCmdLoopback = 2.5 // command ≤ 2.5× a raw channel echo on loopback
	targetCmdWAN      = 2.2 // command ≤ 2.2× the echo at 50 ms emulated RTT
	targetHandshake   = 2.0 // §2 (b) proposal: PSRP handshake ≤ 2 RTT
)

// opTimeout bounds every single operation of the SSH benchmarks, so a
// hang fails the run instead of stalling it.
const opTimeout = 2 * time.Minute

// sshConfig sizes the SSH benchmarks.
type sshConfig struct {
	enabled           bool
	coldN, coldWarm   int   // cold opens
	warmN, warmWarm   int   // warm opens (new channel, open connection)
	rtN, rtWarm       int   // command round trips on loopback
	wanN, wanWarm     int   // command round trips at each emulated RTT
	wanOpenN          int   // warm opens at the larger emulated RTT
	bulkObjects       int   // strings of the bulk workload
	bulkRuns          int   // timed runs of the bulk workload
	rawBytes          int64 // bytes of the raw channel download
	wanDelays         []time.Duration
	wanOpenDelayIndex int // which wanDelays entry the warm opens run at
	localOpenN        int // local-pipe opens of pwshsim
	localOpenWarm     int
	readRC            bool // let the subsystems' login shell read its rc files
}

func defaultSSHConfig() sshConfig {
	return sshConfig{
		enabled: true,
		coldN:   30, coldWarm: 3,
		warmN: 100, warmWarm: 3,
		rtN: 1000, rtWarm: 50,
		wanN: 50, wanWarm: 5,
		wanOpenN:    10,
		bulkObjects: 100000,
		bulkRuns:    3,
		rawBytes:    100 << 20,
		// faultproxy's SetDelay adds d in each direction: RTT + 2d.
		wanDelays:         []time.Duration{5 * time.Millisecond, 25 * time.Millisecond},
		wanOpenDelayIndex: 1,
		localOpenN:        30, localOpenWarm: 3,
	}
}

// ---- results ----

type sshResult struct {
	Skipped string

	server    string // the server's SSH version string
	openssl   string // from sshd -V
	xcrypto   string // golang.org/x/crypto version of this binary
	algos     string // negotiated KEX, host key, cipher, MAC
	shell     string // login shell sshd runs subsystems through
	psVersion string // what pwshsim reports
	readRC    bool
	// The login shell started as sshd starts it (-c true, SSH_CLIENT
	// set): reading its rc files, and skipping them as the benchmark
	// sshd makes it (SHLVL=1).
	shellRC, shellNoRC []time.Duration

	cold, warm, wanWarm openPair
	localOpen           []time.Duration // pwshsim spawn + PSRP open over local pipes
	rt                  []*rtSet
	bulk                *bulkResult
	elapsed             time.Duration
	loadBefore          string // /proc/loadavg's 1-minute figure before and after
	loadAfter           string
}

// openSeries are the phases of one kind of open, one sample per open.
type openSeries struct {
	dial    []time.Duration // cold only
	channel []time.Duration // OpenChannel + subsystem request answered
	last    []time.Duration // psmux: sessions.Open; raw: first echoed byte
	total   []time.Duration
}

type openPair struct {
	n, warmups int
	delay      time.Duration // one-way delay of the proxy; 0 = direct
	psmux, raw openSeries
}

type rtSet struct {
	delay      time.Duration // one-way delay of the proxy; 0 = direct
	n, warmups int
	echo       []time.Duration
	// Done: until the client holds PIPELINE_STATE=Completed (it writes
	// the pipeline's Close at once); Ret: until Invoke returns (CloseAck).
	nullDone, nullRet []time.Duration
	oneDone, oneRet   []time.Duration
	nullOutputs       int   // outputs of one `$null` (pwsh writes one Nil)
	oneSent, oneRecv  int64 // wire bytes each way of one `1`
}

type bulkResult struct {
	script    string
	objects   int
	wire      int64 // server → client bytes of one run (the last)
	sent      int64 // client → server bytes of one run
	runs      []time.Duration
	cpu       []time.Duration // client process CPU time of each run
	local     []time.Duration // same workload, pwshsim over local pipes
	localWire int64
	localCPU  time.Duration // pwshsim's CPU time per local run (0: unknown)
	rawBytes  int64         // bytes timed per raw download (after the first read)
	raw       []time.Duration
	ceiling   measurement // receive path over the captured wire of one run
	ceilingN  int         // messages in the captured wire
}

func (b *bulkResult) best() time.Duration      { return slices.Min(b.runs) }
func (b *bulkResult) localBest() time.Duration { return slices.Min(b.local) }
func (b *bulkResult) rawBest() time.Duration   { return slices.Min(b.raw) }
func (b *bulkResult) mbps() float64            { return float64(b.wire) / b.best().Seconds() / 1e6 }
func (b *bulkResult) rawMBps() float64         { return float64(b.rawBytes) / b.rawBest().Seconds() / 1e6 }
func (b *bulkResult) objsPerSec() float64      { return float64(b.objects) / b.best().Seconds() }

// ---- the run ----

// runSSH runs the SSH benchmarks. An sshd that is not installed skips
// them (the report says so); any other failure is an error.
func runSSH(cfg config) (*sshResult, error) {
	if !cfg.ssh.enabled {
		return &sshResult{Skipped: "not measured: -ssh=false"}, nil
	}
	start := time.Now()
	h, err := newHarness()
	if err != nil {
		return nil, err
	}
	defer h.close() // kills and reaps sshd, removes the temporary files
	r := &sshResult{xcrypto: moduleVersion("golang.org/x/crypto"), readRC: cfg.ssh.readRC, loadBefore: loadAvg()}
	shellPath := loginShell()
	r.shell = filepath.Base(shellPath)
	if shellPath != "" {
		progress("ssh: timing the login shell as sshd starts it (%s -c true), with and without its rc files", r.shell)
		r.shellRC, r.shellNoRC = shellStart(shellPath)
	}
	if err := benchSSH(cfg, h, r); err != nil {
		return nil, err
	}
	r.elapsed = time.Since(start)
	r.loadAfter = loadAvg()
	return r, nil
}

// loadAvg returns the 1-minute load average ("" when unknown).
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

func benchSSH(cfg config, h *harness, r *sshResult) error {
	sc := cfg.ssh
	var (
		sshd             *opensshd.Sshd
		sshdBin, pwshsim string
		ccfg             *gossh.ClientConfig
	)
	err := h.run(func() {
		sshdBin = opensshd.Require(h)
		progress("ssh: building pwshsim")
		pwshsim = opensshd.BuildPwshsim(h)
		var extra []string
		if !sc.readRC {
			// bash reads ~/.bashrc for commands sshd starts only at
			// shell level 1; SHLVL=1 in its environment makes it 2.
			extra = append(extra, "SetEnv SHLVL=1")
		}
		sshd = opensshd.Start(h, opensshd.Options{Subsystems: map[string]string{
			"powershell": pwshsim + " -sshs -NoLogo -NoProfile",
			"echo":       "/bin/cat",
			"zero":       fmt.Sprintf("/usr/bin/head -c %d /dev/zero", sc.rawBytes),
		}, Extra: extra})
		ccfg = sshd.ClientConfig(h)
	})
	if err != nil {
		if h.skipped {
			r.Skipped = "not measured: " + strings.TrimPrefix(err.Error(), "benchreport: ")
			progress("ssh: %s", r.Skipped)
			return nil
		}
		return err
	}
	ccfg.Timeout = 30 * time.Second
	progress("ssh: sshd listening on loopback (the harness's temporary directory holds its files)")
	r.openssl = opensslOf(sshdBin)
	pcfg, err := resolve(sshd, 0)
	if err != nil {
		return err
	}
	if err := probe(sshd.Addr, ccfg, r); err != nil {
		return err
	}
	progress("ssh: %s; %s; x/crypto %s", r.server, r.algos, r.xcrypto)

	ctx := context.Background()

	// (b) cold open, raw and psmux interleaved.
	r.cold = openPair{n: sc.coldN, warmups: sc.coldWarm}
	progress("ssh: cold open, %d + %d warm-ups each (raw x/crypto echo vs psmux)", sc.coldN, sc.coldWarm)
	for i := 0; i < sc.coldWarm+sc.coldN; i++ {
		d, ch, last, err := rawColdOpen(sshd.Addr, ccfg)
		if err != nil {
			return err
		}
		pd, pch, plast, err := psmuxColdOpen(ctx, pcfg)
		if err != nil {
			return err
		}
		if i >= sc.coldWarm {
			r.cold.raw.add(d, ch, last)
			r.cold.psmux.add(pd, pch, plast)
		}
	}
	progress("ssh: cold open p50: psmux %s, raw %s", fmtDur(pct(r.cold.psmux.total, 50)), fmtDur(pct(r.cold.raw.total, 50)))

	// The connection the warm opens, round trips and bulk runs share.
	client, err := dialPsmux(ctx, pcfg)
	if err != nil {
		return err
	}
	defer client.Close()

	r.warm = openPair{n: sc.warmN, warmups: sc.warmWarm}
	progress("ssh: warm open (new channel on an open connection), %d + %d warm-ups each", sc.warmN, sc.warmWarm)
	if err := warmOpens(ctx, client, &r.warm); err != nil {
		return err
	}
	progress("ssh: warm open p50: psmux %s, raw %s", fmtDur(pct(r.warm.psmux.total, 50)), fmtDur(pct(r.warm.raw.total, 50)))

	progress("ssh: pwshsim over local pipes (spawn + PSRP open, no SSH), %d + %d warm-ups", sc.localOpenN, sc.localOpenWarm)
	for i := 0; i < sc.localOpenWarm+sc.localOpenN; i++ {
		t0 := time.Now()
		s, err := openLocal(ctx, pwshsim)
		if err != nil {
			return err
		}
		d := time.Since(t0)
		if err := s.close(); err != nil {
			return fmt.Errorf("benchreport: close the local pwshsim: %w", err)
		}
		if i >= sc.localOpenWarm {
			r.localOpen = append(r.localOpen, d)
		}
	}

	// (a) command round trip on loopback.
	sess, err := openSession(ctx, client)
	if err != nil {
		return err
	}
	defer sess.close()
	r.psVersion = psVersion(ctx, sess)
	echo, err := rawSubsystem(client.Raw(), "echo")
	if err != nil {
		return err
	}
	defer echo.Close()
	progress("ssh: command round trip on loopback, %d + %d warm-ups ($null, 1, 1-byte echo interleaved)", sc.rtN, sc.rtWarm)
	rt, err := roundTrips(ctx, sess, echo, 0, sc.rtN, sc.rtWarm)
	if err != nil {
		return err
	}
	r.rt = append(r.rt, rt)

	// (c) bulk output.
	if r.bulk, err = bulk(ctx, cfg, client, sess, pwshsim); err != nil {
		return err
	}

	// (a) and (b) at emulated RTTs, through the delay proxy.
	if err := wan(ctx, sc, sshd, r); err != nil {
		return err
	}

	if err := sess.close(); err != nil {
		return fmt.Errorf("benchreport: close the benchmark session: %w", err)
	}
	return nil
}

// add records one cold open's phases.
func (s *openSeries) add(dial, channel, last time.Duration) {
	s.dial = append(s.dial, dial)
	s.channel = append(s.channel, channel)
	s.last = append(s.last, last)
	s.total = append(s.total, dial+channel+last)
}

// ---- (b) session open ----

// rawColdOpen is the cold baseline: x/crypto Dial, a session channel with
// the `echo` (cat) subsystem, and one byte echoed.
func rawColdOpen(addr string, ccfg *gossh.ClientConfig) (dial, channel, first time.Duration, err error) {
	t0 := time.Now()
	c, err := gossh.Dial("tcp", addr, ccfg)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("benchreport: raw dial: %w", err)
	}
	defer c.Close()
	t1 := time.Now()
	ch, err := rawSubsystem(c, "echo")
	if err != nil {
		return 0, 0, 0, err
	}
	defer ch.Close()
	t2 := time.Now()
	if _, err := echoOnce(ch); err != nil {
		return 0, 0, 0, err
	}
	t3 := time.Now()
	_ = ch.CloseWrite()
	return t1.Sub(t0), t2.Sub(t1), t3.Sub(t2), nil
}

// psmuxColdOpen is ssh.Dial + Open("powershell") + sessions.Open until
// the RunspacePool is Opened; the session is closed afterwards, untimed.
func psmuxColdOpen(ctx context.Context, cfg *ssh.Config) (dial, channel, open time.Duration, err error) {
	t0 := time.Now()
	c, err := dialPsmux(ctx, cfg)
	if err != nil {
		return 0, 0, 0, err
	}
	defer c.Close()
	t1 := time.Now()
	s, chDur, err := openSessionTimed(ctx, c)
	if err != nil {
		return 0, 0, 0, err
	}
	t2 := time.Now()
	if err := s.close(); err != nil {
		return 0, 0, 0, fmt.Errorf("benchreport: close a session: %w", err)
	}
	return t1.Sub(t0), chDur, t2.Sub(t1) - chDur, nil
}

// warmOpens interleaves new channels on the open connection: raw (echo
// subsystem + first byte) and psmux (powershell + sessions.Open).
func warmOpens(ctx context.Context, c *ssh.Client, p *openPair) error {
	for i := 0; i < p.warmups+p.n; i++ {
		t0 := time.Now()
		ch, err := rawSubsystem(c.Raw(), "echo")
		if err != nil {
			return err
		}
		t1 := time.Now()
		if _, err := echoOnce(ch); err != nil {
			ch.Close()
			return err
		}
		t2 := time.Now()
		_ = ch.CloseWrite()
		ch.Close()

		t3 := time.Now()
		s, chDur, err := openSessionTimed(ctx, c)
		if err != nil {
			return err
		}
		t4 := time.Now()
		if err := s.close(); err != nil {
			return fmt.Errorf("benchreport: close a session: %w", err)
		}
		if i >= p.warmups {
			p.raw.channel = append(p.raw.channel, t1.Sub(t0))
			p.raw.last = append(p.raw.last, t2.Sub(t1))
			p.raw.total = append(p.raw.total, t2.Sub(t0))
			p.psmux.channel = append(p.psmux.channel, chDur)
			p.psmux.last = append(p.psmux.last, t4.Sub(t3)-chDur)
			p.psmux.total = append(p.psmux.total, t4.Sub(t3))
		}
	}
	return nil
}

// ---- (a) command round trip ----

// roundTrips interleaves a 1-byte echo, `$null` and `1`.
func roundTrips(ctx context.Context, s *session, echo gossh.Channel, delay time.Duration, n, warmups int) (*rtSet, error) {
	rt := &rtSet{delay: delay, n: n, warmups: warmups}
	for i := 0; i < warmups+n; i++ {
		e, err := echoOnce(echo)
		if err != nil {
			return nil, err
		}
		nd, nr, err := s.invokeTimed(ctx, "$null", -1)
		if err != nil {
			return nil, err
		}
		rt.nullOutputs = s.lastOutputs
		r0, w0 := s.m.read.Load(), s.m.written.Load()
		od, or, err := s.invokeTimed(ctx, "1", 1)
		if err != nil {
			return nil, err
		}
		rt.oneRecv, rt.oneSent = s.m.read.Load()-r0, s.m.written.Load()-w0
		if i >= warmups {
			rt.echo = append(rt.echo, e)
			rt.nullDone = append(rt.nullDone, nd)
			rt.nullRet = append(rt.nullRet, nr)
			rt.oneDone = append(rt.oneDone, od)
			rt.oneRet = append(rt.oneRet, or)
		}
	}
	progress("ssh: RTT %s: echo p50 %s; $null p50 %s to Completed, %s to return; 1 p50 %s / %s",
		rttName(delay), fmtDur(pct(rt.echo, 50)), fmtDur(pct(rt.nullDone, 50)), fmtDur(pct(rt.nullRet, 50)),
		fmtDur(pct(rt.oneDone, 50)), fmtDur(pct(rt.oneRet, 50)))
	return rt, nil
}

// wan measures round trips and warm opens through the delay proxy.
func wan(ctx context.Context, sc sshConfig, sshd *opensshd.Sshd, r *sshResult) error {
	if len(sc.wanDelays) == 0 {
		return nil
	}
	p, err := faultproxy.New(sshd.Addr)
	if err != nil {
		return fmt.Errorf("benchreport: %w", err)
	}
	defer p.Close()
	// The proxy is another address for the same host key.
	f, err := os.OpenFile(sshd.KnownHosts, os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("benchreport: %w", err)
	}
	_, err = fmt.Fprintln(f, knownhosts.Line([]string{knownhosts.Normalize(p.Addr())}, sshd.HostKey))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("benchreport: %w", err)
	}
	cfg, err := resolve(sshd, p.Port())
	if err != nil {
		return err
	}
	// Dial and open without delay; the delay applies to what follows.
	c, err := dialPsmux(ctx, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	s, err := openSession(ctx, c)
	if err != nil {
		return err
	}
	defer s.close()
	echo, err := rawSubsystem(c.Raw(), "echo")
	if err != nil {
		return err
	}
	defer echo.Close()
	for i, d := range sc.wanDelays {
		p.SetDelay(d)
		progress("ssh: command round trip at emulated RTT %s (proxy delay %s each way), %d + %d warm-ups", rttName(d), fmtDur(d), sc.wanN, sc.wanWarm)
		rt, err := roundTrips(ctx, s, echo, d, sc.wanN, sc.wanWarm)
		if err != nil {
			return err
		}
		r.rt = append(r.rt, rt)
		if i == sc.wanOpenDelayIndex && sc.wanOpenN > 0 {
			r.wanWarm = openPair{n: sc.wanOpenN, warmups: 1, delay: d}
			progress("ssh: warm open at emulated RTT %s, %d + 1 warm-up each", rttName(d), sc.wanOpenN)
			if err := warmOpens(ctx, c, &r.wanWarm); err != nil {
				return err
			}
			progress("ssh: warm open at RTT %s p50: psmux %s, raw %s", rttName(d), fmtDur(pct(r.wanWarm.psmux.total, 50)), fmtDur(pct(r.wanWarm.raw.total, 50)))
		}
	}
	p.SetDelay(0)
	if err := s.close(); err != nil {
		return fmt.Errorf("benchreport: close the session through the proxy: %w", err)
	}
	return nil
}

// ---- (c) bulk output ----

func bulk(ctx context.Context, cfg config, c *ssh.Client, s *session, pwshsim string) (*bulkResult, error) {
	sc := cfg.ssh
	b := &bulkResult{objects: sc.bulkObjects, script: fmt.Sprintf("1..%d | %% { 'x' * 100 }", sc.bulkObjects)}
	progress("ssh: bulk output `%s`, %d runs, interleaved with a %d MiB raw channel download", b.script, sc.bulkRuns, sc.rawBytes>>20)
	// A warm-up run that also captures the wire for the decode ceiling.
	s.m.capture(true)
	if _, _, _, err := s.bulkOnce(ctx, b.script, b.objects); err != nil {
		return nil, err
	}
	wire := s.m.capture(false)
	if _, _, err := rawDownload(c.Raw(), sc.rawBytes); err != nil {
		return nil, err
	}
	for range sc.bulkRuns {
		d, n, err := rawDownload(c.Raw(), sc.rawBytes)
		if err != nil {
			return nil, err
		}
		b.raw, b.rawBytes = append(b.raw, d), n
		c0 := cpuTime()
		d, rd, wr, err := s.bulkOnce(ctx, b.script, b.objects)
		if err != nil {
			return nil, err
		}
		b.cpu = append(b.cpu, cpuTime()-c0)
		b.runs, b.wire, b.sent = append(b.runs, d), rd, wr
		progress("ssh: bulk %s (%.1f MB/s of wire, %s objs/s); raw channel %.0f MB/s",
			fmtDur(d), float64(rd)/d.Seconds()/1e6, si(float64(b.objects)/d.Seconds()), float64(n)/b.raw[len(b.raw)-1].Seconds()/1e6)
	}

	progress("ssh: bulk over local pipes (pwshsim -s as a child process, no SSH), %d runs", sc.bulkRuns)
	child0 := childCPUTime()
	ls, err := openLocal(ctx, pwshsim)
	if err != nil {
		return nil, err
	}
	for i := 0; i <= sc.bulkRuns; i++ {
		d, rd, _, err := ls.bulkOnce(ctx, b.script, b.objects)
		if err != nil {
			ls.close()
			return nil, err
		}
		if i > 0 { // the first is a warm-up
			b.local, b.localWire = append(b.local, d), rd
		}
	}
	if err := ls.close(); err != nil {
		return nil, fmt.Errorf("benchreport: close the local pwshsim: %w", err)
	}
	// pwshsim has been reaped: its CPU time over the open, the warm-up
	// and the timed runs, per run.
	if c := childCPUTime() - child0; c > 0 {
		b.localCPU = c / time.Duration(sc.bulkRuns+1)
	}
	progress("ssh: bulk over local pipes best %s", fmtDur(b.localBest()))

	progress("ssh: receive-path decode ceiling over the captured wire (%.1f MB)", float64(len(wire))/1e6)
	m, err := measure(cfg, func() error {
		n, err := benchdata.ReceivePath(bytes.NewReader(wire), nil)
		b.ceilingN = n
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("benchreport: decode ceiling: %w", err)
	}
	m.Bytes, m.Objects = len(wire), b.objects
	b.ceiling = m
	return b, nil
}

// rawDownload reads the `zero` subsystem to its end and returns the time
// from the first byte to EOF and the bytes read after the first read.
func rawDownload(c *gossh.Client, want int64) (time.Duration, int64, error) {
	ch, err := rawSubsystem(c, "zero")
	if err != nil {
		return 0, 0, err
	}
	defer ch.Close()
	buf := make([]byte, 64<<10)
	first, err := ch.Read(buf)
	if err != nil {
		return 0, 0, fmt.Errorf("benchreport: raw download: %w", err)
	}
	t0 := time.Now()
	n, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{ch}, buf)
	d := time.Since(t0)
	if err != nil {
		return 0, 0, fmt.Errorf("benchreport: raw download: %w", err)
	}
	if int64(first)+n != want {
		return 0, 0, fmt.Errorf("benchreport: raw download: %d of %d bytes", int64(first)+n, want)
	}
	return d, n, nil
}

// ---- sessions ----

// session is a psmux session with its transport metered.
type session struct {
	conn        *sessions.Conn
	m           *meter
	once        sync.Once
	err         error
	lastOutputs int // outputs of the last invokeTimed
}

func dialPsmux(ctx context.Context, cfg *ssh.Config) (*ssh.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	c, err := ssh.Dial(ctx, cfg, ssh.DialOptions{})
	if err != nil {
		return nil, fmt.Errorf("benchreport: ssh.Dial: %w", err)
	}
	return c, nil
}

func openSession(ctx context.Context, c *ssh.Client) (*session, error) {
	s, _, err := openSessionTimed(ctx, c)
	return s, err
}

// openSessionTimed opens the powershell subsystem and the RunspacePool on
// it, and returns how long the channel and subsystem request took.
func openSessionTimed(ctx context.Context, c *ssh.Client) (*session, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	t0 := time.Now()
	ch, err := c.Open(ctx, ssh.ChannelSpec{Subsystem: "powershell"}, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("benchreport: open the powershell subsystem: %w", err)
	}
	d := time.Since(t0)
	m := newMeter(ch)
	conn, err := sessions.Open(ctx, m, sessions.Options{})
	if err != nil {
		ch.Close()
		return nil, 0, fmt.Errorf("benchreport: sessions.Open over SSH: %w", err)
	}
	return &session{conn: conn, m: m}, d, nil
}

// openLocal runs pwshsim -s as a child process and opens a pool on it.
func openLocal(ctx context.Context, pwshsim string) (*session, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	pt, err := sessions.StartProcess(context.Background(), []string{pwshsim, "-s", "-NoLogo", "-NoProfile"}, nil)
	if err != nil {
		return nil, fmt.Errorf("benchreport: %w", err)
	}
	m := newMeter(pt)
	conn, err := sessions.Open(ctx, m, sessions.Options{})
	if err != nil {
		pt.Close()
		return nil, fmt.Errorf("benchreport: sessions.Open over local pipes: %w", err)
	}
	return &session{conn: conn, m: m}, nil
}

// close closes the pool and its transport; a second call does nothing.
func (s *session) close() error {
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		s.err = s.conn.Close(ctx)
		if errors.Is(s.err, io.EOF) {
			s.err = nil
		}
	})
	return s.err
}

// invokeTimed runs script, checks it completed with want outputs, and
// returns the time until the client held PIPELINE_STATE=Completed (when
// it wrote the pipeline's Close) and until Invoke returned.
func (s *session) invokeTimed(ctx context.Context, script string, want int) (done, ret time.Duration, err error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	var h counter
	s.m.closeSent.Store(0)
	defer func() { s.lastOutputs = h.outputs }()
	t0 := time.Now()
	res, err := s.conn.Invoke(ctx, psrp.ScriptPipeline(script, false), nil, &h)
	ret = time.Since(t0)
	if err := h.check(script, res, err, want); err != nil {
		return 0, 0, err
	}
	cs := s.m.closeSent.Load()
	if cs == 0 {
		return 0, 0, fmt.Errorf("benchreport: %s: no pipeline Close was written", script)
	}
	return time.Duration(cs) - t0.Sub(s.m.base), ret, nil
}

// bulkOnce runs script and returns its time and the bytes read and
// written on the transport meanwhile.
func (s *session) bulkOnce(ctx context.Context, script string, want int) (d time.Duration, read, written int64, err error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	var h counter
	r0, w0 := s.m.read.Load(), s.m.written.Load()
	t0 := time.Now()
	res, err := s.conn.Invoke(ctx, psrp.ScriptPipeline(script, false), nil, &h)
	d = time.Since(t0)
	if err := h.check(script, res, err, want); err != nil {
		return 0, 0, 0, err
	}
	return d, s.m.read.Load() - r0, s.m.written.Load() - w0, nil
}

// psVersion asks the server for $PSVersionTable.PSVersion.
func psVersion(ctx context.Context, s *session) string {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	var h counter
	h.keep = true
	res, err := s.conn.Invoke(ctx, psrp.ScriptPipeline("$PSVersionTable.PSVersion.ToString()", false), nil, &h)
	if err != nil || res.State != psrp.Completed || len(h.kept) != 1 {
		return "unknown"
	}
	return h.kept[0]
}

// counter is the benchmarks' pipeline handler: it counts outputs and
// keeps the first error record.
type counter struct {
	outputs int
	errText string
	keep    bool
	kept    []string
}

func (c *counter) Message(t psrp.MessageType, v clixml.Value) {
	switch t {
	case psrp.PipelineOutput:
		c.outputs++
		if c.keep {
			c.kept = append(c.kept, v.Str())
		}
	case psrp.ErrorRecord:
		if c.errText == "" {
			c.errText = v.Str()
		}
	}
}

func (c *counter) HostCall(_ context.Context, m psrp.HostCallMsg) (clixml.Value, *clixml.Value) {
	return clixml.Value{}, sessions.HostError(m.Method, "benchreport has no host")
}

func (c *counter) check(script string, res sessions.Result, err error, want int) error {
	switch {
	case err != nil:
		return fmt.Errorf("benchreport: invoke %q: %w", script, err)
	case res.State != psrp.Completed:
		return fmt.Errorf("benchreport: invoke %q: state %v %s", script, res.State, res.Reason.Str())
	case c.errText != "":
		return fmt.Errorf("benchreport: invoke %q: error record: %s", script, c.errText)
	case want >= 0 && c.outputs != want:
		return fmt.Errorf("benchreport: invoke %q: %d outputs, want %d", script, c.outputs, want)
	}
	return nil
}

// meter wraps a session's transport: it counts the bytes each way,
// notes when the client writes a pipeline's Close (which it does as soon
// as it holds the pipeline's terminal state), and can capture what it
// reads.
type meter struct {
	sessions.Transport
	base      time.Time
	read      atomic.Int64
	written   atomic.Int64
	closeSent atomic.Int64 // time since base of the last pipeline Close written

	mu  sync.Mutex
	tee *bytes.Buffer
}

func newMeter(t sessions.Transport) *meter { return &meter{Transport: t, base: time.Now()} }

var (
	closeLine        = []byte("<Close PSGuid='")
	sessionCloseLine = []byte("<Close PSGuid='00000000-0000-0000-0000-000000000000'")
)

func (m *meter) Read(p []byte) (int, error) {
	n, err := m.Transport.Read(p)
	m.read.Add(int64(n))
	if n > 0 {
		m.mu.Lock()
		if m.tee != nil {
			m.tee.Write(p[:n])
		}
		m.mu.Unlock()
	}
	return n, err
}

func (m *meter) Write(p []byte) (int, error) {
	if i := bytes.Index(p, closeLine); i >= 0 && !bytes.HasPrefix(p[i:], sessionCloseLine) {
		m.closeSent.Store(int64(time.Since(m.base)))
	}
	n, err := m.Transport.Write(p)
	m.written.Add(int64(n))
	return n, err
}

// capture starts capturing reads (on) or stops and returns what was read.
func (m *meter) capture(on bool) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	if on {
		m.tee = &bytes.Buffer{}
		return nil
	}
	b := m.tee.Bytes()
	m.tee = nil
	return b
}

// ---- raw channels ----

// rawSubsystem opens a session channel running the named subsystem.
func rawSubsystem(c *gossh.Client, name string) (gossh.Channel, error) {
	ch, reqs, err := c.OpenChannel("session", nil)
	if err != nil {
		return nil, fmt.Errorf("benchreport: raw OpenChannel: %w", err)
	}
	go gossh.DiscardRequests(reqs)
	ok, err := ch.SendRequest("subsystem", true, gossh.Marshal(struct{ Name string }{name}))
	if err == nil && !ok {
		err = fmt.Errorf("the server refused subsystem %q", name)
	}
	if err != nil {
		ch.Close()
		return nil, fmt.Errorf("benchreport: raw subsystem: %w", err)
	}
	return ch, nil
}

// echoOnce writes one byte to a cat channel and reads it back.
func echoOnce(ch gossh.Channel) (time.Duration, error) {
	var b [1]byte
	t0 := time.Now()
	if _, err := ch.Write([]byte{'x'}); err != nil {
		return 0, fmt.Errorf("benchreport: echo write: %w", err)
	}
	if _, err := io.ReadFull(ch, b[:]); err != nil {
		return 0, fmt.Errorf("benchreport: echo read: %w", err)
	}
	d := time.Since(t0)
	if b[0] != 'x' {
		return 0, fmt.Errorf("benchreport: echo returned %q", b[0])
	}
	return d, nil
}

// ---- set-up ----

// resolve resolves the harness's Host alias, on port instead of sshd's
// own when port is not 0 (the delay proxy).
func resolve(sshd *opensshd.Sshd, port int) (*ssh.Config, error) {
	cfg, err := ssh.Resolve(sshd.Alias, ssh.Overrides{
		ConfigFile: sshd.SSHConfig,
		Port:       port,
		Options:    []string{"IdentityAgent none"},
	})
	if err != nil {
		return nil, fmt.Errorf("benchreport: %w", err)
	}
	return cfg, nil
}

// probe makes one x/crypto connection whose first bytes it reads, to
// record the server's version and the algorithms negotiated.
func probe(addr string, ccfg *gossh.ClientConfig, r *sshResult) error {
	nc, err := net.DialTimeout("tcp", addr, ccfg.Timeout)
	if err != nil {
		return fmt.Errorf("benchreport: probe: %w", err)
	}
	sn := &kexSniffer{Conn: nc}
	conn, chans, reqs, err := gossh.NewClientConn(sn, addr, ccfg)
	if err != nil {
		nc.Close()
		return fmt.Errorf("benchreport: probe: %w", err)
	}
	c := gossh.NewClient(conn, chans, reqs)
	defer c.Close()
	r.server = string(conn.ServerVersion())
	if r.algos, err = sn.negotiated(); err != nil {
		r.algos = "not determined (" + err.Error() + ")"
	}
	return nil
}

// kexSniffer records the first bytes each way of a connection, which hold
// both KEXINIT messages in the clear.
type kexSniffer struct {
	net.Conn
	mu      sync.Mutex
	in, out []byte
}

const sniffMax = 64 << 10

func (s *kexSniffer) Read(p []byte) (int, error) {
	n, err := s.Conn.Read(p)
	s.mu.Lock()
	if len(s.in) < sniffMax {
		s.in = append(s.in, p[:n]...)
	}
	s.mu.Unlock()
	return n, err
}

func (s *kexSniffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	if len(s.out) < sniffMax {
		s.out = append(s.out, p...)
	}
	s.mu.Unlock()
	return s.Conn.Write(p)
}

// negotiated applies RFC 4253 §7.1 (the first client algorithm the server
// also lists) to the two KEXINITs.
func (s *kexSniffer) negotiated() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cl, err := kexInit(s.out)
	if err != nil {
		return "", fmt.Errorf("client KEXINIT: %w", err)
	}
	sv, err := kexInit(s.in)
	if err != nil {
		return "", fmt.Errorf("server KEXINIT: %w", err)
	}
	pick := func(i int) string {
		for _, a := range cl[i] {
			if slices.Contains(sv[i], a) {
				return a
			}
		}
		return "none"
	}
	cipher := pick(2)
	if s2c := pick(3); s2c != cipher {
		cipher += " / " + s2c
	}
	mac := pick(4)
	if strings.Contains(cipher, "gcm") || strings.Contains(cipher, "poly1305") {
		mac = "implicit (AEAD)"
	}
	return fmt.Sprintf("cipher %s, MAC %s, KEX %s, host key %s", cipher, mac, pick(0), pick(1)), nil
}

// kexInit returns the first six name-lists of the KEXINIT that follows
// the version line in b.
func kexInit(b []byte) ([][]string, error) {
	for {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return nil, errors.New("no version line")
		}
		line := b[:i]
		b = b[i+1:]
		if bytes.HasPrefix(line, []byte("SSH-")) {
			break
		}
	}
	if len(b) < 6 {
		return nil, errors.New("short packet")
	}
	plen, pad := int(binary.BigEndian.Uint32(b)), int(b[4])
	if plen+4 > len(b) || pad+1 >= plen {
		return nil, errors.New("truncated packet")
	}
	p := b[5 : 4+plen-pad]
	if len(p) < 17 || p[0] != 20 { // SSH_MSG_KEXINIT, 16 bytes of cookie
		return nil, errors.New("first packet is not KEXINIT")
	}
	p = p[17:]
	var lists [][]string
	for range 6 {
		if len(p) < 4 {
			return nil, errors.New("truncated name-list")
		}
		n := int(binary.BigEndian.Uint32(p))
		p = p[4:]
		if n > len(p) {
			return nil, errors.New("truncated name-list")
		}
		lists = append(lists, strings.Split(string(p[:n]), ","))
		p = p[n:]
	}
	return lists, nil
}

// opensslOf returns the OpenSSL part of `sshd -V` ("OpenSSL 3.0.19 …").
func opensslOf(sshd string) string {
	out, _ := exec.Command(sshd, "-V").CombinedOutput() // it exits non-zero
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	if _, rest, ok := strings.Cut(line, ", "); ok {
		return rest
	}
	return "unknown"
}

func moduleVersion(path string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, d := range bi.Deps {
		if d.Path == path {
			if d.Replace != nil {
				return d.Replace.Version + " (replaced)"
			}
			return d.Version
		}
	}
	return "unknown"
}

// loginShell returns the current user's login shell, which sshd runs
// every subsystem command through ("" when unknown).
func loginShell() string {
	u, err := user.Current()
	if err != nil {
		return ""
	}
	f, err := os.Open("/etc/passwd")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) == 7 && fields[0] == u.Username {
			return fields[6]
		}
	}
	return ""
}

// shellStart times `shell -c true` in the environment sshd gives a
// subsystem, 10 times each: as sshd starts it (bash then reads ~/.bashrc)
// and with SHLVL=1 as the benchmark sshd sets it (bash skips it).
func shellStart(shell string) (rc, noRC []time.Duration) {
	home, _ := os.UserHomeDir()
	u, _ := user.Current()
	name := ""
	if u != nil {
		name = u.Username
	}
	env := []string{"HOME=" + home, "USER=" + name, "LOGNAME=" + name, "SHELL=" + shell,
		"PATH=/usr/bin:/bin:/usr/sbin:/sbin", "SSH_CLIENT=127.0.0.1 40000 22", "SSH_CONNECTION=127.0.0.1 40000 127.0.0.1 22"}
	run := func(env []string) (time.Duration, bool) {
		cmd := exec.Command(shell, "-c", "true")
		cmd.Env, cmd.Dir = env, home
		t0 := time.Now()
		err := cmd.Run()
		return time.Since(t0), err == nil
	}
	for i := 0; i < 11; i++ {
		a, ok := run(env)
		b, ok2 := run(append(slices.Clone(env), "SHLVL=1"))
		if !ok || !ok2 {
			return nil, nil
		}
		if i > 0 {
			rc, noRC = append(rc, a), append(noRC, b)
		}
	}
	return rc, noRC
}

// ---- statistics ----

// pct is the nearest-rank percentile p of ds.
func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

func fmtDur(d time.Duration) string {
	ms := float64(d) / 1e6
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.0f µs", ms*1000)
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2f ms", ms)
	case d < 100*time.Millisecond:
		return fmt.Sprintf("%.1f ms", ms)
	}
	return fmt.Sprintf("%.0f ms", ms)
}

// rttName names the emulated RTT of a one-way proxy delay.
func rttName(delay time.Duration) string {
	if delay == 0 {
		return "loopback"
	}
	return fmt.Sprintf("%g ms", float64(2*delay)/1e6)
}
