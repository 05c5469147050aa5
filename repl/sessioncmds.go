package repl

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/psmux/psmux/mux"
)

// The PSSession cmdlets at the psmux prompt, with PowerShell's
// parameters: New-, Get-, Enter-, Remove-, Reconnect-PSSession and
// Invoke-Command.

// sshParams are the SSH parameters of New-PSSession, which
// Enter-PSSession -HostName and Invoke-Command -HostName share.
var sshParams = []cmdParam{
	{Name: "UserName", Help: "the user to log in as"},
	{Name: "Port", Help: "the SSH port"},
	{Name: "KeyFilePath", Aliases: []string{"IdentityFilePath"}, Help: "a private key file"},
	{Name: "Subsystem", Help: "the SSH subsystem that runs PowerShell (default powershell)"},
	{Name: "Options", Help: "@{Option='value'; …}: ssh_config options, as ssh -o"},
	{Name: "ConfigFile", Help: "an ssh_config file (default $env:PSMUX_SSH_CONFIG, else the server's)"},
	{Name: "SSHTransport", Switch: true, Help: "accepted as PowerShell has it: psmux always uses SSH"},
}

// selectParams pick sessions, as Get-PSSession's parameter sets do.
var selectParams = []cmdParam{
	{Name: "Session", Help: "sessions: names, ids, wildcards, $variables or (Get-PSSession …)"},
	{Name: "Id", Help: "session ids"},
	{Name: "Name", Help: "session names (wildcards)"},
	{Name: "InstanceId", Help: "session InstanceIds"},
	{Name: "ComputerName", Aliases: []string{"Cn"}, Help: "computer names (wildcards)"},
	{Name: "State", Help: "Opened, Broken, Closed or Opening"},
}

// newArgs are the server's arguments for a session on host.
func newArgs(host, name string, a args) (mux.NewArgs, error) {
	na := mux.NewArgs{Name: name, Dest: host, Reconnect: a.has("Reconnect")}
	if u := a.get("UserName"); u != "" {
		na.SSH = append(na.SSH, "-l", u)
	}
	if p := a.get("Port"); p != "" {
		if _, err := strconv.Atoi(p); err != nil {
			return na, fmt.Errorf("cannot bind parameter 'Port'. Cannot convert value %q to type \"System.Int32\"", p)
		}
		na.SSH = append(na.SSH, "-p", p)
	}
	abs := func(p string) string {
		if x, err := filepath.Abs(p); err == nil {
			return x
		}
		return p
	}
	if k := a.get("KeyFilePath"); k != "" {
		na.SSH = append(na.SSH, "-i", abs(k))
	}
	if s := a.get("Subsystem"); s != "" {
		na.SSH = append(na.SSH, "--subsystem", s)
	}
	cfg := a.get("ConfigFile")
	if cfg == "" {
		cfg = os.Getenv("PSMUX_SSH_CONFIG")
	}
	if cfg != "" {
		na.SSH = append(na.SSH, "-F", abs(cfg))
	}
	if o, ok := a["Options"]; ok { // a hash token: no quoted commas marked
		kv, err := hashtable(o)
		if err != nil {
			return na, fmt.Errorf("cannot bind parameter 'Options': %w", err)
		}
		for _, k := range slices.Sorted(maps.Keys(kv)) {
			na.SSH = append(na.SSH, "-o", k+"="+kv[k])
		}
	}
	return na, nil
}

// hashtable reads the inside of @{ Key = 'value'; … } (keys bare or
// quoted, values quoted or bare words).
func hashtable(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, part := range splitOutsideQuotes(s, ";\n") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("%q is not Key = 'value' (the hashtable @{Key='value'; …})", part)
		}
		out[unquote(strings.TrimSpace(k))] = unquote(strings.TrimSpace(v))
	}
	return out, nil
}

func splitOutsideQuotes(s, seps string) []string {
	var out []string
	var q rune
	start := 0
	rs := []rune(s)
	for i, c := range rs {
		switch {
		case q != 0:
			if c == q {
				q = 0
			}
		case c == '\'' || c == '"':
			q = c
		case strings.ContainsRune(seps, c):
			out = append(out, string(rs[start:i]))
			start = i + 1
		}
	}
	return append(out, string(rs[start:]))
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '\'' || s[0] == '"') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}

