package pwshsim

import (
	"context"
	"errors"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/psmux/psmux/sessions/clixml"
	"github.com/psmux/psmux/sessions/psrp"
)

// ---- errors and flow control ----

// psError is a PowerShell error in flight. Statement-terminating errors
// (runtime exceptions, cmdlet ThrowTerminatingError) are reported and the
// script goes on with its next statement; script-terminating ones (throw,
// -ErrorAction Stop) end the script and fail the pipeline.
type psError struct {
	spec        *errSpec
	rec         clixml.Value // prebuilt record (takes precedence over spec)
	terminating bool
	pos, end    int
	src         *source
	posSet      bool
}

func (e *psError) Error() string {
	if e.spec != nil {
		return e.spec.message
	}
	return valueText(propValue(propValue(e.rec, "Exception"), "Message"))
}

func newRuntimeError(id, msg string) error {
	return &psError{spec: &errSpec{excTypes: excRuntime, message: msg, fqeid: id, category: catInvalidOperation}}
}

// record builds the ErrorRecord, filling the invocation info from the
// statement the error came from.
func (e *psError) record(it *interp, f *frame) clixml.Value {
	if e.rec.Kind == clixml.Object {
		return e.rec
	}
	s := *e.spec
	if s.inv == nil && e.posSet && e.src != nil {
		s.inv = it.invocation(e.src, e.pos, e.end, "", "")
	}
	if s.scriptStack == "" && e.posSet && e.src != nil {
		line, _, _ := lineCol(e.src.text, e.pos)
		s.scriptStack = "at <ScriptBlock>, <No file>: line " + strconv.Itoa(line)
	}
	e.rec = s.build()
	return e.rec
}

type flowBreak struct{}
type flowContinue struct{}
type flowReturn struct{}
type flowExit struct{ code int }

func (flowBreak) Error() string       { return "break" }
func (flowContinue) Error() string    { return "continue" }
func (flowReturn) Error() string      { return "return" }
func (e *flowExit) Error() string     { return "exit " + strconv.Itoa(e.code) }
func (e *stopUpstream) Error() string { return "stop upstream" }

// stopUpstream is raised by Select-Object -First to end the commands
// before it (pwsh's StopUpstreamCommandsException).
type stopUpstream struct {
	run *pipeRun
	idx int
}

type pipeRun struct{ _ byte }

// ---- scopes ----

type scope struct {
	vars   map[string]val
	parent *scope
	mu     *sync.Mutex // the runspace mutex for the global scope
}

func (s *scope) get(name string) (val, bool) {
	for sc := s; sc != nil; sc = sc.parent {
		if sc.mu != nil {
			sc.mu.Lock()
		}
		v, ok := sc.vars[name]
		if sc.mu != nil {
			sc.mu.Unlock()
		}
		if ok {
			return v, true
		}
	}
	return nil, false
}

func (s *scope) set(name string, v val) {
	if s.mu != nil {
		s.mu.Lock()
		defer s.mu.Unlock()
	}
	s.vars[name] = v
}

func (s *scope) root() *scope {
	for s.parent != nil {
		s = s.parent
	}
	return s
}

// ---- interpreter ----

type emitFn func(val) error

// interp is one Invoke: the runspace, the host and the pipeline's context.
type interp struct {
	r        *Runspace
	ctx      context.Context
	host     Host
	hasUI    bool
	width    int
	history  int64
	flushers map[int]func() error
	nextFl   int
}

func newInterp(r *Runspace, ctx context.Context, h Host) *interp {
	it := &interp{r: r, ctx: ctx, host: h, flushers: map[int]func() error{}}
	it.hasUI, it.width = h.UI()
	if it.width <= 0 {
		it.width = 120
	}
	r.mu.Lock()
	r.history++
	it.history = r.history
	r.mu.Unlock()
	return it
}

func (it *interp) stopped() error {
	if it.ctx.Err() != nil {
		return errStopped
	}
	return nil
}

// emit sends a message body.
func (it *interp) emit(t psrp.MessageType, v clixml.Value) error {
	if err := it.stopped(); err != nil {
		return err
	}
	it.host.Emit(t, v)
	return nil
}

// call makes a host call; blocking calls first flush Out-Default's held
// rows so the user sees them before being asked.
func (it *interp) call(m psrp.HostMethod, mp ...clixml.Value) (clixml.Value, error) {
	if err := it.stopped(); err != nil {
		return clixml.Value{}, err
	}
	if mp == nil {
		mp = []clixml.Value{}
	}
	if !m.Void() {
		if err := it.flush(); err != nil {
			return clixml.Value{}, err
		}
	}
	v, err := it.host.HostCall(it.ctx, m, mp)
	if it.ctx.Err() != nil {
		return clixml.Value{}, errStopped
	}
	return v, err
}

