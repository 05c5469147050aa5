package pwshsim

import (
	"math"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/psmux/psmux/sessions/clixml"
	"github.com/psmux/psmux/sessions/psrp"
)

// cmdletDef is a built-in command.
type cmdletDef struct {
	name     string
	typeName string // implementing .NET type, for FullyQualifiedErrorIds
	params   []paramSpec
	make     func(cx *cmdCtx) (*stageProc, error)
}

var (
	cmdlets = map[string]*cmdletDef{}
	aliases = map[string]string{
		"echo": "write-output", "write": "write-output",
		"%": "foreach-object", "foreach": "foreach-object",
		"?": "where-object", "where": "where-object",
		"select": "select-object", "sort": "sort-object",
		"sleep": "start-sleep", "gl": "get-location", "pwd": "get-location",
		"sl": "set-location", "cd": "set-location", "chdir": "set-location",
		"gps": "get-process", "ps": "get-process", "gsv": "get-service",
		"oh": "out-host", "exsn": "exit-pssession", "gh": "get-host",
	}
)

func named(name string) paramSpec             { return paramSpec{name: name, pos: -1} }
func positional(name string, p int) paramSpec { return paramSpec{name: name, pos: p} }
func switchP(name string) paramSpec           { return paramSpec{name: name, pos: -1, sw: true} }

func register(d *cmdletDef) { cmdlets[strings.ToLower(d.name)] = d }

