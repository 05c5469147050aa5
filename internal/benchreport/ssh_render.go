package main

import (
	"bytes"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"time"
)

// renderSSH writes the "SSH (real sshd on loopback)" section.
func renderSSH(w *bytes.Buffer, cfg config, r *sshResult) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("\n## SSH (real sshd on loopback)\n\n")
	if r.Skipped != "" {
		p("%s.\n", capitalize(r.Skipped))
		return
	}
	loop := r.rtAt(0)
	wan := r.rtAt(slices.Max(cfg.ssh.wanDelays))

	p("bench-reliability.md §2 (a), (b) and (c) against the system's OpenSSH server, started for this run\n")
	p("as a throwaway child on a loopback port (`testenv/opensshd`: ed25519 host and user keys, known_hosts\n")
	p("checked) and killed afterwards. Subsystems: `powershell` = pwshsim `-sshs -NoLogo -NoProfile`,\n")
	p("`echo` = `cat`, `zero` = `head -c %d /dev/zero`.\n", cfg.ssh.rawBytes)
	p("psmux connects with its own `ssh.Dial`, the raw baselines with plain x/crypto; every baseline runs\n")
	p("in this run, interleaved with the figure it is compared with. The SSH figures took %s.", r.elapsed.Round(time.Second))
	if r.loadBefore != "" && r.loadAfter != "" {
		p("\nThe 1-minute load average was %s before them and %s after (the machine is shared, and client,\n", r.loadBefore, r.loadAfter)
		p("sshd and pwshsim all run on its %d cores).", runtime.NumCPU())
	}
	p("\n\n")
	p("| | |\n|---|---|\n")
	p("| Server | `%s` (%s) |\n", r.server, r.openssl)
	p("| Client | golang.org/x/crypto %s (psmux `ssh` package and the raw baselines alike) |\n", r.xcrypto)
	p("| Negotiated | %s (read from the KEXINITs of a probe connection; psmux leaves x/crypto's algorithm preferences at their defaults, as the baselines do) |\n", r.algos)
	p("| Subsystem login shell | %s (sshd runs each subsystem as `shell -c COMMAND`) |\n", r.shell)
	p("| PowerShell server | pwshsim (`testenv/cmd/pwshsim`, a Go stand-in; reports PSVersion %s). There is no pwsh on this machine, so pwsh's own start-up (250–570 ms, §1.1) and its serialization speed are not in these figures |\n", r.psVersion)
	p("| Emulated RTT | `testenv/faultproxy` between client and sshd, adding half the RTT each way |\n\n")

	p("### Headline figures\n\n")
	p("p50 of n samples; the full distributions are in the tables below. MB = 10^6 bytes.\n\n")
	p("| # | Figure | Value | Same-run baseline | Ratio | S12 target | Against target |\n")
	p("|---|---|---|---|---|---|---|\n")
	row := 0
	cmdRow := func(rt *rtSet, what, script string, ds []time.Duration, limit float64) {
		row++
		x := ratio(ds, rt.echo)
		target, against := "none at this RTT (S12 sets loopback and 50 ms)", "informative"
		if limit > 0 {
			target = fmt.Sprintf("≤ %.1f× the echo", limit)
			against = verdictAtMost(x, limit)
		}
		p("| %d | Command `%s`, %s, %s | %s | 1-byte echo on a raw channel to `cat`, same connection: %s | **%.2f×** echo | %s | %s |\n",
			row, script, rtLabel(rt.delay), what, distShort(ds), fmtDur(pct(rt.echo, 50)), x, target, against)
	}
	limitFor := func(rt *rtSet) float64 {
		switch {
		case rt == loop:
			return targetCmdLoopback
		case rt == wan && 2*rt.delay == 50*time.Millisecond:
			return targetCmdWAN
		}
		return 0
	}
	for _, rt := range r.rt {
		cmdRow(rt, "to Completed", "$null", rt.nullDone, limitFor(rt))
		cmdRow(rt, "to Completed", "1", rt.oneDone, limitFor(rt))
		cmdRow(rt, "until Invoke returns", "1", rt.oneRet, limitFor(rt))
	}
	if b := r.bulk; b != nil {
		row++
		x := b.mbps() / b.rawMBps()
		p("| %d | Bulk output `%s` over SSH, non-interactive (objects) | %.1f MB/s of wire, %s objs/s (best of %d) | raw channel download %.0f MB/s (best of %d) | **%.3f×** raw channel (%.1f%%) | ≥ 50%% of the raw SSH channel | %s |\n",
			row, cell(b.script), b.mbps(), si(b.objsPerSec()), len(b.runs), b.rawMBps(), len(b.raw), x, 100*x, verdict(x, targetBulkVsRaw))
	}
	openRow := func(name string, op *openPair) {
		if op.n == 0 {
			return
		}
		row++
		p("| %d | Session open, %s, until RunspacePool Opened | %s | %s: %s | **%.2f×** raw | none in S12 | informative |\n",
			row, name, distShort(op.psmux.total), rawOpenName(op), fmtDur(pct(op.raw.total, 50)), ratio(op.psmux.total, op.raw.total))
	}
	openRow("cold (TCP + SSH + channel + PSRP)", &r.cold)
	openRow("warm (new channel on an open connection)", &r.warm)
	if hs, ok := r.handshakeRTTs(); ok {
		row++
		p("| %d | PSRP handshake (sessions.Open) in round trips, from warm opens on loopback and at %s | %.2f RTT | echo RTT %s vs %s | — | §2 (b) proposal: ≤ %.0f RTT | %s |\n",
			row, rttName(r.wanWarm.delay), hs, fmtDur(pct(wan.echo, 50)), fmtDur(pct(loop.echo, 50)), targetHandshake, verdictAtMost(hs, targetHandshake))
	}

	renderRoundTrips(w, r, loop)
	renderOpens(w, r, loop, wan)
	if r.bulk != nil {
		renderBulk(w, r.bulk)
	}
}