// localPwsh is the local PowerShell server's argv: $PSMUX_PWSH, or pwsh
// in OutOfProc server mode.
func localPwsh() []string {
	pw := os.Getenv("PSMUX_PWSH")
	if pw == "" {
		pw = "pwsh -s -NoLogo -NoProfile"
	}
	return strings.Fields(pw)
}

// open creates one session per host (PowerShell's New-PSSession
// -HostName a,b), named by -Name in order; a host that fails is said
// and the others go on.
func (r *repl) open(a args) ([]mux.Info, error) {
	if a.has("Local") {
		return r.newSession(mux.NewArgs{Name: a.get("Name"), Pwsh: localPwsh(), Reconnect: a.has("Reconnect")})
	}
	hosts, names := a.list("HostName"), a.list("Name")
	if len(hosts) == 0 {
		return nil, fmt.Errorf("repl: New-PSSession: -HostName (or -Local) is required")
	}
	if len(names) > len(hosts) {
		return nil, fmt.Errorf("repl: New-PSSession: %d names for %d hosts", len(names), len(hosts))
	}
	var rows []mux.Info
	var errs []string
	for i, h := range hosts {
		name := ""
		if i < len(names) {
			name = names[i]
		}
		na, err := newArgs(h, name, a)
		if err != nil {
			return nil, fmt.Errorf("repl: New-PSSession: %w", err)
		}
		got, err := r.newSession(na)
		if err != nil {
			errs = append(errs, fmt.Sprintf("[%s] %s", h, strings.TrimPrefix(err.Error(), "repl: ")))
			continue
		}
		rows = append(rows, got...)
	}
	if len(errs) > 0 {
		if len(rows) > 0 {
			r.printRows(rows)
			rows = nil
		}
		return rows, fmt.Errorf("repl: %s", strings.Join(errs, "\n"))
	}
	return rows, nil
}

func (r *repl) newSession(na mux.NewArgs) ([]mux.Info, error) {
	data, err := r.call("new", na, nil)
	if err != nil {
		return nil, err
	}
	var row mux.Info
	if err := json.Unmarshal(data, &row); err != nil {
		return nil, fmt.Errorf("repl: the server's session row: %w", err)
	}
	return []mux.Info{row}, nil
}

// selectSessions returns the sessions a's selectors name (every one
// when there is none), in id order. A name, id or InstanceId without
// wildcards that names no session is an error in PowerShell's words.
func (r *repl) selectSessions(a args) ([]mux.Info, error) {
	data, err := r.call("ls", nil, nil)
	if err != nil {
		return nil, err
	}
	var all []mux.Info
	if err := json.Unmarshal(data, &all); err != nil {
		return nil, fmt.Errorf("repl: the server's sessions: %w", err)
	}
	glob := func(pat, s string) bool {
		if strings.EqualFold(pat, s) {
			return true
		}
		ok, _ := path.Match(strings.ToLower(pat), strings.ToLower(s))
		return ok
	}
	type sel struct {
		param   string
		match   func(x mux.Info, v string) bool
		missing string // the error for a value without wildcards that matches nothing
	}
	sels := []sel{
		{"Session", func(x mux.Info, v string) bool {
			return glob(v, x.Name) || strconv.Itoa(x.ID) == v || strings.EqualFold(x.InstanceID, v)
		}, "The remote session with the name %s is not available."},
		{"Id", func(x mux.Info, v string) bool { return strconv.Itoa(x.ID) == v }, "The remote session with the session ID %s is not available."},
		// a $variable or ( … ) given by position passes InstanceIds
		{"Name", func(x mux.Info, v string) bool { return glob(v, x.Name) || strings.EqualFold(x.InstanceID, v) },
			"The remote session with the name %s is not available."},
		{"InstanceId", func(x mux.Info, v string) bool { return strings.EqualFold(x.InstanceID, v) }, "Remote session is not available for %s."},
		{"ComputerName", func(x mux.Info, v string) bool { return glob(v, x.ComputerName) }, ""},
		{"State", func(x mux.Info, v string) bool {
			st := x.State
			if x.Restored && st == "Opened" && strings.EqualFold(v, "Restored") {
				return true
			}
			return strings.EqualFold(st, v)
		}, ""},
	}
	keep := all
	for _, s := range sels {
		if !a.has(s.param) {
			continue
		}
		var next []mux.Info
		for _, v := range a.list(s.param) {
			found := false
			for _, x := range keep {
				if s.match(x, v) {
					found = true
					if !slices.ContainsFunc(next, func(y mux.Info) bool { return y.ID == x.ID }) {
						next = append(next, x)
					}
				}
			}
			if !found && s.missing != "" && !strings.ContainsAny(v, "*?[") {
				return nil, fmt.Errorf("repl: "+s.missing, v)
			}
		}
		keep = next
	}
	sort.Slice(keep, func(i, j int) bool { return keep[i].ID < keep[j].ID })
	return keep, nil
}