func init() {
	register(&cmdletDef{name: "Write-Output", typeName: "Microsoft.PowerShell.Commands.WriteOutputCommand",
		params: []paramSpec{{name: "InputObject", pos: 0, remaining: true}, switchP("NoEnumerate")},
		make: func(cx *cmdCtx) (*stageProc, error) {
			return &stageProc{process: func(v val, has bool) error {
				if !has {
					v = cx.get("InputObject")
					if !cx.has("InputObject") {
						return nil
					}
				}
				if cx.sw("NoEnumerate") {
					return cx.out(v)
				}
				return emitUnrolled(v, cx.out)
			}}, nil
		}})

	register(&cmdletDef{name: "Write-Error", typeName: "Microsoft.PowerShell.Commands.WriteErrorCommand",
		params: []paramSpec{{name: "Message", aliases: []string{"Msg"}, pos: 0}, named("Category"), named("ErrorId"),
			named("TargetObject"), named("RecommendedAction"), {name: "CategoryActivity", aliases: []string{"Activity"}, pos: -1},
			{name: "CategoryReason", aliases: []string{"Reason"}, pos: -1}, {name: "CategoryTargetName", aliases: []string{"TargetName"}, pos: -1},
			{name: "CategoryTargetType", aliases: []string{"TargetType"}, pos: -1}, named("Exception"), named("ErrorRecord")},
		make: func(cx *cmdCtx) (*stageProc, error) {
			return &stageProc{process: func(v val, has bool) error {
				if rec, ok := cx.get("ErrorRecord").(clixml.Value); ok && isErrorRecordValue(rec) {
					return cx.f.writeErrorTo(rec, cx.action("ErrorAction", "ErrorActionPreference"), cx.errw)
				}
				msg := cx.str("Message")
				if has {
					msg = toStr(v)
				}
				return cx.writeError(writeErrorSpec(cx, msg))
			}}, nil
		}})

	for _, k := range []string{"Warning", "Verbose", "Debug"} {
		kind := k
		register(&cmdletDef{name: "Write-" + kind, typeName: "Microsoft.PowerShell.Commands.Write" + kind + "Command",
			params: []paramSpec{{name: "Message", aliases: []string{"Msg"}, pos: 0}},
			make: func(cx *cmdCtx) (*stageProc, error) {
				return &stageProc{process: func(v val, has bool) error {
					msg := cx.str("Message")
					if has {
						msg = toStr(v)
					}
					return cx.writeInformational(kind, msg)
				}}, nil
			}})
	}

	register(&cmdletDef{name: "Write-Information", typeName: "Microsoft.PowerShell.Commands.WriteInformationCommand",
		params: []paramSpec{{name: "MessageData", aliases: []string{"Msg", "Message"}, pos: 0}, positional("Tags", 1)},
		make: func(cx *cmdCtx) (*stageProc, error) {
			var tags []string
			for _, t := range asList(cx.get("Tags")) {
				tags = append(tags, toStr(t))
			}
			return &stageProc{process: func(v val, has bool) error {
				data := cx.get("MessageData")
				if has {
					data = v
				}
				return cx.writeInformation(data, tags)
			}}, nil
		}})

	register(&cmdletDef{name: "Write-Host", typeName: "Microsoft.PowerShell.Commands.WriteHostCommand",
		params: []paramSpec{{name: "Object", aliases: []string{"Msg", "Message"}, pos: 0, remaining: true}, switchP("NoNewline"),
			named("Separator"), named("ForegroundColor"), named("BackgroundColor")},
		make: func(cx *cmdCtx) (*stageProc, error) {
			fg, bg := -1, -1
			for _, c := range []struct {
				p   string
				dst *int
			}{{"ForegroundColor", &fg}, {"BackgroundColor", &bg}} {
				if cx.has(c.p) {
					n, ok := parseConsoleColor(toStr(unwrapPrim(cx.get(c.p))))
					if !ok {
						return nil, cx.bindError("CannotConvertArgumentNoMessage", "Cannot bind parameter '"+c.p+"'. Cannot convert value \""+cx.str(c.p)+"\" to type \"System.ConsoleColor\". Error: \"Unable to match the identifier name "+cx.str(c.p)+" to a valid enumerator name. Specify one of the following enumerator names and try again:\n"+strings.Join(consoleColors[:], ", ")+"\"", clixml.Value{})
					}
					*c.dst = n
				}
			}
			sep := " "
			if cx.has("Separator") {
				sep = cx.str("Separator")
			}
			return &stageProc{process: func(v val, has bool) error {
				obj := cx.get("Object")
				if has {
					obj = v
				}
				return cx.writeHost(hostText(obj, sep), cx.sw("NoNewline"), fg, bg)
			}}, nil
		}})

	register(&cmdletDef{name: "Write-Progress", typeName: "Microsoft.PowerShell.Commands.WriteProgressCommand",
		params: []paramSpec{positional("Activity", 0), positional("Status", 1), positional("Id", 2), named("PercentComplete"),
			named("SecondsRemaining"), named("CurrentOperation"), named("ParentId"), switchP("Completed"), named("SourceId")},
		make: func(cx *cmdCtx) (*stageProc, error) {
			return &stageProc{process: func(val, bool) error {
				p := progress{activity: cx.str("Activity"), status: "Processing", parentID: -1, percent: -1, secs: -1,
					currentOp: cx.str("CurrentOperation"), completed: cx.sw("Completed")}
				if p.activity == "" {
					p.activity = "Processing"
				}
				if cx.has("Status") {
					p.status = cx.str("Status")
				}
				for _, x := range []struct {
					name string
					dst  *int32
				}{{"Id", &p.id}, {"ParentId", &p.parentID}, {"PercentComplete", &p.percent}, {"SecondsRemaining", &p.secs}} {
					if cx.has(x.name) {
						n, ok := toInt(cx.get(x.name))
						if !ok {
							return cx.bindError("CannotConvertArgumentNoMessage", "Cannot bind parameter '"+x.name+"'. Cannot convert value \""+cx.str(x.name)+"\" to type \"System.Int32\".", clixml.Value{})
						}
						*x.dst = int32(n)
					}
				}
				return cx.writeProgress(p)
			}}, nil
		}})

	register(&cmdletDef{name: "Read-Host", typeName: "Microsoft.PowerShell.Commands.ReadHostCommand",
		params: []paramSpec{{name: "Prompt", pos: 0, remaining: true}, switchP("AsSecureString"), switchP("MaskInput")},
		make: func(cx *cmdCtx) (*stageProc, error) {
			return &stageProc{process: func(v val, has bool) error { return cx.readHost() }}, nil
		}})

	register(&cmdletDef{name: "ConvertTo-SecureString", typeName: "Microsoft.PowerShell.Commands.ConvertToSecureStringCommand",
		params: []paramSpec{positional("String", 0), switchP("AsPlainText"), switchP("Force")},
		make: func(cx *cmdCtx) (*stageProc, error) {
			return &stageProc{process: func(v val, has bool) error {
				s := cx.str("String")
				if !cx.has("String") && has {
					s = toStr(v)
				}
				// inside the runspace a SecureString holds its plaintext;
				// it is sealed on its way to the client
				return cx.out(clixml.Value{Kind: clixml.SecureString, Text: s})
			}}, nil
		}})

	// ConvertFrom-SecureString -AsPlainText shows what a SecureString
	// holds; without -AsPlainText pwsh's encrypted form is not simulated.
	register(&cmdletDef{name: "ConvertFrom-SecureString", typeName: "Microsoft.PowerShell.Commands.ConvertFromSecureStringCommand",
		params: []paramSpec{positional("SecureString", 0), switchP("AsPlainText")},
		make: func(cx *cmdCtx) (*stageProc, error) {
			return &stageProc{process: func(v val, has bool) error {
				if !has {
					v = cx.get("SecureString")
				}
				sv, ok := v.(clixml.Value)
				if !ok || sv.Kind != clixml.SecureString {
					return cx.bindError("CannotConvertArgumentNoMessage", "Cannot bind parameter 'SecureString'. Cannot convert the \""+toStr(v)+"\" value to type \"System.Security.SecureString\".", clixml.Value{})
				}
				if !cx.sw("AsPlainText") {
					return cx.bindError("NotSupported", "pwshsim: ConvertFrom-SecureString without -AsPlainText is not simulated.", clixml.Value{})
				}
				return cx.out(sv.Text)
			}}, nil
		}})

	register(&cmdletDef{name: "Get-Credential", typeName: "Microsoft.PowerShell.Commands.GetCredentialCommand",
		params: []paramSpec{positional("Credential", 0), named("UserName"), named("Message"), named("Title")},
		make: func(cx *cmdCtx) (*stageProc, error) {
			return &stageProc{process: func(v val, has bool) error { return cx.getCredential() }}, nil
		}})

	register(&cmdletDef{name: "Start-Sleep", typeName: "Microsoft.PowerShell.Commands.StartSleepCommand",
		params: []paramSpec{{name: "Seconds", aliases: []string{"s"}, pos: 0, typ: "System.Double"}, {name: "Milliseconds", aliases: []string{"ms"}, pos: -1, typ: "System.Int32"}, named("Duration")},
		make: func(cx *cmdCtx) (*stageProc, error) {
			var d time.Duration
			switch {
			case cx.has("Seconds"):
				n, ok := toNumber(cx.get("Seconds"))
				if !ok {
					return nil, cx.bindError("CannotConvertArgumentNoMessage", "Cannot bind parameter 'Seconds'. Cannot convert value \""+cx.str("Seconds")+"\" to type \"System.Double\".", clixml.Value{})
				}
				d = time.Duration(n.float() * float64(time.Second))
			case cx.has("Milliseconds"):
				n, ok := toInt(cx.get("Milliseconds"))
				if !ok {
					return nil, cx.bindError("CannotConvertArgumentNoMessage", "Cannot bind parameter 'Milliseconds'.", clixml.Value{})
				}
				d = time.Duration(n) * time.Millisecond
			case cx.has("Duration"):
				dd, err := time.ParseDuration(strings.ToLower(cx.str("Duration")))
				if err != nil {
					return nil, cx.bindError("CannotConvertArgumentNoMessage", "Cannot bind parameter 'Duration'.", clixml.Value{})
				}
				d = dd
			default:
				return nil, cx.bindError("MissingMandatoryParameter", "Cannot process command because of one or more missing mandatory parameters: Seconds.", clixml.Value{})
			}
			return &stageProc{process: func(val, bool) error { return cx.f.it.sleep(d) }}, nil
		}})

	register(&cmdletDef{name: "Get-Date", typeName: "Microsoft.PowerShell.Commands.GetDateCommand",
		params: []paramSpec{positional("Date", 0), named("Format"), named("UFormat"), named("DisplayHint"), switchP("AsUTC")},
		make: func(cx *cmdCtx) (*stageProc, error) {
			return &stageProc{process: func(v val, has bool) error { return cx.getDate() }}, nil
		}})

	register(&cmdletDef{name: "Get-Location", typeName: "Microsoft.PowerShell.Commands.GetLocationCommand",
		make: func(cx *cmdCtx) (*stageProc, error) {
			return &stageProc{process: func(val, bool) error { return cx.out(cx.f.it.pathInfo()) }}, nil
		}})

	register(&cmdletDef{name: "Set-Location", typeName: "Microsoft.PowerShell.Commands.SetLocationCommand",
		params: []paramSpec{{name: "Path", pos: 0}, {name: "LiteralPath", aliases: []string{"PSPath", "LP"}, pos: -1}, switchP("PassThru")},
		make: func(cx *cmdCtx) (*stageProc, error) {
			return &stageProc{process: func(v val, has bool) error {
				p := cx.str("Path")
				if cx.has("LiteralPath") {
					p = cx.str("LiteralPath")
				}
				if has {
					p = toStr(v)
				}
				cx.f.it.setLocation(p)
				if cx.sw("PassThru") {
					return cx.out(cx.f.it.pathInfo())
				}
				return nil
			}}, nil
		}})

	// Test-Path looks at the file system the process runs on; tests use
	// it to hold a command until they create a file.
	register(&cmdletDef{name: "Test-Path", typeName: "Microsoft.PowerShell.Commands.TestPathCommand",
		params: []paramSpec{{name: "Path", pos: 0}, {name: "LiteralPath", aliases: []string{"PSPath", "LP"}, pos: -1}},
		make: func(cx *cmdCtx) (*stageProc, error) {
			return &stageProc{process: func(v val, has bool) error {
				p := cx.str("Path")
				if cx.has("LiteralPath") {
					p = cx.str("LiteralPath")
				}
				if has {
					p = toStr(v)
				}
				_, err := os.Stat(p)
				return cx.out(err == nil)
			}}, nil
		}})

	register(&cmdletDef{name: "ForEach-Object", typeName: "Microsoft.PowerShell.Commands.ForEachObjectCommand",
		params: []paramSpec{{name: "Process", pos: 0, remaining: true}, named("Begin"), named("End"), named("MemberName"), named("ArgumentList"), named("InputObject")},
		make:   makeForEach})

	register(&cmdletDef{name: "Where-Object", typeName: "Microsoft.PowerShell.Commands.WhereObjectCommand",
		params: whereParams(), make: makeWhere})

	register(&cmdletDef{name: "Select-Object", typeName: "Microsoft.PowerShell.Commands.SelectObjectCommand",
		params: []paramSpec{positional("Property", 0), named("First"), named("Last"), named("Skip"), named("ExpandProperty"),
			switchP("Unique"), named("Index"), named("InputObject")},
		make: makeSelect})

	register(&cmdletDef{name: "Sort-Object", typeName: "Microsoft.PowerShell.Commands.SortObjectCommand",
		params: []paramSpec{positional("Property", 0), switchP("Descending"), switchP("Unique"), named("InputObject")},
		make: func(cx *cmdCtx) (*stageProc, error) {
			var items []val
			return &stageProc{
				process: func(v val, has bool) error {
					if has {
						items = append(items, v)
					} else if cx.has("InputObject") {
						items = append(items, cx.get("InputObject"))
					}
					return nil
				},
				end: func() error {
					prop := cx.str("Property")
					keyOf := func(v val) val {
						if prop == "" {
							return v
						}
						k, _ := cx.f.getMember(v, prop)
						return k
					}
					desc := cx.sw("Descending")
					sorted := append([]val(nil), items...)
					sortBy(sorted, keyOf, desc)
					var last val
					for i, v := range sorted {
						if cx.sw("Unique") && i > 0 && valEquals(keyOf(v), keyOf(last), false) {
							continue
						}
						last = v
						if err := cx.out(v); err != nil {
							return err
						}
					}
					return nil
				},
			}, nil
		}})

	register(&cmdletDef{name: "Measure-Object", typeName: "Microsoft.PowerShell.Commands.MeasureObjectCommand",
		params: []paramSpec{positional("Property", 0), switchP("Sum"), switchP("Average"), switchP("Maximum"), switchP("Minimum"),
			switchP("StandardDeviation"), switchP("AllStats"), named("InputObject")},
		make: makeMeasure})

	register(&cmdletDef{name: "Out-String", typeName: "Microsoft.PowerShell.Commands.OutStringCommand",
		params: []paramSpec{switchP("Stream"), named("Width"), switchP("NoNewline"), named("InputObject")},
		make:   makeOutString})

	for _, name := range []string{"Out-Default", "Out-Host"} {
		n := name
		register(&cmdletDef{name: n, typeName: "Microsoft.PowerShell.Commands." + strings.ReplaceAll(n, "-", "") + "Command",
			params: []paramSpec{switchP("Transcript"), switchP("Paging"), named("InputObject")},
			make:   makeOutDefault})
	}

	// What psmux's invoke and exec end a text pipeline with, a script
	// pwshsim does not parse (run translates it to this command): the
	// strings (shorter than 64 Ki UTF-16 units, without a carriage
	// return or an escape), Int32s, Int64s and
	// booleans that come before any other object are written as output
	// lines (their ToString); the first other object and all that follow
	// go to Out-Default.
	register(&cmdletDef{name: textLinesCmdlet, typeName: "System.Management.Automation.ScriptBlock",
		params: []paramSpec{named("InputObject")},
		make: func(cx *cmdCtx) (*stageProc, error) {
			od, err := makeOutDefault(cx)
			if err != nil {
				return nil, err
			}
			started := false
			return &stageProc{
				process: func(v val, has bool) error {
					if !has {
						return nil
					}
					if !started {
						x := toValue(v)
						plain := x.Kind != clixml.String || len(utf16.Encode([]rune(x.Text))) < 65536 && !strings.ContainsAny(x.Text, "\r\x1b")
						switch x.Kind {
						case clixml.String, clixml.Int32, clixml.Int64, clixml.Bool:
							if plain {
								return cx.out(valueText(x))
							}
						case clixml.Nil:
							return nil
						}
						started = true
						if err := od.begin(); err != nil {
							return err
						}
					}
					return od.process(v, true)
				},
				end: func() error {
					if !started {
						return nil
					}
					return od.end()
				},
			}, nil
		}})

	register(&cmdletDef{name: "Out-Null", typeName: "Microsoft.PowerShell.Commands.OutNullCommand",
		params: []paramSpec{named("InputObject")},
		make: func(cx *cmdCtx) (*stageProc, error) {
			return &stageProc{process: func(val, bool) error { return nil }}, nil
		}})

	register(&cmdletDef{name: "TabExpansion2", typeName: "System.Management.Automation.FunctionInfo",
		params: []paramSpec{positional("inputScript", 0), positional("cursorColumn", 1), positional("options", 2),
			named("ast"), named("tokens"), named("positionOfCursor")},
		make: func(cx *cmdCtx) (*stageProc, error) {
			return &stageProc{process: func(val, bool) error {
				col := -1
				if cx.has("cursorColumn") {
					col, _ = toInt(cx.get("cursorColumn"))
				}
				return cx.out(cx.f.complete(cx.str("inputScript"), col))
			}}, nil
		}})

	register(&cmdletDef{name: "prompt", typeName: "System.Management.Automation.FunctionInfo",
		make: func(cx *cmdCtx) (*stageProc, error) {
			return &stageProc{process: func(val, bool) error {
				cx.f.it.r.mu.Lock()
				loc := cx.f.it.r.location
				cx.f.it.r.mu.Unlock()
				return cx.out("PS " + loc + "> ")
			}}, nil
		}})

	register(&cmdletDef{name: "Exit-PSSession", typeName: "Microsoft.PowerShell.Commands.ExitPSSessionCommand",
		make: func(cx *cmdCtx) (*stageProc, error) {
			return &stageProc{process: func(val, bool) error {
				_, err := cx.f.it.call(psrp.PopRunspace)
				return err
			}}, nil
		}})

	register(&cmdletDef{name: "Get-Host", typeName: "Microsoft.PowerShell.Commands.GetHostCommand",
		make: func(cx *cmdCtx) (*stageProc, error) {
			return &stageProc{process: func(val, bool) error { return cx.out(&hostObj{f: cx.f}) }}, nil
		}})

	register(&cmdletDef{name: "Get-Service", typeName: "Microsoft.PowerShell.Commands.GetServiceCommand",
		params: []paramSpec{{name: "Name", aliases: []string{"ServiceName"}, pos: 0}, named("DisplayName")},
		make: func(cx *cmdCtx) (*stageProc, error) {
			return &stageProc{process: func(val, bool) error {
				return cx.emitFakes(fakeServices(), "Name", "Service", "NoServiceFoundForGivenName", "Cannot find any service with service name '%s'.")
			}}, nil
		}})

	register(&cmdletDef{name: "Get-Process", typeName: "Microsoft.PowerShell.Commands.GetProcessCommand",
		params: []paramSpec{{name: "Name", aliases: []string{"ProcessName"}, pos: 0}, {name: "Id", aliases: []string{"PID"}, pos: -1}},
		make: func(cx *cmdCtx) (*stageProc, error) {
			return &stageProc{process: func(val, bool) error {
				procs := fakeProcesses(cx.f.it.r.opts.ProcessID)
				if cx.has("Id") {
					var out []clixml.Value
					for _, want := range asList(cx.get("Id")) {
						w, _ := toInt(want)
						found := false
						for _, p := range procs {
							if valueText(propValue(p, "Id")) == strconv.Itoa(w) {
								out = append(out, p)
								found = true
							}
						}
						if !found {
							if err := cx.writeError(&errSpec{excTypes: []string{"Microsoft.PowerShell.Commands.ProcessCommandException", "System.SystemException", "System.Exception"},
								message: "Cannot find a process with the process identifier " + strconv.Itoa(w) + ".", fqeid: "NoProcessFoundForGivenId,Microsoft.PowerShell.Commands.GetProcessCommand",
								category: catObjectNotFound, target: cxI32(int32(w))}); err != nil {
								return err
							}
						}
					}
					for _, p := range out {
						if err := cx.out(p); err != nil {
							return err
						}
					}
					return nil
				}
				return cx.emitFakes(procs, "ProcessName", "Process", "NoProcessFoundForGivenName", "Cannot find a process with the name \"%s\". Verify the process name and call the cmdlet again.")
			}}, nil
		}})
}

