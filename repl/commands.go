package repl

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/psmux/psmux/mux"
)

// param is one parameter of a psmux command.
type cmdParam struct {
	Name    string
	Aliases []string
	Switch  bool // takes no value
	Help    string
}

// command is one PowerShell-style command the REPL handles itself. The
// one table serves parsing, help and Tab completion.
type command struct {
	Name       string
	Aliases    []string
	Params     []cmdParam
	Positional []string // parameter names bound by position, in order
	Help       string
	Run        func(r *repl, a args) error
	// Value, for the commands whose output is sessions (New-PSSession,
	// Get-PSSession): what $s = … keeps, (…) passes and a pipeline
	// gives to Format-List or Remove-PSSession.
	Value func(r *repl, a args) ([]mux.Info, error)
}

// args are a parsed command line: parameter values by canonical name.
type args map[string]string

func (a args) has(n string) bool { _, ok := a[n]; return ok }

// positional is the key parse sets beside a parameter bound by
// position, for the commands that bind a word differently there.
func positional(n string) string { return "\x00pos:" + n }

// get is a parameter's value as typed (a comma in quotes included).
func (a args) get(n string) string { return strings.ReplaceAll(a[n], litComma, ",") }

// list splits a comma list value; a comma inside quotes ('a,b') does
// not split.
func (a args) list(n string) []string {
	var out []string
	for _, s := range strings.Split(a[n], ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, strings.ReplaceAll(s, litComma, ","))
		}
	}
	return out
}