// flush runs the registered Out-Default flushers (before blocking).
func (it *interp) flush() error {
	for _, f := range it.flushers {
		if err := f(); err != nil {
			return err
		}
	}
	return nil
}

func (it *interp) addError(rec clixml.Value) {
	it.r.mu.Lock()
	defer it.r.mu.Unlock()
	it.r.errs = append([]clixml.Value{rec}, it.r.errs...)
	if len(it.r.errs) > 256 {
		it.r.errs = it.r.errs[:256]
	}
}

// lineCol converts a byte offset to 1-based line and column and returns the
// line's text.
func lineCol(text string, off int) (int, int, string) {
	if off > len(text) {
		off = len(text)
	}
	line := 1 + strings.Count(text[:off], "\n")
	start := strings.LastIndexByte(text[:off], '\n') + 1
	end := strings.IndexByte(text[off:], '\n')
	if end < 0 {
		end = len(text)
	} else {
		end += off
	}
	lt := strings.TrimRight(text[start:end], "\r")
	return line, len([]rune(text[start:off])) + 1, lt
}

// invocation builds InvocationInfo for the extent [pos,end) of src.
func (it *interp) invocation(src *source, pos, end int, myCommand, invName string) *invInfo {
	line, col, lt := lineCol(src.text, pos)
	if end < pos {
		end = pos
	}
	if end > len(src.text) {
		end = len(src.text)
	}
	stmt := src.text[pos:end]
	if i := strings.IndexByte(stmt, '\n'); i >= 0 {
		stmt = stmt[:i]
	}
	stmt = strings.TrimRight(stmt, " \t\r")
	n := len([]rune(stmt))
	if n < 1 {
		n = 1
	}
	pm := "At line:" + strconv.Itoa(line) + " char:" + strconv.Itoa(col) + "\n+ " + lt + "\n+ " +
		strings.Repeat(" ", col-1) + strings.Repeat("~", n)
	return &invInfo{myCommand: myCommand, invocationName: invName, scriptLine: line, offsetInLine: col,
		line: lt, statement: stmt, positionMsg: pm, historyID: it.history, origin: "Internal"}
}

// frame is the execution context of running code.
type frame struct {
	it       *interp
	sc       *scope
	under    val
	hasUnder bool
	input    []val
	hasInput bool
	args     []val
	out      emitFn
	errw     func(clixml.Value) error // the error stream
	src      *source
	inFunc   bool
	inTry    bool // statement-terminating errors go to the enclosing catch
}

func (f *frame) child(out emitFn) *frame {
	c := *f
	c.out = out
	return &c
}

// pref returns a preference variable's value ("Continue", …).
func (f *frame) pref(name string) string {
	v, _ := f.getVar(strings.ToLower(name))
	s := toStr(unwrapPrim(v))
	for _, p := range []string{"SilentlyContinue", "Stop", "Continue", "Inquire", "Ignore", "Suspend", "Break"} {
		if strings.EqualFold(p, s) {
			return p
		}
	}
	if n, ok := toInt(v); ok {
		return [...]string{"SilentlyContinue", "Stop", "Continue", "Inquire", "Ignore", "Suspend", "Break"}[max(0, min(n, 6))]
	}
	return "Continue"
}

// writeError reports a non-terminating error record under an action
// preference ("" = $ErrorActionPreference).
func (f *frame) writeError(rec clixml.Value, action string) error {
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
	return f.errw(rec)
}

// reportStatementError handles a statement-terminating error.
func (f *frame) reportStatementError(pe *psError, pos, end int) error {
	if !pe.posSet {
		pe.pos, pe.end, pe.src, pe.posSet = pos, end, f.src, true
	}
	rec := pe.record(f.it, f)
	if f.pref("ErrorActionPreference") == "Stop" {
		return &psError{rec: rec, terminating: true}
	}
	return f.writeError(rec, "")
}

// ---- variables ----

