package pwshsim

// Syntax tree of the PowerShell subset (SPEC S11). Positions are byte
// offsets into the source the node was parsed from.

type stmt interface{}
type expr interface{}

// source is one parsed script text.
type source struct {
	text string
}

// block is a statement list.
type block struct {
	stmts []stmt
}

// ---- statements ----

type pipelineStmt struct {
	elems []pipeElem
	pos   int
	end   int
}

// pipeElem is an expression (only as the first element) or a command.
type pipeElem struct {
	expr expr
	cmd  *commandAst
}

type commandAst struct {
	name     string // command name as written ("" when nameExpr is set)
	nameExpr expr   // & <expr> or . <expr>
	dot      bool   // dot-sourced: runs in the caller's scope
	args     []cmdArg
	redirErr string // "output" (2>&1), "null" (2>$null) or ""
	redirOut bool   // > $null
	pos, end int
}

// cmdArg is a -Parameter token, a value, or both (-Name:value).
type cmdArg struct {
	param    string // without the dash; "" for a plain value
	hasValue bool
	colon    bool // -Name:value
	value    expr
	pos      int
}

type assignStmt struct {
	target expr   // varExpr, memberExpr or indexExpr
	multi  []expr // $a, $b = … (all targets; target is nil)
	op     string
	value  stmt
	pos    int
}

type ifStmt struct {
	conds  []stmt
	blocks []*block
	els    *block
}

type foreachStmt struct {
	varName string
	coll    stmt
	body    *block
}

type whileStmt struct {
	cond    stmt
	body    *block
	doWhile bool // do { } while (…)
	until   bool // do { } until (…)
}

type forStmt struct {
	init, cond, step stmt
	body             *block
}

type throwStmt struct {
	value stmt // nil: rethrow/"ScriptHalted"
	pos   int
	end   int
}

type exitStmt struct{ value stmt }
type returnStmt struct{ value stmt }
type breakStmt struct{}
type continueStmt struct{}

type tryStmt struct {
	body    *block
	catch   *block
	finally *block
}

type functionStmt struct {
	name string
	body *sbBody
}

// ---- expressions ----

type constExpr struct{ v val }

// expandExpr is a double-quoted string: literal parts and embedded
// expressions, concatenated.
type expandExpr struct {
	parts []expr // constExpr (string) or an expression to stringify
}

type varExpr struct {
	name string // lower-cased scope-qualified name, e.g. "x", "env:home"
	orig string
}

type memberExpr struct {
	obj    expr
	name   string
	dyn    expr // $obj.$name / $obj.(expr)
	static bool // [type]::Name
}

type invokeExpr struct {
	obj    expr
	name   string
	args   []expr
	static bool
}

type indexExpr struct {
	obj   expr
	index expr
}

type unaryExpr struct {
	op string // "-not", "-", "+", "-join", "-split", "++", "--" (prefix)
	x  expr
}

type postfixExpr struct {
	op     string // "++" or "--"
	target expr
}

type binaryExpr struct {
	op   string // lower-cased: "+", "-eq", "-ceq", "..", "-f", ","…
	l, r expr
}

type arrayExpr struct{ items []expr }

// parenExpr is ( statement ).
type parenExpr struct{ s stmt }

// subExpr is $( … ) (array=false) or @( … ) (array=true).
type subExpr struct {
	body  *block
	array bool
}

type hashExpr struct {
	keys []expr
	vals []stmt
}

type scriptBlockExpr struct {
	body *sbBody
	text string
}

type typeExpr struct{ name string }

type castExpr struct {
	typ string
	x   expr
}

// sbBody is a script block or function body.
type sbBody struct {
	params  []paramDecl
	begin   *block
	process *block
	end     *block
	src     *source
}

type paramDecl struct {
	name  string // lower-cased
	orig  string
	typ   string
	def   expr
	isSw  bool
	mand  bool
	fromP bool // ValueFromPipeline
}