func commandTable() []command {
	return []command{
		{Name: "New-PSSession", Aliases: []string{"nsn"}, Help: "open sessions in the server, one per host, and print their rows",
			Params: slices.Concat([]cmdParam{{Name: "HostName", Help: "[user@]host[:port] or an ssh_config alias; several: a,b"},
				{Name: "Name", Help: "the sessions' names, in the hosts' order"}}, sshParams,
				[]cmdParam{{Name: "Local", Switch: true, Help: "a local pwsh ($PSMUX_PWSH)"},
					{Name: "Reconnect", Switch: true, Help: "the server reopens the session by itself when its link breaks"}}),
			Positional: []string{"HostName"}, Value: (*repl).open},
		{Name: "Get-PSSession", Aliases: []string{"gsn"}, Help: "the server's sessions (-Full: every property, as Format-List)",
			Params:     slices.Concat(selectParams[1:], []cmdParam{{Name: "Full", Switch: true, Help: "every property, InstanceId and LastActivity among them"}}),
			Positional: []string{"Name"}, Value: (*repl).selectSessions},
		{Name: "Enter-PSSession", Aliases: []string{"etsn"}, Help: "enter a session (C-b d detaches, Ctrl-D or exit leaves); -HostName: a temporary one, removed on leaving",
			Params:     slices.Concat([]cmdParam{{Name: "Name"}, {Name: "Id"}, {Name: "InstanceId"}, {Name: "Session"}, {Name: "HostName", Help: "open a temporary session on this host"}}, sshParams),
			Positional: []string{"Name"}, Run: (*repl).cmdEnter},
		{Name: "Exit-PSSession", Aliases: []string{"exsn", "exit"}, Help: "leave the session; at the local prompt, quit", Run: (*repl).cmdExit},
		{Name: "Remove-PSSession", Aliases: []string{"rsn"}, Help: "close sessions and remove them from the server",
			Params: selectParams[:5], Positional: []string{"Session"}, Run: (*repl).cmdRemove},
		{Name: "Reconnect-PSSession", Help: "reopen Broken sessions: a new runspace, the init script run again",
			Params: selectParams[:4], Positional: []string{"Session"}, Run: (*repl).cmdReconnect},
		{Name: "Disconnect-PSSession", Help: "sessions stay connected in the server; shows the row (C-b d detaches this client)",
			Params: selectParams[:4], Positional: []string{"Name"}, Run: (*repl).cmdDisconnect},
		{Name: "Connect-PSSession", Help: "show a session's row; it is connected in the server (Enter-PSSession to use it)",
			Params: selectParams[:4], Positional: []string{"Name"}, Run: (*repl).cmdConnect},
		{Name: "Receive-PSSession", Help: "print a session's output log (what ran while you were away)",
			Params: selectParams[:4], Positional: []string{"Name"}, Run: (*repl).cmdReceive},
		{Name: "Invoke-Command", Aliases: []string{"icm"}, Help: "run a script block in sessions (or temporary ones on -HostName), output tagged [name]",
			Params: slices.Concat([]cmdParam{{Name: "ScriptBlock", Help: "{ … }"}, {Name: "Session", Help: "sessions: names, ids, wildcards, $variables or (Get-PSSession …)"},
				{Name: "HostName", Help: "hosts for temporary sessions, removed when the command ends"},
				{Name: "FilePath", Help: "a local script file to run instead of -ScriptBlock"},
				{Name: "ArgumentList", Aliases: []string{"Args"}, Help: "values for the script block's parameters"},
				{Name: "ThrottleLimit", Help: "run in at most this many sessions at once (default 32)"},
				{Name: "AsJob", Switch: true, Help: "a job of the server instead: Get-Job, Receive-Job"}, {Name: "JobName"}}, sshParams),
			Positional: []string{"ScriptBlock"}, Run: (*repl).cmdInvoke},
		{Name: "Start-Job", Aliases: []string{"sajb"}, Help: "run a script block in the background in a new local pwsh ($PSMUX_PWSH), a job of the server",
			Params: []cmdParam{{Name: "ScriptBlock", Help: "{ … }"}, {Name: "FilePath", Help: "a local script file to run instead of -ScriptBlock"},
				{Name: "ArgumentList", Aliases: []string{"Args"}, Help: "values for the script block's parameters"}, {Name: "Name", Help: "the job's name (default Job<Id>)"}},
			Positional: []string{"ScriptBlock"}, Run: (*repl).cmdStartJob},
		{Name: "Get-Job", Aliases: []string{"gjb"}, Help: "the server's jobs (Invoke-Command -AsJob, exec --async), from any client",
			Params: []cmdParam{{Name: "Id"}, {Name: "Name"}, {Name: "IncludeChildJob", Switch: true}}, Positional: []string{"Id"}, Run: (*repl).cmdGetJob},
		{Name: "Receive-Job", Aliases: []string{"rcjb"}, Help: "print what jobs produced since they were last received",
			Params:     []cmdParam{{Name: "Id"}, {Name: "Name"}, {Name: "Keep", Switch: true, Help: "receive it again later"}, {Name: "Wait", Switch: true}},
			Positional: []string{"Id"}, Run: (*repl).cmdReceiveJob},
		{Name: "Wait-Job", Aliases: []string{"wjb"}, Help: "wait until jobs end", Params: []cmdParam{{Name: "Id"}, {Name: "Name"}}, Positional: []string{"Id"}, Run: (*repl).cmdWaitJob},
		{Name: "Stop-Job", Aliases: []string{"spjb"}, Help: "stop jobs", Params: []cmdParam{{Name: "Id"}, {Name: "Name"}}, Positional: []string{"Id"}, Run: (*repl).cmdStopJob},
		{Name: "Remove-Job", Aliases: []string{"rjb"}, Help: "forget jobs (a running one only with -Force)",
			Params: []cmdParam{{Name: "Id"}, {Name: "Name"}, {Name: "Force", Switch: true}}, Positional: []string{"Id"}, Run: (*repl).cmdRemoveJob},
		{Name: "Copy-Item", Aliases: []string{"cp"}, Help: "copy a file to or from a session (SFTP; over the session itself when the host has no sftp subsystem)",
			Params:     []cmdParam{{Name: "Path"}, {Name: "Destination"}, {Name: "ToSession"}, {Name: "FromSession"}},
			Positional: []string{"Path", "Destination"}, Run: (*repl).cmdCopy},
		{Name: "Clear-Host", Aliases: []string{"cls", "clear"}, Help: "clear the screen", Run: (*repl).cmdClear},
		{Name: "Get-Help", Aliases: []string{"help", "?"}, Help: "this list; Get-Help NAME (or NAME -?) shows a command's parameters",
			Params: []cmdParam{{Name: "Name"}}, Positional: []string{"Name"}, Run: (*repl).cmdHelp},
	}
}

// lookup finds the command a line starts with.
func lookup(cmds []command, word string) *command {
	for i := range cmds {
		c := &cmds[i]
		if strings.EqualFold(c.Name, word) {
			return c
		}
		for _, a := range c.Aliases {
			if strings.EqualFold(a, word) {
				return c
			}
		}
	}
	return nil
}

// parse binds the tokens after the command name to its parameters:
// -Name value, -Switch, a unique prefix of a name, or by position.
func (c *command) parse(toks []token) (args, error) {
	a := args{}
	pos := 0
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if t.param {
			p, err := c.param(t.text)
			if err != nil {
				return nil, err
			}
			if p.Switch {
				a[p.Name] = "true"
				if i+1 < len(toks) && toks[i+1].colon { // -AsJob:$true, -AsJob:$false
					i++
					if strings.EqualFold(toks[i].text, "$false") {
						delete(a, p.Name)
					}
				}
				continue
			}
			if i+1 >= len(toks) {
				return nil, fmt.Errorf("missing an argument for parameter '%s'", p.Name)
			}
			i++
			a[p.Name] = toks[i].text
			continue
		}
		for pos < len(c.Positional) && a.has(c.Positional[pos]) {
			pos++
		}
		if pos >= len(c.Positional) {
			return nil, fmt.Errorf("a positional parameter cannot be found that accepts argument '%s'", t.text)
		}
		a[c.Positional[pos]] = t.text
		a[positional(c.Positional[pos])] = "true"
		pos++
	}
	return a, nil
}

