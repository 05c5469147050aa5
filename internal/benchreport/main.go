// Command benchreport runs psmux's benchmarks in one go and writes
// docs/HARNESS-BENCHMARKS.md (SPEC S12, bench-reliability.md §2 (a), (b), (c) and
// (f)).
//
// In one run, on one goroutine, best of 5 runs each, it measures:
//
//   - CLIXML decode (clixml.Decode, one message body at a time as a client
//     decodes them) of the "strings" and "process" corpora of
//     internal/benchdata: objects/s, MB/s of CLIXML, allocations per object;
//   - the whole client receive path over the OutOfProc lines a pwsh server
//     sends for the same objects (psrp.Reader → Defragmenter → ParseMessage
//     → clixml.Decode): MB/s of wire and objects/s;
//   - the raw byte-copy baseline over the same wire bytes (a bufio line scan
//     into io.Discard);
//   - when PSRPCORE_SRC points at a psrpcore source tree, psrpcore's decode
//     of the same bodies (psrpcore.types.deserialize over
//     xml.etree.ElementTree.fromstring of each body, as psrpcore's own
//     message handling does), best of 3, with /usr/bin/python3.
//
// Then, against the system's real sshd on a loopback port (testenv/opensshd,
// with pwshsim behind `Subsystem powershell`; see ssh.go), it measures
// session open (cold and warm), the command round trip on an open session
// (on loopback and at emulated RTTs through testenv/faultproxy) and bulk
// output, each against a raw x/crypto channel measured in the same run.
// Without sshd installed these are reported as not measured.
//
// Then, against the psmux binary built for the run and a second throwaway
// sshd (see server.go), it measures the server: memory per idle SSH
// session, fan-out of one command to 50 and 200 sessions against the
// slowest session alone, attach to a session holding 100 000 lines
// against tmux's attach and capture-pane, and issue 3's fan-out with one
// host blackholed.
//
// Each figure is reported with its ratio to the baseline measured in the
// same run and with the SPEC S12 target it answers to.
//
// Usage: go run ./internal/benchreport [-objects 20000] [-runs 5] [-ssh=true] [-server=true] [-out docs/HARNESS-BENCHMARKS.md]
package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/psmux/psmux/internal/benchdata"
	"github.com/psmux/psmux/sessions/clixml"
)

// S12 targets in force (SPEC.md S12).
const (
	targetDecodeVsPeer = 40.0 // CLIXML decode ≥ 40× psrpcore on rich objects
	targetBulkVsRaw    = 0.50 // bulk output ≥ 50% of the raw SSH channel
	// §1.6: x/crypto ← sshd download, aes128-gcm, research machine. Only
	// used to say what the decode ceiling would have to reach; it is not a
	// figure of this run.
	researchChannelMBps = 455.0
)

type config struct {
	objects  int
	runs     int
	peerRuns int
	minRun   time.Duration
	out      string
	python   string
	peerSrc  string
	ssh      sshConfig
	server   serverConfig
}

// measurement is one figure: the time of one pass over a corpus, best of
// several runs.
type measurement struct {
	Runs    []time.Duration // per-pass time of each run
	Best    time.Duration
	CPUBest time.Duration // least process CPU time per pass (0: not measured)
	Objects int
	Bytes   int // bytes one pass goes through (CLIXML or wire)
	Allocs  float64
	AllocB  float64 // bytes allocated per object
}

func (m measurement) objsPerSec() float64 { return float64(m.Objects) / m.Best.Seconds() }
func (m measurement) mbPerSec() float64   { return float64(m.Bytes) / m.Best.Seconds() / 1e6 }

type corpusResult struct {
	c       *benchdata.Corpus
	decode  measurement
	receive measurement
	raw     measurement
	peer    *peerFigure
}

type peerFigure struct {
	Objects int     `json:"objects"`
	Bytes   int     `json:"bytes"`
	Seconds float64 `json:"seconds"`
	CPU     float64 `json:"cpu"` // least process CPU seconds of a pass
	Runs    []float64
}

func (p *peerFigure) objsPerSec() float64 { return float64(p.Objects) / p.Seconds }
func (p *peerFigure) mbPerSec() float64   { return float64(p.Bytes) / p.Seconds / 1e6 }

