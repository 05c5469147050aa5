package pwshsim

import (
	"errors"
	"sort"
	"strings"

	"github.com/psmux/psmux/sessions/clixml"
	"github.com/psmux/psmux/sessions/psrp"
)

// stageProc is one running command of a pipeline (begin/process/end).
// process is called once per input object, or once with has=false when the
// command is first in its pipeline and has no input.
type stageProc struct {
	begin   func() error
	process func(v val, has bool) error
	end     func() error
}

// runStages drives a pipeline. feed, when set, produces the input of the
// first stage; otherwise the first stage runs once without input.
func runStages(procs []*stageProc, feed func(emitFn) error, run *pipeRun) error {
	n := len(procs)
	for _, p := range procs {
		if p.begin != nil {
			if err := p.begin(); err != nil {
				var su *stopUpstream
				if errors.As(err, &su) && su.run == run {
					return nil
				}
				return err
			}
		}
	}
	from := 0
	var err error
	if feed == nil {
		err = procs[0].process(nil, false)
	} else {
		err = feed(func(v val) error { return procs[0].process(v, true) })
	}
	if err != nil {
		var su *stopUpstream
		if errors.As(err, &su) && su.run == run {
			from = su.idx
		} else {
			return err
		}
	}
	for i := from; i < n; i++ {
		if procs[i].end == nil {
			continue
		}
		if err := procs[i].end(); err != nil {
			var su *stopUpstream
			if errors.As(err, &su) && su.run == run && su.idx > i {
				i = su.idx - 1
				continue
			}
			return err
		}
	}
	return nil
}

// runPipeline runs a pipeline statement, writing its output to out.
func (f *frame) runPipeline(pl *pipelineStmt, out emitFn) error {
	if len(pl.elems) == 1 && pl.elems[0].expr != nil {
		e := pl.elems[0].expr
		v, err := f.eval(e)
		if err != nil {
			return err
		}
		if isIncDec(e) {
			return nil // $i++ as a statement writes nothing
		}
		return emitUnrolled(v, out)
	}
	run := &pipeRun{}
	n := len(pl.elems)
	procs := make([]*stageProc, n)
	next := out
	for i := n - 1; i >= 0; i-- {
		el := pl.elems[i]
		if el.expr != nil {
			e, o := el.expr, next
			procs[i] = &stageProc{process: func(val, bool) error {
				v, err := f.eval(e)
				if err != nil {
					return err
				}
				return emitUnrolled(v, o)
			}}
		} else {
			p, err := f.makeCommand(el.cmd, next, i, n, run, i > 0)
			if err != nil {
				return err
			}
			procs[i] = p
		}
		st := procs[i]
		next = func(v val) error { return st.process(v, true) }
	}
	return runStages(procs, nil, run)
}

func isIncDec(e expr) bool {
	switch x := e.(type) {
	case *postfixExpr:
		return true
	case *unaryExpr:
		return x.op == "++" || x.op == "--"
	}
	return false
}

// evArg is an evaluated command argument.
type evArg struct {
	param    string
	hasValue bool
	colon    bool
	v        val
}

// makeCommand resolves and binds a command of a pipeline.
func (f *frame) makeCommand(c *commandAst, out emitFn, idx, n int, run *pipeRun, expectingInput bool) (*stageProc, error) {
	var args []evArg
	for _, a := range c.args {
		ea := evArg{param: a.param, hasValue: a.hasValue, colon: a.colon}
		if a.hasValue {
			v, err := f.eval(a.value)
			if err != nil {
				return nil, err
			}
			ea.v = v
		}
		args = append(args, ea)
	}
	errw := f.errw
	switch c.redirErr {
	case "output":
		errw = func(rec clixml.Value) error { return out(rec) }
	case "null":
		errw = func(rec clixml.Value) error { f.it.addError(rec); return nil }
	}
	if c.redirOut {
		out = func(val) error { return nil }
	}
	name := c.name
	if c.nameExpr != nil {
		v, err := f.eval(c.nameExpr)
		if err != nil {
			return nil, err
		}
		if sb, ok := v.(*scriptBlock); ok {
			return f.scriptStage(sb.body, args, out, errw, expectingInput, !c.dot), nil
		}
		name = toStr(v)
	}
	inv := f.it.invocation(f.src, c.pos, c.end, "", name)
	return f.resolveCommand(name, args, out, errw, inv, idx, n, run, expectingInput)
}

