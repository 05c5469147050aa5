package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/psmux/psmux/sessions/capture"
	"github.com/psmux/psmux/sessions/psrp"
	"github.com/psmux/psmux/testenv/opensshd"
	req "github.com/psmux/psmux/testenv/require"
)

// Wire parity with pwsh's own client: the same scenarios are driven once
// by pwsh (Invoke-Command -HostName, Invoke-Command -AsJob + Stop-Job,
// New-PSSession/Invoke-Command -Session/Remove-PSSession, Enter-PSSession
// in tmux) and once by psmux (invoke, invoke + SIGINT, new/exec/rm, the
// REPL in tmux), both against one real sshd whose
// subsystems tee what the client sends into a file before a real
// pwsh -sshs. Both captures are decoded with package capture and compared:
// the OutOfProc packets per channel (session, each pipeline) in order and
// every field of every message. A difference fails the test unless
// docs/WIRE-PARITY.md allows it.

// The two sides and the scenarios each drives.
const (
	wireRef   = "pwsh"
	wireMux   = "psmux"
	wireAlias = "psmux-test"
)

// wirePatience bounds each wait: the test starts ten pwsh processes, up
// to four at once, on machines that may be busy.
const wirePatience = 3 * time.Minute

var wireScenarios = []string{"invoke", "stop", "session", "interactive"}

// wireMsg is one decoded message: its type and its fields flattened to
// path → JSON text.
type wireMsg struct {
	typ    string
	fields map[string]string
}

// wireChannel is the session (nil PSGuid) or one pipeline as its client
// sent it.
type wireChannel struct {
	role    string   // pipelines: see wireRole
	packets []string // "Command", "Data:CREATE_PIPELINE", "Signal", "Close", …
	msgs    []wireMsg
}

type wireCapture struct {
	session   wireChannel
	pipelines []*wireChannel
}

// readWire decodes the client → server capture at path. Only complete
// lines are read, so a capture still being written can be polled.
func readWire(path string) (*wireCapture, []error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, []error{err}
	}
	data = data[:bytes.LastIndexByte(data, '\n')+1]
	var problems []error
	byLine := map[int][]capture.Record{}
	d := capture.Decoder{Format: capture.OutOfProc, Warn: func(err error) { problems = append(problems, err) }}
	err = d.Decode(bytes.NewReader(data), func(r capture.Record) error {
		byLine[r.Pos.Line] = append(byLine[r.Pos.Line], r)
		return nil
	})
	if err != nil {
		problems = append(problems, err)
	}
	c := &wireCapture{}
	pipes := map[uuid.UUID]*wireChannel{}
	sessionClosed := false
	for i, line := range bytes.Split(data, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		p, err := psrp.ParsePacket(line)
		if err != nil {
			problems = append(problems, fmt.Errorf("line %d: %w", i+1, err))
			continue
		}
		ev := p.Kind.String()
		recs := byLine[i+1]
		if p.Kind == psrp.Data {
			var types []string
			for _, r := range recs {
				types = append(types, r.Type.String())
			}
			ev += ":" + strings.Join(types, "+")
		}
		ch := &c.session
		if p.GUID != psrp.NilGUID {
			if ch = pipes[p.GUID]; ch == nil {
				ch = &wireChannel{}
				pipes[p.GUID] = ch
				c.pipelines = append(c.pipelines, ch)
			}
			if sessionClosed {
				ev += " after the session's Close"
			}
		} else if p.Kind == psrp.Close {
			sessionClosed = true
		}
		ch.packets = append(ch.packets, ev)
		for _, r := range recs {
			m := wireMsg{typ: r.Type.String(), fields: map[string]string{}}
			if r.Err != nil {
				problems = append(problems, fmt.Errorf("line %d: %s: %w", i+1, m.typ, r.Err))
			}
			var v any
			dec := json.NewDecoder(bytes.NewReader(capture.AppendJSON(nil, r)))
			dec.UseNumber()
			if err := dec.Decode(&v); err != nil {
				problems = append(problems, fmt.Errorf("line %d: %w", i+1, err))
			}
			if rec, ok := v.(map[string]any); ok {
				flattenWire(rec["data"], "", m.fields)
			}
			ch.msgs = append(ch.msgs, m)
			if ch != &c.session && ch.role == "" {
				ch.role = wireRole(m)
			}
		}
	}
	return c, problems
}

