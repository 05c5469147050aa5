package pwshsim

import (
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// parseError is a syntax error; it becomes a ParseException.
type parseError struct {
	id  string // pwsh's ParseError ErrorId, e.g. "MissingEndCurlyBrace"
	msg string
	off int
}

func (e *parseError) Error() string { return e.msg }

type parser struct {
	src     *source
	s       string
	pos     int
	noComma int    // >0 while parsing method-call arguments
	afterOp string // the binary operator whose right operand is being parsed
}

// parseScript parses a whole script.
func parseScript(text string) (*sbBody, error) {
	p := &parser{src: &source{text: text}, s: text}
	var body *sbBody
	err := p.catch(func() {
		body = p.parseBody(0)
		p.skipSpaceNL()
		if p.pos < len(p.s) {
			p.unexpected()
		}
	})
	return body, err
}

// catch runs f, turning a parse panic into an error.
func (p *parser) catch(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			pe, ok := r.(*parseError)
			if !ok {
				panic(r)
			}
			err = pe
		}
	}()
	f()
	return nil
}

func (p *parser) fail(id, msg string) {
	panic(&parseError{id: id, msg: msg, off: p.pos})
}

func (p *parser) failAt(off int, id, msg string) {
	panic(&parseError{id: id, msg: msg, off: off})
}

func (p *parser) unexpected() {
	if p.pos >= len(p.s) {
		p.fail("IncompleteParseException", "Unexpected end of input.")
	}
	tok := p.peekTokenText()
	p.fail("UnexpectedToken", "Unexpected token '"+tok+"' in expression or statement.")
}

// peekTokenText is a rough token at pos, for messages.
func (p *parser) peekTokenText() string {
	i := p.pos
	if i >= len(p.s) {
		return ""
	}
	j := i
	for j < len(p.s) && !isSpaceByte(p.s[j]) && !strings.ContainsRune(";|(){}\r\n", rune(p.s[j])) {
		j++
	}
	if j == i {
		j = i + 1
	}
	return p.s[i:j]
}

// ---- low-level scanning ----

func isSpaceByte(c byte) bool { return c == ' ' || c == '\t' || c == '\f' || c == '\v' }

func (p *parser) peek() byte {
	if p.pos < len(p.s) {
		return p.s[p.pos]
	}
	return 0
}

func (p *parser) peekAt(n int) byte {
	if p.pos+n < len(p.s) {
		return p.s[p.pos+n]
	}
	return 0
}

func (p *parser) at(t string) bool { return strings.HasPrefix(p.s[p.pos:], t) }

// skipSpace skips blanks, comments and line continuations, not newlines.
func (p *parser) skipSpace() {
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		switch {
		case isSpaceByte(c) || c == 0xa0:
			p.pos++
		case c == '`' && (p.peekAt(1) == '\n' || p.peekAt(1) == '\r'):
			p.pos++
			if p.peek() == '\r' {
				p.pos++
			}
			if p.peek() == '\n' {
				p.pos++
			}
		case c == '<' && p.peekAt(1) == '#':
			end := strings.Index(p.s[p.pos+2:], "#>")
			if end < 0 {
				p.fail("MissingEndOfComment", "The string is missing the terminator: #>.")
			}
			p.pos += 2 + end + 2
		case c == '#':
			for p.pos < len(p.s) && p.s[p.pos] != '\n' && p.s[p.pos] != '\r' {
				p.pos++
			}
		default:
			if c >= 0x80 {
				r, n := utf8.DecodeRuneInString(p.s[p.pos:])
				if unicode.IsSpace(r) && r != '\n' && r != '\r' {
					p.pos += n
					continue
				}
			}
			return
		}
	}
}

// skipSpaceNL also skips newlines.
func (p *parser) skipSpaceNL() {
	for {
		p.skipSpace()
		if c := p.peek(); c == '\n' || c == '\r' {
			p.pos++
			continue
		}
		return
	}
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80
}

func isIdentChar(c byte) bool {
	return isIdentStart(c) || (c >= '0' && c <= '9')
}

// peekWord returns the identifier-ish word at pos (letters, digits, '_', '-').
func (p *parser) peekWord() string {
	i := p.pos
	for i < len(p.s) && (isIdentChar(p.s[i]) || p.s[i] == '-') {
		i++
	}
	return p.s[p.pos:i]
}

// keywordAt reports whether the keyword kw (lower case) starts at pos and is
// not part of a longer word.
func (p *parser) keywordAt(kw string) bool {
	if len(p.s)-p.pos < len(kw) || !strings.EqualFold(p.s[p.pos:p.pos+len(kw)], kw) {
		return false
	}
	if p.pos+len(kw) < len(p.s) {
		c := p.s[p.pos+len(kw)]
		if isIdentChar(c) || c == '-' {
			return false
		}
	}
	return true
}

// ---- statements ----

// parseBody parses a script/script-block body up to the closer (0 = EOF),
// with an optional param() block and begin/process/end blocks.
func (p *parser) parseBody(closer byte) *sbBody {
	body := &sbBody{src: p.src}
	p.skipSpaceNL()
	if p.keywordAt("param") {
		save := p.pos
		p.pos += 5
		p.skipSpaceNL()
		if p.peek() == '(' {
			p.pos++
			body.params = p.parseParamList()
		} else {
			p.pos = save
		}
	}
	p.skipSpaceNL()
	named := false
	for {
		p.skipSpaceNL()
		var dst **block
		switch {
		case p.keywordAt("begin"):
			dst = &body.begin
		case p.keywordAt("process"):
			dst = &body.process
		case p.keywordAt("end"):
			dst = &body.end
		}
		if dst == nil {
			break
		}
		save := p.pos
		p.pos += len(p.peekWord())
		p.skipSpaceNL()
		if p.peek() != '{' {
			p.pos = save
			break
		}
		p.pos++
		*dst = p.parseStatements('}')
		p.expectClose('}')
		named = true
	}
	if !named {
		body.end = p.parseStatements(closer)
	}
	return body
}

