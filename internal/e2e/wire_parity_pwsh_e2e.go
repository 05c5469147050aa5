package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
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
	WireRef   = "pwsh"
	WireMux   = "psmux"
	WireAlias = "psmux-test"
)

// WirePatience bounds each wait: the test starts ten pwsh processes, up
// to four at once, on machines that may be busy.
const WirePatience = 3 * time.Minute

var WireScenarios = []string{"invoke", "stop", "session", "interactive"}

// WireMsg is one decoded message: its type and its fields flattened to
// Path → JSON text.
type WireMsg struct {
	Typ    string
	Fields map[string]string
}

// WireChannel is the session (nil PSGuid) or one pipeline as its client
// sent it.
type WireChannel struct {
	Role    string   // pipelines: see wireRole
	Packets []string // "Command", "Data:CREATE_PIPELINE", "Signal", "Close", …
	Msgs    []WireMsg
}

type WireCapture struct {
	Session   WireChannel
	Pipelines []*WireChannel
}

// ReadWire decodes the client → server capture at path. Only complete
// lines are read, so a capture still being written can be polled.
func ReadWire(path string) (*WireCapture, []error) {
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
	c := &WireCapture{}
	pipes := map[uuid.UUID]*WireChannel{}
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
		ch := &c.Session
		if p.GUID != psrp.NilGUID {
			if ch = pipes[p.GUID]; ch == nil {
				ch = &WireChannel{}
				pipes[p.GUID] = ch
				c.Pipelines = append(c.Pipelines, ch)
			}
			if sessionClosed {
				ev += " after the session's Close"
			}
		} else if p.Kind == psrp.Close {
			sessionClosed = true
		}
		ch.Packets = append(ch.Packets, ev)
		for _, r := range recs {
			m := WireMsg{Typ: r.Type.String(), Fields: map[string]string{}}
			if r.Err != nil {
				problems = append(problems, fmt.Errorf("line %d: %s: %w", i+1, m.Typ, r.Err))
			}
			var v any
			dec := json.NewDecoder(bytes.NewReader(capture.AppendJSON(nil, r)))
			dec.UseNumber()
			if err := dec.Decode(&v); err != nil {
				problems = append(problems, fmt.Errorf("line %d: %w", i+1, err))
			}
			if rec, ok := v.(map[string]any); ok {
				FlattenWire(rec["data"], "", m.Fields)
			}
			ch.Msgs = append(ch.Msgs, m)
			if ch != &c.Session && ch.Role == "" {
				ch.Role = WireRole(m)
			}
		}
	}
	return c, problems
}

// WireRole names a pipeline by what it runs: the first word of its first
// command ("Get-Item" for pwsh's command Get-Item with the argument / and
// for psmux's script "Get-Item /"), or the message type of a pipeline
// that is no CREATE_PIPELINE (GET_COMMAND_METADATA).
func WireRole(m WireMsg) string {
	if m.Typ != "CREATE_PIPELINE" {
		return m.Typ
	}
	var s string
	json.Unmarshal([]byte(m.Fields["PowerShell.Cmds[0].Cmd"]), &s)
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return ""
}

// FlattenWire writes v, a value of capture's faithful JSON, into out as
// Path → JSON text: member sets as .Name, lists as [i], dictionaries as
// [key], type names joined.
func FlattenWire(v any, path string, out map[string]string) {
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
				FlattenWire(m, strings.TrimPrefix(path+"."+name, "."), out)
			}
		case "List":
			l, _ := e.([]any)
			if len(l) == 0 {
				out[path+"[]"] = "empty"
			}
			for i, x := range l {
				FlattenWire(x, fmt.Sprintf("%s[%d]", path, i), out)
			}
		case "Dict":
			l, _ := e.([]any)
			if len(l) == 0 {
				out[path+"[]"] = "empty"
			}
			for _, x := range l {
				entry, _ := x.(map[string]any)
				key, _ := json.Marshal(entry["Key"])
				FlattenWire(entry["Value"], path+"["+strings.Trim(string(key), `"`)+"]", out)
			}
		case "TypeNames":
			b, _ := json.Marshal(e)
			out[path+".TypeNames"] = string(b)
		default:
			FlattenWire(e, strings.TrimPrefix(path+"."+k, "."), out)
		}
	}
}

// WireDiff is one difference; key is what docs/WIRE-PARITY.md's patterns
// match.
type WireDiff struct{ Key, Detail string }