func renderRoundTrips(w *bytes.Buffer, r *sshResult, loop *rtSet) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("\n### Command round trip on an open session (§2 (a))\n\n")
	p("One psmux session (`ssh.Dial` + `Open(\"powershell\")` + `sessions.Open`) and, on the same SSH\n")
	p("connection, a raw x/crypto channel to the `cat` subsystem. Each iteration runs a 1-byte echo,\n")
	p("`conn.Invoke` of `$null` and `conn.Invoke` of `1` (non-interactive), one after another. **To Completed**\n")
	p("ends when the client writes the pipeline's Close, which it does as soon as it holds\n")
	p("PIPELINE_STATE=Completed (§2 (a)'s end point); **Invoke returns** ends when `Invoke` returns, after\n")
	p("the server's CloseAck. psmux sends the Command packet, waits for the CommandAck, then sends\n")
	p("CREATE_PIPELINE (`psrp.ClientPool.Invoke`), so Completed comes 2 round trips after the call and\n")
	p("Invoke returns after a third.\n\n")
	p("| Emulated RTT | Figure | n (warm-ups) | p50 | p90 | p99 | p50 / echo p50 |\n|---|---|---|---|---|---|---|\n")
	for _, rt := range r.rt {
		line := func(name string, ds []time.Duration) {
			p("| %s | %s | %d (%d) | %s | %s | %s | %.2f× |\n", rtLabel(rt.delay), name, len(ds), rt.warmups,
				fmtDur(pct(ds, 50)), fmtDur(pct(ds, 90)), fmtDur(pct(ds, 99)), ratio(ds, rt.echo))
		}
		line("1-byte echo, raw channel to `cat`", rt.echo)
		line("`$null` to Completed", rt.nullDone)
		line("`$null` until Invoke returns", rt.nullRet)
		line("`1` to Completed", rt.oneDone)
		line("`1` until Invoke returns", rt.oneRet)
	}
	p("\n")
	for _, rt := range r.rt {
		if rt.delay == 0 {
			continue
		}
		extra := float64(pct(rt.oneDone, 50)-pct(loop.oneDone, 50)) / float64(pct(rt.echo, 50)-pct(loop.echo, 50))
		extraRet := float64(pct(rt.oneRet, 50)-pct(loop.oneRet, 50)) / float64(pct(rt.echo, 50)-pct(loop.echo, 50))
		p("- At %s, `1` costs %.2f round trips more than on loopback to Completed and %.2f until\n", rttName(rt.delay), extra, extraRet)
		p("  Invoke returns ((p50 there − p50 on loopback) / (echo p50 there − echo p50 on loopback)).\n")
	}
	p("- On loopback the echo p50 is %s. To Completed, a command is 2 echoes plus what the client,\n", fmtDur(pct(loop.echo, 50)))
	p("  sshd's pipes and pwshsim spend on it: `1` to Completed − 2 × echo = %s (p50). Within the\n",
		fmtDur(pct(loop.oneDone, 50)-2*pct(loop.echo, 50)))
	p("  %.1f× limit, the two round trips leave %s for all of that. The first round trip is the wait for\n",
		targetCmdLoopback, fmtDur(time.Duration((targetCmdLoopback-2)*float64(pct(loop.echo, 50)))))
	p("  the CommandAck before CREATE_PIPELINE leaves; without it `1` would take about %s, %.2f× the\n",
		fmtDur(pct(loop.oneDone, 50)-pct(loop.echo, 50)), float64(pct(loop.oneDone, 50)-pct(loop.echo, 50))/float64(pct(loop.echo, 50)))
	p("  echo (whether pwsh accepts CREATE_PIPELINE before its CommandAck is §2 (a)'s open question).\n")
	p("  Invoke's return waits a third round trip, for the CloseAck. One `1` moves %d bytes to the\n", loop.oneSent)
	p("  server and %d back.\n", loop.oneRecv)
	var slow int
	var worst time.Duration
	for _, ds := range [][]time.Duration{loop.echo, loop.nullDone, loop.nullRet, loop.oneDone, loop.oneRet} {
		for _, d := range ds {
			if d > 10*time.Millisecond {
				slow++
			}
			worst = max(worst, d)
		}
	}
	if slow == 0 {
		p("- No loopback sample took longer than 10 ms (the slowest took %s): no 40 ms Nagle/delayed-ACK\n", fmtDur(worst))
		p("  stall shows up on an open session.\n")
	} else {
		p("- %d loopback samples took longer than 10 ms (the slowest %s).\n", slow, fmtDur(worst))
	}
	if loop.nullOutputs == 1 {
		p("- `$null` returns one output object, a Nil, as PowerShell does for a bare `$null` (`@(& { $null }).Count`\n")
		p("  is 1).\n")
	} else {
		p("- `$null` returned %d output objects.\n", loop.nullOutputs)
	}
}

