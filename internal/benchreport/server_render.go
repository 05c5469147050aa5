package main

import (
	"bytes"
	"fmt"
	"runtime"
	"time"
)

// renderServer writes the "Server" section.
func renderServer(w *bytes.Buffer, cfg config, r *serverResult, sr *sshResult) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("\n## Server\n\n")
	if r.Skipped != "" {
		p("%s.\n", capitalize(r.Skipped))
		return
	}
	sc := cfg.server
	maxN := sc.counts[len(sc.counts)-1]
	p("bench-reliability.md §2 (d) and (e) and SPEC S12's server targets, end to end through the `psmux` binary\n")
	p("built for this run (`%s`): `psmux -S SOCK server --foreground` runs as a child with its own `XDG_STATE_HOME`,\n", r.psmuxV)
	p("and every figure is a client command (`new`, `exec`, `attach`, `capture`) run as a process, timed from\n")
	p("its start. The sessions are **SSH sessions**: a second throwaway sshd (the same `testenv/opensshd`\n")
	p("harness as above, `MaxSessions %d`), each session `psmux new -n NAME -F ssh_config ALIAS`, pwshsim\n", maxN+50)
	conns := fmt.Sprintf("%d SSH connections", r.sshConn)
	if r.sshConn == 1 {
		conns = "one SSH connection"
	}
	p("behind `Subsystem powershell`. The server's pool put all of them on **%s**\n", conns)
	p("(sshd's log), and %d pwshsim processes ran behind sshd with %d sessions open. The psmux CLI, the\n", r.procs, maxN)
	p("server, sshd and every pwshsim share the machine's %d cores. The server figures took %s.", runtime.NumCPU(), r.elapsed.Round(time.Second))
	if r.loadBefore != "" && r.loadAfter != "" {
		p(" The 1-minute\nload average was %s before them and %s after.", r.loadBefore, r.loadAfter)
	}
	p("\n\n")

	p("### Headline figures\n\n")
	p("p50 of n samples; the distributions are in the tables below. KiB = 1024 bytes.\n\n")
	p("| # | Figure | Value | Same-run baseline | Ratio | S12 target | Against target |\n")
	p("|---|---|---|---|---|---|---|\n")
	row := 0
	rss0 := r.rss[0]
	for _, m := range r.rss {
		if !r.isCount(m.n) {
			continue
		}
		row++
		per := (m.kib - rss0.kib) / float64(m.n)
		p("| %d | Memory per idle SSH session, server process VmRSS, %d sessions | %.1f KiB per session (VmRSS %s) | the same server with no session: VmRSS %s | **%.2f×** the limit | ≤ %.0f KiB per idle session | %s |\n",
			row, m.n, per, kibHuman(m.kib), kibHuman(rss0.kib), per/targetIdleKiB, targetIdleKiB, verdictMem(per))
	}
	if len(r.heap) > 0 {
		z, last := r.heap[0], r.heap[len(r.heap)-1]
		row++
		per := (last.kib - z.kib) / float64(last.n)
		p("| %d | Memory per idle SSH session, Go heap + stacks after GC (in-process `mux.Server`), %d sessions | %.1f KiB per session (%.1f heap + %.1f stacks; %.1f goroutines) | the same process with no session: %s (benchreport's own heap included) | **%.2f×** the limit | ≤ %.0f KiB per idle session | %s |\n",
			row, last.n, per, (last.heapKiB-z.heapKiB)/float64(last.n), (last.stackKiB-z.stackKiB)/float64(last.n),
			float64(last.goroutines-z.goroutines)/float64(last.n), kibHuman(z.kib), per/targetIdleKiB, targetIdleKiB, verdictMem(per))
	}
	for _, fc := range r.fan {
		for _, fr := range fc.runs {
			row++
			x := float64(pct(fr.wall, 50)) / float64(fc.slowest())
			p("| %d | Fan-out `psmux exec -t '%s' -- 1` to %d sessions, throttle %s, until exit | %s | slowest of the %d sessions alone (`exec -t NAME -- 1`, p50 of %d runs each): %s | **%.2f×** | ≤ %.1f× the slowest single session | %s |\n",
				row, fc.glob, fc.n, throttleName(fr.throttle), distShort(fr.wall), fc.n, sc.reps, fmtDur(fc.slowest()), x, targetFanout, verdictAtMost(x, targetFanout))
		}
	}
	if a := r.attach; a != nil {
		if a.tmuxSkipped == "" {
			row++
			x := ratio(a.def, a.tmuxAttach)
			p("| %d | Attach to a session holding %s lines whose history a client has already shown (`psmux attach -t S`: replays only the marker command run since), pty, until drawn | %s | %s `attach` to a pane with %s lines of history, pty, until drawn: %s | **%.2f×** tmux | ≤ %.0f× tmux's attach | %s |\n",
				row, thousands(a.lines), distShort(a.def), a.tmuxVersion, thousands(a.lines), fmtDur(pct(a.tmuxAttach, 50)), x, targetAttach, verdictAtMost(x, targetAttach))
			row++
			x = ratio(a.full, a.tmuxAttach)
			p("| %d | Attach to a session holding %s lines no client has seen (`psmux attach -t S` = `--since 1`: the whole log replayed), pty, until the last line is drawn | %s | %s `attach`: %s (redraws only the visible screen) | **%s** tmux | ≤ %.0f× tmux's attach | %s |\n",
				row, thousands(a.lines), distShort(a.full), a.tmuxVersion, fmtDur(pct(a.tmuxAttach, 50)), fmtX(x), targetAttach, verdictAtMost(x, targetAttach))
			row++
			x = ratio(a.full, a.tmuxCapture)
			p("| %d | Full replay of %s lines (`psmux attach --since 1`, pty) | %s | `tmux capture-pane -p -S - -E -` of the whole history into a pipe: %s | **%s** capture-pane | none (S12 sets the attach) | informative |\n",
				row, thousands(a.lines), fmtDur(pct(a.full, 50)), fmtDur(pct(a.tmuxCapture, 50)), fmtX(x))
			row++
			x = ratio(a.capture, a.tmuxCapture)
			p("| %d | `psmux capture -t S --since 1` of %s lines into a pipe | %s | `tmux capture-pane -p -S - -E -`: %s | **%s** capture-pane | none | informative |\n",
				row, thousands(a.lines), distShort(a.capture), fmtDur(pct(a.tmuxCapture, 50)), fmtX(x))
		} else {
			row++
			p("| %d | Attach to a session holding %s lines, pty: history seen %s; whole log replayed %s | — | tmux %s | — | ≤ %.0f× tmux's attach | not evaluated (no tmux figure) |\n",
				row, thousands(a.lines), fmtDur(pct(a.def, 50)), fmtDur(pct(a.full, 50)), a.tmuxSkipped, targetAttach)
		}
	}
	if f := r.fault; f != nil {
		row++
		slow := max(pct(f.h1, 50), pct(f.h2, 50))
		p("| %d | Issue 3: `psmux invoke --connect-timeout %s h1,h2,h3 -- \"'x'\"`, h3 blackholed: until h1's and h2's summary lines | %s and %s; h3 %s at %s; exit at %s | `psmux invoke h1 -- \"'x'\"` alone: %s | **%.2f×** alone (slower of h1, h2); exit at %.2f× the connect timeout | none in S12 (issue 3: a dead host must not hold up the others) | %s |\n",
			row, f.timeout, fmtDur(pct(f.h1, 50)), fmtDur(pct(f.h2, 50)), f.h3State, fmtDur(pct(f.h3, 50)), fmtDur(pct(f.total, 50)),
			fmtDur(pct(f.alone, 50)), float64(slow)/float64(pct(f.alone, 50)), float64(pct(f.total, 50))/float64(f.timeout), f.heldUp())
	}

	renderMemory(w, r)
	renderFanout(w, cfg, r, sr)
	if r.attach != nil {
		renderAttach(w, r.attach)
	}
	if r.fault != nil {
		renderFault(w, r.fault)
	}
	renderServerGaps(w, cfg, r)
}

