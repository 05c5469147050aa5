// Command benchmd runs psmux's benchmarks (the Benchmark functions
// beside the code they measure; the end-to-end ones against real pwsh
// with pwsh's own client as their baseline) with `go test -bench -json`
// and renders docs/BENCHMARKS.md from what they report: each figure with
// the command that measured it and, where an issue sets one, its target.
//
// Usage: go run ./internal/benchmd [-out docs/BENCHMARKS.md] [-only REGEXP]
//
// The end-to-end benchmarks need Debian's sshd and real pwsh
// (`. ../shared/pwsh/env.sh`); without them they are reported skipped.
package main

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// bench is one benchmark the report runs.
type bench struct {
	pkg, name, benchtime string
	what                 string   // what it measures
	targets              []target // on its metrics
}

// target is an issue's bound on one metric.
type target struct {
	unit  string // the metric, as the benchmark reports it
	max   float64
	issue string
}

var benches = []bench{
	{"./internal/e2e/server/", "BenchmarkCommandOnOpenSession", "200x",
		"A trivial command on an open session through a live server, as the REPL sends it (typed at the prompt: Out-Default, the terminal's size, the session's history), and then as `psmux exec -t S` sends it (its text filter; exec-ms, exec/pwsh) on a second session, beside pwsh's `Invoke-Command -Session` over the same sshd",
		[]target{{"psmux/pwsh", 0.5, "15"}}},
	{"./internal/e2e/server/", "BenchmarkCommandAtDistance", "30x",
		"A trivial command on a session to real pwsh behind sshd through testenv/faultproxy adding 25 ms each way, in round trips of a 1-byte echo on the same SSH connection",
		[]target{{"RT/command", 1.2, "15"}}},
	{"./internal/e2e/server/", "BenchmarkFanOut", "10x",
		"A trivial command in 10 open sessions: `psmux exec -t 'f*'` through a live server, the same 10 requests from a client in the benchmark's process (the server's part, without the CLI's start), the sessions package in process, and pwsh's `Invoke-Command -Session` over 10 sessions; measured after 30 warm-up rounds once the machine is idle again (pwsh's JIT works on for a second or two after a burst of commands)",
		[]target{{"server/in-process", 1.3, "15"}, {"psmux/pwsh", 0.3, "15"}}},
	{"./internal/e2e/server/", "BenchmarkTextOutput", "1x",
		"`1..100000` printed as text through `psmux invoke`, through `psmux exec` on a server session, and as objects with `invoke --json`, each on an idle machine, beside pwsh's `Invoke-Command -HostName` (timed inside pwsh, its start left out) and `ssh host pwsh -NoProfile -c` (the no-PSRP floor) to the same sshd; client-MB is the higher peak RSS of the two text clients, server-cpu/wall the server's CPU during exec",
		[]target{{"invoke/pwsh", 0.5, "15"}, {"exec/pwsh", 0.5, "15"}, {"invoke/floor", 2, "15"}, {"exec/floor", 2, "15"}, {"json/pwsh", 0.4, "15"}, {"client-MB", 32, "15"}, {"server-cpu/wall", 0.1, "15"}}},
	{"./internal/e2e/server/", "BenchmarkTextOutputMillion", "1x",
		"`1..1000000` printed as text through `psmux invoke` to real pwsh behind sshd: the client's peak RSS (rusage) and whether every line arrived in order",
		[]target{{"client-MB", 32, "15"}}},
	{"./internal/e2e/server/", "BenchmarkSessionOpen", "5x",
		"Opening a session on real pwsh behind sshd: `psmux new` through a live server (the client's start included), beside pwsh's `New-PSSession -HostName` timed inside pwsh; pwsh's start on the far side dominates both",
		nil},
	{"./internal/e2e/server/", "BenchmarkFanOutUnderFault", "5x",
		"`psmux invoke --connect-timeout 2s h1,h2,h3` to real pwsh, each host a faultproxy in front of sshd and h3's blackholed, beside `invoke h1,h2`: when the healthy hosts' results come with and without the dead host, and when the run ends against the timeout (issue 3)",
		nil},
	{"./internal/e2e/server/", "BenchmarkCapture", "5x",
		"`psmux capture` of a session holding 100 000 lines, the client's start included",
		[]target{{"s/capture", 0.3, "15"}}},
	{"./internal/e2e/server/", "BenchmarkAttach", "6x",
		"`psmux attach -t S` (the REPL) in a 100 × 30 terminal to a session holding 100 000 lines no client has seen, until the last is drawn, beside tmux's attach to a pane with 100 000 lines of history",
		[]target{{"psmux/tmux", 2, "15"}}},
	{"./internal/e2e/server/", "BenchmarkIdleSessionMemory", "1x",
		"Go heap and stacks per idle SSH session, 200 sessions through sshd to pwshsim; the sessions share the server's one SSH connection to the host, whose cost is spread over them",
		[]target{{"KiB/session", 64, "15"}}},
	{"./mux/journal/", "BenchmarkAppend", "1000000x",
		"Appending 1e6 small lines to a session's log with the journal following it on disk, against the log in memory: the log alone, in a tight loop with nothing else to do, so that on-disk/memory is the disk writer's pace (a write(2) and a CRC-32C a record, on the other core) against the appender's; a stress figure, not issue 14's, which BenchmarkSessionLog measures on a stream of 1e6 lines",
		nil},
	{"./mux/", "BenchmarkSessionLog", "1x",
		"`1..1000000` as text through a live server session (in-memory pwshsim), its log followed by the journal on disk against in memory only (median of 3 each)",
		[]target{{"on-disk/memory", 1.2, "14"}}},
	{"./mux/outlog/", "BenchmarkAppend|BenchmarkRead", "1s", "The in-memory log: append under each policy, reads", nil},
	{"./sessions/psrp/", "BenchmarkReceivePath|BenchmarkRawCopy", "1s",
		"The receive path from OutOfProc lines to decoded objects, beside a raw line copy", nil},
	{"./sessions/clixml/", "BenchmarkDecode.*|BenchmarkEncode|BenchmarkFaithfulJSON|BenchmarkPlainJSON", "1s", "CLIXML decoding and encoding", nil},
}