func (f *frame) getVar(name string) (val, bool) {
	switch name {
	case "_", "psitem":
		return f.under, f.hasUnder
	case "input":
		return newArray(append([]val(nil), f.input...)), true
	case "args":
		return newArray(append([]val(nil), f.args...)), true
	case "true":
		return true, true
	case "false":
		return false, true
	case "null":
		return nil, true
	case "host":
		return &hostObj{f: f}, true
	case "pwd":
		return f.it.pathInfo(), true
	case "home":
		return f.it.r.opts.Home, true
	case "pid":
		return int32(f.it.r.opts.ProcessID), true
	case "psversiontable":
		return f.it.psVersionTable(), true
	case "error":
		f.it.r.mu.Lock()
		defer f.it.r.mu.Unlock()
		items := make([]val, len(f.it.r.errs))
		for i, e := range f.it.r.errs {
			items[i] = e
		}
		return &psArray{items: items, typeNames: tnArrayList}, true
	case "islinux", "iscoreclr":
		return true, true
	case "iswindows", "ismacos":
		return false, true
	case "psedition":
		return "Core", true
	case "psscriptroot", "pscommandpath":
		return "", true
	case "shellid":
		return "Microsoft.PowerShell", true
	}
	if strings.HasPrefix(name, "env:") {
		k := name[4:]
		f.it.r.mu.Lock()
		v, ok := f.it.r.env[k]
		f.it.r.mu.Unlock()
		if ok {
			return v, true
		}
		for _, kv := range os.Environ() {
			if i := strings.IndexByte(kv, '='); i > 0 && strings.EqualFold(kv[:i], k) {
				return kv[i+1:], true
			}
		}
		return nil, false
	}
	switch {
	case strings.HasPrefix(name, "global:"), strings.HasPrefix(name, "script:"):
		return f.sc.root().get(name[strings.IndexByte(name, ':')+1:])
	case strings.HasPrefix(name, "local:"), strings.HasPrefix(name, "private:"), strings.HasPrefix(name, "variable:"):
		name = name[strings.IndexByte(name, ':')+1:]
	}
	return f.sc.get(name)
}

func (f *frame) setVar(name string, v val) error {
	switch name {
	case "true", "false", "null", "host", "pid", "psversiontable", "home", "input", "args", "error":
		if name == "null" {
			return nil
		}
		return &psError{spec: &errSpec{excTypes: []string{"System.Management.Automation.SessionStateUnauthorizedAccessException", "System.Management.Automation.SessionStateException", "System.Management.Automation.RuntimeException", "System.SystemException", "System.Exception"},
			message: "Cannot overwrite variable " + name + " because it is read-only or constant.", fqeid: "VariableNotWritable",
			category: 23, target: cxStr(name)}}
	case "_", "psitem":
		f.under, f.hasUnder = v, true
		return nil
	}
	if strings.HasPrefix(name, "env:") {
		f.it.r.mu.Lock()
		f.it.r.env[name[4:]] = toStr(v)
		f.it.r.mu.Unlock()
		return nil
	}
	switch {
	case strings.HasPrefix(name, "global:"), strings.HasPrefix(name, "script:"):
		f.sc.root().set(name[strings.IndexByte(name, ':')+1:], v)
		return nil
	case strings.HasPrefix(name, "local:"), strings.HasPrefix(name, "private:"), strings.HasPrefix(name, "variable:"):
		name = name[strings.IndexByte(name, ':')+1:]
	}
	f.sc.set(name, v)
	return nil
}

// ---- statements ----

// execBlock runs statements; statement-terminating errors are reported and
// execution goes on with the next statement.
func (f *frame) execBlock(b *block) error {
	if b == nil {
		return nil
	}
	for _, s := range b.stmts {
		if err := f.it.stopped(); err != nil {
			return err
		}
		err := f.exec(s)
		if err == nil {
			continue
		}
		var pe *psError
		if errors.As(err, &pe) && !pe.terminating {
			pos, end := stmtExtent(s)
			if f.inTry {
				if !pe.posSet {
					pe.pos, pe.end, pe.src, pe.posSet = pos, end, f.src, true
				}
				return err
			}
			if err := f.reportStatementError(pe, pos, end); err != nil {
				return err
			}
			continue
		}
		return err
	}
	return nil
}

func stmtExtent(s stmt) (int, int) {
	switch x := s.(type) {
	case *pipelineStmt:
		return x.pos, x.end
	case *assignStmt:
		if pl, ok := x.value.(*pipelineStmt); ok {
			return x.pos, pl.end
		}
		return x.pos, x.pos
	case *throwStmt:
		return x.pos, x.end
	}
	return 0, 0
}

