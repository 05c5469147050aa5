package main

import (
	"bytes"
	"fmt"
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
	p("`echo` = `cat`, `zero` = `head -c %d /dev/zero`. psmux connects with its own `ssh.Dial`, the raw\n", cfg.ssh.rawBytes)
	p("baselines with plain x/crypto; every baseline runs in this run, interleaved with the figure it is\n")
	p("compared with. The SSH figures took %s.\n\n", r.elapsed.Round(time.Second))
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
			row, b.script, b.mbps(), si(b.objsPerSec()), len(b.runs), b.rawMBps(), len(b.raw), x, 100*x, verdict(x, targetBulkVsRaw))
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
		p("- At %s, `1` costs %.2f round trips more than on loopback to Completed and %.2f until Invoke\n", rttName(rt.delay), extra, extraRet)
		p("  returns ((p50 there − p50 on loopback) / (echo p50 there − echo p50 on loopback)).\n")
	}
	p("- On loopback the echo p50 is %s; the command's extra over 2 echoes is what the client, sshd's\n", fmtDur(pct(loop.echo, 50)))
	p("  pipes and pwshsim spend per command: `1` to Completed − 2 × echo = %s.\n", fmtDur(pct(loop.oneDone, 50)-2*pct(loop.echo, 50)))
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
		p("| pwshsim over local pipes (spawn + `sessions.Open`, no SSH) | %d | %s | %s | %s | — | — | %s |\n",
			len(r.localOpen), fmtDur(pct(r.localOpen, 50)), fmtDur(pct(r.localOpen, 90)), fmtDur(pct(r.localOpen, 99)), fmtDur(pct(r.localOpen, 50)))
	}
	p("\n")
	c, wm := &r.cold, &r.warm
	p("- ratio_b = p50(open) / p50(raw): cold **%.2f×**, warm **%.2f×**.\n", ratio(c.psmux.total, c.raw.total), ratio(wm.psmux.total, wm.raw.total))
	p("- open − raw (p50): cold %s, warm %s. That is pwshsim's start-up behind sshd plus the PSRP handshake,\n",
		fmtDur(pct(c.psmux.total, 50)-pct(c.raw.total, 50)), fmtDur(pct(wm.psmux.total, 50)-pct(wm.raw.total, 50)))
	p("  less the one echo the baseline waits for. pwshsim over local pipes, spawn + handshake with no SSH,\n")
	p("  takes %s (p50). With pwsh instead of pwshsim add pwsh's start-up (250–570 ms, §1.1): it would\n", fmtDur(pct(r.localOpen, 50)))
	p("  dominate every open.\n")
	if hs, ok := r.handshakeRTTs(); ok {
		p("- PSRP handshake in round trips: (`sessions.Open` p50 at %s − on loopback) / (echo p50 at %s − on\n", rttName(r.wanWarm.delay), rttName(r.wanWarm.delay))
		p("  loopback) = (%s − %s) / (%s − %s) = **%.2f RTT** (§2 (b) proposal: ≤ %.0f).\n",
			fmtDur(pct(r.wanWarm.psmux.last, 50)), fmtDur(pct(r.warm.psmux.last, 50)), fmtDur(pct(wan.echo, 50)), fmtDur(pct(loop.echo, 50)), hs, targetHandshake)
	}
	p("- Cold opens: the first channel request after userauth (channel + subsystem p50: psmux %s, raw %s)\n",
		fmtDur(pct(c.psmux.channel, 50)), fmtDur(pct(c.raw.channel, 50)))
	p("  against %s / %s on an open connection (§1.6 saw +44 ms there, a Nagle/delayed-ACK stall).\n",
		fmtDur(pct(wm.psmux.channel, 50)), fmtDur(pct(wm.raw.channel, 50)))
}

func renderBulk(w *bytes.Buffer, b *bulkResult) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("\n### Bulk output (§2 (c))\n\n")
	p("`conn.Invoke` of `%s` (non-interactive: %d string objects, about %.0f MB of text), wire bytes\n", b.script, b.objects, float64(b.objects)*100/1e6)
	p("counted by a wrapper around the channel handed to `sessions.Open`; runs alternate with a raw x/crypto\n")
	p("download of `head -c` from `/dev/zero` on the same connection (timed from its first byte to EOF).\n\n")
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
	p("- %.0f wire bytes per 100-character string (base64, fragment and message headers, CLIXML).\n", float64(b.wire)/float64(b.objects))
	p("- ratio_c1 (psmux / raw channel) = **%.3f**; ratio_c2 (psmux / decode ceiling) = %.3f; SSH keeps %.0f%% of\n",
		b.mbps()/raw, b.mbps()/cm, 100*b.mbps()/lm)
	p("  the local-pipe throughput. The client process used %s of CPU in the best run's %s.\n", cpu.Round(time.Millisecond), b.best().Round(time.Millisecond))
}

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