// result is one line of benchmark output.
type result struct {
	name    string
	n       int
	metrics []metric
}

type metric struct {
	value float64
	unit  string
}

func main() {
	out := flag.String("out", "", "the report (default docs/BENCHMARKS.md at the module root)")
	only := flag.String("only", "", "run only the benchmarks whose name matches this regexp")
	flag.Parse()
	if err := run(*out, *only); err != nil {
		fmt.Fprintln(os.Stderr, "benchmd:", err)
		os.Exit(1)
	}
}

func run(out, only string) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	if out == "" {
		if only != "" {
			return errors.New("-only writes part of the report: give -out too, so docs/BENCHMARKS.md stays whole")
		}
		out = filepath.Join(root, "docs", "BENCHMARKS.md")
	}
	var re *regexp.Regexp
	if only != "" {
		if re, err = regexp.Compile(only); err != nil {
			return fmt.Errorf("-only: %w", err)
		}
	}
	var b bytes.Buffer
	header(&b)
	for i, bn := range benches {
		if re != nil && !re.MatchString(bn.name) {
			continue
		}
		args := []string{"test", "-run", "^$", "-bench", "^(" + bn.name + ")$", "-benchtime", bn.benchtime, "-json", bn.pkg}
		fmt.Fprintf(os.Stderr, "benchmd: [%d/%d] go %s\n", i+1, len(benches), strings.Join(args, " "))
		start := time.Now()
		results, skipped, err := goBench(root, args)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "benchmd: %d results in %s\n", len(results), time.Since(start).Round(time.Second))
		section(&b, bn, results, skipped)
	}
	if err := os.WriteFile(out, b.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "benchmd: wrote %s\n", out)
	return nil
}

// goBench runs go with args (a -json benchmark run) and returns the
// benchmark lines it printed, and why it skipped if it did.
func goBench(root string, args []string) ([]result, string, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	text, skipped, perr := parseJSON(stdout)
	_, _ = io.Copy(io.Discard, stdout) // what a failed parse left: go must not block on a full pipe
	if err := cmd.Wait(); err != nil {
		return nil, "", fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, text)
	}
	if perr != nil {
		return nil, "", perr
	}
	return parseResults(text), skipped, nil
}

// parseJSON reads test2json events and returns the output they carry,
// and why a benchmark skipped if one did (the log lines after its
// "--- SKIP").
func parseJSON(r io.Reader) (string, string, error) {
	var text strings.Builder
	var skipped []string
	inSkip := false
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		var ev struct{ Action, Output string }
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return "", "", fmt.Errorf("go test -json printed %q: %w", sc.Text(), err)
		}
		if ev.Action != "output" {
			continue
		}
		text.WriteString(ev.Output)
		line := strings.TrimSpace(ev.Output)
		switch {
		case strings.HasPrefix(line, "--- SKIP"):
			inSkip = true
		case inSkip && strings.HasPrefix(ev.Output, "    "):
			skipped = append(skipped, line)
		default:
			inSkip = false
		}
	}
	return text.String(), strings.Join(skipped, " "), sc.Err()
}