func selected(a args) bool {
	for _, p := range selectParams {
		if a.has(p.Name) {
			return true
		}
	}
	return false
}

// one is the single session a names, for the cmdlets that take one.
func (r *repl) one(cmd string, a args) (mux.Info, error) {
	if !selected(a) {
		return mux.Info{}, fmt.Errorf("repl: %s: name a session (-Name, -Id, -InstanceId or -Session)", cmd)
	}
	rows, err := r.selectSessions(a)
	switch {
	case err != nil:
		return mux.Info{}, err
	case len(rows) == 0:
		return mux.Info{}, fmt.Errorf("repl: %s: no session matches", cmd)
	case len(rows) > 1:
		var names []string
		for _, x := range rows {
			names = append(names, x.Name)
		}
		return mux.Info{}, fmt.Errorf("repl: %s: %s match; name one", cmd, strings.Join(names, ", "))
	}
	return rows[0], nil
}

// cmdEnter enters a session; with -HostName it opens a temporary one,
// removed when this client leaves it (as PowerShell removes the session
// Enter-PSSession -HostName made), kept if the client detaches.
func (r *repl) cmdEnter(a args) error {
	if a.has("HostName") {
		hosts := a.list("HostName")
		if len(hosts) != 1 {
			return fmt.Errorf("repl: Enter-PSSession: -HostName takes one host")
		}
		na, err := newArgs(hosts[0], "", a)
		if err != nil {
			return fmt.Errorf("repl: Enter-PSSession: %w", err)
		}
		rows, err := r.newSession(na)
		if err != nil {
			return err
		}
		if err := r.enter(rows[0].Name); err != nil {
			r.removeSessions([]mux.Info{rows[0]})
			return err
		}
		r.mu.Lock()
		r.temp = rows[0].Name
		r.mu.Unlock()
		return nil
	}
	x, err := r.one("Enter-PSSession", a)
	if err != nil {
		return err
	}
	return r.enter(x.Name)
}

func (r *repl) removeSessions(rows []mux.Info) error {
	if len(rows) == 0 {
		return nil
	}
	var ids []string
	for _, x := range rows {
		ids = append(ids, strconv.Itoa(x.ID))
	}
	_, err := r.call("rm", mux.TargetArgs{Target: strings.Join(ids, ",")}, nil)
	return err
}

// named are the sessions a command that needs at least one selector
// names.
func (r *repl) named(cmd string, a args) ([]mux.Info, error) {
	if !selected(a) {
		return nil, fmt.Errorf("repl: %s: name sessions (-Session, -Id, -Name or -InstanceId)", cmd)
	}
	return r.selectSessions(a)
}

func (r *repl) cmdRemove(a args) error {
	rows, err := r.named("Remove-PSSession", a)
	if err != nil {
		return err
	}
	return r.removeSessions(rows)
}