func (r *serverResult) isCount(n int) bool {
	for _, fc := range r.fan {
		if fc.n == n {
			return true
		}
	}
	return false
}

func renderMemory(w *bytes.Buffer, r *serverResult) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("\n### Memory per idle session (§2 (d))\n\n")
	p("**Server process**: VmRSS of the `psmux server` process (`/proc/PID/status`), read 0.5 s after the\n")
	p("last `psmux new` returned, with no session, then 1 and each count of idle SSH sessions (nothing run in\n")
	p("them yet). **In process**: a `mux.Server` in benchreport's own process, its client on a `net.Pipe`,\n")
	p("the same SSH sessions opened through the client protocol's `new`; Go's `HeapInuse` + `StackInuse`\n")
	p("after two `runtime.GC()` (the reading with none holds benchreport's own heap, the decode corpora\n")
	p("among it; only differences count). Per session = (reading − reading with none) / N; marginal =\n")
	p("(reading − reading with 1) / (N − 1), which leaves out the one SSH connection the sessions share.\n\n")
	p("| Where | Sessions | Reading | Per session | Marginal per session | Goroutines |\n|---|---|---|---|---|---|\n")
	line := func(where string, ms []memPoint, extra func(memPoint) string) {
		var one *memPoint
		for i := range ms {
			if ms[i].n == 1 {
				one = &ms[i]
			}
		}
		for _, m := range ms {
			per, marg := "—", "—"
			if m.n > 0 {
				per = fmt.Sprintf("%.1f KiB", (m.kib-ms[0].kib)/float64(m.n))
			}
			if one != nil && m.n > 1 {
				marg = fmt.Sprintf("%.1f KiB", (m.kib-one.kib)/float64(m.n-1))
			}
			p("| %s | %d | %s | %s | %s | %s |\n", where, m.n, extra(m), per, marg, goroutines(m))
		}
	}
	line("server process, VmRSS", r.rss, func(m memPoint) string { return kibHuman(m.kib) })
	line("in process, heap + stacks", r.heap, func(m memPoint) string {
		return fmt.Sprintf("%s (heap %s, stacks %s)", kibHuman(m.kib), kibHuman(m.heapKiB), kibHuman(m.stackKiB))
	})
	p("\n")
	if len(r.heap) > 1 {
		z, last := r.heap[0], r.heap[len(r.heap)-1]
		n := float64(last.n)
		heap, stack := (last.heapKiB-z.heapKiB)/n, (last.stackKiB-z.stackKiB)/n
		p("- What dominates: of the %.1f KiB of Go memory per idle session, %.1f KiB are goroutine stacks\n", heap+stack, stack)
		p("  (%.1f goroutines per session) and %.1f KiB heap. Two fixed allocations per session make 88 KiB of it:\n", float64(last.goroutines-z.goroutines)/n, heap)
		p("  the 64 KiB `bufio.Reader` that `psrp.NewReader` gives every session's read loop\n")
		p("  (`sessions/psrp/reader.go`, from `sessions.(*Conn).readLoop`), and the output log's first segment,\n")
		p("  1024 slots × 24 B = 24 KiB (`mux/outlog`, `segSize`), allocated by the session's first event\n")
		p("  (\"Opened\"). A heap profile of a trial run (not this one) put 40%% of the in-use heap with 200\n")
		p("  sessions in those 64 KiB readers. The two alone take 88 KiB of the %.0f KiB budget, before any\n", targetIdleKiB)
		p("  stack, SSH channel or PSRP state.\n")
	}
	if len(r.rss) > 1 {
		p("- The server process's RSS also holds what the Go runtime has not returned to the OS (garbage of\n")
		p("  the opens not yet collected, freed spans not yet scavenged); the in-process reading after GC is the\n")
		p("  live part.\n")
	}
	if r.hwm > 0 {
		p("- Peak RSS of the server process over the whole section (VmHWM, after the attach session's fill and\n")
		p("  every replay below): %s.\n", kibHuman(float64(r.hwm)))
	}
	if len(r.opens) > 0 {
		p("- Opening the sessions one after another (`psmux new` as a process, a new channel and pwshsim on the\n")
		p("  shared connection): %s per session, %.0f sessions/s.\n", distShort(r.opens), float64(time.Second)/float64(pct(r.opens, 50)))
	}
}