type peerResult struct {
	Python   string                 `json:"python"`
	Psrpcore string                 `json:"psrpcore"`
	Corpora  map[string]*peerFigure `json:"corpora"`
	Skipped  string                 `json:"-"`
}

func main() {
	cfg := config{ssh: defaultSSHConfig(), server: defaultServerConfig()}
	counts := intList(cfg.server.counts)
	flag.IntVar(&cfg.objects, "objects", 20000, "objects per corpus")
	flag.IntVar(&cfg.runs, "runs", 5, "runs per Go figure (best is reported)")
	flag.IntVar(&cfg.peerRuns, "peer-runs", 3, "runs per psrpcore figure (best is reported)")
	flag.DurationVar(&cfg.minRun, "min-run", 200*time.Millisecond, "minimum duration of one run (passes are repeated up to it)")
	flag.StringVar(&cfg.out, "out", "", "report path (default docs/HARNESS-BENCHMARKS.md at the module root)")
	flag.StringVar(&cfg.python, "python", "/usr/bin/python3", "python interpreter for the psrpcore peer")
	flag.BoolVar(&cfg.ssh.enabled, "ssh", true, "run the SSH benchmarks against the system's sshd")
	flag.IntVar(&cfg.ssh.coldN, "ssh-cold", cfg.ssh.coldN, "cold session opens (and raw baselines)")
	flag.IntVar(&cfg.ssh.warmN, "ssh-warm", cfg.ssh.warmN, "warm session opens (and raw baselines)")
	flag.IntVar(&cfg.ssh.rtN, "ssh-rt", cfg.ssh.rtN, "command round trips on loopback")
	flag.IntVar(&cfg.ssh.rtWarm, "ssh-rt-warmup", cfg.ssh.rtWarm, "warm-up round trips on loopback")
	flag.IntVar(&cfg.ssh.wanN, "ssh-wan", cfg.ssh.wanN, "command round trips at each emulated RTT")
	flag.IntVar(&cfg.ssh.wanOpenN, "ssh-wan-open", cfg.ssh.wanOpenN, "warm session opens at the larger emulated RTT")
	flag.IntVar(&cfg.ssh.bulkObjects, "ssh-bulk-objects", cfg.ssh.bulkObjects, "strings of 100 characters in the bulk workload")
	flag.BoolVar(&cfg.ssh.readRC, "ssh-rc", false, "let the login shell sshd runs subsystems through read ~/.bashrc (by default sshd sets SHLVL=1 so bash skips it)")
	flag.IntVar(&cfg.ssh.bulkRuns, "ssh-bulk-runs", cfg.ssh.bulkRuns, "timed runs of the bulk workload (best is reported)")
	flag.BoolVar(&cfg.server.enabled, "server", true, "run the server benchmarks (memory, fan-out, attach) against the psmux binary and the system's sshd")
	flag.Var(&counts, "server-sessions", "comma-separated idle session counts for memory and fan-out")
	flag.IntVar(&cfg.server.reps, "server-fanout-runs", cfg.server.reps, "timed fan-out runs of each variant (each followed by a single-session sweep)")
	flag.IntVar(&cfg.server.attachN, "server-attach", cfg.server.attachN, "timed attaches of each kind")
	flag.IntVar(&cfg.server.fillLines, "server-lines", cfg.server.fillLines, "output lines buffered in the attach session")
	flag.Parse()
	cfg.server.counts = []int(counts)
	cfg.peerSrc = os.Getenv("PSRPCORE_SRC")
	if cfg.out == "" {
		root, err := moduleRoot()
		if err != nil {
			fatal(err)
		}
		cfg.out = filepath.Join(root, "docs", "HARNESS-BENCHMARKS.md")
	}
	start := time.Now()
	results, peer, err := run(cfg)
	if err != nil {
		fatal(err)
	}
	sshRes, err := runSSH(cfg)
	if err != nil {
		fatal(err)
	}
	srvRes, err := runServerBench(cfg)
	if err != nil {
		fatal(err)
	}
	report := render(cfg, results, peer, sshRes, srvRes, start)
	if err := os.WriteFile(cfg.out, report, 0o644); err != nil {
		fatal(err)
	}
	progress("wrote %s in %s", cfg.out, time.Since(start).Round(time.Second))
}