func (f *frame) exec(s stmt) error {
	switch x := s.(type) {
	case *pipelineStmt:
		return f.runPipeline(x, f.out)
	case *assignStmt:
		return f.execAssign(x)
	case *ifStmt:
		for i, c := range x.conds {
			v, err := f.stmtValue(c)
			if err != nil {
				return err
			}
			if isTrue(v) {
				return f.execBlock(x.blocks[i])
			}
		}
		return f.execBlock(x.els)
	case *foreachStmt:
		coll, err := f.stmtValue(x.coll)
		if err != nil {
			return err
		}
		items := asList(coll)
		for _, it := range items {
			if err := f.setVar(x.varName, it); err != nil {
				return err
			}
			err := f.execBlock(x.body)
			if done, err := loopFlow(err); done {
				return err
			}
		}
		return nil
	case *whileStmt:
		for {
			if !x.doWhile {
				c, err := f.stmtValue(x.cond)
				if err != nil {
					return err
				}
				if !isTrue(c) {
					return nil
				}
			}
			err := f.execBlock(x.body)
			if done, err := loopFlow(err); done {
				return err
			}
			if x.doWhile {
				c, err := f.stmtValue(x.cond)
				if err != nil {
					return err
				}
				if isTrue(c) == x.until {
					return nil
				}
			}
			if err := f.it.stopped(); err != nil {
				return err
			}
		}
	case *forStmt:
		if x.init != nil {
			if _, err := f.stmtValue(x.init); err != nil {
				return err
			}
		}
		for {
			if x.cond != nil {
				c, err := f.stmtValue(x.cond)
				if err != nil {
					return err
				}
				if !isTrue(c) {
					return nil
				}
			}
			err := f.execBlock(x.body)
			if done, err := loopFlow(err); done {
				return err
			}
			if x.step != nil {
				if _, err := f.stmtValue(x.step); err != nil {
					return err
				}
			}
			if err := f.it.stopped(); err != nil {
				return err
			}
		}
	case *throwStmt:
		return f.execThrow(x)
	case *exitStmt:
		code := 0
		if x.value != nil {
			v, err := f.stmtValue(x.value)
			if err != nil {
				return err
			}
			code, _ = toInt(v)
		}
		return &flowExit{code: code}
	case *returnStmt:
		if x.value != nil {
			if err := f.exec(x.value); err != nil {
				return err
			}
		}
		return flowReturn{}
	case *breakStmt:
		return flowBreak{}
	case *continueStmt:
		return flowContinue{}
	case *tryStmt:
		return f.execTry(x)
	case *functionStmt:
		f.it.r.mu.Lock()
		f.it.r.funcs[strings.ToLower(x.name)] = x.body
		f.it.r.mu.Unlock()
		return nil
	}
	return nil
}

// loopFlow interprets a loop body's result: (true, err) ends the loop.
func loopFlow(err error) (bool, error) {
	switch err.(type) {
	case nil:
		return false, nil
	case flowBreak:
		return true, nil
	case flowContinue:
		return false, nil
	}
	return true, err
}

func (f *frame) execThrow(x *throwStmt) error {
	msg := "ScriptHalted"
	var target clixml.Value
	if x.value != nil {
		v, err := f.stmtValue(x.value)
		if err != nil {
			return err
		}
		if cv, ok := v.(clixml.Value); ok && isErrorRecordValue(cv) {
			return &psError{rec: cv, terminating: true}
		}
		msg = toStr(v)
		target = toValue(v)
		if v == nil {
			msg, target = "ScriptHalted", clixml.Value{}
		}
	}
	pe := &psError{spec: &errSpec{excTypes: excRuntime, message: msg, thrown: true, target: target,
		fqeid: msg, category: catOperationStopped}, terminating: true,
		pos: x.pos, end: x.end, src: f.src, posSet: true}
	pe.record(f.it, f)
	return pe
}

func (f *frame) execTry(x *tryStmt) error {
	t := *f
	t.inTry = x.catch != nil || f.inTry
	err := t.execBlock(x.body)
	var pe *psError
	if err != nil && x.catch != nil && errors.As(err, &pe) {
		rec := pe.record(f.it, f)
		c := *f
		c.under, c.hasUnder = rec, true
		err = c.execBlock(x.catch)
	}
	if x.finally != nil {
		if ferr := f.execBlock(x.finally); ferr != nil {
			return ferr
		}
	}
	return err
}