// writeErrorSpec builds Write-Error's record (Microsoft.PowerShell.Commands.
// WriteErrorException; InvocationInfo is the calling script's, as in pwsh).
func writeErrorSpec(cx *cmdCtx, msg string) *errSpec {
	s := &errSpec{
		excTypes: excWriteError,
		message:  msg,
		fqeid:    "Microsoft.PowerShell.Commands.WriteErrorException",
		category: catNotSpecified,
		activity: "Write-Error",
	}
	if cx.has("ErrorId") && cx.str("ErrorId") != "" {
		s.fqeid = cx.str("ErrorId")
	}
	if cx.has("Category") {
		c := toStr(unwrapPrim(cx.get("Category")))
		for i := 0; i < 32; i++ {
			if strings.EqualFold(categoryName(i), c) {
				s.category = i
				break
			}
		}
		if n, err := strconv.Atoi(c); err == nil {
			s.category = n
		}
	}
	if cx.has("TargetObject") {
		s.target = toValue(cx.get("TargetObject"))
	}
	if cx.has("Exception") {
		if ex, ok := cx.get("Exception").(string); ok && s.message == "" {
			s.message = ex
		}
	}
	if r := cx.str("RecommendedAction"); r != "" {
		s.details, s.recommended = msg, r
	}
	if a := cx.str("CategoryActivity"); a != "" {
		s.activity = a
	}
	s.reason = cx.str("CategoryReason")
	script := ""
	if cx.f.src != nil {
		script = cx.f.src.text
	}
	s.inv = &invInfo{myCommand: script, historyID: cx.f.it.history, origin: "Internal"}
	s.scriptStack = "at <ScriptBlock>, <No file>: line " + itoa(max(cx.inv.scriptLine, 1))
	return s
}