func (p *parser) expectClose(c byte) {
	p.skipSpaceNL()
	if p.peek() != c {
		switch c {
		case '}':
			p.fail("MissingEndCurlyBrace", "Missing closing '}' in statement block or type definition.")
		case ')':
			p.fail("MissingEndParenthesisInExpression", "Missing closing ')' in expression.")
		default:
			p.unexpected()
		}
	}
	p.pos++
}

// parseParamList parses "$a, [int]$b = 2, [switch]$c)" after "param(".
func (p *parser) parseParamList() []paramDecl {
	var out []paramDecl
	for {
		p.skipSpaceNL()
		if p.peek() == ')' {
			p.pos++
			return out
		}
		var d paramDecl
		for p.peek() == '[' {
			start := p.pos
			name := p.readTypeName()
			ln := strings.ToLower(name)
			switch {
			case ln == "switch" || ln == "system.management.automation.switchparameter":
				d.isSw = true
			case strings.HasPrefix(ln, "parameter(") || ln == "parameter":
				attr := strings.ToLower(p.s[start:p.pos])
				d.mand = strings.Contains(attr, "mandatory")
				d.fromP = strings.Contains(attr, "valuefrompipeline")
			case strings.HasPrefix(ln, "validate") || strings.HasPrefix(ln, "allow") || strings.HasPrefix(ln, "alias"):
			default:
				d.typ = name
			}
			p.skipSpaceNL()
		}
		if p.peek() != '$' {
			p.fail("InvalidFunctionParameter", "Function declaration parameter is not valid.")
		}
		v := p.parseVariable().(*varExpr)
		d.name, d.orig = v.name, v.orig
		p.skipSpaceNL()
		if p.peek() == '=' {
			p.pos++
			p.skipSpaceNL()
			p.noComma++
			d.def = p.parseExpression()
			p.noComma--
		}
		out = append(out, d)
		p.skipSpaceNL()
		if p.peek() == ',' {
			p.pos++
			continue
		}
		if p.peek() != ')' {
			p.fail("MissingEndParenthesisInFunctionParameterList", "Missing ')' in function parameter list.")
		}
	}
}

// parseStatements parses statements until the closer (not consumed).
func (p *parser) parseStatements(closer byte) *block {
	b := &block{}
	for {
		p.skipSpace()
		c := p.peek()
		switch {
		case c == '\n' || c == '\r' || c == ';':
			p.pos++
			continue
		case p.pos >= len(p.s):
			if closer != 0 {
				switch closer {
				case '}':
					p.fail("MissingEndCurlyBrace", "Missing closing '}' in statement block or type definition.")
				default:
					p.fail("MissingEndParenthesisInExpression", "Missing closing ')' in expression.")
				}
			}
			return b
		case c == closer && closer != 0:
			return b
		case c == '}' || c == ')':
			p.unexpected()
		}
		s := p.parseStatement()
		if s != nil {
			b.stmts = append(b.stmts, s)
		}
		p.skipSpace()
		c = p.peek()
		if !(c == '\n' || c == '\r' || c == ';' || p.pos >= len(p.s) || (c == closer && closer != 0)) {
			p.unexpected()
		}
	}
}

func (p *parser) parseStatement() stmt {
	p.skipSpace()
	switch {
	case p.keywordAt("if"):
		return p.parseIf()
	case p.keywordAt("foreach") && p.parenFollows(7):
		return p.parseForeach()
	case p.keywordAt("while") && p.parenFollows(5):
		p.pos += 5
		cond := p.parseCondition("while")
		return &whileStmt{cond: cond, body: p.parseBlock()}
	case p.keywordAt("for") && p.parenFollows(3):
		return p.parseFor()
	case p.keywordAt("do") && p.braceFollows(2):
		p.pos += 2
		body := p.parseBlock()
		p.skipSpaceNL()
		w := &whileStmt{body: body, doWhile: true}
		switch {
		case p.keywordAt("while"):
			p.pos += 5
		case p.keywordAt("until"):
			p.pos += 5
			w.until = true
		default:
			p.fail("MissingWhileOrUntilInDoWhile", "Missing while or until keyword in do loop.")
		}
		w.cond = p.parseCondition("do")
		return w
	case p.keywordAt("function") || p.keywordAt("filter"):
		return p.parseFunction()
	case p.keywordAt("try") && p.braceFollows(3):
		return p.parseTry()
	case p.keywordAt("throw"):
		start := p.pos
		p.pos += 5
		t := &throwStmt{pos: start}
		if p.valueFollows() {
			t.value = p.parsePipelineOrAssign()
		}
		t.end = p.pos
		return t
	case p.keywordAt("exit"):
		p.pos += 4
		e := &exitStmt{}
		if p.valueFollows() {
			e.value = p.parsePipelineOrAssign()
		}
		return e
	case p.keywordAt("return"):
		p.pos += 6
		r := &returnStmt{}
		if p.valueFollows() {
			r.value = p.parsePipelineOrAssign()
		}
		return r
	case p.keywordAt("break"):
		p.pos += 5
		return &breakStmt{}
	case p.keywordAt("continue"):
		p.pos += 8
		return &continueStmt{}
	case p.keywordAt("switch") || p.keywordAt("trap") || p.keywordAt("class") || p.keywordAt("enum"):
		p.fail("UnsupportedStatement", "The '"+p.peekWord()+"' statement is not supported by pwshsim.")
	}
	return p.parsePipelineOrAssign()
}

// valueFollows reports whether an operand follows on the same line.
func (p *parser) valueFollows() bool {
	p.skipSpace()
	c := p.peek()
	return !(p.pos >= len(p.s) || c == '\n' || c == '\r' || c == ';' || c == '}' || c == ')' || c == '|')
}

func (p *parser) parenFollows(n int) bool {
	save := p.pos
	p.pos += n
	p.skipSpace()
	ok := p.peek() == '('
	p.pos = save
	return ok
}

func (p *parser) braceFollows(n int) bool {
	save := p.pos
	p.pos += n
	p.skipSpaceNL()
	ok := p.peek() == '{'
	p.pos = save
	return ok
}