// wireRole names a pipeline by what it runs: the first word of its first
// command ("Get-Item" for pwsh's command Get-Item with the argument / and
// for psmux's script "Get-Item /"), or the message type of a pipeline
// that is no CREATE_PIPELINE (GET_COMMAND_METADATA).
func wireRole(m wireMsg) string {
	if m.typ != "CREATE_PIPELINE" {
		return m.typ
	}
	var s string
	json.Unmarshal([]byte(m.fields["PowerShell.Cmds[0].Cmd"]), &s)
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return ""
}

// flattenWire writes v, a value of capture's faithful JSON, into out as
// path → JSON text: member sets as .Name, lists as [i], dictionaries as
// [key], type names joined.
func flattenWire(v any, path string, out map[string]string) {
	obj, ok := v.(map[string]any)
	if !ok {
		if l, ok := v.([]any); ok && len(l) == 0 {
			out[path] = "[]"
			return
		}
		b, _ := json.Marshal(v)
		out[path] = string(b)
		return
	}
	for k, e := range obj {
		switch k {
		case "MS", "Props":
			members, _ := e.(map[string]any)
			for name, m := range members {
				flattenWire(m, strings.TrimPrefix(path+"."+name, "."), out)
			}
		case "List":
			l, _ := e.([]any)
			if len(l) == 0 {
				out[path+"[]"] = "empty"
			}
			for i, x := range l {
				flattenWire(x, fmt.Sprintf("%s[%d]", path, i), out)
			}
		case "Dict":
			l, _ := e.([]any)
			if len(l) == 0 {
				out[path+"[]"] = "empty"
			}
			for _, x := range l {
				entry, _ := x.(map[string]any)
				key, _ := json.Marshal(entry["Key"])
				flattenWire(entry["Value"], path+"["+strings.Trim(string(key), `"`)+"]", out)
			}
		case "TypeNames":
			b, _ := json.Marshal(e)
			out[path+".TypeNames"] = string(b)
		default:
			flattenWire(e, strings.TrimPrefix(path+"."+k, "."), out)
		}
	}
}

// wireDiff is one difference; key is what docs/WIRE-PARITY.md's patterns
// match.
type wireDiff struct{ key, detail string }