// hostText is Write-Host's rendering of its -Object: collections joined
// with the separator.
func hostText(v val, sep string) string {
	if items, ok := enumerate(v); ok {
		parts := make([]string, 0, len(items))
		for _, it := range items {
			parts = append(parts, hostText(it, sep))
		}
		return strings.Join(parts, sep)
	}
	return toStr(v)
}

func makeForEach(cx *cmdCtx) (*stageProc, error) {
	var begin, process, end *scriptBlock
	member := cx.str("MemberName")
	var memberArgs []val
	procArgs := asList(cx.get("Process"))
	if _, isArr := cx.get("Process").(*psArray); !isArr && cx.has("Process") {
		procArgs = []val{cx.get("Process")}
	}
	var sbs []*scriptBlock
	for _, a := range procArgs {
		if sb, ok := a.(*scriptBlock); ok {
			sbs = append(sbs, sb)
		} else if member == "" {
			member = toStr(a)
		} else {
			memberArgs = append(memberArgs, a)
		}
	}
	memberArgs = append(memberArgs, asList(cx.get("ArgumentList"))...)
	switch len(sbs) {
	case 1:
		process = sbs[0]
	case 2:
		begin, process = sbs[0], sbs[1]
	case 3:
		begin, process, end = sbs[0], sbs[1], sbs[2]
	}
	if b, ok := cx.get("Begin").(*scriptBlock); ok {
		begin = b
	}
	if e, ok := cx.get("End").(*scriptBlock); ok {
		end = e
	}
	f := cx.f.child(cx.out)
	f.errw = cx.errw
	runSB := func(sb *scriptBlock, under val, has bool) error {
		if sb == nil {
			return nil
		}
		c := *f
		c.under, c.hasUnder = under, has
		c.src = sb.body.src
		err := c.execBlock(sb.body.end)
		if _, ok := err.(flowReturn); ok {
			return nil
		}
		if _, ok := err.(flowContinue); ok {
			return nil
		}
		return err
	}
	return &stageProc{
		begin: func() error { return runSB(begin, nil, false) },
		process: func(v val, has bool) error {
			if !has && cx.has("InputObject") {
				v, has = cx.get("InputObject"), true
			}
			if member != "" {
				if !has {
					return nil
				}
				var r val
				var err error
				if len(memberArgs) > 0 || isMethodOf(v, member) {
					r, err = cx.f.callMethod(v, member, memberArgs)
				} else {
					r, err = cx.f.getMember(v, member)
				}
				if err != nil {
					return err
				}
				return emitUnrolled(r, cx.out)
			}
			return runSB(process, v, has)
		},
		end: func() error { return runSB(end, nil, false) },
	}, nil
}