func (p *parser) parseCondition(kw string) stmt {
	p.skipSpace()
	if p.peek() != '(' {
		p.fail("MissingOpenParenthesisIn"+kw+"Statement", "Missing '(' after '"+kw+"' in "+kw+" statement.")
	}
	p.pos++
	p.skipSpaceNL()
	if p.peek() == ')' {
		p.fail("IfStatementMissingCondition", "Missing condition in "+kw+" statement after '"+kw+" ('.")
	}
	c := p.parsePipelineOrAssign()
	p.expectClose(')')
	return c
}

func (p *parser) parseBlock() *block {
	p.skipSpaceNL()
	if p.peek() != '{' {
		p.fail("MissingOpenBraceInStatementBlock", "Missing statement block.")
	}
	p.pos++
	b := p.parseStatements('}')
	p.expectClose('}')
	return b
}

func (p *parser) parseIf() stmt {
	p.pos += 2
	s := &ifStmt{}
	s.conds = append(s.conds, p.parseCondition("if"))
	s.blocks = append(s.blocks, p.parseBlock())
	for {
		save := p.pos
		p.skipSpaceNL()
		switch {
		case p.keywordAt("elseif"):
			p.pos += 6
			s.conds = append(s.conds, p.parseCondition("elseif"))
			s.blocks = append(s.blocks, p.parseBlock())
		case p.keywordAt("else"):
			p.pos += 4
			s.els = p.parseBlock()
			return s
		default:
			p.pos = save
			return s
		}
	}
}

func (p *parser) parseForeach() stmt {
	p.pos += 7
	p.skipSpace()
	p.pos++ // (
	p.skipSpaceNL()
	if p.peek() != '$' {
		p.fail("MissingVariableNameAfterForeach", "Missing variable name after foreach.")
	}
	v := p.parseVariable().(*varExpr)
	p.skipSpaceNL()
	if !p.keywordAt("in") {
		p.fail("MissingInInForeach", "Missing 'in' after variable in foreach loop.")
	}
	p.pos += 2
	p.skipSpaceNL()
	coll := p.parsePipelineOrAssign()
	p.expectClose(')')
	return &foreachStmt{varName: v.name, coll: coll, body: p.parseBlock()}
}

func (p *parser) parseFor() stmt {
	p.pos += 3
	p.skipSpace()
	p.pos++ // (
	f := &forStmt{}
	part := func(end byte) stmt {
		p.skipSpaceNL()
		if p.peek() == end {
			p.pos++
			return nil
		}
		s := p.parsePipelineOrAssign()
		p.skipSpaceNL()
		if p.peek() != end {
			p.fail("MissingEndParenthesisAfterForStatement", "Missing closing ')' after expression in 'for' statement.")
		}
		p.pos++
		return s
	}
	f.init = part(';')
	f.cond = part(';')
	f.step = part(')')
	f.body = p.parseBlock()
	return f
}

func (p *parser) parseFunction() stmt {
	p.pos += len(p.peekWord())
	p.skipSpace()
	start := p.pos
	for p.pos < len(p.s) && !isSpaceByte(p.s[p.pos]) && !strings.ContainsRune("{(\r\n;", rune(p.s[p.pos])) {
		p.pos++
	}
	name := p.s[start:p.pos]
	if name == "" {
		p.fail("MissingNameAfterKeyword", "Missing name after function keyword.")
	}
	p.skipSpace()
	var params []paramDecl
	if p.peek() == '(' {
		p.pos++
		params = p.parseParamList()
	}
	p.skipSpaceNL()
	if p.peek() != '{' {
		p.fail("MissingFunctionBody", "Missing function body in function declaration.")
	}
	p.pos++
	body := p.parseBody('}')
	p.expectClose('}')
	if params != nil {
		body.params = params
	}
	return &functionStmt{name: name, body: body}
}

func (p *parser) parseTry() stmt {
	p.pos += 3
	t := &tryStmt{body: p.parseBlock()}
	for {
		save := p.pos
		p.skipSpaceNL()
		switch {
		case p.keywordAt("catch"):
			p.pos += 5
			p.skipSpace()
			for p.peek() == '[' { // exception type filters are accepted and ignored
				p.readTypeName()
				p.skipSpace()
				if p.peek() == ',' {
					p.pos++
					p.skipSpaceNL()
				}
			}
			t.catch = p.parseBlock()
		case p.keywordAt("finally"):
			p.pos += 7
			t.finally = p.parseBlock()
		default:
			p.pos = save
			if t.catch == nil && t.finally == nil {
				p.fail("MissingCatchOrFinally", "The Try statement is missing its Catch or Finally block.")
			}
			return t
		}
	}
}

var assignOps = []string{"+=", "-=", "*=", "/=", "%=", "="}

// parsePipelineOrAssign parses an assignment or a pipeline.
func (p *parser) parsePipelineOrAssign() stmt {
	p.skipSpace()
	start := p.pos
	if c := p.peek(); c == '$' || c == '[' {
		var target expr
		var multi []expr
		ok := p.catch(func() {
			target = p.parseUnary()
			p.skipSpace()
			for p.peek() == ',' {
				if multi == nil {
					multi = []expr{target}
				}
				p.pos++
				p.skipSpace()
				multi = append(multi, p.parseUnary())
				p.skipSpace()
			}
		}) == nil
		if ok && multi != nil {
			if p.peek() != '=' || p.peekAt(1) == '=' {
				p.pos = start
				return p.parsePipeline()
			}
			for _, t := range multi {
				if _, isVar := t.(*varExpr); !isVar {
					p.fail("InvalidLeftHandSide", "The assignment expression is not valid. The input to an assignment operator must be an object that is able to accept assignments, such as a variable or a property.")
				}
			}
			p.pos++
			p.skipSpaceNL()
			p.expectValueAfter("=")
			return &assignStmt{multi: multi, op: "=", value: p.parsePipelineOrAssign(), pos: start}
		}
		if ok {
			p.skipSpace()
			for _, op := range assignOps {
				if p.at(op) && !(op == "=" && p.peekAt(1) == '=') {
					switch target.(type) {
					case *varExpr, *memberExpr, *indexExpr, *castExpr:
					default:
						p.fail("InvalidLeftHandSide", "The assignment expression is not valid. The input to an assignment operator must be an object that is able to accept assignments, such as a variable or a property.")
					}
					p.pos += len(op)
					p.skipSpaceNL()
					p.expectValueAfter(op)
					var value stmt
					switch {
					case p.keywordAt("if"):
						value = p.parseIf()
					case p.keywordAt("foreach") && p.parenFollows(7):
						value = p.parseForeach()
					default:
						value = p.parsePipelineOrAssign()
					}
					return &assignStmt{target: target, op: op, value: value, pos: start}
				}
			}
		}
		p.pos = start
	}
	return p.parsePipeline()
}

