package repl

import (
	"strings"
	"unicode"
)

// PowerShell's quote characters: any of a family opens and closes its
// kind of string.
func isSingleQuote(c rune) bool { return strings.ContainsRune("'‘’‚‛", c) }
func isDoubleQuote(c rune) bool { return strings.ContainsRune("\"“”„", c) }

// Incomplete reports whether script leaves a brace, parenthesis,
// bracket or quote open, or ends where pwsh's parser wants more input (a
// pipe, a comma, a backtick right at the end, &&, ||, + or =, comments
// after them aside), so the REPL continues it with ">> " as pwsh's
// console does.
func Incomplete(script string) bool {
	depth := 0
	var quote rune
	rs := []rune(script)
	var last, before rune // the last two characters outside quotes and comments, spaces left out
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		if quote == 0 && c != '#' && !unicode.IsSpace(c) {
			before, last = last, c
			if c == '`' && i == len(rs)-1 {
				return true // a line continued
			}
		}
		switch {
		case quote == '\'':
			if isSingleQuote(c) {
				if i+1 < len(rs) && isSingleQuote(rs[i+1]) {
					i++
				} else {
					quote = 0
				}
			}
		case quote == '"':
			switch {
			case c == '`':
				i++
			case isDoubleQuote(c):
				quote = 0
			}
		case c == '`':
			i++
		case c == '#':
			for i < len(rs) && rs[i] != '\n' {
				i++
			}
		case isSingleQuote(c):
			quote = '\''
		case isDoubleQuote(c):
			quote = '"'
		case c == '{' || c == '(' || c == '[':
			depth++
		case c == '}' || c == ')' || c == ']':
			if depth > 0 {
				depth--
			}
		}
	}
	if depth > 0 || quote != 0 {
		return true
	}
	switch last {
	case '|', ',', '+', '=':
		return true
	case '&':
		return before == '&'
	}
	return false
}

// token is one word of a psmux command line.
type token struct {
	text  string
	param bool // -Name: a parameter name (text without the dash)
	block bool // { … }: text is what is inside
	sub   bool // ( … ): a command whose value is the argument; text is what is inside
	hash  bool // @{ … }: a hashtable; text is what is inside
	pipe  bool // |
	// colon: the value of the parameter before it, joined to it by a
	// colon (-Session:$s, -AsJob:$false)
	colon bool
}

// matching is the index of the bracket closing the one at rs[i] (quotes
// inside skipped), or len(rs) when it is not closed.
func matching(rs []rune, i int) int {
	open := rs[i]
	close := map[rune]rune{'{': '}', '(': ')'}[open]
	depth := 0
	for j := i; j < len(rs); j++ {
		switch {
		case isSingleQuote(rs[j]) || isDoubleQuote(rs[j]):
			q := rs[j]
			for j++; j < len(rs) && rs[j] != q; j++ {
			}
		case rs[j] == open:
			depth++
		case rs[j] == close:
			depth--
			if depth == 0 {
				return j
			}
		}
	}
	return len(rs)
}

// tokenize splits a command line the way PowerShell's parser would for
// the simple commands psmux handles itself: words, 'quoted' and
// "quoted" strings, { script blocks } and -Parameters.
// litComma stands for a comma inside quotes in a token's text, so that
// a list parameter splits 'a,b','c' into two values, not three
// (args.get and args.list give it back as a comma).
const litComma = "\uE001"

func quotedCommas(s string) string { return strings.ReplaceAll(s, ",", litComma) }

func tokenize(line string) []token {
	var out []token
	rs := []rune(line)
	for i := 0; i < len(rs); {
		if unicode.IsSpace(rs[i]) {
			i++
			continue
		}
		switch c := rs[i]; {
		case c == '|':
			out = append(out, token{text: "|", pipe: true})
			i++
		case c == '{' || c == '(' || (c == '@' && i+1 < len(rs) && rs[i+1] == '{'):
			if c == '@' {
				i++
			}
			open, end := rs[i], matching(rs, i)
			t := token{text: strings.TrimSpace(string(rs[i+1 : end]))}
			switch {
			case c == '@':
				t.hash = true
			case open == '(':
				t.sub = true
			default:
				t.block = true
			}
			out = append(out, t)
			i = end + 1
		case c == '\'' || c == '"':
			j := i + 1
			for j < len(rs) && rs[j] != c {
				j++
			}
			out = append(out, token{text: quotedCommas(string(rs[i+1 : min(j, len(rs))]))})
			i = j + 1
		case c == '=' && len(out) == 1 && strings.HasPrefix(out[0].text, "$") && !out[0].param:
			out = append(out, token{text: "="}) // $s=…
			i++
		default:
			j := i
			var b strings.Builder
			for j < len(rs) && !unicode.IsSpace(rs[j]) && rs[j] != '|' {
				if rs[j] == '=' && len(out) == 0 && b.Len() > 1 && strings.HasPrefix(b.String(), "$") {
					break // $s=New-PSSession …: the assignment's = is a word of its own
				}
				if rs[j] == '\'' || rs[j] == '"' {
					q := rs[j]
					j++
					for j < len(rs) && rs[j] != q {
						b.WriteString(quotedCommas(string(rs[j])))
						j++
					}
					j++
					continue
				}
				b.WriteRune(rs[j])
				j++
			}
			w := b.String()
			switch {
			case len(w) > 1 && w[0] == '-' && !strings.ContainsAny(w[1:2], "0123456789"):
				name, val, colon := strings.Cut(w[1:], ":")
				out = append(out, token{text: name, param: true})
				if colon && val != "" {
					out = append(out, token{text: val, colon: true})
				}
			default:
				out = append(out, token{text: w})
			}
			i = j
		}
	}
	return out
}