func renderOpens(w *bytes.Buffer, r *sshResult, loop, wan *rtSet) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("\n### Session open (§2 (b))\n\n")
	p("**psmux**: `ssh.Dial` (cold only), `Client.Open(\"powershell\")` (channel + subsystem request), and\n")
	p("`sessions.Open` until RUNSPACEPOOL_STATE=Opened. **raw**: x/crypto `Dial` (cold only), OpenChannel +\n")
	p("subsystem `echo`, and one byte echoed by `cat`. Raw and psmux opens alternate; each session is closed,\n")
	p("untimed, before the next open.\n\n")
	p("| Variant | n (warm-ups) | p50 | p90 | p99 | Dial p50 | Channel + subsystem p50 | PSRP open / first echo p50 |\n")
	p("|---|---|---|---|---|---|---|---|\n")
	pair := func(name string, op *openPair) {
		if op.n == 0 {
			return
		}
		line := func(who string, s *openSeries) {
			dial := "—"
			if len(s.dial) > 0 {
				dial = fmtDur(pct(s.dial, 50))
			}
			p("| %s, %s | %d (%d) | %s | %s | %s | %s | %s | %s |\n", name, who, len(s.total), op.warmups,
				fmtDur(pct(s.total, 50)), fmtDur(pct(s.total, 90)), fmtDur(pct(s.total, 99)),
				dial, fmtDur(pct(s.channel, 50)), fmtDur(pct(s.last, 50)))
		}
		line("psmux", &op.psmux)
		line("raw", &op.raw)
	}
	pair("cold, loopback", &r.cold)
	pair("warm, loopback", &r.warm)
	pair("warm, RTT "+rttName(r.wanWarm.delay), &r.wanWarm)
	if len(r.localOpen) > 0 {
		p("| pwshsim over local pipes (spawn + `sessions.Open`, no SSH) | %d | %s | %s | %s | — | — | — |\n",
			len(r.localOpen), fmtDur(pct(r.localOpen, 50)), fmtDur(pct(r.localOpen, 90)), fmtDur(pct(r.localOpen, 99)))
	}
	p("\n")
	c, wm := &r.cold, &r.warm
	p("- ratio_b = p50(open) / p50(raw): cold **%.2f×**, warm **%.2f×**.\n", ratio(c.psmux.total, c.raw.total), ratio(wm.psmux.total, wm.raw.total))
	p("- open − raw (p50): cold %s, warm %s: pwshsim's start-up behind sshd plus the PSRP\n",
		fmtDur(pct(c.psmux.total, 50)-pct(c.raw.total, 50)), fmtDur(pct(wm.psmux.total, 50)-pct(wm.raw.total, 50)))
	p("  handshake, less the one echo the baseline waits for. pwshsim over local pipes, spawn + handshake\n")
	p("  with no SSH, takes %s (p50). A cold open is dominated by the SSH connection (TCP, KEX, auth and\n", fmtDur(pct(r.localOpen, 50)))
	p("  the stall below); with pwsh instead of pwshsim, pwsh's start-up (250–570 ms, §1.1) would dominate\n")
	p("  every open, cold or warm.\n")
	if hs, ok := r.handshakeRTTs(); ok {
		p("- PSRP handshake in round trips: (`sessions.Open` p50 at %s − on loopback) / (echo p50 at %s − on\n", rttName(r.wanWarm.delay), rttName(r.wanWarm.delay))
		p("  loopback) = (%s − %s) / (%s − %s) = **%.2f RTT** (§2 (b) proposal: ≤ %.0f).\n",
			fmtDur(pct(r.wanWarm.psmux.last, 50)), fmtDur(pct(r.warm.psmux.last, 50)), fmtDur(pct(wan.echo, 50)), fmtDur(pct(loop.echo, 50)), hs, targetHandshake)
	}
	p("- Cold opens: the first channel request after userauth takes %s (psmux) and %s (raw) at p50,\n",
		fmtDur(pct(c.psmux.channel, 50)), fmtDur(pct(c.raw.channel, 50)))
	p("  against %s / %s on an open connection.", fmtDur(pct(wm.psmux.channel, 50)), fmtDur(pct(wm.raw.channel, 50)))
	if stall := pct(c.raw.channel, 50) - pct(wm.raw.channel, 50); stall > 20*time.Millisecond {
		p(" This is §1.6's +44 ms stall, for both clients.\n")
		p("  An strace of sshd with a test client (outside this run) showed sshd write the channel-open\n")
		p("  confirmation about 10 ms after USERAUTH_SUCCESS and the client receive it ~36 ms later. sshd sets\n")
		p("  no TCP_NODELAY on a session without a pty, so Nagle holds its small packets behind the\n")
		p("  unacknowledged ones it sends right after auth until the client's delayed ACK fires (~40 ms); with\n")
		p("  a 100 ms pause after auth the same request took 0.5 ms.\n")
	} else {
		p("\n")
	}
	p("- The subsystems' login shell is %s.", r.shell)
	if r.readRC {
		p(" It reads the user's rc files for every subsystem (`-ssh-rc`), and every open includes that.\n")
	} else {
		p(" The benchmark sshd sets `SetEnv SHLVL=1`, so bash does not read\n")
		p("  ~/.bashrc for the commands sshd starts (it does so only at shell level 1).")
		if len(r.shellRC) > 0 {
			p(" Started as sshd starts it,\n")
			p("  `%s -c true` takes %s (p50 of %d) with this user's rc files and %s without: every open, raw\n",
				r.shell, fmtDur(pct(r.shellRC, 50)), len(r.shellRC), fmtDur(pct(r.shellNoRC, 50)))
			p("  or psmux, would carry the difference (§1.1 records the same with `pyenv init` in ~/.bashrc).\n")
		} else {
			p("\n")
		}
	}
}