func whereParams() []paramSpec {
	ps := []paramSpec{positional("FilterScript", 0), positional("Value", 1), named("InputObject"), switchP("Not")}
	for _, op := range []string{"EQ", "NE", "GT", "GE", "LT", "LE", "Like", "NotLike", "Match", "NotMatch",
		"Contains", "NotContains", "In", "NotIn", "CEQ", "CNE", "CLike", "CMatch", "Is", "IsNot"} {
		ps = append(ps, switchP(op))
	}
	return ps
}

func makeWhere(cx *cmdCtx) (*stageProc, error) {
	f := cx.f.child(cx.out)
	f.errw = cx.errw
	sb, isSB := cx.get("FilterScript").(*scriptBlock)
	prop := ""
	if !isSB {
		prop = cx.str("FilterScript")
	}
	op := ""
	for _, p := range whereParams()[4:] {
		if cx.sw(p.name) {
			op = "-" + strings.ToLower(p.name)
		}
	}
	if !isSB && op == "" {
		op = "-eq"
		if !cx.has("Value") {
			op = "truthy"
		}
	}
	test := func(v val) (bool, error) {
		if isSB {
			var res []val
			c := *f
			c.under, c.hasUnder = v, true
			c.src = sb.body.src
			c.out = func(x val) error { res = append(res, x); return nil }
			if err := c.execBlock(sb.body.end); err != nil {
				if _, ok := err.(flowReturn); !ok {
					return false, err
				}
			}
			return isTrue(collapse(res)), nil
		}
		pv, err := f.getMember(v, prop)
		if err != nil {
			return false, err
		}
		if op == "truthy" {
			return isTrue(pv), nil
		}
		if cx.sw("Not") {
			return !isTrue(pv), nil
		}
		r, err := binaryOp(op, pv, cx.get("Value"))
		if err != nil {
			return false, err
		}
		return isTrue(r), nil
	}
	return &stageProc{process: func(v val, has bool) error {
		if !has {
			if !cx.has("InputObject") {
				return nil
			}
			v = cx.get("InputObject")
		}
		ok, err := test(v)
		if err != nil {
			return err
		}
		if ok {
			return cx.out(v)
		}
		return nil
	}}, nil
}