func renderFanout(w *bytes.Buffer, cfg config, r *serverResult, sr *sshResult) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	sc := cfg.server
	p("\n### Fan-out (§2 (d))\n\n")
	p("`psmux exec -t GLOB -- 1` as one process, from its start until it exits, every session printing\n")
	p("`[name] 1` and its summary line `[name] Completed in …` (checked). N sessions of the %d, selected by\n", r.fan[len(r.fan)-1].n)
	p("the glob; the others stay idle. Run at psmux's default `--throttle %d` and at `--throttle N`. The\n", defaultThrottle)
	p("baseline is §2 (d)'s max_i(single-session time for host i): each session alone, `psmux exec -t NAME\n")
	p("-- 1`, once per round, its p50 over the %d rounds, and the largest of those p50s over the N sessions.\n", sc.reps)
	p("Each round runs every fan-out variant and then the sweep over every session alone, so drift hits\n")
	p("both; one warm-up round is not counted. ratio_d = p50(fan-out) / max_i p50(session i alone); the\n")
	p("median session is given as a stricter denominator.\n\n")
	p("| N | Throttle | n (warm-ups) | p50 | p90 | p99 | First `[name] 1` p50 | Last summary p50 | Each session's own time p50 / p99 (printed to the ms) | ratio_d | / median session |\n")
	p("|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, fc := range r.fan {
		for _, fr := range fc.runs {
			p("| %d | %s | %d (1) | %s | %s | %s | %s | %s | %s / %s | %.2f× | %.2f× |\n", fc.n, throttleName(fr.throttle), len(fr.wall),
				fmtDur(pct(fr.wall, 50)), fmtDur(pct(fr.wall, 90)), fmtDur(pct(fr.wall, 99)), fmtDur(pct(fr.first, 50)), fmtDur(pct(fr.last, 50)),
				fmtDur(pct(fr.took, 50)), fmtDur(pct(fr.took, 99)),
				float64(pct(fr.wall, 50))/float64(fc.slowest()), float64(pct(fr.wall, 50))/float64(fc.medianSingle()))
		}
	}
	p("\n| Sessions alone | Runs | Every run: p50 | p90 | p99 | Per-session p50: median | slowest (the baseline) |\n|---|---|---|---|---|---|---|\n")
	for _, fc := range r.fan {
		all := fc.allSingles()
		p("| the %d of N=%d | %d × %d | %s | %s | %s | %s | %s |\n", fc.n, fc.n, fc.n, sc.reps,
			fmtDur(pct(all, 50)), fmtDur(pct(all, 90)), fmtDur(pct(all, 99)), fmtDur(fc.medianSingle()), fmtDur(fc.slowest()))
	}
	if len(r.rawFan) > 0 {
		p("\nThe floor on this machine, without psmux: a raw x/crypto connection to the same sshd with N channels to\n")
		p("the `cat` subsystem; one round writes 1 byte to every channel at once (a goroutine each) and ends when\n")
		p("every echo is back (the §1.6 fan-out echo, on one connection).\n\n")
		p("| Channels | n (warm-ups) | p50 | p90 | p99 | p50 / 1 channel |\n|---|---|---|---|---|---|\n")
		one := pct(r.rawFan[0].wall, 50)
		for _, rf := range r.rawFan {
			p("| %d | %d (1) | %s | %s | %s | %.1f× |\n", rf.n, len(rf.wall), fmtDur(pct(rf.wall, 50)), fmtDur(pct(rf.wall, 90)), fmtDur(pct(rf.wall, 99)),
				float64(pct(rf.wall, 50))/float64(one))
		}
	}
	var loop *rtSet
	if sr != nil {
		loop = sr.rtAt(0)
	}
	p("\nWhat the target leaves room for, per N: one session alone takes about %s (median of the per-session\n", fmtDur(r.fan[0].medianSingle()))
	p("p50s), and most of it is fixed cost a fan-out pays once too: the `psmux` process start, the socket\n")
	p("connect and hello, the `find` request. ≤ %.1f× the slowest session leaves, beyond one session's own\n", targetFanout)
	p("time, the room below for all N commands; against it, the raw echo floor above")
	if loop != nil {
		p(" and N bare commands one\nafter another (N × the SSH section's `1` until Invoke returns on loopback, %s p50, through\n", fmtDur(pct(loop.oneRet, 50)))
		p("`sessions.Conn` without the psmux server)")
	}
	p(".\n\n")
	p("| N | ≤ %.1f × slowest alone | Room beyond one session (− median alone) | Raw echo on N channels, p50 | N bare commands in series | psmux fan-out p50, best throttle |\n", targetFanout)
	p("|---|---|---|---|---|---|\n")
	type bound struct {
		n                 int
		room, raw, serial time.Duration
		best              time.Duration
	}
	var bounds []bound
	for _, fc := range r.fan {
		b := bound{n: fc.n, best: pct(fc.runs[0].wall, 50)}
		for _, fr := range fc.runs {
			b.best = min(b.best, pct(fr.wall, 50))
		}
		budget := time.Duration(targetFanout * float64(fc.slowest()))
		b.room = budget - fc.medianSingle()
		raw, serial := "—", "—"
		for _, rf := range r.rawFan {
			if rf.n == fc.n {
				b.raw = pct(rf.wall, 50)
				raw = fmtDur(b.raw)
			}
		}
		if loop != nil {
			b.serial = time.Duration(fc.n) * pct(loop.oneRet, 50)
			serial = fmtDur(b.serial)
		}
		bounds = append(bounds, b)
		p("| %d | %s | %s | %s | %s | %s |\n", fc.n, fmtDur(budget), fmtDur(b.room), raw, serial, fmtDur(b.best))
	}
	p("\n")
	slower := true // every best fan-out slower than its commands in series
	for _, b := range bounds {
		p("- N=%d: psmux's best fan-out takes %s, %.1f× the room", b.n, fmtDur(b.best), float64(b.best)/float64(b.room))
		if b.serial > 0 {
			p(" and %.2f× the %d bare commands in series", float64(b.best)/float64(b.serial), b.n)
			slower = slower && b.best >= b.serial
		} else {
			slower = false
		}
		switch {
		case b.raw > 0 && b.raw > b.room:
			p(". The raw echo floor alone\n  (%s) exceeds the room: with every session behind one sshd on %d cores, ≤ %.1f× is out of\n", fmtDur(b.raw), runtime.NumCPU(), targetFanout)
			p("  reach here for any client.\n")
		case b.raw > 0:
			p(". The raw echo floor (%s)\n  fits in the room.\n", fmtDur(b.raw))
		default:
			p(".\n")
		}
	}
	if slower {
		p("- Run concurrently, the commands take longer than one after another: on %d cores shared with sshd\n", runtime.NumCPU())
		p("  and %d pwshsim processes concurrency buys nothing, and each session's path through the server\n", r.procs)
		p("  and the client (a job, its events logged and sent as frames, decoded and rendered with a prefix)\n")
		p("  comes on top of the bare command.\n")
	}
	if len(r.rawFan) > 0 {
		rf := r.rawFan[len(r.rawFan)-1]
		p("- The raw floor grows with N (%.1f× one channel's echo at %d channels): every byte of every\n",
			float64(pct(rf.wall, 50))/float64(pct(r.rawFan[0].wall, 50)), rf.n)
		p("  channel goes through the one sshd process serving the connection, and each echo through a `cat`\n")
		p("  it must schedule. A PSRP command costs sshd and pwshsim more than an echo (2–3 round trips, about\n")
		p("  2 KB each way: SSH section).\n")
	}
	p("- The per-session times inside a fan-out (from the session's throttle slot to its result, as its\n")
	p("  summary line prints them) grow with N: they measure queueing behind the other sessions, not the\n")
	p("  command.\n")
}