// parseResults finds the benchmark lines in go test's output:
// "BenchmarkX-2  <n>  <value> <unit>  <value> <unit> …".
func parseResults(text string) []result {
	var rs []result
	for line := range strings.SplitSeq(text, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		n, err := strconv.Atoi(f[1])
		if err != nil {
			continue
		}
		r := result{name: f[0], n: n}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				break
			}
			r.metrics = append(r.metrics, metric{v, f[i+1]})
		}
		rs = append(rs, r)
	}
	return rs
}

func header(b *bytes.Buffer) {
	now := time.Now().UTC().Format("2006-01-02 15:04 UTC")
	fmt.Fprintf(b, "# psmux benchmarks\n\n")
	fmt.Fprintf(b, "Generated by `just bench` (`go run ./internal/benchmd`) on %s; do not edit by hand. Each figure is a\n", now)
	fmt.Fprintf(b, "`Benchmark…` beside the code it measures; ratios are against baselines measured in the same run\n")
	fmt.Fprintf(b, "(pwsh's own client over the same sshd, `ssh host pwsh -c`, tmux, the in-memory log, a raw copy).\n\n")
	fmt.Fprintf(b, "## Machine\n\n| | |\n|---|---|\n")
	fmt.Fprintf(b, "| CPU | %s |\n| nproc | %d |\n| Go | %s %s/%s |\n| Kernel | %s |\n| pwsh | %s |\n\n",
		cpuModel(), runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH, firstLine("/proc/sys/kernel/osrelease"), pwshVersion())
}

func section(b *bytes.Buffer, bn bench, rs []result, skipped string) {
	fmt.Fprintf(b, "## %s (`%s`)\n\n%s.\n\n`go test -run '^$' -bench '^(%s)$' -benchtime %s %s`\n\n",
		bn.name, strings.TrimSuffix(strings.TrimPrefix(bn.pkg, "./"), "/"), bn.what, bn.name, bn.benchtime, bn.pkg)
	if len(rs) == 0 {
		fmt.Fprintf(b, "Not measured: %s\n\n", cmp.Or(skipped, "no result"))
		return
	}
	fmt.Fprintf(b, "| Benchmark | Runs | Figures |\n|---|---:|---|\n")
	for _, r := range rs {
		var fs []string
		for _, m := range r.metrics {
			fs = append(fs, figure(m.value)+" "+m.unit)
		}
		fmt.Fprintf(b, "| %s | %d | %s |\n", r.name, r.n, strings.Join(fs, " · "))
	}
	b.WriteString("\n")
	for _, t := range bn.targets {
		v, ok := find(rs, t.unit)
		switch {
		case !ok:
			fmt.Fprintf(b, "- Target (issue %s): %s ≤ %g — not reported\n", t.issue, t.unit, t.max)
		case v <= t.max:
			fmt.Fprintf(b, "- Target (issue %s): %s ≤ %g — **met** (%.3g)\n", t.issue, t.unit, t.max, v)
		default:
			fmt.Fprintf(b, "- Target (issue %s): %s ≤ %g — **not met** (%.3g)\n", t.issue, t.unit, t.max, v)
		}
	}
	if len(bn.targets) > 0 {
		b.WriteString("\n")
	}
}

// figure writes a value with four significant digits, or as a whole
// number from 1000 up (no exponent but for values under 1e-4).
func figure(v float64) string {
	if v >= 1000 || v <= -1000 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// find returns the first result's metric with this unit.
func find(rs []result, unit string) (float64, bool) {
	for _, r := range rs {
		for _, m := range r.metrics {
			if m.unit == unit {
				return m.value, true
			}
		}
	}
	return 0, false
}

func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func firstLine(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(strings.SplitN(string(data), "\n", 2)[0])
}

// pwshVersion is the version of the pwsh the end-to-end benchmarks use.
func pwshVersion() string {
	bin := os.Getenv("PSMUX_PWSH_BIN")
	if bin == "" {
		return "none (the end-to-end benchmarks against pwsh skip)"
	}
	out, err := exec.Command(bin, "-NoLogo", "-NoProfile", "-Command", "$PSVersionTable.PSVersion.ToString()").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

// moduleRoot is the directory of the module's go.mod, as go finds it.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not in a Go module: run it from psmux's tree")
	}
	return filepath.Dir(mod), nil
}