// expectValueAfter fails when an assignment has no right-hand side.
func (p *parser) expectValueAfter(op string) {
	if c := p.peek(); p.pos >= len(p.s) || c == ';' || c == ')' || c == '}' || c == '\n' || c == '\r' {
		p.fail("ExpectedValueExpression", "You must provide a value expression on the right-hand side of the '"+op+"' operator.")
	}
}

func (p *parser) parsePipeline() stmt {
	p.skipSpace()
	pl := &pipelineStmt{pos: p.pos}
	if p.isCommandStart() {
		pl.elems = append(pl.elems, pipeElem{cmd: p.parseCommand()})
	} else {
		e := p.parseExpression()
		p.skipSpace()
		// Redirections after an expression: "expr > $null", "expr 2>&1".
		if c := p.parseRedirections(); c != nil && c.redirOut {
			pl.elems = append(pl.elems, pipeElem{expr: e}, pipeElem{cmd: &commandAst{name: "Out-Null", pos: p.pos, end: p.pos}})
			pl.end = p.pos
			return pl
		}
		pl.elems = append(pl.elems, pipeElem{expr: e})
	}
	for {
		p.skipSpace()
		if p.peek() != '|' || p.peekAt(1) == '|' {
			break
		}
		p.pos++
		p.skipSpaceNL()
		if p.pos >= len(p.s) || !p.isCommandStart() && !isCommandNameChar(p.peek()) {
			p.fail("EmptyPipeElement", "An empty pipe element is not allowed.")
		}
		pl.elems = append(pl.elems, pipeElem{cmd: p.parseCommand()})
	}
	pl.end = p.pos
	return pl
}

func isCommandNameChar(c byte) bool {
	return isIdentStart(c) || c == '%' || c == '?' || c == '&' || c == '.' || c == '\\' || c == '/' || c == '~'
}

// isCommandStart decides whether a pipeline element at pos is a command.
func (p *parser) isCommandStart() bool {
	c := p.peek()
	switch {
	case isIdentStart(c):
		return true
	case c == '&':
		return p.peekAt(1) != '&'
	case c == '.':
		n := p.peekAt(1)
		return n == ' ' || n == '\t' || n == '\\' || n == '/' || n == '$' || n == '\'' || n == '"' || n == '{' || n == '('
	case c == '\\' || c == '/' || c == '~':
		return true
	}
	return false
}

// parseRedirections consumes redirection operators after a command or an
// expression and records them on a fresh commandAst.
func (p *parser) parseRedirections() *commandAst {
	var c *commandAst
	for {
		p.skipSpace()
		switch {
		case p.at("2>&1"):
			p.pos += 4
			if c == nil {
				c = &commandAst{}
			}
			c.redirErr = "output"
		case p.at("2>$null") || p.at("2> $null"):
			p.pos += strings.Index(p.s[p.pos:], "$null") + 5
			if c == nil {
				c = &commandAst{}
			}
			c.redirErr = "null"
		case p.at(">$null") || p.at("> $null") || p.at("*>$null") || p.at("*> $null") || p.at("1>$null"):
			p.pos += strings.Index(p.s[p.pos:], "$null") + 5
			if c == nil {
				c = &commandAst{}
			}
			c.redirOut = true
		case p.peek() == '>' || (p.peek() >= '1' && p.peek() <= '6' && p.peekAt(1) == '>'):
			p.fail("RedirectionNotSupported", "Redirection to files is not supported by pwshsim.")
		default:
			return c
		}
	}
}

// parseCommand parses a command name and its arguments.
func (p *parser) parseCommand() *commandAst {
	p.skipSpace()
	c := &commandAst{pos: p.pos}
	switch {
	case p.peek() == '&' || (p.peek() == '.' && !isCommandPathDot(p.peekAt(1))):
		c.dot = p.peek() == '.'
		p.pos++
		p.skipSpace()
		c.nameExpr = p.parsePostfix()
	default:
		start := p.pos
		for p.pos < len(p.s) {
			ch := p.s[p.pos]
			if isSpaceByte(ch) || strings.ContainsRune("|;(){}\r\n,", rune(ch)) {
				break
			}
			p.pos++
		}
		c.name = p.s[start:p.pos]
	}
	for {
		p.skipSpace()
		ch := p.peek()
		if p.pos >= len(p.s) || ch == '\n' || ch == '\r' || ch == ';' || ch == '|' || ch == ')' || ch == '}' ||
			(ch == '&' && p.peekAt(1) == '&') {
			break
		}
		if r := p.parseRedirections(); r != nil {
			if r.redirErr != "" {
				c.redirErr = r.redirErr
			}
			c.redirOut = c.redirOut || r.redirOut
			continue
		}
		if ch == '-' && (isIdentStart(p.peekAt(1)) || p.peekAt(1) == '-' && p.peekAt(2) == '%') {
			start := p.pos
			p.pos++
			ns := p.pos
			for p.pos < len(p.s) {
				b := p.s[p.pos]
				if isSpaceByte(b) || strings.ContainsRune("|;(){}\r\n,:", rune(b)) {
					break
				}
				p.pos++
			}
			a := cmdArg{param: p.s[ns:p.pos], pos: start}
			if p.peek() == ':' {
				p.pos++
				p.skipSpace()
				a.colon, a.hasValue = true, true
				a.value = p.parseArgValue()
			}
			c.args = append(c.args, a)
			continue
		}
		c.args = append(c.args, cmdArg{hasValue: true, value: p.parseArgValue(), pos: p.pos})
	}
	c.end = p.pos
	return c
}