func fatal(err error) {
	msg := err.Error()
	if !strings.HasPrefix(msg, "benchreport: ") {
		msg = "benchreport: " + msg
	}
	fmt.Fprintln(os.Stderr, msg)
	os.Exit(1)
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "benchreport: "+format+"\n", args...)
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory; pass -out")
		}
		dir = parent
	}
}

func run(cfg config) ([]*corpusResult, *peerResult, error) {
	var results []*corpusResult
	for _, name := range benchdata.Names {
		progress("building the %q corpus (%d objects)", name, cfg.objects)
		c, err := benchdata.New(name, cfg.objects)
		if err != nil {
			return nil, nil, err
		}
		results = append(results, &corpusResult{c: c})
	}
	for _, r := range results {
		c := r.c
		progress("%s: CLIXML decode, %d bodies, %.1f MB", c.Name, c.Objects(), float64(c.BodyBytes())/1e6)
		decodeAll := func() error {
			for _, b := range c.Bodies {
				if _, err := clixml.Decode(b); err != nil {
					return err
				}
			}
			return nil
		}
		m, err := measure(cfg, decodeAll)
		if err != nil {
			return nil, nil, fmt.Errorf("%s decode: %w", c.Name, err)
		}
		m.Objects, m.Bytes = c.Objects(), c.BodyBytes()
		m.Allocs, m.AllocB = allocsPer(decodeAll, c.Objects())
		r.decode = m
		progress("%s: decode %.0f objs/s, %.1f MB/s, %.1f allocs/obj", c.Name, m.objsPerSec(), m.mbPerSec(), m.Allocs)

		progress("%s: receive path, %.1f MB of wire", c.Name, float64(len(c.Wire))/1e6)
		receive := func() error {
			n, err := benchdata.ReceivePath(bytes.NewReader(c.Wire), nil)
			if err == nil && n != c.Objects() {
				err = fmt.Errorf("decoded %d of %d objects", n, c.Objects())
			}
			return err
		}
		m, err = measure(cfg, receive)
		if err != nil {
			return nil, nil, fmt.Errorf("%s receive path: %w", c.Name, err)
		}
		m.Objects, m.Bytes = c.Objects(), len(c.Wire)
		m.Allocs, m.AllocB = allocsPer(receive, c.Objects())
		r.receive = m
		progress("%s: receive path %.1f MB/s of wire, %.0f objs/s", c.Name, m.mbPerSec(), m.objsPerSec())

		raw := func() error {
			n, err := benchdata.RawCopy(bytes.NewReader(c.Wire))
			if err == nil && n != int64(len(c.Wire)) {
				err = fmt.Errorf("copied %d of %d bytes", n, len(c.Wire))
			}
			return err
		}
		m, err = measure(cfg, raw)
		if err != nil {
			return nil, nil, fmt.Errorf("%s raw copy: %w", c.Name, err)
		}
		m.Objects, m.Bytes = c.Objects(), len(c.Wire)
		r.raw = m
		progress("%s: raw byte copy %.0f MB/s", c.Name, m.mbPerSec())
	}
	peer := runPeer(cfg, results)
	for _, r := range results {
		if peer.Corpora != nil {
			r.peer = peer.Corpora[r.c.Name]
		}
	}
	return results, peer, nil
}

// measure times fn (one pass over a corpus) cfg.runs times. Each run
// repeats the pass until cfg.minRun has elapsed and records the time per
// pass; the best run is the figure.
func measure(cfg config, fn func() error) (measurement, error) {
	if err := fn(); err != nil { // warm-up, and a correctness check
		return measurement{}, err
	}
	var m measurement
	for range cfg.runs {
		runtime.GC()
		k := 0
		c0 := cpuTime()
		t0 := time.Now()
		var el time.Duration
		for k == 0 || el < cfg.minRun {
			if err := fn(); err != nil {
				return m, err
			}
			k++
			el = time.Since(t0)
		}
		cpu := (cpuTime() - c0) / time.Duration(k)
		per := el / time.Duration(k)
		m.Runs = append(m.Runs, per)
		if m.Best == 0 || per < m.Best {
			m.Best = per
		}
		if cpu > 0 && (m.CPUBest == 0 || cpu < m.CPUBest) {
			m.CPUBest = cpu
		}
	}
	return m, nil
}