// cmdReconnect reopens Broken sessions (a new runspace, the init script
// run again), all at once.
func (r *repl) cmdReconnect(a args) error {
	rows, err := r.named("Reconnect-PSSession", a)
	if err != nil {
		return err
	}
	var ids []string
	for _, x := range rows {
		ids = append(ids, strconv.Itoa(x.ID))
	}
	data, err := r.call("reconnect", mux.TargetArgs{Target: strings.Join(ids, ",")}, nil)
	if err != nil {
		if len(rows) == 1 {
			return fmt.Errorf("repl: [%s] %s", rows[0].Name, strings.TrimPrefix(err.Error(), "repl: "))
		}
		return err
	}
	var rep mux.ReconnectReply
	_ = json.Unmarshal(data, &rep)
	r.printf("psmux: reconnected: a new runspace; variables and state from before are gone\n")
	r.printRows(rep.Sessions)
	var errs []string
	for _, f := range rep.Failed {
		errs = append(errs, fmt.Sprintf("[%s] %s", f.Name, f.Error))
	}
	if len(errs) > 0 {
		return fmt.Errorf("repl: %s", strings.Join(errs, "\n"))
	}
	return nil
}

// script is the script Invoke-Command runs: -ScriptBlock or the local
// -FilePath's text, called with -ArgumentList's values.
func invokeScript(a args) (string, error) {
	script := a.get("ScriptBlock")
	if f := a.get("FilePath"); f != "" {
		if script != "" {
			return "", fmt.Errorf("parameter set cannot be resolved using the specified named parameters: -ScriptBlock and -FilePath")
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("cannot find path '%s' because it does not exist", f)
		}
		script = string(b)
	}
	if strings.TrimSpace(script) == "" {
		return "", fmt.Errorf("-ScriptBlock (or -FilePath) is required")
	}
	if !a.has("ArgumentList") {
		return script, nil
	}
	var b strings.Builder
	b.WriteString("& {\n" + script + "\n}")
	for _, v := range a.list("ArgumentList") {
		b.WriteString(" " + literal(v))
	}
	return b.String(), nil
}