func (c *command) param(name string) (cmdParam, error) {
	var found []cmdParam
	for _, p := range c.Params {
		if strings.EqualFold(p.Name, name) {
			return p, nil
		}
		for _, al := range p.Aliases {
			if strings.EqualFold(al, name) {
				return p, nil
			}
		}
		if strings.HasPrefix(strings.ToLower(p.Name), strings.ToLower(name)) {
			found = append(found, p)
		}
	}
	if len(found) == 1 {
		return found[0], nil
	}
	if len(found) > 1 {
		return cmdParam{}, fmt.Errorf("parameter cannot be processed because the parameter name '%s' is ambiguous", name)
	}
	return cmdParam{}, fmt.Errorf("a parameter cannot be found that matches parameter name '%s'", name)
}

func printHelp(w io.Writer, cmds []command) {
	for _, c := range cmds {
		fmt.Fprintf(w, "%-20s %s\n", c.Name, c.Help)
		if syn := c.syntax(); syn != "" {
			fmt.Fprintf(w, "%-20s %s\n", "", syn)
		}
	}
	fmt.Fprintln(w, "Get-Help NAME or NAME -? shows a command's parameters. $s = New-PSSession … keeps sessions for -Session $s.")
	fmt.Fprintln(w, "Keys: Tab completes, Ctrl-C stops the running command, C-b d detaches, Ctrl-D leaves a session.")
}

// syntax is the command's parameters in one line, as Get-Help's SYNTAX.
func (c *command) syntax() string {
	var ps []string
	for _, p := range c.Params {
		if p.Switch {
			ps = append(ps, "[-"+p.Name+"]")
		} else {
			ps = append(ps, "[-"+p.Name+" <value>]")
		}
	}
	return strings.Join(ps, " ")
}

// printCommandHelp is Get-Help NAME: the synopsis, the syntax, the
// aliases and a line per parameter.
func printCommandHelp(w io.Writer, c *command) {
	fmt.Fprintf(w, "\nNAME\n    %s\n\nSYNOPSIS\n    %s\n\nSYNTAX\n    %s %s\n", c.Name, c.Help, c.Name, c.syntax())
	if len(c.Aliases) > 0 {
		fmt.Fprintf(w, "\nALIASES\n    %s\n", strings.Join(c.Aliases, ", "))
	}
	if len(c.Params) > 0 {
		fmt.Fprintf(w, "\nPARAMETERS\n")
		for _, p := range c.Params {
			name := "-" + p.Name
			if len(p.Aliases) > 0 {
				name += " (alias -" + strings.Join(p.Aliases, ", -") + ")"
			}
			if pos := slices.Index(c.Positional, p.Name); pos >= 0 {
				name += fmt.Sprintf(" [position %d]", pos)
			}
			fmt.Fprintf(w, "    %s\n", name)
			if p.Help != "" {
				fmt.Fprintf(w, "        %s\n", p.Help)
			}
		}
	}
	fmt.Fprintln(w)
}

// completeLocal completes the word before pos at the local prompt:
// command names, then the command's parameters, then session names.
func completeLocal(cmds []command, line string, pos int, sessions func() []string) (start int, matches []string) {
	rs := []rune(line)
	pos = min(pos, len(rs))
	start = pos
	for start > 0 && rs[start-1] != ' ' {
		start--
	}
	word := string(rs[start:pos])
	before := strings.Fields(string(rs[:start]))
	lw := strings.ToLower(word)
	if len(before) == 0 {
		for _, c := range cmds {
			if strings.HasPrefix(strings.ToLower(c.Name), lw) {
				matches = append(matches, c.Name)
			}
		}
		return start, matches
	}
	c := lookup(cmds, before[0])
	if c == nil {
		return start, nil
	}
	if strings.HasPrefix(word, "-") {
		for _, p := range c.Params {
			if strings.HasPrefix(strings.ToLower(p.Name), strings.ToLower(word[1:])) {
				matches = append(matches, "-"+p.Name)
			}
		}
		return start, matches
	}
	if sessions != nil {
		for _, s := range sessions() {
			if strings.HasPrefix(strings.ToLower(s), lw) {
				matches = append(matches, s)
			}
		}
		sort.Strings(matches)
	}
	return start, matches
}