// CompareWire lists how psmux's capture of scenario differs from pwsh's.
func CompareWire(scenario string, ref, got *WireCapture) []WireDiff {
	var out []WireDiff
	add := func(key, format string, args ...any) {
		out = append(out, WireDiff{scenario + " " + key, fmt.Sprintf(format, args...)})
	}
	compareChannel := func(where string, r, g *WireChannel) {
		if !slices.Equal(r.Packets, g.Packets) {
			add(fmt.Sprintf("%s packets pwsh %s psmux %s", where, strings.Join(r.Packets, ","), strings.Join(g.Packets, ",")), "")
		}
		seen := map[string]int{}
		for _, rm := range r.Msgs {
			seen[rm.Typ]++
			k := seen[rm.Typ]
			gm := NthMsg(g.Msgs, rm.Typ, k)
			if gm == nil {
				continue // the packets differ already
			}
			paths := map[string]bool{}
			for p := range rm.Fields {
				paths[p] = true
			}
			for p := range gm.Fields {
				paths[p] = true
			}
			for _, p := range slices.Sorted(maps.Keys(paths)) {
				rv, rok := rm.Fields[p]
				gv, gok := gm.Fields[p]
				if rok && gok && rv == gv {
					continue
				}
				if !rok {
					rv = "(absent)"
				}
				if !gok {
					gv = "(absent)"
				}
				add(fmt.Sprintf("%s %s#%d %s", where, rm.Typ, k, p), "(pwsh %s, psmux %s)", rv, gv)
			}
		}
	}
	compareChannel("session", &ref.Session, &got.Session)
	byRole := func(c *WireCapture) (map[string][]*WireChannel, []string) {
		m := map[string][]*WireChannel{}
		var order []string
		for _, p := range c.Pipelines {
			if m[p.Role] == nil {
				order = append(order, p.Role)
			}
			m[p.Role] = append(m[p.Role], p)
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
				add(where+" only in pwsh", "(%s)", strings.Join(r[i].Packets, ","))
			case i >= len(r):
				add(where+" only in psmux", "(%s)", strings.Join(g[i].Packets, ","))
			default:
				compareChannel(where, r[i], g[i])
			}
		}
	}
	return out
}

func NthMsg(msgs []WireMsg, typ string, n int) *WireMsg {
	for i := range msgs {
		if msgs[i].Typ == typ {
			if n--; n == 0 {
				return &msgs[i]
			}
		}
	}
	return nil
}

// WireAllowed is one row of docs/WIRE-PARITY.md's allow-list.
type WireAllowed struct {
	Pattern, Status, Reason string
	Re                      *regexp.Regexp
}

// WireStatuses are the statuses a row of the allow-list may have.
var WireStatuses = []string{"deliberate", "harmless", "harmless, timing", "KNOWN, being fixed", "open"}

// WireAllowList reads the allow-list table of docs/WIRE-PARITY.md: rows
// "| `pattern` | status | reason |", where * in a pattern matches any text.
func WireAllowList(t *testing.T) []WireAllowed {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(Root(), "docs", "WIRE-PARITY.md"))
	if err != nil {
		t.Fatal(err)
	}
	var out []WireAllowed
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cols := strings.Split(strings.Trim(line, "| "), " | ")
		if len(cols) != 3 {
			t.Fatalf("WIRE-PARITY.md: a row needs pattern, status and reason: %q", line)
		}
		a := WireAllowed{Pattern: strings.Trim(cols[0], "`"), Status: cols[1], Reason: cols[2]}
		if !slices.Contains(WireStatuses, a.Status) {
			t.Fatalf("WIRE-PARITY.md: status %q is none of %q: %q", a.Status, WireStatuses, line)
		}
		a.Re = regexp.MustCompile("^" + strings.ReplaceAll(regexp.QuoteMeta(a.Pattern), `\*`, ".*") + "$")
		out = append(out, a)
	}
	if len(out) == 0 {
		t.Fatal("WIRE-PARITY.md: no allow-list rows")
	}
	return out
}

// WireEnv is the sshd both sides connect to and where their captures go.
type WireEnv struct {
	T      *testing.T
	Dir    string
	Sshd   *opensshd.Sshd
	SshBin string // a directory with an ssh that reads the test's ssh_config
}

// WireSubsystem is the sshd subsystem each side uses for scenario (pwsh's
// clients take -Subsystem, psmux --subsystem): its script tees the
// client's packets into the scenario's capture, so the scenarios can run
// at the same time.
func WireSubsystem(side, scenario string) string { return "wire-" + side + "-" + scenario }