// resolveCommand finds a function or cmdlet by name and binds it.
func (f *frame) resolveCommand(name string, args []evArg, out emitFn, errw func(clixml.Value) error, inv *invInfo, idx, n int, run *pipeRun, expectingInput bool) (*stageProc, error) {
	key := strings.ToLower(name)
	f.it.r.mu.Lock()
	fn, isFunc := f.it.r.funcs[key]
	f.it.r.mu.Unlock()
	if isFunc {
		return f.scriptStage(fn, args, out, errw, expectingInput, true), nil
	}
	if canon, ok := aliases[key]; ok {
		key = canon
	}
	def, ok := cmdlets[key]
	if !ok {
		return nil, commandNotFound(name, inv)
	}
	inv.myCommand = def.name
	inv.pipelineLength, inv.pipelinePos = n, idx+1
	cx := &cmdCtx{f: f, def: def, out: out, errw: errw, inv: inv, run: run, idx: idx, expectingInput: expectingInput}
	if err := cx.bind(args); err != nil {
		return nil, err
	}
	return def.make(cx)
}

func commandNotFound(name string, inv *invInfo) error {
	msg := "The term '" + name + "' is not recognized as a name of a cmdlet, function, script file, or executable program.\n" +
		"Check the spelling of the name, or if a path was included, verify that the path is correct and try again."
	s := &errSpec{
		excTypes: excCommandNotFound,
		message:  msg,
		excProps: []clixml.Property{cxProp("CommandName", cxStr(name))},
		target:   cxStr(name),
		fqeid:    "CommandNotFoundException",
		category: catObjectNotFound,
		inv:      inv,
	}
	if inv != nil {
		inv.myCommand = ""
		s.scriptStack = "at <ScriptBlock>, <No file>: line " + itoa(inv.scriptLine)
	}
	return &psError{spec: s}
}

// scriptStage runs a script block or function as a pipeline stage: its
// begin/process/end blocks, $_ per input object for process, $input with
// everything for an end-only body.
func (f *frame) scriptStage(body *sbBody, args []evArg, out emitFn, errw func(clixml.Value) error, expectingInput, newScope bool) *stageProc {
	c := &frame{it: f.it, sc: f.sc, out: out, errw: errw, src: body.src, inFunc: true, inTry: f.inTry}
	if newScope {
		c.sc = &scope{vars: map[string]val{}, parent: f.sc}
	}
	var collected []val
	bindErr := c.bindParams(body, args)
	runBlock := func(b *block) error {
		err := c.execBlock(b)
		if _, ok := err.(flowReturn); ok {
			return nil
		}
		return err
	}
	return &stageProc{
		begin: func() error {
			if bindErr != nil {
				return bindErr
			}
			return runBlock(body.begin)
		},
		process: func(v val, has bool) error {
			if body.process != nil {
				if has {
					c.under, c.hasUnder = v, true
					for _, p := range body.params {
						if p.fromP {
							_ = c.setVar(p.name, v)
						}
					}
				}
				return runBlock(body.process)
			}
			if has {
				collected = append(collected, v)
			}
			return nil
		},
		end: func() error {
			c.input, c.hasInput = collected, true
			c.hasUnder = false
			return runBlock(body.end)
		},
	}
}

