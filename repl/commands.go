package repl

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// param is one parameter of a psmux command.
type cmdParam struct {
	Name   string
	Switch bool // takes no value
	Help   string
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
}

// args are a parsed command line: parameter values by canonical name.
type args map[string]string

func (a args) has(n string) bool { _, ok := a[n]; return ok }

// list splits a comma list value.
func (a args) list(n string) []string {
	var out []string
	for _, s := range strings.Split(a[n], ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func commandTable() []command {
	return []command{
		{Name: "New-PSSession", Help: "open a session in the server and print its row",
			Params: []cmdParam{{Name: "HostName", Help: "[user@]host[:port] or an ssh_config alias"}, {Name: "Name"}, {Name: "UserName"},
				{Name: "Port"}, {Name: "KeyFilePath"}, {Name: "Subsystem"}, {Name: "Local", Switch: true, Help: "a local pwsh ($PSMUX_PWSH)"}},
			Positional: []string{"HostName"}, Run: (*repl).cmdNew},
		{Name: "Get-PSSession", Help: "the sessions", Params: []cmdParam{{Name: "Name"}}, Positional: []string{"Name"}, Run: (*repl).cmdLs},
		{Name: "Enter-PSSession", Aliases: []string{"etsn"}, Help: "enter a session (C-b d detaches, Ctrl-D leaves)",
			Params: []cmdParam{{Name: "Name"}, {Name: "Id"}}, Positional: []string{"Name"}, Run: (*repl).cmdEnter},
		{Name: "Exit-PSSession", Aliases: []string{"exsn", "exit"}, Help: "leave the session; at the local prompt, quit", Run: (*repl).cmdExit},
		{Name: "Remove-PSSession", Help: "close sessions", Params: []cmdParam{{Name: "Name"}, {Name: "Id"}}, Positional: []string{"Name"}, Run: (*repl).cmdRm},
		{Name: "Disconnect-PSSession", Help: "sessions stay connected in the server; shows the row (C-b d detaches this client)",
			Params: []cmdParam{{Name: "Name"}, {Name: "Id"}}, Positional: []string{"Name"}, Run: (*repl).cmdDisconnect},
		{Name: "Connect-PSSession", Help: "show a session's row; it is connected in the server (Enter-PSSession to use it)",
			Params: []cmdParam{{Name: "Name"}, {Name: "Id"}}, Positional: []string{"Name"}, Run: (*repl).cmdConnect},
		{Name: "Receive-PSSession", Help: "print a session's output log (what ran while you were away)",
			Params: []cmdParam{{Name: "Name"}, {Name: "Id"}}, Positional: []string{"Name"}, Run: (*repl).cmdReceive},
		{Name: "Invoke-Command", Aliases: []string{"icm"}, Help: "run a script block in sessions, output tagged [name]",
			Params:     []cmdParam{{Name: "Session"}, {Name: "ScriptBlock"}, {Name: "AsJob", Switch: true}, {Name: "JobName"}},
			Positional: []string{"ScriptBlock"}, Run: (*repl).cmdInvoke},
		{Name: "Get-Job", Aliases: []string{"gjb"}, Help: "the server's jobs (Invoke-Command -AsJob, exec --async), from any client",
			Params: []cmdParam{{Name: "Id"}, {Name: "Name"}, {Name: "IncludeChildJob", Switch: true}}, Positional: []string{"Id"}, Run: (*repl).cmdGetJob},
		{Name: "Receive-Job", Aliases: []string{"rcjb"}, Help: "print what jobs produced since they were last received",
			Params:     []cmdParam{{Name: "Id"}, {Name: "Name"}, {Name: "Keep", Switch: true, Help: "receive it again later"}, {Name: "Wait", Switch: true}},
			Positional: []string{"Id"}, Run: (*repl).cmdReceiveJob},
		{Name: "Wait-Job", Aliases: []string{"wjb"}, Help: "wait until jobs end", Params: []cmdParam{{Name: "Id"}, {Name: "Name"}}, Positional: []string{"Id"}, Run: (*repl).cmdWaitJob},
		{Name: "Stop-Job", Aliases: []string{"spjb"}, Help: "stop jobs", Params: []cmdParam{{Name: "Id"}, {Name: "Name"}}, Positional: []string{"Id"}, Run: (*repl).cmdStopJob},
		{Name: "Remove-Job", Aliases: []string{"rjb"}, Help: "forget jobs (a running one only with -Force)",
			Params: []cmdParam{{Name: "Id"}, {Name: "Name"}, {Name: "Force", Switch: true}}, Positional: []string{"Id"}, Run: (*repl).cmdRemoveJob},
		{Name: "Copy-Item", Aliases: []string{"cp"}, Help: "copy a file to or from a session (SFTP)",
			Params:     []cmdParam{{Name: "Path"}, {Name: "Destination"}, {Name: "ToSession"}, {Name: "FromSession"}},
			Positional: []string{"Path", "Destination"}, Run: (*repl).cmdCopy},
		{Name: "help", Aliases: []string{"Get-Help", "?"}, Help: "this list", Run: (*repl).cmdHelp},
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
		var ps []string
		for _, p := range c.Params {
			if p.Switch {
				ps = append(ps, "[-"+p.Name+"]")
			} else {
				ps = append(ps, "[-"+p.Name+" <value>]")
			}
		}
		fmt.Fprintf(w, "%-17s %s\n", c.Name, c.Help)
		if len(ps) > 0 {
			fmt.Fprintf(w, "%-17s %s\n", "", strings.Join(ps, " "))
		}
	}
	fmt.Fprintln(w, "Keys: Tab completes, Ctrl-C stops the running command, C-b d detaches, Ctrl-D leaves a session.")
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