func renderBulk(w *bytes.Buffer, b *bulkResult) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("\n### Bulk output (§2 (c))\n\n")
	p("`conn.Invoke` of `%s` (non-interactive: %d string objects, about %.0f MB of\n", b.script, b.objects, float64(b.objects)*100/1e6)
	p("text), wire bytes counted by a wrapper around the channel handed to `sessions.Open`; runs alternate\n")
	p("with a raw x/crypto download of `head -c` from `/dev/zero` on the same connection (timed from its\n")
	p("first byte to EOF).\n\n")
	p("| Figure | Best | Every run | MB/s of wire (best) | objs/s (best) | vs raw channel |\n|---|---|---|---|---|---|\n")
	raw := b.rawMBps()
	p("| psmux over SSH (%d wire bytes in, %d out) | %s | %s | %.1f | %s | %.3f× |\n",
		b.wire, b.sent, fmtDur(b.best()), durs(b.runs), b.mbps(), si(b.objsPerSec()), b.mbps()/raw)
	lm := float64(b.localWire) / b.localBest().Seconds() / 1e6
	p("| pwshsim over local pipes (`pwshsim -s` child, no SSH) | %s | %s | %.1f | %s | %.3f× |\n",
		fmtDur(b.localBest()), durs(b.local), lm, si(float64(b.objects)/b.localBest().Seconds()), lm/raw)
	p("| raw channel download, %d bytes | %s | %s | %.0f | — | 1× |\n", b.rawBytes, fmtDur(b.rawBest()), durs(b.raw), raw)
	cm := b.ceiling.mbPerSec()
	p("| receive-path decode ceiling over this run's captured wire (%d messages) | %s | %s | %.0f | %s | %.3f× |\n\n",
		b.ceilingN, fmtDur(b.ceiling.Best), durs(b.ceiling.Runs), cm, si(float64(b.objects)/b.ceiling.Best.Seconds()), cm/raw)
	var cpu time.Duration
	for i, d := range b.runs {
		if d == b.best() {
			cpu = b.cpu[i]
		}
	}
	p("- %.0f wire bytes per 100-character string: base64 of the fragment and message headers and the\n", float64(b.wire)/float64(b.objects))
	p("  CLIXML, one PIPELINE_OUTPUT message and one `<Data>` line per object.\n")
	p("- ratio_c1 (psmux / raw channel) = **%.3f**; ratio_c2 (psmux / psmux's own decode ceiling) = %.3f.\n", b.mbps()/raw, b.mbps()/cm)
	if lm/raw < targetBulkVsRaw {
		p("- What dominates: the server side. With no SSH at all (pwshsim a child of this process, local\n")
		p("  pipes) the workload runs at %.1f MB/s of wire, %.1f%% of the raw channel, below the target on\n", lm, 100*lm/raw)
		p("  its own.")
	} else {
		p("- What dominates: the SSH path. With no SSH at all (pwshsim a child of this process, local\n")
		p("  pipes) the workload runs at %.1f MB/s of wire, %.1f%% of the raw channel.", lm, 100*lm/raw)
	}
	if b.localCPU > 0 {
		p(" pwshsim spends about %s of CPU per\n", b.localCPU.Round(time.Millisecond))
		p("  run of %s there: it is CPU-bound generating and serializing the objects.", b.localBest().Round(time.Millisecond))
	}
	p("\n- The client's receive path decodes the same wire at %.0f MB/s, %.1f× what SSH delivers. Over SSH,\n", cm, cm/b.mbps())
	p("  sshd's encryption and the client's decryption share the machine's %d cores with pwshsim: the SSH\n", runtime.NumCPU())
	p("  run keeps %.0f%% of the local-pipe throughput, and the client process used %s of CPU in the best\n", 100*b.mbps()/lm, cpu.Round(time.Millisecond))
	p("  run's %s.\n", b.best().Round(time.Millisecond))
	p("- pwshsim is a stand-in: pwsh's own serialization rate is not measured here (§2 (c) suspects it is\n")
	p("  the real limit with pwsh too).\n")
}