// bindParams binds a script block's param() block (named, then positional,
// the rest in $args).
func (c *frame) bindParams(body *sbBody, args []evArg) error {
	bound := map[string]bool{}
	var positional []val
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a.param == "" {
			positional = append(positional, a.v)
			continue
		}
		var match *paramDecl
		lp := strings.ToLower(a.param)
		for j := range body.params {
			if body.params[j].name == lp {
				match = &body.params[j]
				break
			}
		}
		if match == nil {
			var cands []*paramDecl
			for j := range body.params {
				if strings.HasPrefix(body.params[j].name, lp) {
					cands = append(cands, &body.params[j])
				}
			}
			if len(cands) == 1 {
				match = cands[0]
			}
		}
		if match == nil {
			if isCommonParam(lp) {
				if !a.colon && !isCommonSwitch(lp) && i+1 < len(args) && args[i+1].param == "" {
					i++
				}
				continue
			}
			positional = append(positional, "-"+a.param)
			if a.colon {
				positional = append(positional, a.v)
			}
			continue
		}
		v := a.v
		switch {
		case match.isSw:
			if !a.colon {
				v = true
			}
		case !a.colon:
			if i+1 >= len(args) || args[i+1].param != "" {
				return missingArgument(match.orig, "")
			}
			i++
			v = args[i].v
		}
		if err := c.bindOne(*match, v); err != nil {
			return err
		}
		bound[match.name] = true
	}
	for _, p := range body.params {
		if bound[p.name] || p.isSw {
			continue
		}
		if len(positional) > 0 {
			if err := c.bindOne(p, positional[0]); err != nil {
				return err
			}
			positional = positional[1:]
			bound[p.name] = true
		}
	}
	for _, p := range body.params {
		if bound[p.name] {
			continue
		}
		var v val
		if p.isSw {
			v = false
		} else if p.def != nil {
			dv, err := c.eval(p.def)
			if err != nil {
				return err
			}
			v = dv
		}
		c.sc.set(p.name, v)
	}
	c.args = positional
	return nil
}

func (c *frame) bindOne(p paramDecl, v val) error {
	if p.typ != "" {
		cv, err := castTo(p.typ, v)
		if err != nil {
			return err
		}
		v = cv
	}
	c.sc.set(p.name, v)
	return nil
}

func missingArgument(param, cmdType string) error {
	fq := "MissingArgument"
	if cmdType != "" {
		fq += "," + cmdType
	}
	return &psError{spec: &errSpec{excTypes: excParameterBind, category: catInvalidArgument, fqeid: fq,
		message: "Missing an argument for parameter '" + param + "'. Specify a parameter of type 'System.Object' and try again."}}
}

// ---- top level ----