// compareWire lists how psmux's capture of scenario differs from pwsh's.
func compareWire(scenario string, ref, got *wireCapture) []wireDiff {
	var out []wireDiff
	add := func(key, format string, args ...any) {
		out = append(out, wireDiff{scenario + " " + key, fmt.Sprintf(format, args...)})
	}
	compareChannel := func(where string, r, g *wireChannel) {
		if !slices.Equal(r.packets, g.packets) {
			add(fmt.Sprintf("%s packets pwsh %s psmux %s", where, strings.Join(r.packets, ","), strings.Join(g.packets, ",")), "")
		}
		seen := map[string]int{}
		for _, rm := range r.msgs {
			seen[rm.typ]++
			k := seen[rm.typ]
			gm := nthMsg(g.msgs, rm.typ, k)
			if gm == nil {
				continue // the packets differ already
			}
			paths := map[string]bool{}
			for p := range rm.fields {
				paths[p] = true
			}
			for p := range gm.fields {
				paths[p] = true
			}
			for _, p := range slices.Sorted(maps.Keys(paths)) {
				rv, rok := rm.fields[p]
				gv, gok := gm.fields[p]
				if rok && gok && rv == gv {
					continue
				}
				if !rok {
					rv = "(absent)"
				}
				if !gok {
					gv = "(absent)"
				}
				add(fmt.Sprintf("%s %s#%d %s", where, rm.typ, k, p), "(pwsh %s, psmux %s)", rv, gv)
			}
		}
	}
	compareChannel("session", &ref.session, &got.session)
	byRole := func(c *wireCapture) (map[string][]*wireChannel, []string) {
		m := map[string][]*wireChannel{}
		var order []string
		for _, p := range c.pipelines {
			if m[p.role] == nil {
				order = append(order, p.role)
			}
			m[p.role] = append(m[p.role], p)
		}
		return m, order
	}
	refRoles, order := byRole(ref)
	gotRoles, gotOrder := byRole(got)
	for _, role := range gotOrder {
		if refRoles[role] == nil {
			order = append(order, role)
		}
	}
	for _, role := range order {
		r, g := refRoles[role], gotRoles[role]
		for i := 0; i < max(len(r), len(g)); i++ {
			where := fmt.Sprintf("pipeline[%s #%d]", role, i+1)
			switch {
			case i >= len(g):
				add(where+" only in pwsh", "(%s)", strings.Join(r[i].packets, ","))
			case i >= len(r):
				add(where+" only in psmux", "(%s)", strings.Join(g[i].packets, ","))
			default:
				compareChannel(where, r[i], g[i])
			}
		}
	}
	return out
}

func nthMsg(msgs []wireMsg, typ string, n int) *wireMsg {
	for i := range msgs {
		if msgs[i].typ == typ {
			if n--; n == 0 {
				return &msgs[i]
			}
		}
	}
	return nil
}

// wireAllowed is one row of docs/WIRE-PARITY.md's allow-list.
type wireAllowed struct {
	pattern, status, reason string
	re                      *regexp.Regexp
}

// wireStatuses are the statuses a row of the allow-list may have.
var wireStatuses = []string{"deliberate", "harmless", "KNOWN, being fixed", "open"}

// wireAllowList reads the allow-list table of docs/WIRE-PARITY.md: rows
// "| `pattern` | status | reason |", where * in a pattern matches any text.
func wireAllowList(t *testing.T) []wireAllowed {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "docs", "WIRE-PARITY.md"))
	if err != nil {
		t.Fatal(err)
	}
	var out []wireAllowed
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cols := strings.Split(strings.Trim(line, "| "), " | ")
		if len(cols) != 3 {
			t.Fatalf("WIRE-PARITY.md: a row needs pattern, status and reason: %q", line)
		}
		a := wireAllowed{pattern: strings.Trim(cols[0], "`"), status: cols[1], reason: cols[2]}
		if !slices.Contains(wireStatuses, a.status) {
			t.Fatalf("WIRE-PARITY.md: status %q is none of %q: %q", a.status, wireStatuses, line)
		}
		a.re = regexp.MustCompile("^" + strings.ReplaceAll(regexp.QuoteMeta(a.pattern), `\*`, ".*") + "$")
		out = append(out, a)
	}
	if len(out) == 0 {
		t.Fatal("WIRE-PARITY.md: no allow-list rows")
	}
	return out
}

// wireEnv is the sshd both sides connect to and where their captures go.
type wireEnv struct {
	t      *testing.T
	dir    string
	sshd   *opensshd.Sshd
	sshBin string // a directory with an ssh that reads the test's ssh_config
}

// wireSubsystem is the sshd subsystem each side uses for scenario (pwsh's
// clients take -Subsystem, psmux --subsystem): its script tees the
// client's packets into the scenario's capture, so the scenarios can run
// at the same time.
func wireSubsystem(side, scenario string) string { return "wire-" + side + "-" + scenario }