func makeSelect(cx *cmdCtx) (*stageProc, error) {
	intParam := func(name string) (int, bool, error) {
		if !cx.has(name) {
			return 0, false, nil
		}
		n, ok := toInt(cx.get(name))
		if !ok || n < 0 {
			return 0, false, cx.bindError("ParameterArgumentValidationError", "Cannot validate argument on parameter '"+name+"'. The "+cx.str(name)+" argument is less than the minimum allowed range of 0. Supply an argument that is greater than or equal to 0 and then try the command again.", clixml.Value{})
		}
		return n, true, nil
	}
	first, hasFirst, err := intParam("First")
	if err != nil {
		return nil, err
	}
	last, hasLast, err := intParam("Last")
	if err != nil {
		return nil, err
	}
	skip, _, err := intParam("Skip")
	if err != nil {
		return nil, err
	}
	var props []string
	for _, p := range asList(cx.get("Property")) {
		props = append(props, toStr(p))
	}
	expand := cx.str("ExpandProperty")
	seen := 0
	emitted := 0
	var tail []val
	var uniq []val
	shape := func(v val) (val, error) {
		if expand != "" {
			return cx.f.getMember(v, expand)
		}
		if len(props) == 0 {
			return v, nil
		}
		tn := typeNameOf(v)
		o := &clixml.PSObject{TypeNames: append([]string{"Selected." + tn}, tnCustom...)}
		for _, p := range props {
			if p == "*" {
				if cv, ok := v.(clixml.Value); ok && cv.Obj != nil {
					o.Members = append(o.Members, shownProps(cv)...)
				}
				continue
			}
			pv, err := cx.f.getMember(v, p)
			if err != nil {
				return nil, err
			}
			o.Members = append(o.Members, cxProp(p, toValue(pv)))
		}
		return cxObj(o), nil
	}
	emit := func(v val) error {
		s, err := shape(v)
		if err != nil {
			return err
		}
		if expand != "" {
			return emitUnrolled(s, cx.out)
		}
		if cx.sw("Unique") {
			for _, u := range uniq {
				if valEquals(u, s, false) {
					return nil
				}
			}
			uniq = append(uniq, s)
		}
		return cx.out(s)
	}
	return &stageProc{
		process: func(v val, has bool) error {
			if !has {
				if !cx.has("InputObject") {
					return nil
				}
				v = cx.get("InputObject")
			}
			seen++
			if seen <= skip {
				return nil
			}
			if hasLast && !hasFirst {
				tail = append(tail, v)
				if len(tail) > last {
					tail = tail[1:]
				}
				return nil
			}
			if hasFirst {
				if emitted >= first {
					return &stopUpstream{run: cx.run, idx: cx.idx}
				}
				emitted++
				if err := emit(v); err != nil {
					return err
				}
				if emitted >= first && cx.run != nil {
					return &stopUpstream{run: cx.run, idx: cx.idx}
				}
				return nil
			}
			return emit(v)
		},
		end: func() error {
			for _, v := range tail {
				if err := emit(v); err != nil {
					return err
				}
			}
			return nil
		},
	}, nil
}

// makeMeasure is Measure-Object (numeric statistics; GenericMeasureInfo).
func makeMeasure(cx *cmdCtx) (*stageProc, error) {
	var nums []float64
	count := 0
	prop := cx.str("Property")
	return &stageProc{
		process: func(v val, has bool) error {
			if !has {
				if !cx.has("InputObject") {
					return nil
				}
				v = cx.get("InputObject")
			}
			if prop != "" {
				pv, err := cx.f.getMember(v, prop)
				if err != nil {
					return err
				}
				if pv == nil {
					return nil
				}
				v = pv
			}
			count++
			if n, ok := toNumber(v); ok {
				nums = append(nums, n.float())
			} else if cx.sw("Sum") || cx.sw("Average") || cx.sw("AllStats") {
				return cx.writeError(&errSpec{excTypes: excInvalidOp, category: catInvalidArgument,
					fqeid:   "NonNumericInputObject,Microsoft.PowerShell.Commands.MeasureObjectCommand",
					message: "Input object \"" + toStr(v) + "\" is not numeric.", target: toValue(v)})
			}
			return nil
		},
		end: func() error {
			all := cx.sw("AllStats")
			stat := func(on bool, f func() float64) clixml.Value {
				if !(on || all) || len(nums) == 0 {
					return cxNil()
				}
				return cxDbl(f())
			}
			sum := func() float64 {
				t := 0.0
				for _, n := range nums {
					t += n
				}
				return t
			}
			ext := func(less bool) func() float64 {
				return func() float64 {
					m := nums[0]
					for _, n := range nums[1:] {
						if (n < m) == less && n != m {
							m = n
						}
					}
					return m
				}
			}
			sd := func() float64 {
				if len(nums) < 2 {
					return 0
				}
				avg := sum() / float64(len(nums))
				t := 0.0
				for _, n := range nums {
					t += (n - avg) * (n - avg)
				}
				return math.Sqrt(t / float64(len(nums)-1))
			}
			p := cxNil()
			if prop != "" {
				p = cxStr(prop)
			}
			return cx.out(cxObj(&clixml.PSObject{
				TypeNames:   []string{"Microsoft.PowerShell.Commands.GenericMeasureInfo", "Microsoft.PowerShell.Commands.MeasureInfo", "System.Object"},
				ToString:    "Microsoft.PowerShell.Commands.GenericMeasureInfo",
				HasToString: true,
				Props: []clixml.Property{
					cxProp("Count", cxI32(int32(count))),
					cxProp("Average", stat(cx.sw("Average"), func() float64 { return sum() / float64(len(nums)) })),
					cxProp("Sum", stat(cx.sw("Sum"), sum)),
					cxProp("Maximum", stat(cx.sw("Maximum"), ext(false))),
					cxProp("Minimum", stat(cx.sw("Minimum"), ext(true))),
					cxProp("StandardDeviation", stat(cx.sw("StandardDeviation"), sd)),
					cxProp("Property", p),
				},
			}))
		},
	}, nil
}