// allocsPer returns heap allocations and bytes per object of one pass.
func allocsPer(fn func() error, objects int) (float64, float64) {
	runtime.GC()
	var a, b runtime.MemStats
	runtime.ReadMemStats(&a)
	_ = fn()
	runtime.ReadMemStats(&b)
	return float64(b.Mallocs-a.Mallocs) / float64(objects), float64(b.TotalAlloc-a.TotalAlloc) / float64(objects)
}

// peerScript is the psrpcore side: it reads length-prefixed bodies and
// decodes each the way psrpcore decodes a received message body
// (psrpcore/_base.py: deserialize(ElementTree.fromstring(data), cipher)),
// timing whole passes, best of N, and prints JSON on stdout.
const peerScript = `
import json, struct, sys, time
sys.path.insert(0, sys.argv[1])
from xml.etree import ElementTree
import psrpcore
import psrpcore.types as pt

def load(path):
    with open(path, "rb") as f:
        data = f.read()
    out, i = [], 0
    while i < len(data):
        (n,) = struct.unpack_from("<I", data, i)
        out.append(data[i + 4:i + 4 + n])
        i += 4 + n
    return out

cipher = pt.PSCryptoProvider()
res = {"python": sys.version.split()[0], "psrpcore": getattr(psrpcore, "__version__", "unknown"), "corpora": {}}
for arg in sys.argv[2:]:
    name, runs, path = arg.split("=", 2)
    bodies = load(path)
    times, cpus = [], []
    for _ in range(int(runs)):
        c0 = time.process_time()
        t0 = time.perf_counter()
        for b in bodies:
            pt.deserialize(ElementTree.fromstring(b), cipher)
        times.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
        print("benchreport: psrpcore %s: %d bodies in %.2f s (%.2f s CPU)" % (name, len(bodies), times[-1], cpus[-1]), file=sys.stderr, flush=True)
    res["corpora"][name] = {"objects": len(bodies), "bytes": sum(map(len, bodies)), "seconds": min(times), "cpu": min(cpus), "Runs": times}
print(json.dumps(res))
`

func runPeer(cfg config, results []*corpusResult) *peerResult {
	if cfg.peerSrc == "" {
		return &peerResult{Skipped: "not measured: PSRPCORE_SRC not set"}
	}
	if _, err := os.Stat(filepath.Join(cfg.peerSrc, "psrpcore", "types", "_serializer.py")); err != nil {
		return &peerResult{Skipped: "not measured: PSRPCORE_SRC=" + cfg.peerSrc + " holds no psrpcore/types/_serializer.py"}
	}
	dir, err := os.MkdirTemp("", "psmux-benchreport-")
	if err != nil {
		return &peerResult{Skipped: "not measured: " + err.Error()}
	}
	defer os.RemoveAll(dir)
	args := []string{"-c", peerScript, cfg.peerSrc}
	for _, r := range results {
		path := filepath.Join(dir, r.c.Name+".bin")
		var buf []byte
		for _, b := range r.c.Bodies {
			buf = binary.LittleEndian.AppendUint32(buf, uint32(len(b)))
			buf = append(buf, b...)
		}
		if err := os.WriteFile(path, buf, 0o600); err != nil {
			return &peerResult{Skipped: "not measured: " + err.Error()}
		}
		args = append(args, fmt.Sprintf("%s=%d=%s", r.c.Name, cfg.peerRuns, path))
	}
	progress("psrpcore peer: %s from %s, best of %d", cfg.python, cfg.peerSrc, cfg.peerRuns)
	cmd := exec.Command(cfg.python, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return &peerResult{Skipped: "not measured: " + cfg.python + ": " + err.Error()}
	}
	var pr peerResult
	if err := json.Unmarshal(out, &pr); err != nil {
		return &peerResult{Skipped: "not measured: unreadable psrpcore output: " + err.Error()}
	}
	for _, r := range results {
		p := pr.Corpora[r.c.Name]
		if p == nil || p.Objects != r.c.Objects() || p.Bytes != r.c.BodyBytes() || p.Seconds <= 0 {
			return &peerResult{Skipped: "not measured: psrpcore output does not match the " + r.c.Name + " corpus"}
		}
	}
	return &pr
}