// stmtValue evaluates a statement used as a value: an expression keeps its
// value; commands are collected.
func (f *frame) stmtValue(s stmt) (val, error) {
	switch x := s.(type) {
	case *pipelineStmt:
		if len(x.elems) == 1 && x.elems[0].expr != nil {
			return f.eval(x.elems[0].expr)
		}
		var items []val
		err := f.runPipeline(x, func(v val) error { items = append(items, v); return nil })
		if err != nil {
			return nil, err
		}
		return collapse(items), nil
	case *assignStmt:
		if err := f.execAssign(x); err != nil {
			return nil, err
		}
		if x.multi != nil {
			return nil, nil
		}
		return f.eval(x.target)
	}
	var items []val
	c := f.child(func(v val) error { items = append(items, v); return nil })
	if err := c.exec(s); err != nil {
		return nil, err
	}
	return collapse(items), nil
}

func (f *frame) execAssign(x *assignStmt) error {
	v, err := f.stmtValue(x.value)
	if err != nil {
		return err
	}
	if x.multi != nil {
		items := asList(v)
		for i, t := range x.multi {
			var iv val
			switch {
			case i == len(x.multi)-1 && len(items) > i+1:
				iv = newArray(items[i:])
			case i < len(items):
				iv = items[i]
			}
			if err := f.assign(t, iv); err != nil {
				return err
			}
		}
		return nil
	}
	if x.op != "=" {
		cur, err := f.eval(x.target)
		if err != nil {
			return err
		}
		v, err = arith(x.op[:1], cur, v)
		if err != nil {
			return err
		}
	}
	return f.assign(x.target, v)
}

func (f *frame) assign(target expr, v val) error {
	switch t := target.(type) {
	case *varExpr:
		return f.setVar(t.name, v)
	case *castExpr:
		cv, err := castTo(t.typ, v)
		if err != nil {
			return err
		}
		return f.assign(t.x, cv)
	case *memberExpr:
		obj, err := f.eval(t.obj)
		if err != nil {
			return err
		}
		name := t.name
		if t.dyn != nil {
			n, err := f.eval(t.dyn)
			if err != nil {
				return err
			}
			name = toStr(n)
		}
		return f.setMember(obj, name, v)
	case *indexExpr:
		obj, err := f.eval(t.obj)
		if err != nil {
			return err
		}
		idx, err := f.eval(t.index)
		if err != nil {
			return err
		}
		switch o := obj.(type) {
		case *psHash:
			o.set(idx, v)
			return nil
		case *psArray:
			i, ok := toInt(idx)
			if !ok {
				return convError(idx, "System.Int32")
			}
			if i < 0 {
				i += len(o.items)
			}
			if i < 0 || i >= len(o.items) {
				return &psError{spec: &errSpec{excTypes: excRuntime, category: catInvalidOperation, fqeid: "System.IndexOutOfRangeException",
					message: "Index was outside the bounds of the array."}}
			}
			o.items[i] = v
			return nil
		}
		return newRuntimeError("CannotIndex", "Cannot index into a null array.")
	}
	return newRuntimeError("InvalidLeftHandSide", "The assignment expression is not valid.")
}

// ---- expressions ----