// runTop runs the commands of a CREATE_PIPELINE.
func (it *interp) runTop(cmds []Command, input <-chan clixml.Value) error {
	if len(cmds) == 0 {
		return nil
	}
	n := len(cmds)
	procs := make([]*stageProc, n)
	outs := make([]emitFn, n)
	run := &pipeRun{}
	final := func(v val) error { return it.emit(psrp.PipelineOutput, toValue(v)) }

	// Parse every script first: a syntax error fails the pipeline before
	// anything runs, as in pwsh.
	bodies := make([]*sbBody, n)
	for i, c := range cmds {
		if !c.IsScript {
			continue
		}
		b, err := parseScript(c.Cmd)
		if err != nil {
			return parseFailure(c.Cmd, err.(*parseError))
		}
		bodies[i] = b
	}

	// errSink routes stage i's error records: merged into its own output
	// (MergeMyResult=Error → Output), into a later command that claims
	// previous errors (MergePreviousResults has Error), or to the client.
	errSink := func(i int) func(clixml.Value) error {
		return func(rec clixml.Value) error {
			if cmds[i].MergeMyResult&2 != 0 && cmds[i].MergeToResult&1 != 0 {
				return outs[i](rec)
			}
			for j := i + 1; j < n; j++ {
				if cmds[j].MergePreviousResults&2 != 0 {
					return procs[j].process(rec, true)
				}
			}
			it.addError(rec)
			return it.emit(psrp.ErrorRecord, rec)
		}
	}

	next := emitFn(final)
	for i := n - 1; i >= 0; i-- {
		outs[i] = next
		c := cmds[i]
		f := &frame{it: it, sc: it.r.global, out: next, errw: errSink(i)}
		expecting := i > 0 || input != nil
		var args []evArg
		for _, a := range c.Args {
			if a.Name == "" {
				args = append(args, evArg{hasValue: true, v: fromValue(a.Value)})
			} else {
				args = append(args, evArg{param: a.Name, hasValue: true, colon: true, v: fromValue(a.Value)})
			}
		}
		if c.IsScript {
			// Args bind to the script's param() block (Invoke-Command
			// -ArgumentList); UseLocalScope runs it in a child scope.
			f.src = bodies[i].src
			procs[i] = f.scriptStage(bodies[i], args, next, f.errw, expecting, c.UseLocalScope)
		} else {
			f.src = &source{text: c.Cmd}
			inv := &invInfo{invocationName: c.Cmd, historyID: it.history, origin: "Runspace"}
			p, err := f.resolveCommand(c.Cmd, args, next, f.errw, inv, i, n, run, expecting)
			if err != nil {
				var pe *psError
				if errors.As(err, &pe) {
					pe.terminating = true
				}
				return err
			}
			procs[i] = p
		}
		st := procs[i]
		next = func(v val) error { return st.process(v, true) }
	}
	var feed func(emitFn) error
	if input != nil {
		feed = func(emit emitFn) error {
			for {
				select {
				case <-it.ctx.Done():
					return errStopped
				case v, ok := <-input:
					if !ok {
						return nil
					}
					if err := emit(fromValue(v)); err != nil {
						return err
					}
				}
			}
		}
	}
	err := runStages(procs, feed, run)
	if err == nil {
		return nil
	}
	var ex *flowExit
	if errors.As(err, &ex) {
		// LocalPipeline tells the host the script asked to exit.
		_, err := it.call(psrp.SetShouldExit, cxI32(int32(ex.code)))
		return err
	}
	var pe *psError
	if errors.As(err, &pe) && !pe.terminating {
		// A statement-terminating error escaping a top-level command
		// (bad parameters, a cmdlet's terminating error) fails it.
		return &psError{rec: pe.record(it, nil), terminating: true}
	}
	return err
}

// parseFailure is the ParseException for a script that does not parse.
func parseFailure(text string, pe *parseError) error {
	line, col, lt := lineCol(text, pe.off)
	msg := "At line:" + itoa(line) + " char:" + itoa(col) + "\n+ " + lt + "\n+ " + strings.Repeat(" ", col-1) + "~\n" + pe.msg
	s := &errSpec{
		excTypes: excParse,
		message:  msg,
		excProps: []clixml.Property{cxProp("Errors", cxNil())},
		fqeid:    pe.id,
		category: catParserError,
	}
	return &psError{spec: s, terminating: true}
}

// ---- command binding ----

// paramSpec describes a cmdlet parameter.
type paramSpec struct {
	name      string
	aliases   []string
	pos       int  // positional index, -1 for named only
	sw        bool // switch parameter
	remaining bool // ValueFromRemainingArguments
	typ       string
}

var commonParams = []paramSpec{
	{name: "Verbose", aliases: []string{"vb"}, pos: -1, sw: true},
	{name: "Debug", aliases: []string{"db"}, pos: -1, sw: true},
	{name: "ErrorAction", aliases: []string{"ea"}, pos: -1},
	{name: "WarningAction", aliases: []string{"wa"}, pos: -1},
	{name: "InformationAction", aliases: []string{"infa"}, pos: -1},
	{name: "ProgressAction", aliases: []string{"proga"}, pos: -1},
	{name: "ErrorVariable", aliases: []string{"ev"}, pos: -1},
	{name: "WarningVariable", aliases: []string{"wv"}, pos: -1},
	{name: "InformationVariable", aliases: []string{"iv"}, pos: -1},
	{name: "OutVariable", aliases: []string{"ov"}, pos: -1},
	{name: "OutBuffer", aliases: []string{"ob"}, pos: -1},
	{name: "PipelineVariable", aliases: []string{"pv"}, pos: -1},
}