func renderAttach(w *bytes.Buffer, a *attachResult) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("\n### Attach with %s buffered lines (§2 (e))\n\n", thousands(a.lines))
	p("**psmux**: the session `hist` (SSH, on the same server) ran `1..%d` through `psmux exec` (output\n", a.lines)
	p("discarded; %s), leaving %d events in its log. **tmux**: `tmux -S SOCKET -f CONF new-session -d -x %d -y %d\n",
		fmtDur(a.fill), a.logEvents, ptyCols, ptyRows)
	p("'seq %d; cat'` with `history-limit %d` in CONF, on a private socket, killed afterwards. Each attach\n", a.lines, a.lines)
	p("runs in a fresh %d×%d pseudo-terminal (opened by benchreport on /dev/ptmx; `TERM=xterm-256color`) and\n", ptyCols, ptyRows)
	p("is timed from its start until the marker is on the terminal: for tmux, `%d` drawn (tmux redraws only\n", a.lines)
	p("the visible screen, the last lines of the pane and its status line); for `psmux attach --since 1`, the\n")
	p("line `%d` (the whole log replayed as lines); for a default `psmux attach` after a client has shown the\n", a.lines)
	p("history, the output line of a marker command run just before (untimed)")
	if a.repl {
		p("; in a terminal this build's default\n`psmux attach` is the REPL (its usage says so), while `--since` keeps the line-mode client")
	}
	p(". psmux is then detached with\n")
	p("Ctrl-D, tmux's client hung up. Captures run into a pipe until the program exits. A second psmux server,\n")
	p("started the same way, holds a session `hist` filled the same way and nothing else. Each round runs\n")
	p("tmux's attach and capture-pane and psmux's two attaches to the server with the fan-out's sessions;\n")
	p("every other round adds the breakdown kinds (the second server, stdout a pipe, `psmux capture`), so\n")
	p("every kind is interleaved with the others. Round 0 is a warm-up and not counted.\n\n")
	p("| Figure | n (warm-ups) | p50 | p90 | p99 | First byte p50 | Bytes | p50 / tmux attach | p50 / capture-pane |\n")
	p("|---|---|---|---|---|---|---|---|---|\n")
	row := func(name string, ds, first []time.Duration, bytes int, warm int) {
		fb, vsA, vsC, b := "—", "—", "—", "—"
		if len(first) > 0 {
			fb = fmtDur(pct(first, 50))
		}
		if bytes > 0 {
			b = fmt.Sprintf("%d", bytes)
		}
		if len(a.tmuxAttach) > 0 {
			vsA = fmtX(ratio(ds, a.tmuxAttach))
			vsC = fmtX(ratio(ds, a.tmuxCapture))
		}
		p("| %s | %d (%d) | %s | %s | %s | %s | %s | %s | %s |\n", name, len(ds), warm,
			fmtDur(pct(ds, 50)), fmtDur(pct(ds, 90)), fmtDur(pct(ds, 99)), fb, b, vsA, vsC)
	}
	if len(a.tmuxAttach) > 0 {
		row(a.tmuxVersion+" `attach`, pty", a.tmuxAttach, a.tmuxFirst, a.tmuxAttachBytes, 1)
		row(fmt.Sprintf("%s `capture-pane -p -S - -E -`, pipe (%d lines)", a.tmuxVersion, a.tmuxCaptureLines), a.tmuxCapture, nil, a.tmuxCaptureBytes, 1)
	}
	others := fmt.Sprintf(", %d other sessions in the server", a.others)
	defName := "psmux `attach`"
	if a.repl {
		defName += " (the REPL)"
	}
	row(defName+", history already shown, pty"+others, a.def, a.defFirst, a.defBytes, 1)
	row("psmux `attach --since 1`, pty"+others, a.full, a.fullFirst, a.fullBytes, 1)
	row("psmux `attach --since 1`, pipe"+others, a.pipe, nil, 0, 1)
	row("psmux `capture --since 1`, pipe"+others, a.capture, nil, a.captureBytes, 1)
	if len(a.aloneFull) > 0 {
		row("psmux `attach --since 1`, pty, hist alone in a second server", a.aloneFull, nil, 0, 1)
		row("psmux `attach --since 1`, pipe, hist alone in a second server", a.alonePipe, nil, 0, 1)
		row("psmux `capture --since 1`, pipe, hist alone in a second server", a.aloneCapture, nil, 0, 1)
	}
	p("\n")
	p("- A default `psmux attach` replays from the event after the last one an attached client acknowledged\n")
	p("  (`mux/peer.go`, `attach`). When no client has shown the %s lines (the command ran detached), that\n", thousands(a.lines))
	p("  is event 1: the default attach is the `--since 1` replay. Once a client has shown them it replays\n")
	p("  only what came after, and psmux attaches in %s against tmux's %s.\n", fmtDur(pct(a.def, 50)), fmtDur(pct(a.tmuxAttach, 50)))
	if len(a.full) > 0 {
		mbps := float64(a.fullBytes) / pct(a.full, 50).Seconds() / 1e6
		p("- The full replay draws %d bytes in %s: %.2f MB/s, %.0f lines/s. tmux's capture-pane moves\n",
			a.fullBytes, fmtDur(pct(a.full, 50)), mbps, float64(a.lines)/pct(a.full, 50).Seconds())
		p("  %d bytes in %s.\n", a.tmuxCaptureBytes, fmtDur(pct(a.tmuxCapture, 50)))
	}
	if len(a.aloneFull) > 0 {
		pty, pipe, capt := pct(a.full, 50), pct(a.pipe, 50), pct(a.capture, 50)
		apty, apipe, acapt := pct(a.aloneFull, 50), pct(a.alonePipe, 50), pct(a.aloneCapture, 50)
		p("- What dominates the full replay (p50s from the table, with %d other sessions / hist alone):\n", a.others)
		p("  - the terminal: pty − pipe = %s / %s. The attach client writes each line to the terminal on\n", fmtSigned(pty-pipe), fmtSigned(apty-apipe))
		p("    its own (one write per event);\n")
		p("  - the acknowledgements: the attach client sends an `ack` frame for every event it shows\n")
		p("    (`cmd/psmux/attach.go`), and the server resolves each one's target with `Server.one` → `find`,\n")
		p("    which lists and sorts every session (`mux/peer.go`, `mux/server.go`). Attach into a pipe with\n")
		p("    %d other sessions − alone = %s; attach − capture (which sends no acks) into a pipe, alone = %s;\n", a.others, fmtSigned(pipe-apipe), fmtSigned(apipe-acapt))
		p("  - what is left, `psmux capture` into a pipe, %s (%s alone): the server sends one frame per event\n", fmtDur(capt), fmtDur(acapt))
		p("    and the client decodes its JSON and the event's CLIXML and renders it, %.1f µs per line, against\n", float64(acapt)/float64(a.lines)/1e3)
		p("    %.2f µs per line for tmux's capture-pane.\n", float64(pct(a.tmuxCapture, 50))/float64(a.lines)/1e3)
	}
}

