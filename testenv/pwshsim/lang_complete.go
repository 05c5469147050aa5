package pwshsim

import (
	"sort"
	"strings"
	"unicode/utf16"

	"github.com/psmux/psmux/sessions/clixml"
)

// CompletionResultType values.
const (
	crCommand       = 2
	crParameterName = 7
	crVariable      = 9
)

var completionResultTypes = map[int]string{crCommand: "Command", crParameterName: "ParameterName", crVariable: "Variable"}

type completion struct {
	text, list, tip string
	typ             int
}

// complete is TabExpansion2 -inputScript s -cursorColumn col: a
// CommandCompletion with commands, variables and parameter names. As in
// pwsh, col and the replacement span count UTF-16 code units.
func (f *frame) complete(input string, col int) clixml.Value {
	u := utf16.Encode([]rune(input))
	if col < 0 || col > len(u) {
		col = len(u)
	}
	before := string(utf16.Decode(u[:col]))
	start := len(before)
	for start > 0 {
		c := before[start-1]
		if c == ' ' || c == '\t' || c == '|' || c == ';' || c == '(' || c == '{' || c == '\n' || c == '=' || c == ',' {
			break
		}
		start--
	}
	word := before[start:]
	var matches []completion
	switch {
	case strings.HasPrefix(word, "$"):
		matches = f.completeVariables(word[1:])
	case strings.HasPrefix(word, "-") && len(word) >= 1:
		matches = completeParameters(commandBefore(before[:start]), word[1:])
	case word != "" && isCommandPosition(before[:start]):
		matches = f.completeCommands(word)
	}
	items := make([]clixml.Value, len(matches))
	for i, m := range matches {
		items[i] = cxObj(&clixml.PSObject{
			TypeNames:   []string{"System.Management.Automation.CompletionResult", "System.Object"},
			ToString:    "System.Management.Automation.CompletionResult",
			HasToString: true,
			Props: []clixml.Property{
				cxProp("CompletionText", cxStr(m.text)),
				cxProp("ListItemText", cxStr(m.list)),
				cxProp("ResultType", cxEnum("System.Management.Automation.CompletionResultType", completionResultTypes[m.typ], int32(m.typ))),
				cxProp("ToolTip", cxStr(m.tip)),
			},
		})
	}
	startUnits := len(utf16.Encode([]rune(before[:start])))
	return cxObj(&clixml.PSObject{
		TypeNames:   []string{"System.Management.Automation.CommandCompletion", "System.Object"},
		ToString:    "System.Management.Automation.CommandCompletion",
		HasToString: true,
		Props: []clixml.Property{
			cxProp("CurrentMatchIndex", cxI32(-1)),
			cxProp("ReplacementIndex", cxI32(int32(startUnits))),
			cxProp("ReplacementLength", cxI32(int32(len(utf16.Encode([]rune(word)))))),
			cxProp("CompletionMatches", cxList([]string{"System.Collections.ObjectModel.Collection`1[[System.Management.Automation.CompletionResult, " + smaAssembly + "]]", "System.Object"}, items)),
		},
	})
}

// isCommandPosition reports whether the text before a word leaves the word
// in command-name position.
func isCommandPosition(before string) bool {
	t := strings.TrimRight(before, " \t")
	if t == "" {
		return true
	}
	switch t[len(t)-1] {
	case '|', ';', '(', '{', '\n', '&':
		return true
	}
	return false
}

// commandBefore finds the command name of the pipeline element the cursor
// is in.
func commandBefore(before string) string {
	i := strings.LastIndexAny(before, "|;({\n")
	seg := strings.TrimSpace(before[i+1:])
	if seg == "" {
		return ""
	}
	return strings.Fields(seg)[0]
}

func (f *frame) completeCommands(prefix string) []completion {
	lp := strings.ToLower(prefix)
	seen := map[string]bool{}
	var out []completion
	add := func(name, tip string) {
		if !strings.HasPrefix(strings.ToLower(name), lp) || seen[strings.ToLower(name)] {
			return
		}
		seen[strings.ToLower(name)] = true
		out = append(out, completion{text: name, list: name, tip: tip, typ: crCommand})
	}
	for _, d := range cmdlets {
		add(d.name, commandSyntax(d))
	}
	f.it.r.mu.Lock()
	for name := range f.it.r.funcs {
		add(name, name)
	}
	f.it.r.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i].text) < strings.ToLower(out[j].text) })
	return out
}