func (f *frame) eval(e expr) (val, error) {
	switch x := e.(type) {
	case *constExpr:
		return x.v, nil
	case *varExpr:
		v, _ := f.getVar(x.name)
		return v, nil
	case *expandExpr:
		var b strings.Builder
		for _, p := range x.parts {
			v, err := f.eval(p)
			if err != nil {
				return nil, err
			}
			b.WriteString(toStr(v))
		}
		return b.String(), nil
	case *arrayExpr:
		items := make([]val, len(x.items))
		for i, ie := range x.items {
			v, err := f.eval(ie)
			if err != nil {
				return nil, err
			}
			items[i] = v
		}
		return newArray(items), nil
	case *parenExpr:
		return f.stmtValue(x.s)
	case *subExpr:
		var items []val
		c := f.child(func(v val) error { items = append(items, v); return nil })
		if err := c.execBlock(x.body); err != nil {
			return nil, err
		}
		if x.array {
			return newArray(items), nil
		}
		return collapse(items), nil
	case *hashExpr:
		h := &psHash{}
		for i, k := range x.keys {
			kv, err := f.eval(k)
			if err != nil {
				return nil, err
			}
			vv, err := f.stmtValue(x.vals[i])
			if err != nil {
				return nil, err
			}
			if _, dup := h.get(kv); dup {
				return nil, &psError{spec: &errSpec{excTypes: excRuntime, category: catInvalidOperation, fqeid: "DuplicateKeyInHashLiteral",
					message: "Duplicate keys '" + toStr(kv) + "' are not allowed in hash literals."}}
			}
			h.set(kv, vv)
		}
		return h, nil
	case *scriptBlockExpr:
		return &scriptBlock{body: x.body, text: x.text}, nil
	case *typeExpr:
		if !knownType(x.name) {
			return nil, typeNotFound(x.name)
		}
		return &typeVal{name: x.name}, nil
	case *castExpr:
		if strings.EqualFold(x.typ, "ordered") {
			if _, ok := x.x.(*hashExpr); !ok {
				return nil, newRuntimeError("OrderedAttributeOnlyOnHashLiteralNode", "The ordered attribute can be specified only on a hash literal node.")
			}
		}
		v, err := f.eval(x.x)
		if err != nil {
			return nil, err
		}
		return castTo(x.typ, v)
	case *unaryExpr:
		return f.evalUnary(x)
	case *postfixExpr:
		cur, err := f.eval(x.target)
		if err != nil {
			return nil, err
		}
		nv, err := arith(x.op[:1], cur, int32(1))
		if err != nil {
			return nil, err
		}
		if cur == nil {
			cur = int32(0)
		}
		return cur, f.assign(x.target, nv)
	case *binaryExpr:
		return f.evalBinary(x)
	case *memberExpr:
		obj, err := f.eval(x.obj)
		if err != nil {
			return nil, err
		}
		name := x.name
		if x.dyn != nil {
			n, err := f.eval(x.dyn)
			if err != nil {
				return nil, err
			}
			name = toStr(n)
		}
		if x.static {
			return f.staticMember(obj, name)
		}
		return f.getMember(obj, name)
	case *invokeExpr:
		obj, err := f.eval(x.obj)
		if err != nil {
			return nil, err
		}
		args := make([]val, len(x.args))
		for i, a := range x.args {
			if args[i], err = f.eval(a); err != nil {
				return nil, err
			}
		}
		if x.static {
			return f.staticCall(obj, x.name, args)
		}
		return f.callMethod(obj, x.name, args)
	case *indexExpr:
		obj, err := f.eval(x.obj)
		if err != nil {
			return nil, err
		}
		idx, err := f.eval(x.index)
		if err != nil {
			return nil, err
		}
		return f.index(obj, idx)
	}
	return nil, newRuntimeError("UnsupportedExpression", "This expression is not supported by pwshsim.")
}

func (f *frame) evalUnary(x *unaryExpr) (val, error) {
	if x.op == "++" || x.op == "--" {
		cur, err := f.eval(x.x)
		if err != nil {
			return nil, err
		}
		nv, err := arith(x.op[:1], cur, int32(1))
		if err != nil {
			return nil, err
		}
		return nv, f.assign(x.x, nv)
	}
	v, err := f.eval(x.x)
	if err != nil {
		return nil, err
	}
	switch x.op {
	case "-not":
		return !isTrue(v), nil
	case "-":
		n, ok := toNumber(v)
		if !ok {
			return nil, opError("-", v)
		}
		return numArith("-", number{kind: 1}, n)
	case "+":
		n, ok := toNumber(v)
		if !ok {
			return nil, opError("+", v)
		}
		return n.val(), nil
	case "-join":
		parts := []string{}
		for _, it := range asList(v) {
			parts = append(parts, toStr(it))
		}
		return strings.Join(parts, ""), nil
	case "-split":
		var out []val
		for _, it := range asList(v) {
			for _, p := range strings.Fields(toStr(it)) {
				out = append(out, p)
			}
		}
		return newArray(out), nil
	case "-bnot":
		n, ok := toNumber(v)
		if !ok {
			return nil, opError("-bnot", v)
		}
		if n.kind == 2 {
			return ^n.i, nil
		}
		return ^int32(n.i), nil
	}
	return nil, newRuntimeError("UnsupportedOperator", "The operator "+x.op+" is not supported.")
}

func (f *frame) evalBinary(x *binaryExpr) (val, error) {
	switch x.op {
	case "-and", "-or":
		l, err := f.eval(x.l)
		if err != nil {
			return nil, err
		}
		lt := isTrue(l)
		if x.op == "-and" && !lt || x.op == "-or" && lt {
			return lt, nil
		}
		r, err := f.eval(x.r)
		if err != nil {
			return nil, err
		}
		return isTrue(r), nil
	}
	l, err := f.eval(x.l)
	if err != nil {
		return nil, err
	}
	r, err := f.eval(x.r)
	if err != nil {
		return nil, err
	}
	return binaryOp(x.op, l, r)
}