func renderFault(w *bytes.Buffer, f *faultResult) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("\n### Fan-out under fault (issue 3)\n\n")
	p("`psmux invoke -F CONF --connect-timeout %s h1,h2,h3 -- \"'x'\"` (no server: invoke opens temporary\n", f.timeout)
	p("sessions). Each host is its own `testenv/faultproxy` in front of the sshd, so three connections to three\n")
	p("addresses; h3's proxy is blackholed (`Blackhole(true)`: it accepts TCP and forwards nothing). Times are\n")
	p("from the process's start until each summary line is read on its stderr, and until it exits; the\n")
	p("baseline is `psmux invoke -F CONF --connect-timeout %s h1 -- \"'x'\"` alone (cold SSH connection,\n", f.timeout)
	p("pwshsim start, one command), interleaved with the faulted runs.\n\n")
	p("| Figure | n (warm-ups) | p50 | p90 | p99 |\n|---|---|---|---|---|\n")
	line := func(name string, ds []time.Duration, warm int) {
		p("| %s | %d (%d) | %s | %s | %s |\n", name, len(ds), warm, fmtDur(pct(ds, 50)), fmtDur(pct(ds, 90)), fmtDur(pct(ds, 99)))
	}
	line("`invoke h1` alone, until exit", f.alone, 1)
	line("`invoke h1,h2,h3`: `[h1] Completed` line", f.h1, 0)
	line("`invoke h1,h2,h3`: `[h2] Completed` line", f.h2, 0)
	line(fmt.Sprintf("`invoke h1,h2,h3`: `[h3] %s` line", f.h3State), f.h3, 0)
	line("`invoke h1,h2,h3`: until exit", f.total, 0)
	p("\n- h1 and h2 finish at %.2f× and %.2f× h1's time alone and print their results at once; the blackholed\n",
		float64(pct(f.h1, 50))/float64(pct(f.alone, 50)), float64(pct(f.h2, 50))/float64(pct(f.alone, 50)))
	p("  h3 ends the run at %.3f× the connect timeout (the timeout covers the TCP connect and, on its own\n", float64(pct(f.total, 50))/float64(f.timeout))
	p("  clock, the SSH handshake: `ssh/dial.go`).")
	if f.h3Detail != "" {
		p(" h3's error: `%s`.", f.h3Detail)
	}
	p("\n")
}