// ---- machine ----

type machine struct {
	cpu, mem, kernel, goVersion, date string
	ncpu, procs                       int
}

func describeMachine(start time.Time) machine {
	m := machine{
		cpu:       "unknown",
		mem:       "unknown",
		kernel:    runtime.GOOS,
		goVersion: runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH,
		date:      start.UTC().Format("2006-01-02 15:04 MST"),
		ncpu:      runtime.NumCPU(),
		procs:     runtime.GOMAXPROCS(0),
	}
	if v := procField("/proc/cpuinfo", "model name"); v != "" {
		m.cpu = v
	}
	if v := procField("/proc/meminfo", "MemTotal"); v != "" {
		var kb int64
		if _, err := fmt.Sscanf(v, "%d kB", &kb); err == nil {
			m.mem = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
		} else {
			m.mem = v
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = runtime.GOOS + " " + strings.TrimSpace(string(b))
	}
	return m
}

func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// ---- report ----

func render(cfg config, results []*corpusResult, peer *peerResult, sr *sshResult, vr *serverResult, start time.Time) []byte {
	m := describeMachine(start)
	var w bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&w, format, args...) }

	p("# psmux benchmarks\n\n")
	p("Generated by `just bench` (`go run ./internal/benchreport`) on %s; do not edit by hand.\n", m.date)
	p("Every figure comes from this one run; ratios are against baselines measured in the same run\n")
	p("(bench-reliability.md §2). Targets are those of SPEC.md S12.\n\n")

	p("## Machine\n\n")
	p("| | |\n|---|---|\n")
	p("| CPU | %s |\n", m.cpu)
	p("| nproc | %d (GOMAXPROCS %d; every decode figure is one goroutine) |\n", m.ncpu, m.procs)
	p("| Memory | %s |\n", m.mem)
	p("| Kernel | %s |\n", m.kernel)
	p("| Go | %s |\n", m.goVersion)
	if peer.Skipped == "" {
		p("| Peer | psrpcore (%s) from `$PSRPCORE_SRC`, Python %s |\n", peer.Psrpcore, peer.Python)
	} else {
		p("| Peer | %s |\n", peer.Skipped)
	}
	p("| Date | %s |\n\n", m.date)

	p("## Corpora\n\n")
	p("Synthetic, from `internal/benchdata` (bench-reliability.md §1.6): every object is one PIPELINE_OUTPUT\n")
	p("message, its body a standalone CLIXML document as pwsh writes it (RefIds from 0 in each body), cut\n")
	p("into pwsh's 32 KiB fragments, each fragment one `<Data Stream='Default' PSGuid='…'>` line, with the\n")
	p("UTF-8 BOM before each body. The process bodies are larger than §1.6's ~1.1 KB because each declares\n")
	p("its own `<TN>` lists; in one Export-Clixml document later objects would use `<TNRef>`.\n\n")
	p("| Corpus | Objects | CLIXML bytes | Bytes/object | Wire bytes | Wire/CLIXML |\n|---|---:|---:|---:|---:|---:|\n")
	for _, r := range results {
		c := r.c
		p("| %s | %d | %d | %.0f | %d | %.2f× |\n", c.Name, c.Objects(), c.BodyBytes(),
			float64(c.BodyBytes())/float64(c.Objects()), len(c.Wire), float64(len(c.Wire))/float64(c.BodyBytes()))
	}
	p("\n- **strings**: one `<S>` of about 100 bytes per object.\n")
	p("- **process**: a Get-Process-like `<Obj>`: TN (4 type names), ToString, 19 adapted properties\n")
	p("  (I32, I64, B, S, Nil, DT, TS, a ProcessPriorityClass enum, a nested ProcessModule `<Obj>` with\n")
	p("  its own TN), and an `<MS>` holding a Db and a second enum that reuses the type names via `<TNRef>`.\n\n")

	p("## Results\n\n")
	p("Best of %d runs (psrpcore: best of %d); one run repeats whole passes over the corpus for at least %s.\n", cfg.runs, cfg.peerRuns, cfg.minRun)
	p("MB = 10^6 bytes.\n\n")
	p("| # | Figure | Value | Same-run baseline | Ratio | S12 target | Against target |\n")
	p("|---|---|---|---|---|---|---|\n")
	row := 0
	for _, r := range results {
		row++
		d := r.decode
		value := fmt.Sprintf("%s objs/s, %.1f MB/s, %.1f allocs/obj (%s/obj)", si(d.objsPerSec()), d.mbPerSec(), d.Allocs, bytesHuman(d.AllocB))
		base, ratio, target, against := "psrpcore: "+peer.Skipped, "—", "—", "—"
		if r.peer != nil {
			base = fmt.Sprintf("psrpcore %s objs/s, %.2f MB/s", si(r.peer.objsPerSec()), r.peer.mbPerSec())
			x := d.objsPerSec() / r.peer.objsPerSec()
			ratio = fmt.Sprintf("**%.1f×** psrpcore", x)
			if d.CPUBest > 0 && r.peer.CPU > 0 {
				// CPU time per pass on both sides: a cross-check that
				// another load on the machine cannot skew; the verdict
				// takes the lower of the two ratios.
				xc := r.peer.CPU / d.CPUBest.Seconds()
				ratio += fmt.Sprintf(" (by CPU time: %.1f×)", xc)
				x = min(x, xc)
			}
			if r.c.Name == benchdata.Process {
				target = fmt.Sprintf("≥ %.0f× psrpcore on rich objects", targetDecodeVsPeer)
				against = verdict(x, targetDecodeVsPeer) + " (lower of the two ratios)"
			} else {
				target = "none (S12 sets the bar on rich objects)"
				against = "informative"
			}
		} else if r.c.Name == benchdata.Process {
			target = fmt.Sprintf("≥ %.0f× psrpcore on rich objects", targetDecodeVsPeer)
			against = "not evaluated (no peer figure)"
		} else {
			target = "none (S12 sets the bar on rich objects)"
		}
		p("| %d | CLIXML decode, %s (one body at a time) | %s | %s | %s | %s | %s |\n", row, r.c.Name, value, base, ratio, target, against)
	}
	for _, r := range results {
		row++
		rc := r.receive
		x := rc.mbPerSec() / r.raw.mbPerSec()
		value := fmt.Sprintf("%.1f MB/s of wire, %s objs/s, %.1f allocs/obj", rc.mbPerSec(), si(rc.objsPerSec()), rc.Allocs)
		var against string
		if sr.bulk != nil {
			need := targetBulkVsRaw * sr.bulk.rawMBps()
			against = fmt.Sprintf("ceiling only (the end-to-end figure is in the SSH section). For ≥ 50%% of this run's raw channel download (%.0f MB/s) the ceiling must reach %.0f MB/s: it is at %.2f× that", sr.bulk.rawMBps(), need, rc.mbPerSec()/need)
		} else {
			need := targetBulkVsRaw * researchChannelMBps
			against = fmt.Sprintf("ceiling only; SSH figures %s. For ≥ 50%% of §1.6's %.0f MB/s channel (research machine, not this run) the ceiling must reach %.0f MB/s: it is at %.2f× that", sr.Skipped, researchChannelMBps, need, rc.mbPerSec()/need)
		}
		p("| %d | Receive path decode ceiling, %s (Reader → Defragmenter → ParseMessage → Decode) | %s | raw byte copy %.0f MB/s | **%.3f×** raw copy (%.1f%%) | bulk output ≥ 50%% of the raw SSH channel | %s |\n",
			row, r.c.Name, value, r.raw.mbPerSec(), x, 100*x, against)
	}
	for _, r := range results {
		row++
		p("| %d | Raw byte-copy baseline, %s wire (bufio line scan → io.Discard) | %.0f MB/s | — | 1× | baseline | — |\n", row, r.c.Name, r.raw.mbPerSec())
	}
	if peer.Skipped == "" {
		for _, r := range results {
			row++
			p("| %d | psrpcore decode, %s (`deserialize(ElementTree.fromstring(body))`) | %s objs/s, %.2f MB/s | — | 1× | peer baseline | — |\n",
				row, r.c.Name, si(r.peer.objsPerSec()), r.peer.mbPerSec())
		}
	} else {
		row++
		p("| %d | psrpcore decode | %s | — | — | peer baseline | — |\n", row, peer.Skipped)
	}

	p("\n### What is and is not measured here\n\n")
	p("- **CLIXML decode vs psrpcore** (S12: ≥ 40× on rich objects) is measured directly: both sides decode\n")
	p("  the same bodies one at a time, the way each client decodes PSRP messages. psrpcore's time includes\n")
	p("  ElementTree parsing, as does psmux's (its decoder parses and builds values in one pass).\n")
	p("- **Bulk output** (S12: ≥ 50%% of the raw SSH channel, same run): rows 3–4 are the client-side decode\n")
	p("  ceiling of bench-reliability.md §2 (c), the whole receive path over the wire bytes a pwsh server\n")
	p("  sends against a raw byte copy of the same lines; it bounds bulk throughput from above.\n")
	if sr.bulk != nil {
		p("  The end-to-end figure, through a real sshd against a raw channel download in this run, is in\n")
		p("  the SSH section below.\n")
	} else {
		p("  The end-to-end figure through a real sshd was %s.\n", sr.Skipped)
	}
	p("- The decode ratios are given by wall time (best run on each side) and, as a cross-check against\n")
	p("  other load on a shared machine, by process CPU time per pass (Go: getrusage, GC workers included;\n")
	p("  Python: time.process_time). The verdict uses the lower of the two.\n")
	p("- Allocations are heap allocations per object over one pass (runtime.MemStats), a regression metric\n")
	p("  (§2 (f)).\n")
	for _, r := range results {
		if r.peer != nil && len(r.peer.Runs) > 1 && r.peer.Runs[len(r.peer.Runs)-1] > 1.2*r.peer.Runs[0] {
			p("- psrpcore's %s passes got slower run over run in its one Python process (%.1f s → %.1f s);\n",
				r.c.Name, r.peer.Runs[0], r.peer.Runs[len(r.peer.Runs)-1])
			p("  the best (fastest) run is the one compared.\n")
		}
		if r.peer != nil && r.peer.CPU > 0 && r.peer.Seconds > 1.15*r.peer.CPU {
			p("- psrpcore %s: the best pass took %.1f s of wall time for %.1f s of CPU: other load shared the\n",
				r.c.Name, r.peer.Seconds, r.peer.CPU)
			p("  machine during the peer runs, so the CPU-time ratio is the fairer one.\n")
		}
	}
	p("\n")

	p("### Every run\n\n")
	p("| Figure | Per-pass time of each run |\n|---|---|\n")
	for _, r := range results {
		p("| decode %s | %s |\n", r.c.Name, durs(r.decode.Runs))
		p("| receive path %s | %s |\n", r.c.Name, durs(r.receive.Runs))
		p("| raw copy %s | %s |\n", r.c.Name, durs(r.raw.Runs))
		if r.peer != nil {
			var ds []time.Duration
			for _, s := range r.peer.Runs {
				ds = append(ds, time.Duration(s*float64(time.Second)))
			}
			p("| psrpcore %s | %s |\n", r.c.Name, durs(ds))
		}
	}
	renderSSH(&w, cfg, sr)
	renderServer(&w, cfg, vr, sr)

	p("\nReproduce: `just bench` (set `PSRPCORE_SRC` to a psrpcore source tree for the peer figures;\n")
	p("the SSH and server figures need OpenSSH's sshd, the attach baseline tmux; `-ssh=false` and\n")
	p("`-server=false` leave them out);\n")
	p("the decode figures also come from `go test -run XXX -bench . ./sessions/psrp/` (BenchmarkReceivePath,\n")
	p("BenchmarkRawCopy, on 5 000 objects).\n")
	return w.Bytes()
}

func verdict(x, target float64) string {
	if x >= target {
		return fmt.Sprintf("met: %.2f× the target", x/target)
	}
	return fmt.Sprintf("**missed**: %.2f× the target (needs %.2f× faster)", x/target, target/x)
}

func si(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2f M", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1f k", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

func bytesHuman(b float64) string {
	if b >= 1024 {
		return fmt.Sprintf("%.1f KiB", b/1024)
	}
	return fmt.Sprintf("%.0f B", b)
}

func durs(ds []time.Duration) string {
	var parts []string
	for _, d := range ds {
		parts = append(parts, d.Round(time.Microsecond).String())
	}
	return strings.Join(parts, ", ")
}