func isCommandPathDot(n byte) bool { return n == '\\' || n == '/' || n == '.' }

// parseArgValue parses one command argument, with comma lists.
func (p *parser) parseArgValue() expr {
	var items []expr
	for {
		p.skipSpace()
		items = append(items, p.parseArgElem())
		p.skipSpace()
		if p.peek() != ',' {
			break
		}
		p.pos++
		p.skipSpaceNL()
	}
	if len(items) == 1 {
		return items[0]
	}
	return &arrayExpr{items: items}
}

func (p *parser) parseArgElem() expr {
	c := p.peek()
	switch {
	case c == '$' || c == '\'' || c == '"' || c == '(' || c == '@' || c == '{' || c == '[':
		return p.parsePostfix()
	case c == '-' && (p.peekAt(1) >= '0' && p.peekAt(1) <= '9' || p.peekAt(1) == '.'):
		// a negative number argument
	}
	start := p.pos
	for p.pos < len(p.s) {
		b := p.s[p.pos]
		if isSpaceByte(b) || strings.ContainsRune("|;(){}\r\n,", rune(b)) {
			break
		}
		if b == '`' && p.pos+1 < len(p.s) {
			p.pos += 2
			continue
		}
		p.pos++
	}
	word := p.s[start:p.pos]
	if word == "" {
		p.unexpected()
	}
	if v, ok := parseNumberLiteral(word); ok {
		return &constExpr{v: v}
	}
	return &constExpr{v: strings.ReplaceAll(word, "`", "")}
}

// ---- expressions ----

func (p *parser) parseExpression() expr { return p.parseLogical() }

// dashOp reads a "-op" operator at pos when it is one of ops; returns "".
func (p *parser) dashOp(ops map[string]bool) string {
	p.skipSpace()
	if p.peek() != '-' || !isIdentStart(p.peekAt(1)) {
		return ""
	}
	i := p.pos + 1
	for i < len(p.s) && isIdentChar(p.s[i]) {
		i++
	}
	op := strings.ToLower(p.s[p.pos:i])
	if !ops[op] {
		return ""
	}
	p.pos = i
	p.skipSpaceNL()
	p.afterOp = op
	return op
}

var logicalOps = map[string]bool{"-and": true, "-or": true, "-xor": true}

var comparisonOps = func() map[string]bool {
	m := map[string]bool{"-is": true, "-isnot": true, "-as": true, "-join": true, "-split": true,
		"-band": true, "-bor": true, "-bxor": true, "-shl": true, "-shr": true}
	for _, o := range []string{"eq", "ne", "gt", "ge", "lt", "le", "like", "notlike", "match",
		"notmatch", "contains", "notcontains", "in", "notin", "replace", "split"} {
		m["-"+o] = true
		m["-i"+o] = true
		m["-c"+o] = true
	}
	return m
}()

var formatOps = map[string]bool{"-f": true}

func (p *parser) parseLogical() expr {
	l := p.parseComparison()
	for {
		op := p.dashOp(logicalOps)
		if op == "" {
			return l
		}
		r := p.parseComparison()
		l = &binaryExpr{op: op, l: l, r: r}
	}
}

func (p *parser) parseComparison() expr {
	l := p.parseAdditive()
	for {
		op := p.dashOp(comparisonOps)
		if op == "" {
			return l
		}
		r := p.parseAdditive()
		l = &binaryExpr{op: op, l: l, r: r}
	}
}

func (p *parser) parseAdditive() expr {
	l := p.parseMultiplicative()
	for {
		p.skipSpace()
		c := p.peek()
		if (c == '+' || c == '-') && p.peekAt(1) != '=' && p.peekAt(1) != c && !(c == '-' && isIdentStart(p.peekAt(1))) {
			p.pos++
			p.skipSpaceNL()
			p.afterOp = string(c)
			r := p.parseMultiplicative()
			l = &binaryExpr{op: string(c), l: l, r: r}
			continue
		}
		return l
	}
}

func (p *parser) parseMultiplicative() expr {
	l := p.parseFormat()
	for {
		p.skipSpace()
		c := p.peek()
		if (c == '*' || c == '/' || c == '%') && p.peekAt(1) != '=' {
			p.pos++
			p.skipSpaceNL()
			p.afterOp = string(c)
			r := p.parseFormat()
			l = &binaryExpr{op: string(c), l: l, r: r}
			continue
		}
		return l
	}
}

func (p *parser) parseFormat() expr {
	l := p.parseRange()
	for {
		if p.dashOp(formatOps) == "" {
			return l
		}
		r := p.parseRange()
		l = &binaryExpr{op: "-f", l: l, r: r}
	}
}

func (p *parser) parseRange() expr {
	l := p.parseArray()
	p.skipSpace()
	if p.at("..") {
		p.pos += 2
		p.skipSpaceNL()
		r := p.parseArray()
		return &binaryExpr{op: "..", l: l, r: r}
	}
	return l
}

func (p *parser) parseArray() expr {
	first := p.parseUnary()
	if p.noComma > 0 {
		return first
	}
	p.skipSpace()
	if p.peek() != ',' {
		return first
	}
	items := []expr{first}
	for p.peek() == ',' {
		p.pos++
		p.skipSpaceNL()
		items = append(items, p.parseUnary())
		p.skipSpace()
	}
	return &arrayExpr{items: items}
}

var unaryDashOps = map[string]bool{"-not": true, "-join": true, "-split": true, "-bnot": true}