// commandSyntax is a short syntax line used as the tooltip.
func commandSyntax(d *cmdletDef) string {
	var b strings.Builder
	b.WriteString("\n" + d.name)
	for _, p := range d.params {
		switch {
		case p.sw:
			b.WriteString(" [-" + p.name + "]")
		case p.pos >= 0:
			b.WriteString(" [[-" + p.name + "] <" + shortType(paramTypeName(&p)) + ">]")
		default:
			b.WriteString(" [-" + p.name + " <" + shortType(paramTypeName(&p)) + ">]")
		}
	}
	if d.typeName != "System.Management.Automation.FunctionInfo" {
		b.WriteString(" [<CommonParameters>]")
	}
	return b.String() + "\n"
}

func (f *frame) completeVariables(prefix string) []completion {
	lp := strings.ToLower(prefix)
	names := map[string]bool{}
	for _, n := range []string{"true", "false", "null", "Host", "PSVersionTable", "PWD", "HOME", "PID", "Error",
		"IsLinux", "IsWindows", "IsMacOS", "IsCoreCLR", "PSEdition", "input", "args", "_"} {
		names[n] = true
	}
	f.it.r.mu.Lock()
	for n := range f.it.r.global.vars {
		names[n] = true
	}
	f.it.r.mu.Unlock()
	var out []completion
	for n := range names {
		if n == "_" && lp != "_" {
			continue
		}
		if strings.HasPrefix(strings.ToLower(n), lp) {
			v, _ := f.getVar(strings.ToLower(n))
			out = append(out, completion{text: "$" + displayVarName(n), list: displayVarName(n), tip: varTip(n, v), typ: crVariable})
		}
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i].text) < strings.ToLower(out[j].text) })
	return out
}

// displayVarName restores pwsh's casing for the well-known variables.
func displayVarName(n string) string {
	known := map[string]string{"erroractionpreference": "ErrorActionPreference", "warningpreference": "WarningPreference",
		"verbosepreference": "VerbosePreference", "debugpreference": "DebugPreference", "informationpreference": "InformationPreference",
		"progresspreference": "ProgressPreference", "confirmpreference": "ConfirmPreference", "whatifpreference": "WhatIfPreference",
		"formatenumerationlimit": "FormatEnumerationLimit", "maximumhistorycount": "MaximumHistoryCount",
		"nestedpromptlevel": "NestedPromptLevel", "psculture": "PSCulture", "psuiculture": "PSUICulture",
		"pssessionapplicationname": "PSSessionApplicationName", "pssessionconfigurationname": "PSSessionConfigurationName",
		"psnativecommandargumentpass": "PSNativeCommandArgumentPassing"}
	if k, ok := known[n]; ok {
		return k
	}
	return n
}

func varTip(name string, v val) string {
	if v == nil {
		return "$" + displayVarName(name)
	}
	return "[" + shortType(typeNameOf(v)) + "]$" + displayVarName(name)
}

func completeParameters(cmd, prefix string) []completion {
	key := strings.ToLower(cmd)
	if canon, ok := aliases[key]; ok {
		key = canon
	}
	d, ok := cmdlets[key]
	if !ok {
		return nil
	}
	lp := strings.ToLower(prefix)
	var out []completion
	params := append([]paramSpec(nil), d.params...)
	if d.typeName != "System.Management.Automation.FunctionInfo" {
		params = append(params, commonParams...)
	}
	for _, p := range params {
		if strings.HasPrefix(strings.ToLower(p.name), lp) {
			typ := "[" + shortType(paramTypeName(&p)) + "] "
			if p.sw {
				typ = "[switch] "
			}
			out = append(out, completion{text: "-" + p.name, list: p.name, tip: typ + p.name, typ: crParameterName})
		}
	}
	return out
}