func isCommonParam(lp string) bool {
	for _, p := range commonParams {
		if strings.EqualFold(p.name, lp) {
			return true
		}
		for _, a := range p.aliases {
			if a == lp {
				return true
			}
		}
	}
	return false
}

func isCommonSwitch(lp string) bool {
	return lp == "verbose" || lp == "debug" || lp == "vb" || lp == "db"
}

// cmdCtx is a cmdlet invocation: bound parameters and its streams.
type cmdCtx struct {
	f              *frame
	def            *cmdletDef
	out            emitFn
	errw           func(clixml.Value) error
	inv            *invInfo
	run            *pipeRun
	idx            int
	expectingInput bool
	params         map[string]val // by canonical lower-case name
}

func (cx *cmdCtx) has(name string) bool { _, ok := cx.params[strings.ToLower(name)]; return ok }
func (cx *cmdCtx) get(name string) val  { return cx.params[strings.ToLower(name)] }
func (cx *cmdCtx) sw(name string) bool  { return isTrue(cx.params[strings.ToLower(name)]) }
func (cx *cmdCtx) str(name string) string {
	return toStr(cx.params[strings.ToLower(name)])
}

// action returns the effective preference for a stream: the common
// parameter if given, else the preference variable.
func (cx *cmdCtx) action(param, variable string) string {
	if v, ok := cx.params[strings.ToLower(param)]; ok {
		s := toStr(unwrapPrim(v))
		for _, p := range []string{"SilentlyContinue", "Stop", "Continue", "Inquire", "Ignore", "Suspend", "Break"} {
			if strings.EqualFold(p, s) {
				return p
			}
		}
	}
	return cx.f.pref(variable)
}

func (cx *cmdCtx) bindError(id, msg string, target clixml.Value) error {
	return &psError{spec: &errSpec{excTypes: excParameterBind, message: msg, fqeid: id + "," + cx.def.typeName,
		category: catInvalidArgument, activity: cx.def.name, inv: cx.inv, target: target,
		scriptStack: "at <ScriptBlock>, <No file>: line " + itoa(max(cx.inv.scriptLine, 1))}}
}

// bind binds evaluated arguments to the cmdlet's parameters.
func (cx *cmdCtx) bind(args []evArg) error {
	cx.params = map[string]val{}
	all := append(append([]paramSpec(nil), cx.def.params...), commonParams...)
	resolve := func(name string) (*paramSpec, error) {
		ln := strings.ToLower(name)
		var cands []*paramSpec
		for i := range all {
			p := &all[i]
			if strings.ToLower(p.name) == ln {
				return p, nil
			}
			for _, a := range p.aliases {
				if strings.ToLower(a) == ln {
					return p, nil
				}
			}
			if strings.HasPrefix(strings.ToLower(p.name), ln) {
				cands = append(cands, p)
			}
		}
		switch len(cands) {
		case 1:
			return cands[0], nil
		case 0:
			return nil, cx.bindError("NamedParameterNotFound", "A parameter cannot be found that matches parameter name '"+name+"'.", clixml.Value{})
		}
		var names []string
		for _, c := range cands {
			names = append(names, "-"+c.name)
		}
		sort.Strings(names)
		return nil, cx.bindError("AmbiguousParameter", "Parameter cannot be processed because the parameter name '"+name+"' is ambiguous. Possible matches include: "+strings.Join(names, " ")+".", clixml.Value{})
	}
	var positional []val
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a.param == "" {
			positional = append(positional, a.v)
			continue
		}
		p, err := resolve(a.param)
		if err != nil {
			return err
		}
		key := strings.ToLower(p.name)
		if _, dup := cx.params[key]; dup {
			return cx.bindError("ParameterAlreadyBound", "Cannot bind parameter because parameter '"+p.name+"' is specified more than once. To provide multiple values to parameters that can accept multiple values, use the array syntax. For example, \"-parameter value1,value2,value3\".", clixml.Value{})
		}
		switch {
		case p.sw:
			if a.colon {
				cx.params[key] = isTrue(a.v)
			} else {
				cx.params[key] = true
			}
		case a.colon:
			cx.params[key] = a.v
		default:
			if i+1 >= len(args) || args[i+1].param != "" {
				return &psError{spec: &errSpec{excTypes: excParameterBind, category: catInvalidArgument,
					fqeid:    "MissingArgument," + cx.def.typeName,
					message:  "Missing an argument for parameter '" + p.name + "'. Specify a parameter of type '" + paramTypeName(p) + "' and try again.",
					activity: cx.def.name, inv: cx.inv}}
			}
			i++
			cx.params[key] = args[i].v
		}
	}
	// Positional arguments fill the positional parameters in order.
	var pos []*paramSpec
	for i := range cx.def.params {
		if cx.def.params[i].pos >= 0 {
			pos = append(pos, &cx.def.params[i])
		}
	}
	sort.SliceStable(pos, func(i, j int) bool { return pos[i].pos < pos[j].pos })
	for _, p := range pos {
		if len(positional) == 0 {
			break
		}
		key := strings.ToLower(p.name)
		if _, done := cx.params[key]; done {
			continue
		}
		if p.remaining {
			if len(positional) == 1 {
				cx.params[key] = positional[0]
			} else {
				cx.params[key] = newArray(positional)
			}
			positional = nil
			break
		}
		cx.params[key] = positional[0]
		positional = positional[1:]
	}
	if len(positional) > 0 {
		for _, p := range cx.def.params {
			if p.remaining {
				key := strings.ToLower(p.name)
				prev := asList(cx.params[key])
				cx.params[key] = newArray(append(prev, positional...))
				positional = nil
				break
			}
		}
	}
	if len(positional) > 0 {
		return cx.bindError("PositionalParameterNotFound", "A positional parameter cannot be found that accepts argument '"+toStr(positional[0])+"'.", toValue(positional[0]))
	}
	return nil
}