// cell escapes the pipes of a table cell.
func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// rtAt returns the round-trip set at a proxy delay (0: loopback).
func (r *sshResult) rtAt(delay time.Duration) *rtSet {
	for _, rt := range r.rt {
		if rt.delay == delay {
			return rt
		}
	}
	return nil
}

// handshakeRTTs is the round trips sessions.Open costs: the growth of its
// p50 from loopback to the emulated RTT, over the growth of the echo's.
func (r *sshResult) handshakeRTTs() (float64, bool) {
	loop, wan := r.rtAt(0), r.rtAt(r.wanWarm.delay)
	if r.wanWarm.n == 0 || loop == nil || wan == nil || r.warm.n == 0 {
		return 0, false
	}
	d := pct(wan.echo, 50) - pct(loop.echo, 50)
	if d <= 0 {
		return 0, false
	}
	return float64(pct(r.wanWarm.psmux.last, 50)-pct(r.warm.psmux.last, 50)) / float64(d), true
}

func ratio(a, b []time.Duration) float64 {
	return float64(pct(a, 50)) / float64(pct(b, 50))
}

func distShort(ds []time.Duration) string {
	return fmt.Sprintf("%s (p90 %s, p99 %s, n=%d)", fmtDur(pct(ds, 50)), fmtDur(pct(ds, 90)), fmtDur(pct(ds, 99)), len(ds))
}

func rtLabel(delay time.Duration) string {
	if delay == 0 {
		return "loopback"
	}
	return "RTT " + rttName(delay)
}

func rawOpenName(op *openPair) string {
	if len(op.raw.dial) > 0 {
		return "raw x/crypto Dial + channel + `cat` subsystem + first echoed byte"
	}
	return "raw channel + `cat` subsystem + first echoed byte on the open connection"
}

func verdictAtMost(x, limit float64) string {
	if x <= limit {
		return fmt.Sprintf("met: %.2f× the limit", x/limit)
	}
	return fmt.Sprintf("**missed**: %.2f× the limit (needs %.2f× faster)", x/limit, x/limit)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