func renderServerGaps(w *bytes.Buffer, cfg config, r *serverResult) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("\n### Not measured here\n\n")
	p("- §2 (d): N = 1, 10 and 100; the 1e4-string workload; memory while streaming and at worst case\n")
	p("  (an undrained session); the open rate under a parallel throttle (the sessions here open one after\n")
	p("  another); N distinct hosts (every session here shares one sshd and one connection). Local\n")
	p("  (`--local`) sessions are not measured: the SSH sessions are the realistic case.\n")
	p("- §2 (e): K = 0 and 10 000 lines; attach through `attach --via` at an emulated RTT; the flood test\n")
	p("  with a slow attached client.\n")
	p("- There is no pwsh on this machine: pwshsim stands in on the far side of every session.\n")
}

// thousands writes n with thin spaces between groups of three digits.
func thousands(n int) string {
	s := fmt.Sprintf("%d", n)
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ' ')
		}
		out = append(out, s[i])
	}
	return string(out)
}

func kibHuman(kib float64) string {
	if kib >= 1024 {
		return fmt.Sprintf("%.1f MiB", kib/1024)
	}
	return fmt.Sprintf("%.0f KiB", kib)
}

func goroutines(m memPoint) string {
	if m.goroutines == 0 {
		return "—"
	}
	return fmt.Sprintf("%d", m.goroutines)
}

// verdictMem judges KiB per session against the idle-session limit.
func verdictMem(kib float64) string {
	if kib <= targetIdleKiB {
		return fmt.Sprintf("met: %.2f× the limit", kib/targetIdleKiB)
	}
	return fmt.Sprintf("**missed**: %.2f× the limit (needs %.0f KiB less per session)", kib/targetIdleKiB, kib-targetIdleKiB)
}

// fmtX writes a ratio: two decimals below 10, none above.
func fmtX(x float64) string {
	if x >= 10 {
		return fmt.Sprintf("%.0f×", x)
	}
	return fmt.Sprintf("%.2f×", x)
}

// fmtSigned writes a difference of durations with its sign.
func fmtSigned(d time.Duration) string {
	if d < 0 {
		return "−" + fmtDur(-d)
	}
	return "+" + fmtDur(d)
}

// heldUp says whether h1 and h2 waited for the blackholed h3.
func (f *faultResult) heldUp() string {
	if max(pct(f.h1, 50), pct(f.h2, 50)) < f.timeout/2 {
		return "informative: h1 and h2 are not held up"
	}
	return "informative: **h1 and h2 waited for h3**"
}