func paramTypeName(p *paramSpec) string {
	if p.typ != "" {
		return p.typ
	}
	return "System.Object"
}

// writeError writes a non-terminating error from a cmdlet.
func (cx *cmdCtx) writeError(s *errSpec) error {
	if s.inv == nil {
		s.inv = cx.inv
	}
	if s.activity == "" {
		s.activity = cx.def.name
	}
	if s.scriptStack == "" && cx.f.src != nil {
		s.scriptStack = "at <ScriptBlock>, <No file>: line " + itoa(max(cx.inv.scriptLine, 1))
	}
	s.streamRecord = true
	return cx.f.writeErrorTo(s.build(), cx.action("ErrorAction", "ErrorActionPreference"), cx.errw)
}

// terminating returns a statement-terminating error from a cmdlet.
func (cx *cmdCtx) terminating(s *errSpec) error {
	if s.inv == nil {
		s.inv = cx.inv
	}
	if s.activity == "" {
		s.activity = cx.def.name
	}
	return &psError{spec: s}
}

// writeErrorTo is writeError with an explicit sink.
func (f *frame) writeErrorTo(rec clixml.Value, action string, sink func(clixml.Value) error) error {
	if action == "" {
		action = f.pref("ErrorActionPreference")
	}
	switch action {
	case "Ignore":
		return nil
	case "SilentlyContinue":
		f.it.addError(rec)
		return nil
	case "Stop":
		return &psError{rec: withoutMessageDetails(rec), terminating: true}
	}
	return sink(rec)
}

// withoutMessageDetails drops the PSMessageDetails note an error-stream
// record carries: a record that becomes the pipeline's failure reason is
// sent without it (corpus E060).
func withoutMessageDetails(rec clixml.Value) clixml.Value {
	if rec.Obj == nil || len(rec.Obj.Members) == 0 || rec.Obj.Members[len(rec.Obj.Members)-1].Name != "PSMessageDetails" {
		return rec
	}
	o := *rec.Obj
	o.Members = o.Members[:len(o.Members)-1]
	return cxObj(&o)
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	neg := n < 0
	if neg {
		n = -n
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}