func (p *parser) parseUnary() expr {
	p.skipSpace()
	c := p.peek()
	switch {
	case c == '!':
		p.pos++
		return &unaryExpr{op: "-not", x: p.parseUnary()}
	case c == '-' && isIdentStart(p.peekAt(1)):
		if op := p.dashOp(unaryDashOps); op != "" {
			return &unaryExpr{op: op, x: p.parseUnary()}
		}
		p.unexpected()
	case (c == '+' || c == '-') && p.peekAt(1) == c:
		p.pos += 2
		return &unaryExpr{op: string([]byte{c, c}), x: p.parseUnary()}
	case c == '-' || c == '+':
		p.pos++
		x := p.parseUnary()
		if k, ok := x.(*constExpr); ok && c == '-' {
			switch n := k.v.(type) {
			case int32:
				return &constExpr{v: -n}
			case int64:
				if -n >= math.MinInt32 && -n <= math.MaxInt32 {
					return &constExpr{v: int32(-n)}
				}
				return &constExpr{v: -n}
			case float64:
				return &constExpr{v: -n}
			}
		}
		return &unaryExpr{op: string(c), x: x}
	case c == '[':
		save := p.pos
		name := p.readTypeName()
		p.skipSpace()
		if p.at("::") {
			p.pos = save
			return p.parsePostfix()
		}
		if p.operandFollows() {
			return &castExpr{typ: name, x: p.parseUnary()}
		}
		p.pos = save
		return p.parsePostfix()
	}
	return p.parsePostfix()
}

// operandFollows reports whether an operand starts at pos (for casts).
func (p *parser) operandFollows() bool {
	c := p.peek()
	switch {
	case c == '$' || c == '\'' || c == '"' || c == '(' || c == '@' || c == '[' || c == '{':
		return true
	case c >= '0' && c <= '9':
		return true
	case c == '-' && (p.peekAt(1) >= '0' && p.peekAt(1) <= '9'):
		return true
	case c == '.' && p.peekAt(1) >= '0' && p.peekAt(1) <= '9':
		return true
	}
	return false
}

// readTypeName reads "[…]" at pos (nested brackets allowed) and returns the
// inner text.
func (p *parser) readTypeName() string {
	start := p.pos
	depth := 0
	for p.pos < len(p.s) {
		switch p.s[p.pos] {
		case '[':
			depth++
		case ']':
			depth--
			if depth == 0 {
				p.pos++
				return strings.TrimSpace(p.s[start+1 : p.pos-1])
			}
		case '\n', '\r':
			p.failAt(start, "EndSquareBracketExpectedAtEndOfType", "Missing ] at end of type token.")
		}
		p.pos++
	}
	p.failAt(start, "EndSquareBracketExpectedAtEndOfType", "Missing ] at end of type token.")
	return ""
}

func (p *parser) parsePostfix() expr {
	e := p.parsePrimary()
	for {
		c := p.peek()
		switch {
		case c == '.' && p.peekAt(1) != '.' && !(p.peekAt(1) >= '0' && p.peekAt(1) <= '9'):
			p.pos++
			e = p.parseMember(e, false)
		case c == ':' && p.peekAt(1) == ':':
			p.pos += 2
			e = p.parseMember(e, true)
		case c == '[':
			p.pos++
			p.skipSpaceNL()
			save := p.noComma
			p.noComma = 0
			idx := p.parseExpression()
			p.noComma = save
			p.skipSpaceNL()
			if p.peek() != ']' {
				p.fail("MissingEndSquareBracket", "Array index expression is missing or not valid.")
			}
			p.pos++
			e = &indexExpr{obj: e, index: idx}
		case (c == '+' || c == '-') && p.peekAt(1) == c:
			switch e.(type) {
			case *varExpr, *memberExpr, *indexExpr:
				p.pos += 2
				return &postfixExpr{op: string([]byte{c, c}), target: e}
			}
			return e
		default:
			return e
		}
	}
}

func (p *parser) parseMember(obj expr, static bool) expr {
	var name string
	var dyn expr
	c := p.peek()
	switch {
	case isIdentStart(c):
		start := p.pos
		for p.pos < len(p.s) && isIdentChar(p.s[p.pos]) {
			p.pos++
		}
		name = p.s[start:p.pos]
	case c == '\'' || c == '"':
		k := p.parsePrimary()
		if ce, ok := k.(*constExpr); ok {
			name, _ = ce.v.(string)
		} else {
			dyn = k
		}
	case c == '$' || c == '(':
		dyn = p.parsePrimary()
	default:
		p.fail("MissingPropertyName", "Missing property name after reference operator.")
	}
	if p.peek() == '(' && dyn == nil {
		p.pos++
		var args []expr
		p.skipSpaceNL()
		p.noComma++
		for p.peek() != ')' {
			args = append(args, p.parseExpression())
			p.skipSpaceNL()
			if p.peek() == ',' {
				p.pos++
				p.skipSpaceNL()
				continue
			}
			if p.peek() != ')' {
				p.noComma--
				p.fail("MissingEndParenthesisInMethodCall", "Missing closing ')' in method call.")
			}
		}
		p.noComma--
		p.pos++
		return &invokeExpr{obj: obj, name: name, args: args, static: static}
	}
	return &memberExpr{obj: obj, name: name, dyn: dyn, static: static}
}