// sortBy sorts stably by a key.
func sortBy(items []val, key func(val) val, desc bool) {
	keys := make([]val, len(items))
	for i, v := range items {
		keys[i] = key(v)
	}
	idx := make([]int, len(items))
	for i := range idx {
		idx[i] = i
	}
	sortInts(idx, func(a, b int) bool {
		c, _ := valCompare(keys[a], keys[b], false)
		if desc {
			return c > 0
		}
		return c < 0
	})
	out := make([]val, len(items))
	for i, j := range idx {
		out[i] = items[j]
	}
	copy(items, out)
}

func sortInts(idx []int, less func(a, b int) bool) {
	// insertion sort keeps it stable and dependency-free; lists are small
	for i := 1; i < len(idx); i++ {
		for j := i; j > 0 && less(idx[j], idx[j-1]); j-- {
			idx[j], idx[j-1] = idx[j-1], idx[j]
		}
	}
}

// emitFakes writes fake objects filtered by -Name (wildcards allowed).
func (cx *cmdCtx) emitFakes(objs []clixml.Value, nameProp, what, errID, msgFmt string) error {
	names := asList(cx.get("Name"))
	if len(names) == 0 {
		for _, o := range objs {
			if err := cx.out(o); err != nil {
				return err
			}
		}
		return nil
	}
	for _, n := range names {
		pat := toStr(n)
		re, err := wildcardRegexp(pat, false)
		if err != nil {
			return err
		}
		found := false
		for _, o := range objs {
			if re.MatchString(valueText(propValue(o, nameProp))) {
				found = true
				if err := cx.out(o); err != nil {
					return err
				}
			}
		}
		if !found && !strings.ContainsAny(pat, "*?[") {
			if err := cx.writeError(&errSpec{excTypes: []string{"Microsoft.PowerShell.Commands." + what + "CommandException", "System.SystemException", "System.Exception"},
				message: strings.Replace(msgFmt, "%s", pat, 1), fqeid: errID + ",Microsoft.PowerShell.Commands.Get" + what + "Command",
				category: catObjectNotFound, target: cxStr(pat)}); err != nil {
				return err
			}
		}
	}
	return nil
}

// ---- output cmdlets ----

func makeOutDefault(cx *cmdCtx) (*stageProc, error) {
	it := cx.f.it
	fm := newViewer(it.width)
	write := func(lines []viewLine) error {
		if !it.hasUI {
			return nil
		}
		for _, l := range lines {
			m := psrp.WriteLine2
			if l.toErr {
				m = psrp.WriteErrorLine
			}
			if _, err := it.call(m, cxStr(l.text)); err != nil {
				return err
			}
		}
		return nil
	}
	id := it.nextFl
	it.nextFl++
	return &stageProc{
		begin: func() error {
			it.flushers[id] = func() error { return write(fm.flush()) }
			return nil
		},
		process: func(v val, has bool) error {
			if !has {
				if !cx.has("InputObject") {
					return nil
				}
				v = cx.get("InputObject")
			}
			x := toValue(v)
			if lines, ok := deserializedError(x); ok {
				return write(append(fm.flush(), lines...))
			}
			return write(fm.add(x))
		},
		end: func() error {
			delete(it.flushers, id)
			return write(fm.end())
		},
	}, nil
}

func makeOutString(cx *cmdCtx) (*stageProc, error) {
	width := cx.f.it.width
	if cx.has("Width") {
		w, ok := toInt(cx.get("Width"))
		if !ok || w < 2 {
			return nil, cx.bindError("ParameterArgumentValidationError", "Cannot validate argument on parameter 'Width'. The "+cx.str("Width")+" argument is less than the minimum allowed range of 2. Supply an argument that is greater than or equal to 2 and then try the command again.", clixml.Value{})
		}
		width = w
	} else if !cx.f.it.hasUI {
		width = 120
	}
	fm := newViewer(width)
	stream := cx.sw("Stream")
	var all []string
	put := func(lines []viewLine) error {
		for _, l := range lines {
			if stream {
				if err := cx.out(l.text); err != nil {
					return err
				}
				continue
			}
			all = append(all, l.text)
		}
		return nil
	}
	return &stageProc{
		process: func(v val, has bool) error {
			if !has {
				if !cx.has("InputObject") {
					return nil
				}
				v = cx.get("InputObject")
			}
			return put(fm.add(toValue(v)))
		},
		end: func() error {
			if err := put(fm.end()); err != nil {
				return err
			}
			if stream || len(all) == 0 {
				return nil
			}
			s := strings.Join(all, "\n")
			if !cx.sw("NoNewline") {
				s += "\n"
			} else {
				s = strings.Join(all, "")
			}
			return cx.out(s)
		},
	}, nil
}

// ---- Get-Date ----

func (cx *cmdCtx) getDate() error {
	it := cx.f.it
	t := it.r.opts.Now()
	if cx.has("Date") {
		d := unwrapPrim(cx.get("Date"))
		switch x := d.(type) {
		case clixml.Value:
			if tt, ok := parseDT(x.Text); ok {
				t = tt
			}
		default:
			cv, err := castTo("datetime", d)
			if err != nil {
				return cx.terminating(&errSpec{excTypes: excParameterBind, category: catInvalidArgument,
					fqeid:   "CannotConvertArgumentNoMessage,Microsoft.PowerShell.Commands.GetDateCommand",
					message: "Cannot bind parameter 'Date'. Cannot convert value \"" + toStr(d) + "\" to type \"System.DateTime\"."})
			}
			t, _ = parseDT(cv.(clixml.Value).Text)
		}
	}
	if cx.sw("AsUTC") {
		t = t.UTC()
	}
	if cx.has("Format") {
		return cx.out(netDateFormat(t, cx.str("Format")))
	}
	if cx.has("UFormat") {
		return cx.out(uFormat(t, cx.str("UFormat")))
	}
	hint, n := "DateTime", int32(2)
	switch strings.ToLower(cx.str("DisplayHint")) {
	case "date":
		hint, n = "Date", 0
	case "time":
		hint, n = "Time", 1
	}
	return cx.out(dateWithHint(t, hint, n))
}