// binaryOp applies an operator to evaluated operands.
func binaryOp(op string, l, r val) (val, error) {
	switch op {
	case "+", "-", "*", "/", "%":
		return arith(op, l, r)
	case "-xor":
		return isTrue(l) != isTrue(r), nil
	case "..":
		a, ok1 := toInt(l)
		b, ok2 := toInt(r)
		if !ok1 || !ok2 {
			return nil, convError(l, "System.Int32")
		}
		n := b - a
		if n < 0 {
			n = -n
		}
		if n > 50_000_000 {
			return nil, newRuntimeError("RangeTooBig", "The range is too large.")
		}
		items := make([]val, 0, n+1)
		step := 1
		if b < a {
			step = -1
		}
		for i := a; ; i += step {
			items = append(items, int32(i))
			if i == b {
				break
			}
		}
		return newArray(items), nil
	case "-f":
		return formatOperator(toStr(l), asFormatArgs(r))
	case "-join":
		parts := []string{}
		for _, it := range asList(l) {
			parts = append(parts, toStr(it))
		}
		return strings.Join(parts, toStr(r)), nil
	case "-is", "-isnot":
		tv, ok := r.(*typeVal)
		name := toStr(r)
		if ok {
			name = typeFullName(tv.name)
		}
		is := isOfType(l, name)
		if op == "-isnot" {
			is = !is
		}
		return is, nil
	case "-as":
		name := toStr(r)
		if tv, ok := r.(*typeVal); ok {
			name = tv.name
		}
		v, err := castTo(name, l)
		if err != nil {
			return nil, nil
		}
		return v, nil
	case "-band", "-bor", "-bxor", "-shl", "-shr":
		a, ok1 := toNumber(l)
		b, ok2 := toNumber(r)
		if !ok1 || !ok2 {
			return nil, opError(op, l)
		}
		var res int64
		switch op {
		case "-band":
			res = a.i & b.i
		case "-bor":
			res = a.i | b.i
		case "-bxor":
			res = a.i ^ b.i
		case "-shl":
			res = a.i << uint(b.i)
		case "-shr":
			res = a.i >> uint(b.i)
		}
		if a.kind == 1 && b.kind == 1 && res >= math.MinInt32 && res <= math.MaxInt32 {
			return int32(res), nil
		}
		return res, nil
	}
	cs := false
	base := op
	if strings.HasPrefix(op, "-c") && comparisonOps["-"+op[2:]] {
		cs, base = true, "-"+op[2:]
	} else if strings.HasPrefix(op, "-i") && op != "-is" && op != "-isnot" && op != "-in" && comparisonOps["-"+op[2:]] {
		base = "-" + op[2:]
	}
	switch base {
	case "-contains", "-notcontains":
		found := false
		for _, it := range asList(l) {
			if valEquals(it, r, cs) {
				found = true
				break
			}
		}
		return found == (base == "-contains"), nil
	case "-in", "-notin":
		found := false
		for _, it := range asList(r) {
			if valEquals(it, l, cs) {
				found = true
				break
			}
		}
		return found == (base == "-in"), nil
	case "-replace":
		pat, repl := r, val("")
		if a, ok := r.(*psArray); ok && len(a.items) >= 1 {
			pat = a.items[0]
			if len(a.items) > 1 {
				repl = a.items[1]
			}
		}
		re, err := compileRegex(toStr(pat), cs)
		if err != nil {
			return nil, err
		}
		rs := dotnetReplacement(toStr(repl))
		if items, ok := enumerate(l); ok {
			out := make([]val, len(items))
			for i, it := range items {
				out[i] = re.ReplaceAllString(toStr(it), rs)
			}
			return newArray(out), nil
		}
		return re.ReplaceAllString(toStr(l), rs), nil
	case "-split":
		re, err := compileRegex(toStr(r), cs)
		if err != nil {
			return nil, err
		}
		var out []val
		for _, it := range asList(l) {
			for _, p := range re.Split(toStr(it), -1) {
				out = append(out, p)
			}
		}
		return newArray(out), nil
	}
	// Comparison operators filter when the left side is a collection.
	if items, ok := enumerate(l); ok {
		var out []val
		for _, it := range items {
			m, err := compareOne(base, it, r, cs)
			if err != nil {
				return nil, err
			}
			if m {
				out = append(out, it)
			}
		}
		return newArray(out), nil
	}
	return compareOne(base, l, r, cs)
}