func newWireEnv(t *testing.T, server string) *wireEnv {
	t.Helper()
	e := &wireEnv{t: t, dir: t.TempDir()}
	subs := map[string]string{"sftp": "internal-sftp"}
	for _, side := range []string{wireRef, wireMux} {
		for _, scenario := range wireScenarios {
			// The connection's end is marked for waitDone.
			n := filepath.Join(e.dir, scenario+"-"+side)
			script := fmt.Sprintf("#!/bin/sh\ntee %s.in | %s\ntouch %s.done\n", n, req.SSHS(server), n)
			path := filepath.Join(e.dir, wireSubsystem(side, scenario)+".sh")
			if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
			subs[wireSubsystem(side, scenario)] = path
		}
	}
	e.sshd = opensshd.Start(t, opensshd.Options{Subsystems: subs})
	// pwsh's client runs the system ssh, which reads ~/.ssh/config from
	// the passwd entry's home, not $HOME: an ssh earlier in PATH adds -F.
	ssh := opensshd.RequireClient(t)
	e.sshBin = filepath.Join(e.dir, "bin")
	os.Mkdir(e.sshBin, 0o700)
	wrapper := fmt.Sprintf("#!/bin/sh\nexec %s -F %s \"$@\"\n", ssh, e.sshd.SSHConfig)
	if err := os.WriteFile(filepath.Join(e.sshBin, "ssh"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	return e
}

// on returns a copy of e that reports to t (a subtest).
func (e *wireEnv) on(t *testing.T) *wireEnv {
	c := *e
	c.t = t
	return &c
}

func (e *wireEnv) path(side, scenario string) string {
	return filepath.Join(e.dir, scenario+"-"+side+".in")
}

// waitWire polls the capture of side's scenario until ok holds.
func (e *wireEnv) waitWire(side, scenario, what string, ok func(*wireCapture) bool) {
	e.t.Helper()
	deadline := time.Now().Add(wirePatience)
	size := int64(-1)
	for {
		// Decode again only when the capture grew.
		if st, err := os.Stat(e.path(side, scenario)); err == nil && st.Size() != size {
			size = st.Size()
			if c, _ := readWire(e.path(side, scenario)); c != nil && ok(c) {
				return
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s %s: waiting for %s on the wire", side, scenario, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitDone waits until the connection of side's scenario has ended.
func (e *wireEnv) waitDone(side, scenario string) {
	e.t.Helper()
	done := filepath.Join(e.dir, scenario+"-"+side+".done")
	deadline := time.Now().Add(wirePatience)
	for {
		if _, err := os.Stat(done); err == nil {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s %s: the connection did not end\n%s", side, scenario, e.sshd.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// pipelinesNamed counts c's pipelines with role.
func pipelinesNamed(c *wireCapture, role string, closed bool) int {
	n := 0
	for _, p := range c.pipelines {
		if p.role == role && (!closed || slices.Contains(p.packets, "Close")) {
			n++
		}
	}
	return n
}

// interactive types the interactive scenario into the pane w, which shows
// a remote prompt matching prompt, and leaves the session with exit; local
// matches the prompt after it.
func (e *wireEnv) interactive(x *tmuxEnv, w, side, prompt, local string) {
	e.t.Helper()
	prompts := 1
	next := func(what string) {
		e.t.Helper()
		e.waitWire(side, "interactive", fmt.Sprintf("prompt #%d after %s", prompts, what), func(c *wireCapture) bool {
			return pipelinesNamed(c, "prompt", true) >= prompts
		})
		x.waitPrompt(w, prompt)
		prompts++
	}
	next("entering")
	x.line(w, "1+1")
	next("1+1")
	x.line(w, "Get-Item /")
	next("Get-Item /")
	x.line(w, `Read-Host "your name"`)
	x.wait(w, "the Read-Host prompt", func(s string) bool { return strings.HasPrefix(lastLine(s), "your name:") })
	x.line(w, "hello")
	next("Read-Host")
	x.line(w, "Start-Sleep 30")
	e.waitWire(side, "interactive", "Start-Sleep's pipeline", func(c *wireCapture) bool {
		return pipelinesNamed(c, "Start-Sleep", false) > 0
	})
	x.keys(w, "C-c")
	next("the stop")
	x.tmux("send-keys", "-t", w, "-l", "Get-ChildI")
	x.keys(w, "Tab")
	x.wait(w, "the completion", func(s string) bool { return strings.HasSuffix(lastLine(s), "Get-ChildItem") })
	x.keys(w, "C-u")
	x.waitPrompt(w, prompt)
	x.line(w, "exit")
	x.waitPrompt(w, local)
}

// pwshBatch drives pwsh's own client through invoke and session; the
// job of the stop scenario connects while invoke runs.
func (e *wireEnv) pwshBatch(client string) {
	script := fmt.Sprintf(`$ErrorActionPreference = 'Stop'
$j = Invoke-Command -AsJob -HostName %[1]s -Subsystem %[4]s -ScriptBlock ([scriptblock]::Create('Write-Output started; Start-Sleep 30'))
Invoke-Command -HostName %[1]s -Subsystem %[2]s -ScriptBlock ([scriptblock]::Create('1+1'))
$deadline = (Get-Date).AddMinutes(3)
while (-not $j.ChildJobs[0].Output.Count -and (Get-Date) -lt $deadline) { Start-Sleep -Milliseconds 50 }
Stop-Job $j
$j.ChildJobs[0].Output
Remove-Job $j
$s = New-PSSession -HostName %[1]s -Subsystem %[3]s
Invoke-Command -Session $s -ScriptBlock ([scriptblock]::Create('1+1'))
Invoke-Command -Session $s -ScriptBlock ([scriptblock]::Create('Get-Item /')) | ForEach-Object FullName
Remove-PSSession $s
`, wireAlias, wireSubsystem(wireRef, "invoke"), wireSubsystem(wireRef, "session"), wireSubsystem(wireRef, "stop"))
	cmd := command(client, "-NoProfile", "-NonInteractive", "-c", script)
	cmd.Env = append(os.Environ(), "PATH="+e.sshBin+string(os.PathListSeparator)+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	if err != nil || string(out) != "2\nstarted\n2\n/\n" {
		e.t.Fatalf("pwsh's client: %v\n%s\n%s", err, out, e.sshd.Log())
	}
	for _, scenario := range []string{"invoke", "stop", "session"} {
		e.waitDone(wireRef, scenario)
	}
}

// pwshInteractive drives Enter-PSSession in tmux.
func (e *wireEnv) pwshInteractive(client string) {
	x := newTmux(e.t, nil)
	x.patience = wirePatience
	x.tmux("new-window", "-t", "main", "-n", "ref", fmt.Sprintf("env PATH=%s:$PATH TERM=xterm %s -NoProfile -NoLogo; sleep 600", e.sshBin, client))
	w := "main:ref"
	local := `^PS /.*> ?$`
	x.waitPrompt(w, local)
	x.line(w, "Enter-PSSession -HostName "+wireAlias+" -Subsystem "+wireSubsystem(wireRef, "interactive"))
	e.interactive(x, w, wireRef, `^\[`+wireAlias+`\]: PS .*> ?$`, local)
	e.waitDone(wireRef, "interactive")
}

// psmuxBatch drives psmux invoke and a server session through invoke and
// session.
func (e *wireEnv) psmuxBatch() {
	t := e.t
	ssh := func(scenario string) []string {
		return []string{"--subsystem", wireSubsystem(wireMux, scenario), "-F", e.sshd.SSHConfig, wireAlias}
	}
	r := psmuxRun(t, nil, append(append([]string{"invoke"}, ssh("invoke")...), "--", "1+1")...)
	if r.code != 0 || r.stdout != "2\n" {
		t.Fatalf("psmux invoke: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}

	// Ctrl-C once the command runs.
	invokeInterrupted(t, ssh("stop")...)

	m := newMuxEnv(t)
	m.must(append([]string{"new", "-n", "s1"}, ssh("session")...)...)
	if r := m.must("exec", "-t", "s1", "--", "1+1"); r.stdout != "2\n" {
		t.Fatalf("exec 1+1: %q", r.stdout)
	}
	if r := m.must("exec", "-t", "s1", "--", "Get-Item /"); !strings.Contains(r.stdout, "drwx") {
		t.Fatalf("exec Get-Item /: %q", r.stdout)
	}
	m.must("rm", "-t", "s1")
	// Each scenario's pwsh exits while the next one runs.
	for _, scenario := range []string{"invoke", "stop", "session"} {
		e.waitDone(wireMux, scenario)
	}
}

// psmuxInteractive drives the REPL in tmux.
func (e *wireEnv) psmuxInteractive() {
	x := newTmux(e.t, e.sshd)
	x.patience = wirePatience
	w := x.start("repl")
	x.waitPrompt(w, `^PS psmux>$`)
	x.line(w, "New-PSSession -HostName "+wireAlias+" -Subsystem "+wireSubsystem(wireMux, "interactive")+" -Name w1")
	x.waitPrompt(w, `^PS psmux>$`)
	x.line(w, "Enter-PSSession w1")
	e.interactive(x, w, wireMux, w1Prompt, `^PS psmux>$`)
	x.m.must("rm", "-t", "w1")
	e.waitDone(wireMux, "interactive")
}

func TestWireParityPwsh(t *testing.T) {
	opensshd.Require(t)
	req.Tool(t, req.Tmux, "tmux", "apt-get install tmux")
	server := realPwsh(t)
	if server == "" {
		t.Skip("no real pwsh")
	}
	client := req.PwshBin()
	if client == "" {
		req.Missing(t, req.Pwsh, "no pwsh launcher for the reference client")
	}
	allowed := wireAllowList(t)
	e := newWireEnv(t, server)
	t.Run("capture", func(t *testing.T) {
		for name, drive := range map[string]func(e *wireEnv){
			"pwsh-batch":        func(e *wireEnv) { e.pwshBatch(client) },
			"pwsh-interactive":  func(e *wireEnv) { e.pwshInteractive(client) },
			"psmux-batch":       (*wireEnv).psmuxBatch,
			"psmux-interactive": (*wireEnv).psmuxInteractive,
		} {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				drive(e.on(t))
			})
		}
	})
	if t.Failed() {
		return
	}
	used := make([]int, len(allowed))
	example := make([]string, len(allowed))
	for _, scenario := range wireScenarios {
		caps := map[string]*wireCapture{}
		for _, side := range []string{wireRef, wireMux} {
			c, problems := readWire(e.path(side, scenario))
			for _, p := range problems {
				t.Errorf("%s %s: %v", side, scenario, p)
			}
			caps[side] = c
		}
		if caps[wireRef] == nil || caps[wireMux] == nil {
			continue
		}
		for _, d := range compareWire(scenario, caps[wireRef], caps[wireMux]) {
			i := slices.IndexFunc(allowed, func(a wireAllowed) bool { return a.re.MatchString(d.key) })
			if i < 0 {
				t.Errorf("wire difference not in docs/WIRE-PARITY.md: %s %s", d.key, d.detail)
				continue
			}
			if used[i]++; used[i] == 1 {
				example[i] = d.key + " " + d.detail
			}
		}
	}
	for i, a := range allowed {
		if used[i] > 0 {
			t.Logf("allowed (%s) %dx %s, e.g. %s", a.status, used[i], a.pattern, example[i])
		} else {
			t.Errorf("docs/WIRE-PARITY.md allows %s (%s), which no longer differs: remove the row", strconv.Quote(a.pattern), a.status)
		}
	}
}