// dateWithHint is Get-Date's output: a DateTime with a DisplayHint note.
func dateWithHint(t time.Time, hint string, n int32) clixml.Value {
	p := cxDT(t)
	return cxObj(&clixml.PSObject{
		Primitive: &p,
		Members:   []clixml.Property{cxProp("DisplayHint", cxEnum("Microsoft.PowerShell.Commands.DisplayHintType", hint, n))},
	})
}

// ---- fake Get-Service / Get-Process objects ----

func fakeServices() []clixml.Value {
	svc := func(name, display, status string, code int32, start string, startN int32) clixml.Value {
		return cxObj(&clixml.PSObject{
			TypeNames:   []string{"System.ServiceProcess.ServiceController", "System.ComponentModel.Component", "System.MarshalByRefObject", "System.Object"},
			ToString:    "System.ServiceProcess.ServiceController",
			HasToString: true,
			Props: []clixml.Property{
				cxProp("Name", cxStr(name)),
				cxProp("RequiredServices", cxStr("System.ServiceProcess.ServiceController[]")),
				cxProp("CanPauseAndContinue", cxBool(false)),
				cxProp("CanShutdown", cxBool(false)),
				cxProp("CanStop", cxBool(status == "Running")),
				cxProp("DisplayName", cxStr(display)),
				cxProp("DependentServices", cxStr("System.ServiceProcess.ServiceController[]")),
				cxProp("MachineName", cxStr(".")),
				cxProp("ServiceName", cxStr(name)),
				cxProp("ServicesDependedOn", cxStr("System.ServiceProcess.ServiceController[]")),
				cxProp("StartType", cxEnum("System.ServiceProcess.ServiceStartMode", start, startN)),
				cxProp("Status", cxEnum("System.ServiceProcess.ServiceControllerStatus", status, code)),
				cxProp("ServiceType", cxEnum("System.ServiceProcess.ServiceType", "Win32OwnProcess", 16)),
			},
		})
	}
	return []clixml.Value{
		svc("AppXSvc", "AppX Deployment Service (AppXSVC)", "Stopped", 1, "Manual", 3),
		svc("sshd", "OpenSSH SSH Server", "Running", 4, "Automatic", 2),
		svc("W32Time", "Windows Time", "Running", 4, "Manual", 3),
		svc("WinRM", "Windows Remote Management (WS-Management)", "Stopped", 1, "Manual", 3),
	}
}

func fakeProcesses(pid int) []clixml.Value {
	proc := func(name string, id int32, npm, pm, ws int64, cpu float64, si int32) clixml.Value {
		return cxObj(&clixml.PSObject{
			TypeNames:   []string{"System.Diagnostics.Process", "System.ComponentModel.Component", "System.MarshalByRefObject", "System.Object"},
			ToString:    "System.Diagnostics.Process (" + name + ")",
			HasToString: true,
			Props: []clixml.Property{
				cxProp("Name", cxStr(name)),
				cxProp("SI", cxI32(si)),
				cxProp("Handles", cxI32(0)),
				cxProp("VM", cxI64(pm*4)),
				cxProp("WS", cxI64(ws)),
				cxProp("PM", cxI64(pm)),
				cxProp("NPM", cxI64(npm)),
				cxProp("CPU", cxDbl(cpu)),
				cxProp("Id", cxI32(id)),
				cxProp("ProcessName", cxStr(name)),
				cxProp("SessionId", cxI32(si)),
				cxProp("NonpagedSystemMemorySize64", cxI64(npm)),
				cxProp("PagedMemorySize64", cxI64(pm)),
				cxProp("WorkingSet64", cxI64(ws)),
			},
		})
	}
	return []clixml.Value{
		proc("bash", 812, 0, 2433024, 5165056, 0.08, 812),
		proc("pwsh", int32(pid), 0, 73183232, 142462976, 1.53, 812),
		proc("sshd", 601, 0, 1495040, 9261056, 0.02, 601),
		proc("systemd", 1, 0, 6778880, 13107200, 2.5, 1),
	}
}

// deserializedError renders an ErrorRecord that reached the runspace
// serialized (pipeline input, as pwsh's console re-sends a failed
// pipeline's error): pwsh's ConciseView finds no CategoryInfo or
// InvocationInfo on such an object, so it reads "Error: " and the
// exception's message, and Out-Default writes it as plain output
// (WriteLine), not to the error stream.
func deserializedError(v clixml.Value) ([]viewLine, bool) {
	if v.Kind != clixml.Object || v.Obj == nil || len(v.Obj.TypeNames) == 0 ||
		v.Obj.TypeNames[0] != "Deserialized.System.Management.Automation.ErrorRecord" {
		return nil, false
	}
	msg := v.Obj.ToString
	if exc, ok := v.Obj.Get("Exception"); ok && exc.Obj != nil {
		if m, ok := exc.Obj.Get("Message"); ok && m.Kind == clixml.String {
			msg = m.Text
		}
	}
	var out []viewLine
	for i, l := range strings.Split(strings.ReplaceAll(msg, "\r\n", "\n"), "\n") {
		if i == 0 {
			l = "Error: " + l
		}
		out = append(out, viewLine{text: l})
	}
	return out, true
}