func (p *parser) parsePrimary() expr {
	p.skipSpace()
	c := p.peek()
	op := p.afterOp
	p.afterOp = ""
	switch {
	case p.pos >= len(p.s) || c == '\n' || c == '\r' || c == ';' || c == ')' || c == '}':
		if op != "" {
			p.fail("ExpectedValueExpression", "You must provide a value expression following the '"+op+"' operator.")
		}
		if p.pos >= len(p.s) {
			p.fail("ExpectedExpression", "An expression was expected after '('.")
		}
	case c == '$':
		if p.peekAt(1) == '(' {
			p.pos += 2
			save := p.noComma
			p.noComma = 0
			b := p.parseStatements(')')
			p.noComma = save
			p.expectClose(')')
			return &subExpr{body: b}
		}
		return p.parseVariable()
	case c == '\'':
		return &constExpr{v: p.readVerbatimString()}
	case c == '"':
		return p.readExpandableString()
	case c == '@':
		switch p.peekAt(1) {
		case '(':
			p.pos += 2
			save := p.noComma
			p.noComma = 0
			b := p.parseStatements(')')
			p.noComma = save
			p.expectClose(')')
			return &subExpr{body: b, array: true}
		case '{':
			p.pos += 2
			return p.parseHash()
		case '"', '\'':
			return p.readHereString()
		}
		p.unexpected()
	case c == '(':
		p.pos++
		save := p.noComma
		p.noComma = 0
		p.skipSpaceNL()
		if p.peek() == ')' {
			p.fail("ExpectedExpression", "An expression was expected after '('.")
		}
		s := p.parsePipelineOrAssign()
		p.noComma = save
		p.expectClose(')')
		return &parenExpr{s: s}
	case c == '{':
		start := p.pos
		p.pos++
		save := p.noComma
		p.noComma = 0
		body := p.parseBody('}')
		p.noComma = save
		p.expectClose('}')
		return &scriptBlockExpr{body: body, text: p.s[start+1 : p.pos-1]}
	case c == '[':
		return &typeExpr{name: p.readTypeName()}
	case c >= '0' && c <= '9' || c == '.' && p.peekAt(1) >= '0' && p.peekAt(1) <= '9':
		start := p.pos
		for p.pos < len(p.s) && (isIdentChar(p.s[p.pos]) || p.s[p.pos] == '.' && p.peekAt(1) != '.' ||
			(p.s[p.pos] == '+' || p.s[p.pos] == '-') && (p.s[p.pos-1] == 'e' || p.s[p.pos-1] == 'E') && !strings.HasPrefix(strings.ToLower(p.s[start:p.pos]), "0x")) {
			p.pos++
		}
		v, ok := parseNumberLiteral(p.s[start:p.pos])
		if !ok {
			p.failAt(start, "BadNumericConstant", "The numeric constant "+p.s[start:p.pos]+" is not valid.")
		}
		return &constExpr{v: v}
	}
	p.unexpected()
	return nil
}

func (p *parser) parseVariable() expr {
	start := p.pos
	p.pos++ // $
	if p.peek() == '{' {
		end := strings.IndexByte(p.s[p.pos:], '}')
		if end < 0 {
			p.fail("MissingEndCurlyBrace", "Missing closing '}' in statement block or type definition.")
		}
		name := p.s[p.pos+1 : p.pos+end]
		p.pos += end + 1
		return &varExpr{name: strings.ToLower(name), orig: name}
	}
	c := p.peek()
	if c == '_' && !isIdentChar(p.peekAt(1)) || c == '?' || c == '^' || c == '$' {
		p.pos++
		return &varExpr{name: string(c), orig: string(c)}
	}
	ns := p.pos
	for p.pos < len(p.s) && isIdentChar(p.s[p.pos]) {
		p.pos++
	}
	if p.peek() == ':' && p.peekAt(1) != ':' && isIdentStart(p.peekAt(1)) {
		p.pos++
		for p.pos < len(p.s) && (isIdentChar(p.s[p.pos])) {
			p.pos++
		}
	}
	name := p.s[ns:p.pos]
	if name == "" {
		p.failAt(start, "InvalidVariableReference", "Variable reference is not valid. '$' was not followed by a valid variable name character.")
	}
	return &varExpr{name: strings.ToLower(name), orig: name}
}

func (p *parser) readVerbatimString() string {
	p.pos++
	var b strings.Builder
	for {
		if p.pos >= len(p.s) {
			p.fail("TerminatorExpectedAtEndOfString", "The string is missing the terminator: '.")
		}
		c := p.s[p.pos]
		if isQuote1(p.s[p.pos:]) {
			n := quoteLen(p.s[p.pos:])
			if isQuote1(p.s[p.pos+n:]) {
				b.WriteByte('\'')
				p.pos += n + quoteLen(p.s[p.pos+n:])
				continue
			}
			p.pos += n
			return b.String()
		}
		b.WriteByte(c)
		p.pos++
	}
}

// Smart quotes are accepted like pwsh does.
func isQuote1(s string) bool {
	return strings.HasPrefix(s, "'") || strings.HasPrefix(s, "‘") || strings.HasPrefix(s, "’")
}

func quoteLen(s string) int {
	if strings.HasPrefix(s, "'") {
		return 1
	}
	return 3
}

var backtickEscapes = map[byte]string{'n': "\n", 't': "\t", 'r': "\r", '0': "\x00", 'a': "\a",
	'b': "\b", 'e': "\x1b", 'f': "\f", 'v': "\v"}

// readExpandableString parses "…" into literal parts and expressions.
func (p *parser) readExpandableString() expr {
	p.pos++
	return p.readExpandableBody(func() bool {
		if p.peek() == '"' {
			if p.peekAt(1) == '"' {
				return false
			}
			p.pos++
			return true
		}
		return false
	}, true, "\"")
}

func (p *parser) readExpandableBody(atEnd func() bool, dq bool, term string) expr {
	var parts []expr
	var b strings.Builder
	flush := func() {
		if b.Len() > 0 {
			parts = append(parts, &constExpr{v: b.String()})
			b.Reset()
		}
	}
	for {
		if p.pos >= len(p.s) {
			p.fail("TerminatorExpectedAtEndOfString", "The string is missing the terminator: "+term+".")
		}
		if atEnd() {
			break
		}
		c := p.s[p.pos]
		switch {
		case dq && c == '"' && p.peekAt(1) == '"':
			b.WriteByte('"')
			p.pos += 2
		case c == '`' && p.pos+1 < len(p.s):
			n := p.s[p.pos+1]
			if s, ok := backtickEscapes[n]; ok {
				b.WriteString(s)
				p.pos += 2
			} else if n == 'u' && p.peekAt(2) == '{' {
				end := strings.IndexByte(p.s[p.pos:], '}')
				if end < 0 {
					p.fail("InvalidUnicodeEscapeSequence", "The Unicode escape sequence is not valid.")
				}
				cp, err := strconv.ParseUint(p.s[p.pos+3:p.pos+end], 16, 32)
				if err != nil {
					p.fail("InvalidUnicodeEscapeSequence", "The Unicode escape sequence is not valid.")
				}
				b.WriteRune(rune(cp))
				p.pos += end + 1
			} else {
				_, sz := utf8.DecodeRuneInString(p.s[p.pos+1:])
				b.WriteString(p.s[p.pos+1 : p.pos+1+sz])
				p.pos += 1 + sz
			}
		case c == '$' && p.peekAt(1) == '(':
			flush()
			p.pos += 2
			save := p.noComma
			p.noComma = 0
			body := p.parseStatements(')')
			p.noComma = save
			p.expectClose(')')
			parts = append(parts, &subExpr{body: body})
		case c == '$' && (isIdentStart(p.peekAt(1)) || p.peekAt(1) == '{' || p.peekAt(1) == '?' || p.peekAt(1) == '$' || p.peekAt(1) == '^'):
			flush()
			parts = append(parts, p.parseVariable())
		default:
			_, sz := utf8.DecodeRuneInString(p.s[p.pos:])
			b.WriteString(p.s[p.pos : p.pos+sz])
			p.pos += sz
		}
	}
	flush()
	if len(parts) == 1 {
		if k, ok := parts[0].(*constExpr); ok {
			return k
		}
	}
	if len(parts) == 0 {
		return &constExpr{v: ""}
	}
	return &expandExpr{parts: parts}
}