func compareOne(op string, l, r val, cs bool) (bool, error) {
	switch op {
	case "-eq":
		return valEquals(l, r, cs), nil
	case "-ne":
		return !valEquals(l, r, cs), nil
	case "-gt", "-ge", "-lt", "-le":
		c, err := valCompare(l, r, cs)
		if err != nil {
			return false, err
		}
		switch op {
		case "-gt":
			return c > 0, nil
		case "-ge":
			return c >= 0, nil
		case "-lt":
			return c < 0, nil
		}
		return c <= 0, nil
	case "-like", "-notlike":
		re, err := wildcardRegexp(toStr(r), cs)
		if err != nil {
			return false, newRuntimeError("WildcardPatternException", "The specified wildcard character pattern is not valid: "+toStr(r))
		}
		return re.MatchString(toStr(l)) == (op == "-like"), nil
	case "-match", "-notmatch":
		re, err := compileRegex(toStr(r), cs)
		if err != nil {
			return false, err
		}
		return re.MatchString(toStr(l)) == (op == "-match"), nil
	}
	return false, newRuntimeError("UnsupportedOperator", "The operator "+op+" is not supported by pwshsim.")
}

// dotnetReplacement converts .NET $1/${name} replacement syntax to Go's.
func dotnetReplacement(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '$' && i+1 < len(s) {
			n := s[i+1]
			switch {
			case n == '$':
				b.WriteString("$$")
				i++
				continue
			case n >= '0' && n <= '9':
				j := i + 1
				for j < len(s) && s[j] >= '0' && s[j] <= '9' {
					j++
				}
				b.WriteString("${" + s[i+1:j] + "}")
				i = j - 1
				continue
			case n == '{':
				continue
			}
			b.WriteString("$$")
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOfType(v val, name string) bool {
	ln := strings.ToLower(typeFullName(name))
	switch ln {
	case "system.object", "psobject", "system.management.automation.psobject":
		return v != nil
	case "system.array", "system.object[]":
		_, ok := v.(*psArray)
		return ok
	case "system.valuetype":
		return isNumber(v) || isBoolVal(v)
	}
	tn := strings.ToLower(typeNameOf(v))
	if tn == ln {
		return true
	}
	if cv, ok := v.(clixml.Value); ok && cv.Kind == clixml.Object && cv.Obj != nil {
		for _, t := range cv.Obj.TypeNames {
			if strings.EqualFold(strings.TrimPrefix(t, "Deserialized."), typeFullName(name)) {
				return true
			}
		}
	}
	if _, ok := v.(*psHash); ok && ln == "system.collections.hashtable" {
		return true
	}
	return false
}

func isBoolVal(v val) bool { _, ok := v.(bool); return ok }

// index evaluates obj[idx].
func (f *frame) index(obj, idx val) (val, error) {
	if ia, ok := idx.(*psArray); ok {
		var out []val
		for _, i := range ia.items {
			v, err := f.index(obj, i)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return newArray(out), nil
	}
	switch o := obj.(type) {
	case nil:
		return nil, newRuntimeError("NullArray", "Cannot index into a null array.")
	case *psHash:
		v, _ := o.get(idx)
		return v, nil
	case string:
		i, ok := toInt(idx)
		if !ok {
			return nil, convError(idx, "System.Int32")
		}
		r := []rune(o)
		if i < 0 {
			i += len(r)
		}
		if i < 0 || i >= len(r) {
			return nil, nil
		}
		return clixml.Value{Kind: clixml.Char, Text: strconv.Itoa(int(r[i]))}, nil
	}
	if cv, ok := obj.(clixml.Value); ok && isDict(cv) {
		if h, ok := fromValue(cv).(*psHash); ok {
			v, _ := h.get(idx)
			return v, nil
		}
	}
	items, ok := enumerate(obj)
	if !ok {
		i, ok := toInt(idx)
		if ok && (i == 0 || i == -1) {
			return obj, nil
		}
		return nil, nil
	}
	i, ok := toInt(idx)
	if !ok {
		return nil, convError(idx, "System.Int32")
	}
	if i < 0 {
		i += len(items)
	}
	if i < 0 || i >= len(items) {
		return nil, nil
	}
	return items[i], nil
}

// emitUnrolled writes a value to out, enumerating collections one level.
func emitUnrolled(v val, out emitFn) error {
	if items, ok := enumerate(v); ok {
		for _, it := range items {
			if err := out(it); err != nil {
				return err
			}
		}
		return nil
	}
	return out(v)
}