// literal is v as a PowerShell argument: numbers and $true/$false/$null
// as they are, anything else a single-quoted string.
func literal(v string) string {
	if _, err := strconv.ParseFloat(v, 64); err == nil {
		return v
	}
	switch strings.ToLower(v) {
	case "$true", "$false", "$null":
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", "''") + "'"
}

func (r *repl) cmdInvoke(a args) error {
	script, err := invokeScript(a)
	if err != nil {
		return fmt.Errorf("repl: Invoke-Command: %w", err)
	}
	hosts := a.list("HostName")
	if a.has("Session") == (len(hosts) > 0) {
		return fmt.Errorf("repl: Invoke-Command: -Session or -HostName is required (one of them)")
	}
	var rows []mux.Info
	if len(hosts) > 0 {
		if a.has("AsJob") {
			return fmt.Errorf("repl: Invoke-Command: -AsJob runs in the server's sessions: open them with New-PSSession, then -Session")
		}
		// temporary sessions, removed when the command ends, as
		// PowerShell's Invoke-Command -HostName does
		var errs []string
		for _, h := range hosts {
			na, err := newArgs(h, "", a)
			if err != nil {
				return fmt.Errorf("repl: Invoke-Command: %w", err)
			}
			got, err := r.newSession(na)
			if err != nil {
				errs = append(errs, fmt.Sprintf("[%s] %s", h, r.rend.Red(strings.TrimPrefix(err.Error(), "repl: "))))
				continue
			}
			got[0].ComputerName = h // the tag: the host as typed
			rows = append(rows, got...)
		}
		defer func() {
			_ = r.removeSessions(rows)
		}()
		for _, e := range errs {
			r.printf("%s\n", e)
		}
	} else {
		sa := args{"Session": a["Session"]}
		if rows, err = r.selectSessions(sa); err != nil {
			return err
		}
	}
	if len(rows) == 0 {
		return nil
	}
	if a.has("AsJob") {
		var ids []string
		for _, x := range rows {
			ids = append(ids, strconv.Itoa(x.ID))
		}
		return r.startJob(mux.JobArgs{Target: strings.Join(ids, ","), Script: script, Name: a.get("JobName")})
	}
	throttle := 32 // PowerShell's default ThrottleLimit
	if t := a.get("ThrottleLimit"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 0 {
			return fmt.Errorf("repl: Invoke-Command: cannot bind parameter 'ThrottleLimit': %q is not a number", t)
		}
		if n > 0 {
			throttle = n
		}
	}
	r.fanOut(rows, script, throttle, len(hosts) > 0)
	return nil
}

// startJob starts a job of the server and prints its row, and the
// reason of each child that could not start.
func (r *repl) startJob(ja mux.JobArgs) error {
	data, err := r.call("job", ja, nil)
	if err != nil {
		return err
	}
	var row mux.JobRow
	if err := json.Unmarshal(data, &row); err != nil {
		return fmt.Errorf("repl: the server's job: %w", err)
	}
	r.printJobs([]mux.JobRow{row}, false)
	for _, c := range row.Children {
		if c.Reason != "" {
			r.printf("[%s] %s\n", c.Session, r.rend.Red(c.Reason))
		}
	}
	return nil
}

// cmdStartJob runs a script block in the background in a new local
// pwsh process, as PowerShell's Start-Job does; the process ends with
// the job, which stays in the server's jobs until Remove-Job.
func (r *repl) cmdStartJob(a args) error {
	script, err := invokeScript(a)
	if err != nil {
		return fmt.Errorf("repl: Start-Job: %w", err)
	}
	return r.startJob(mux.JobArgs{Script: script, Name: a.get("Name"), Local: localPwsh()})
}

// fanOut runs script in every session, at most throttle at once, each
// line tagged [name] (the host's name for temporary sessions).
func (r *repl) fanOut(rows []mux.Info, script string, throttle int, byHost bool) {
	var mu sync.Mutex
	errs := make([]error, len(rows))
	tags := make([]string, len(rows))
	for i, x := range rows {
		tags[i] = x.Name
		if byHost {
			tags[i] = x.ComputerName
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		mux.FanOut(len(rows), throttle, func(i int) {
			if r.ctx.Err() != nil {
				return
			}
			out, _, flush := Tagged(&LockedWriter{Mu: &mu, W: r.out}, io.Discard, tags[i], true)
			rend := r.newRenderer(out)
			rend.Progress = false
			_, errs[i] = r.c.Call(r.ctx, "exec", mux.ExecArgs{Target: strconv.Itoa(rows[i].ID), Script: script}, func(e mux.Seq) { r.renderTo(rend, e) })
			rend.Finish()
			flush()
		})
	}()
	for waiting := true; waiting; {
		select {
		case <-done:
			waiting = false
		case <-r.promptNote:
			r.servePrompts()
		case <-r.sig:
			for _, x := range rows {
				go func() { _, _ = r.c.Call(r.ctx, "stop", mux.StopArgs{Target: strconv.Itoa(x.ID)}, nil) }()
			}
		}
	}
	for i, err := range errs {
		if err != nil {
			r.printf("[%s] %s\n", tags[i], r.rend.Red(err.Error()))
		}
	}
}

// printRowList prints sessions as Format-List does: every property, the
// InstanceId and the last activity among them.
func (r *repl) printRowList(rows []mux.Info) {
	for _, x := range rows {
		state := x.State
		if x.Restored && state == "Opened" {
			state = "Restored"
		}
		fields := [][2]string{
			{"Id", strconv.Itoa(x.ID)}, {"Name", x.Name}, {"InstanceId", x.InstanceID}, {"ComputerName", x.ComputerName},
			{"ComputerType", x.ComputerType}, {"UserName", x.UserName}, {"Transport", x.Transport},
			{"ConfigurationName", x.ConfigurationName}, {"State", state}, {"Availability", x.Availability},
			{"Reason", x.Reason}, {"Attached", strconv.Itoa(x.Attached)},
			{"Created", x.Created.Local().Format("2006-01-02 15:04:05")}, {"LastActivity", x.LastActivity.Local().Format("2006-01-02 15:04:05")},
		}
		r.printf("\n")
		for _, f := range fields {
			r.printf("%-17s : %s\n", f[0], f[1])
		}
	}
	if len(rows) > 0 {
		r.printf("\n")
	}
}

// printRows prints session rows as the Get-PSSession table.
func (r *repl) printRows(rows []mux.Info) {
	if r.cfg.PrintRows != nil {
		r.cfg.PrintRows(r.out, rows)
		return
	}
	for _, x := range rows {
		r.printf("%3d %-15s %-13s %s\n", x.ID, x.Name, x.State, x.Availability)
	}
}