// readHereString parses @"…"@ and @'…'@.
func (p *parser) readHereString() expr {
	q := p.s[p.pos+1]
	p.pos += 2
	for isSpaceByte(p.peek()) {
		p.pos++
	}
	if p.peek() == '\r' {
		p.pos++
	}
	if p.peek() != '\n' {
		p.fail("UnexpectedCharactersAfterHereStringHeader", "No characters are allowed after a here-string header but before the end of the line.")
	}
	p.pos++
	closer := "\n" + string(q) + "@"
	if q == '\'' {
		end := strings.Index(p.s[p.pos-1:], closer)
		if end < 0 {
			p.fail("TerminatorExpectedAtEndOfString", "The string is missing the terminator: '@.")
		}
		text := p.s[p.pos : p.pos-1+end]
		p.pos += end - 1 + len(closer)
		return &constExpr{v: strings.TrimSuffix(text, "\r")}
	}
	first := true
	return p.readExpandableBody(func() bool {
		if (first || p.s[p.pos-1] == '\n') && p.at("\"@") {
			p.pos += 2
			return true
		}
		if p.at("\r\n\"@") || p.at("\n\"@") {
			if p.peek() == '\r' {
				p.pos++
			}
			p.pos += 3
			return true
		}
		first = false
		return false
	}, false, "\"@")
}

func (p *parser) parseHash() expr {
	h := &hashExpr{}
	save := p.noComma
	p.noComma = 0
	defer func() { p.noComma = save }()
	for {
		p.skipSpaceNL()
		for p.peek() == ';' {
			p.pos++
			p.skipSpaceNL()
		}
		if p.peek() == '}' {
			p.pos++
			return h
		}
		if p.pos >= len(p.s) {
			p.fail("MissingEndCurlyBrace", "Missing closing '}' in statement block or type definition.")
		}
		var key expr
		c := p.peek()
		switch {
		case isIdentStart(c):
			start := p.pos
			for p.pos < len(p.s) && (isIdentChar(p.s[p.pos]) || p.s[p.pos] == '-' || p.s[p.pos] == '.') {
				p.pos++
			}
			key = &constExpr{v: p.s[start:p.pos]}
		default:
			p.noComma++
			key = p.parseUnary()
			p.noComma--
		}
		p.skipSpace()
		if p.peek() != '=' {
			p.fail("MissingEqualsInHashLiteral", "Missing '=' operator after key in hash literal.")
		}
		p.pos++
		p.skipSpaceNL()
		val := p.parsePipelineOrAssign()
		h.keys = append(h.keys, key)
		h.vals = append(h.vals, val)
		p.skipSpace()
		if c := p.peek(); c != ';' && c != '\n' && c != '\r' && c != '}' {
			p.fail("MissingEndCurlyBrace", "The hash literal was incomplete.")
		}
	}
}

// parseNumberLiteral parses PowerShell numeric literals: decimal and hex
// integers (Int32, else Int64, else Double), reals, the L/D suffixes and the
// kb/mb/gb/tb/pb multipliers.
func parseNumberLiteral(s string) (val, bool) {
	if s == "" {
		return nil, false
	}
	ls := strings.ToLower(s)
	mult := int64(1)
	for i, suf := range []string{"kb", "mb", "gb", "tb", "pb"} {
		if strings.HasSuffix(ls, suf) {
			mult = int64(1) << (10 * (i + 1))
			ls = ls[:len(ls)-2]
			break
		}
	}
	long, dec := false, false
	switch {
	case strings.HasSuffix(ls, "l") && !strings.HasPrefix(ls, "0x") || strings.HasPrefix(ls, "0x") && strings.HasSuffix(ls, "l"):
		long = true
		ls = ls[:len(ls)-1]
	case strings.HasSuffix(ls, "d") && !strings.HasPrefix(ls, "0x"):
		dec = true
		ls = ls[:len(ls)-1]
	}
	if ls == "" {
		return nil, false
	}
	if strings.HasPrefix(ls, "0x") {
		n, err := strconv.ParseUint(ls[2:], 16, 64)
		if err != nil {
			return nil, false
		}
		if !long && mult == 1 && n <= 0xFFFFFFFF {
			return int32(uint32(n)), true
		}
		return int64(n) * mult, true
	}
	for _, c := range ls {
		if !(c >= '0' && c <= '9' || c == '.' || c == 'e' || c == '+' || c == '-') {
			return nil, false
		}
	}
	if c := ls[0]; !(c >= '0' && c <= '9' || c == '.') {
		return nil, false
	}
	if !strings.ContainsAny(ls, ".e") && !dec {
		n, err := strconv.ParseInt(ls, 10, 64)
		if err == nil {
			n2 := n * mult
			if n != 0 && n2/n != mult {
				return float64(n) * float64(mult), true
			}
			if !long && n2 >= math.MinInt32 && n2 <= math.MaxInt32 {
				return int32(n2), true
			}
			return n2, true
		}
	}
	f, err := strconv.ParseFloat(ls, 64)
	if err != nil {
		return nil, false
	}
	f *= float64(mult)
	if long {
		return int64(f), true
	}
	return f, true
}