func NewWireEnv(t *testing.T, server string) *WireEnv {
	t.Helper()
	e := &WireEnv{T: t, Dir: t.TempDir()}
	subs := map[string]string{"sftp": "internal-sftp"}
	for _, side := range []string{WireRef, WireMux} {
		for _, scenario := range WireScenarios {
			// The connection's end is marked for waitDone.
			n := filepath.Join(e.Dir, scenario+"-"+side)
			script := fmt.Sprintf("#!/bin/sh\ntee %s.in | %s\ntouch %s.done\n", n, req.SSHS(server), n)
			path := filepath.Join(e.Dir, WireSubsystem(side, scenario)+".sh")
			if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
			subs[WireSubsystem(side, scenario)] = path
		}
	}
	e.Sshd = opensshd.Start(t, opensshd.Options{Subsystems: subs})
	// pwsh's client runs the system ssh, which reads ~/.ssh/config from
	// the passwd entry's home, not $HOME: an ssh earlier in PATH adds -F.
	ssh := opensshd.RequireClient(t)
	e.SshBin = filepath.Join(e.Dir, "bin")
	os.Mkdir(e.SshBin, 0o700)
	wrapper := fmt.Sprintf("#!/bin/sh\nexec %s -F %s \"$@\"\n", ssh, e.Sshd.SSHConfig)
	if err := os.WriteFile(filepath.Join(e.SshBin, "ssh"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	return e
}

// On returns a copy of e that reports to t (a subtest).
func (e *WireEnv) On(t *testing.T) *WireEnv {
	c := *e
	c.T = t
	return &c
}

func (e *WireEnv) Path(side, scenario string) string {
	return filepath.Join(e.Dir, scenario+"-"+side+".in")
}

// WaitWire polls the capture of side's scenario until ok holds.
func (e *WireEnv) WaitWire(side, scenario, what string, ok func(*WireCapture) bool) {
	e.T.Helper()
	deadline := time.Now().Add(WirePatience)
	size := int64(-1)
	for {
		// Decode again only when the capture grew.
		if st, err := os.Stat(e.Path(side, scenario)); err == nil && st.Size() != size {
			size = st.Size()
			if c, _ := ReadWire(e.Path(side, scenario)); c != nil && ok(c) {
				return
			}
		}
		if time.Now().After(deadline) {
			e.T.Fatalf("%s %s: waiting for %s on the wire", side, scenario, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// WaitDone waits until the connection of side's scenario has ended.
func (e *WireEnv) WaitDone(side, scenario string) {
	e.T.Helper()
	done := filepath.Join(e.Dir, scenario+"-"+side+".done")
	deadline := time.Now().Add(WirePatience)
	for {
		if _, err := os.Stat(done); err == nil {
			return
		}
		if time.Now().After(deadline) {
			e.T.Fatalf("%s %s: the connection did not end\n%s", side, scenario, e.Sshd.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// PipelinesNamed counts c's pipelines with role.
func PipelinesNamed(c *WireCapture, role string, closed bool) int {
	n := 0
	for _, p := range c.Pipelines {
		if p.Role == role && (!closed || slices.Contains(p.Packets, "Close")) {
			n++
		}
	}
	return n
}

// Interactive types the interactive scenario into the pane w, which shows
// a remote prompt matching prompt, and leaves the session with exit; local
// matches the prompt after it.
func (e *WireEnv) Interactive(x *TmuxEnv, w, side, prompt, local string) {
	e.T.Helper()
	prompts := 1
	next := func(what string) {
		e.T.Helper()
		e.WaitWire(side, "interactive", fmt.Sprintf("prompt #%d after %s", prompts, what), func(c *WireCapture) bool {
			return PipelinesNamed(c, "prompt", true) >= prompts
		})
		x.WaitPrompt(w, prompt)
		prompts++
	}
	next("entering")
	x.Line(w, "1+1")
	next("1+1")
	x.Line(w, "Get-Item /")
	next("Get-Item /")
	x.Line(w, `Read-Host "your name"`)
	x.Wait(w, "the Read-Host prompt", func(s string) bool { return strings.HasPrefix(LastLine(s), "your name:") })
	x.Line(w, "hello")
	next("Read-Host")
	x.Line(w, "Start-Sleep 30")
	e.WaitWire(side, "interactive", "Start-Sleep's pipeline", func(c *WireCapture) bool {
		return PipelinesNamed(c, "Start-Sleep", false) > 0
	})
	x.Keys(w, "C-c")
	next("the stop")
	x.Tmux("send-keys", "-t", w, "-l", "Get-ChildI")
	x.Keys(w, "Tab")
	x.Wait(w, "the completion", func(s string) bool { return strings.HasSuffix(LastLine(s), "Get-ChildItem") })
	x.Keys(w, "C-u")
	x.WaitPrompt(w, prompt)
	x.Line(w, "exit")
	x.WaitPrompt(w, local)
}

// PwshBatch drives pwsh's own client through invoke and session; the
// job of the stop scenario connects while invoke runs.
func (e *WireEnv) PwshBatch(client string) {
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
`, WireAlias, WireSubsystem(WireRef, "invoke"), WireSubsystem(WireRef, "session"), WireSubsystem(WireRef, "stop"))
	cmd := Command(client, "-NoProfile", "-NonInteractive", "-c", script)
	cmd.Env = append(os.Environ(), "PATH="+e.SshBin+string(os.PathListSeparator)+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	if err != nil || string(out) != "2\nstarted\n2\n/\n" {
		e.T.Fatalf("pwsh's client: %v\n%s\n%s", err, out, e.Sshd.Log())
	}
	for _, scenario := range []string{"invoke", "stop", "session"} {
		e.WaitDone(WireRef, scenario)
	}
}

// PwshInteractive drives Enter-PSSession in tmux.
func (e *WireEnv) PwshInteractive(client string) {
	x := NewTmux(e.T, nil)
	x.Patience = WirePatience
	x.Tmux("new-window", "-t", "main", "-n", "ref", fmt.Sprintf("env PATH=%s:$PATH TERM=xterm %s -NoProfile -NoLogo; sleep 600", e.SshBin, client))
	w := "main:ref"
	local := `^PS /.*> ?$`
	x.WaitPrompt(w, local)
	x.Line(w, "Enter-PSSession -HostName "+WireAlias+" -Subsystem "+WireSubsystem(WireRef, "interactive"))
	e.Interactive(x, w, WireRef, `^\[`+WireAlias+`\]: PS .*> ?$`, local)
	e.WaitDone(WireRef, "interactive")
}

// PsmuxBatch drives psmux invoke and a server session through invoke and
// Session.
func (e *WireEnv) PsmuxBatch() {
	t := e.T
	ssh := func(scenario string) []string {
		return []string{"--subsystem", WireSubsystem(WireMux, scenario), "-F", e.Sshd.SSHConfig, WireAlias}
	}
	r := PsmuxRun(t, nil, append(append([]string{"invoke"}, ssh("invoke")...), "--", "1+1")...)
	if r.Code != 0 || r.Stdout != "2\n" {
		t.Fatalf("psmux invoke: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}

	// Ctrl-C once the command runs.
	InvokeInterrupted(t, ssh("stop")...)

	m := NewMuxEnv(t)
	m.Must(append([]string{"new", "-n", "s1"}, ssh("session")...)...)
	if r := m.Must("exec", "-t", "s1", "--", "1+1"); r.Stdout != "2\n" {
		t.Fatalf("exec 1+1: %q", r.Stdout)
	}
	if r := m.Must("exec", "-t", "s1", "--", "Get-Item /"); !strings.Contains(r.Stdout, "drwx") {
		t.Fatalf("exec Get-Item /: %q", r.Stdout)
	}
	m.Must("rm", "-t", "s1")
	// Each scenario's pwsh exits while the next one runs.
	for _, scenario := range []string{"invoke", "stop", "session"} {
		e.WaitDone(WireMux, scenario)
	}
}

// PsmuxInteractive drives the REPL in tmux.
func (e *WireEnv) PsmuxInteractive() {
	x := NewTmux(e.T, e.Sshd)
	x.Patience = WirePatience
	w := x.Start("repl")
	x.WaitPrompt(w, `^PS psmux>$`)
	x.Line(w, "New-PSSession -HostName "+WireAlias+" -Subsystem "+WireSubsystem(WireMux, "interactive")+" -Name w1")
	x.WaitPrompt(w, `^PS psmux>$`)
	x.Line(w, "Enter-PSSession w1")
	e.Interactive(x, w, WireMux, W1Prompt, `^PS psmux>$`)
	x.M.Must("rm", "-t", "w1")
	e.WaitDone(WireMux, "interactive")
}
