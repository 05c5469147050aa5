package clixml

import (
	"bytes"
	"strconv"
	"sync"
	"unicode/utf8"
	"unsafe"
)

// Decode decodes one top-level CLIXML element: a PSRP message body as pwsh
// writes it (no <Objs> root, no namespace). A leading UTF-8 BOM is
// stripped; whitespace around and between elements, an XML declaration,
// comments and processing instructions are skipped.
//
// RefIds of <Obj> and of <TN> are resolved per call: <Ref RefId="n"/>
// yields the very *PSObject of the <Obj RefId="n"> (self references
// included, so the result may be cyclic) and <TNRef RefId="m"/> the very
// TypeNames slice of <TN RefId="m">.
//
// Decoded strings share copies of the input (the whole input when it is
// at most 64 KiB, 64 KiB windows otherwise): holding on to one keeps its
// copy alive (strings.Clone detaches it). The input must be UTF-8.
//
// Errors are *Error values with the byte offset and what was expected; a
// cap (MaxSize, MaxDepth, MaxObjects) yields an *Error wrapping a
// *LimitError. Decode never panics and its stack use does not depend on
// the input's nesting.
func Decode(data []byte, opts ...Option) (Value, error) {
	d := getDecoder(data, opts)
	defer putDecoder(d)
	if err := d.checkSize(); err != nil {
		return Value{}, err
	}
	if err := d.run(false); err != nil {
		return Value{}, err
	}
	return d.result, nil
}

// DecodeAll decodes a document whose root is <Objs …> (as written by
// Export-Clixml; Version and xmlns attributes are accepted and ignored) and
// returns its values in order. RefIds are shared by the whole document.
func DecodeAll(data []byte, opts ...Option) ([]Value, error) {
	d := getDecoder(data, opts)
	defer putDecoder(d)
	if err := d.checkSize(); err != nil {
		return nil, err
	}
	if err := d.run(true); err != nil {
		return nil, err
	}
	return d.results, nil
}

// checkSize rejects over-long input from its length alone, before the
// decoder allocates anything.
func (d *decoder) checkSize() error {
	if n, lim := len(d.buf), d.o.maxSize; n > lim {
		return &Error{
			Offset: lim,
			Msg:    "expected at most " + strconv.Itoa(lim) + " bytes of input, found " + strconv.Itoa(n),
			Err:    &LimitError{What: "input size", Limit: lim},
		}
	}
	return nil
}

type frameKind uint8

const (
	fRoot  frameKind = iota // the document: one value (Decode) or <Objs> (DecodeAll)
	fObjs                   // inside <Objs>
	fObj                    // inside <Obj>
	fTN                     // inside <TN>
	fProps                  // inside <Props>
	fMS                     // inside <MS> (of an Obj, or a nested member set)
	fList                   // inside <LST> <IE> <STK> <QUE>
	fDict                   // inside <DCT>
	fEn                     // inside <En>
	fPR                     // inside <PR>
)

// Parts of an <Obj> already seen (frame.step of an fObj frame).
const (
	seenTN = 1 << iota
	seenToString
	seenBase
	seenProps
	seenMS
)

type frame struct {
	kind   frameKind
	step   uint8 // fObj: seen* bits; fEn, fPR: position; fMS: 1 when nested member set
	named  bool
	tag    string // element name that closes the frame
	name   string // N attribute of the element (delivered with its value)
	start  int    // offset of the start tag
	base   int    // start of this frame's children in the matching scratch stack
	obj    *PSObject
	prim   *Value // fObj: storage for the wrapped primitive
	refNum int    // fTN: RefId to register (-1: none, -2: use refStr)
	refStr string
}

// objCell is the unit of the per-document object slab: an object and room
// for its wrapped primitive.
type objCell struct {
	o    PSObject
	prim Value
}

type decoder struct {
	buf []byte
	// Decoded texts are substrings of copies of the input made on demand:
	// win holds buf[winA : winA+len(win)].
	win  string
	winA int
	pos  int
	o    options
	all  bool
	done bool

	stack []frame
	count int // values and TN lists so far (MaxObjects)

	// scratch stacks: a frame's children collect here and are copied into
	// exactly-sized slices when the frame closes
	sp  []Property
	sv  []Value
	sd  []DictEntry
	st  []string
	tmp []byte

	// per-document storage handed out to the result
	cells  []objCell
	pArena []Property
	vArena []Value
	sArena []string
	dArena []DictEntry
	pNext  int
	vNext  int
	sNext  int
	cNext  int

	// RefId tables (decode-time only; kept with the pooled decoder)
	objNum []*PSObject
	objStr map[string]*PSObject
	tnNum  [][]string
	tnStr  map[string][]string

	// attributes of the current start tag
	aN      string
	hasN    bool
	hasRef  bool
	refNum  int
	refA    int
	refB    int
	refSlow bool

	result  Value
	results []Value
}

var decoderPool = sync.Pool{New: func() any { return new(decoder) }}

func getDecoder(data []byte, opts []Option) *decoder {
	d := decoderPool.Get().(*decoder)
	d.buf = data
	d.o = options{maxDepth: DefaultMaxDepth, maxObjects: DefaultMaxObjects, maxSize: DefaultMaxSize}
	for _, f := range opts {
		if f != nil {
			f(&d.o)
		}
	}
	// First arena chunks sized from the input; later ones double.
	n := len(data)
	d.pNext = min(max(n/48, 8), 4096)
	d.vNext = min(max(n/64, 4), 4096)
	d.sNext = min(max(n/64, 8), 4096)
	d.cNext = min(max(n/256, 2), 1024)
	return d
}

// putDecoder clears what the decoder still references of the result and
// returns it to the pool with its scratch buffers.
func putDecoder(d *decoder) {
	clear(d.stack[:cap(d.stack)])
	clear(d.sp)
	clear(d.sv)
	clear(d.sd)
	clear(d.st)
	clear(d.objNum)
	clear(d.tnNum)
	clear(d.objStr)
	clear(d.tnStr)
	keep := decoder{stack: d.stack[:0], sp: d.sp[:0], sv: d.sv[:0], sd: d.sd[:0], st: d.st[:0], tmp: d.tmp[:0],
		objNum: d.objNum[:0], tnNum: d.tnNum[:0], objStr: d.objStr, tnStr: d.tnStr}
	if cap(keep.tmp) > 1<<16 {
		keep.tmp = nil
	}
	if cap(keep.objNum) > 1<<12 {
		keep.objNum = nil
	}
	if cap(keep.tnNum) > 1<<12 {
		keep.tnNum = nil
	}
	if len(keep.objStr) > 1<<10 {
		keep.objStr = nil
	}
	if len(keep.tnStr) > 1<<10 {
		keep.tnStr = nil
	}
	*d = keep
	decoderPool.Put(d)
}

// windowSize is how much of the input one copy covers: small inputs are
// copied whole, large ones piecewise, so the copies follow the decoder's
// progress (an input refused half-way has not been copied whole).
const windowSize = 64 << 10

// str returns the input bytes [a, b) as a string sharing a copy of the
// input with its neighbours (no allocation per text).
func (d *decoder) str(a, b int) string {
	if a == b {
		return ""
	}
	if a >= d.winA && b <= d.winA+len(d.win) {
		return d.win[a-d.winA : b-d.winA]
	}
	if d.o.shared && b-a >= SharedMin {
		return unsafe.String(&d.buf[a], b-a) // the caller never changes d.buf (Shared)
	}
	wa, we := a, min(len(d.buf), max(b, a+windowSize))
	if len(d.buf) <= windowSize {
		wa, we = 0, len(d.buf)
	}
	d.win, d.winA = string(d.buf[wa:we]), wa
	return d.win[a-wa : b-wa]
}

func (d *decoder) errf(off int, msg string) error { return &Error{Offset: off, Msg: msg} }

func (d *decoder) found(off int) string {
	if off >= len(d.buf) {
		return "end of input"
	}
	b := d.buf[off:]
	if b[0] == '<' {
		e := 1
		for e < len(b) && e < 40 && b[e] != '>' {
			e++
		}
		if e < len(b) && b[e] == '>' {
			e++
		}
		return quoteBytes(b[:e])
	}
	e := bytes.IndexByte(b, '<')
	if e < 0 || e > 24 {
		e = min(len(b), 24)
	}
	return "text " + quoteBytes(b[:e])
}

func (d *decoder) expected(off int, what string) error {
	return d.errf(off, "expected "+what+", found "+d.found(off))
}

func (d *decoder) limit(off int, what string, lim int, msg string) error {
	return &Error{Offset: off, Msg: msg, Err: &LimitError{What: what, Limit: lim}}
}

func (d *decoder) countOne(off int) error {
	d.count++
	if d.count > d.o.maxObjects {
		return d.limit(off, "value count", d.o.maxObjects,
			"expected at most "+strconv.Itoa(d.o.maxObjects)+" values in one document, found more")
	}
	return nil
}

func (d *decoder) push(f frame) error {
	if len(d.stack) > d.o.maxDepth { // stack[0] is the document
		return d.limit(f.start, "nesting depth", d.o.maxDepth,
			"expected elements nested at most "+strconv.Itoa(d.o.maxDepth)+" deep, found <"+f.tag+"> deeper")
	}
	d.stack = append(d.stack, f)
	return nil
}

func (d *decoder) run(all bool) error {
	d.all = all
	b := d.buf
	if len(b) >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF {
		d.pos = 3
	} else if len(b) >= 2 && ((b[0] == 0xFF && b[1] == 0xFE) || (b[0] == 0xFE && b[1] == 0xFF)) {
		return d.errf(0, "expected UTF-8 input, found a UTF-16 byte order mark")
	}
	if !utf8.Valid(b[d.pos:]) {
		off := d.pos
		for off < len(b) {
			r, n := utf8.DecodeRune(b[off:])
			if r == utf8.RuneError && n == 1 {
				break
			}
			off += n
		}
		return d.errf(off, "expected UTF-8 text, found the invalid byte 0x"+strconv.FormatUint(uint64(b[off]), 16))
	}
	d.stack = append(d.stack[:0], frame{kind: fRoot})
	for {
		if err := d.skipMisc(); err != nil {
			return err
		}
		top := &d.stack[len(d.stack)-1]
		if d.pos >= len(b) {
			if top.kind == fRoot {
				if d.done {
					return nil
				}
				if all {
					return d.expected(d.pos, "<Objs>")
				}
				return d.expected(d.pos, "a CLIXML element")
			}
			return d.expected(d.pos, `"</`+top.tag+`>"`)
		}
		if b[d.pos] != '<' {
			return d.expected(d.pos, d.wanted(top))
		}
		if d.pos+1 < len(b) && b[d.pos+1] == '/' {
			if top.kind == fRoot {
				return d.expected(d.pos, d.wanted(top))
			}
			if err := d.endTag(top.tag); err != nil {
				return err
			}
			if err := d.closeFrame(); err != nil {
				return err
			}
			continue
		}
		if top.kind == fRoot && d.done {
			return d.expected(d.pos, "end of input")
		}
		if err := d.element(); err != nil {
			return err
		}
	}
}

// wanted describes what may come next inside the top frame.
func (d *decoder) wanted(top *frame) string {
	switch top.kind {
	case fRoot:
		if d.done {
			return "end of input"
		}
		if d.all {
			return "<Objs>"
		}
		return "a CLIXML element"
	case fTN:
		return `<T> or "</TN>"`
	case fDict:
		return `<En> or "</DCT>"`
	case fObj:
		return `a child element of <Obj> or "</Obj>"`
	case fEn:
		if top.step >= 2 {
			return `"</En>"`
		}
		return "a value element"
	case fPR:
		if top.step < uint8(len(prTags)) {
			return "<" + prTags[top.step] + ">"
		}
		return `"</PR>"`
	}
	return `a value element or "</` + top.tag + `>"`
}

// skipMisc skips whitespace, comments and processing instructions.
func (d *decoder) skipMisc() error {
	b := d.buf
	for d.pos < len(b) {
		switch b[d.pos] {
		case ' ', '\t', '\r', '\n':
			d.pos++
			continue
		case '<':
			if d.pos+1 >= len(b) {
				return nil
			}
			switch b[d.pos+1] {
			case '?':
				e := bytes.Index(b[d.pos+2:], []byte("?>"))
				if e < 0 {
					return d.errf(d.pos, `expected "?>" closing the processing instruction, found end of input`)
				}
				d.pos += 2 + e + 2
				continue
			case '!':
				if bytes.HasPrefix(b[d.pos:], []byte("<!--")) {
					e := bytes.Index(b[d.pos+4:], []byte("-->"))
					if e < 0 {
						return d.errf(d.pos, `expected "-->" closing the comment, found end of input`)
					}
					d.pos += 4 + e + 3
					continue
				}
			}
		}
		return nil
	}
	return nil
}

// Byte classes for the scanners.
const (
	// textClass bits
	tLT     = 1 << iota // '<': end of character data
	tXML                // '&' or CR: needs XML decoding
	tUnd                // '_': may start an _xHHHH_ escape
	tAttrWS             // TAB or LF: attribute-value normalisation
)

var textClass = func() (t [256]uint8) {
	t['<'] = tLT
	t['&'] = tXML
	t['\r'] = tXML
	t['_'] = tUnd
	t['\t'] = tAttrWS
	t['\n'] = tAttrWS
	return
}()

// nameClass: 0 name byte, 1 whitespace, 2 '>' or '/', 3 not allowed.
var nameClass = func() (t [256]uint8) {
	for _, c := range []byte(" \t\n\r") {
		t[c] = 1
	}
	t['>'], t['/'] = 2, 2
	for _, c := range []byte("<!?=\"'") {
		t[c] = 3
	}
	return
}()

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// scanText finds the '<' ending the character data at p (vectorised
// IndexByte) and returns the textClass bits of the bytes before it
// (tLT when there is no '<').
func scanText(b []byte, p int) (int, uint8) {
	i := bytes.IndexByte(b[p:], '<')
	if i < 0 {
		return len(b), tLT
	}
	end := p + i
	return end, segFlags(b[p:end])
}

// segFlags ORs the textClass bits of seg: a table loop for short
// segments, IndexByte for long ones.
func segFlags(seg []byte) uint8 {
	var flags uint8
	if len(seg) < 16 {
		for _, c := range seg {
			flags |= textClass[c]
		}
		return flags
	}
	if bytes.IndexByte(seg, '&') >= 0 || bytes.IndexByte(seg, '\r') >= 0 {
		flags |= tXML
	}
	if bytes.IndexByte(seg, '_') >= 0 {
		flags |= tUnd
	}
	return flags
}

// endTag consumes "</tag>" at d.pos (optional whitespace before '>').
func (d *decoder) endTag(tag string) error {
	b := d.buf
	p := d.pos + 2
	if q := p + len(tag); q < len(b) && string(b[p:q]) == tag {
		for q < len(b) && isSpace(b[q]) {
			q++
		}
		if q < len(b) && b[q] == '>' {
			d.pos = q + 1
			return nil
		}
	}
	return d.expected(d.pos, `"</`+tag+`>"`)
}

// startTag parses the start tag at d.pos ('<'), records the N and RefId
// attributes and returns the element name and whether it is empty (<x/>).
func (d *decoder) startTag() (name []byte, empty bool, err error) {
	b := d.buf
	start := d.pos
	p := start + 1
	s := p
	for p < len(b) {
		c := nameClass[b[p]]
		if c == 0 {
			p++
			continue
		}
		if c == 3 {
			return nil, false, d.expected(start, "an element")
		}
		break
	}
	if p == s {
		return nil, false, d.expected(start, "an element")
	}
	name = b[s:p]
	d.hasN, d.hasRef = false, false
	for {
		q := p
		for p < len(b) && isSpace(b[p]) {
			p++
		}
		if p >= len(b) {
			return nil, false, d.errf(start, "expected \">\" closing <"+string(name)+">, found end of input")
		}
		switch b[p] {
		case '>':
			d.pos = p + 1
			return name, false, nil
		case '/':
			if p+1 < len(b) && b[p+1] == '>' {
				d.pos = p + 2
				return name, true, nil
			}
			return nil, false, d.expected(p, `"/>"`)
		}
		if p == q {
			return nil, false, d.expected(p, "whitespace, \">\" or \"/>\"")
		}
		// attribute name
		as := p
		for p < len(b) && b[p] != '=' && nameClass[b[p]] == 0 {
			p++
		}
		an := b[as:p]
		if len(an) == 0 {
			return nil, false, d.expected(p, "an attribute name")
		}
		for p < len(b) && isSpace(b[p]) {
			p++
		}
		if p >= len(b) || b[p] != '=' {
			return nil, false, d.expected(p, `"=" after attribute `+quoteBytes(an))
		}
		p++
		for p < len(b) && isSpace(b[p]) {
			p++
		}
		if p >= len(b) || (b[p] != '"' && b[p] != '\'') {
			return nil, false, d.expected(p, "a quoted attribute value")
		}
		qc := b[p]
		p++
		vs := p
		e := bytes.IndexByte(b[p:], qc)
		if e < 0 {
			return nil, false, d.errf(vs-1, "expected the closing quote of attribute "+quoteBytes(an)+", found end of input")
		}
		ve := vs + e
		p = ve + 1
		var flags uint8
		for _, c := range b[vs:ve] {
			flags |= textClass[c]
		}
		if flags&tLT != 0 {
			return nil, false, d.errf(vs+bytes.IndexByte(b[vs:ve], '<'), `expected an attribute value without "<", found "<"`)
		}
		switch string(an) {
		case "N":
			n, err := d.attrText(vs, ve, flags, true)
			if err != nil {
				return nil, false, err
			}
			d.aN, d.hasN = n, true
		case "RefId":
			d.hasRef = true
			d.refA, d.refB = vs, ve
			d.refSlow = flags&(tXML|tAttrWS) != 0
			d.refNum = -1
			if !d.refSlow {
				d.refNum = parseRefNum(b[vs:ve])
			}
		}
	}
}

// parseRefNum returns the value of a canonical small decimal ("0", "17"),
// or -1.
func parseRefNum(v []byte) int {
	if len(v) == 0 || len(v) > 9 || (v[0] == '0' && len(v) > 1) {
		return -1
	}
	n := 0
	for _, c := range v {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// refString returns the current RefId attribute as a string.
func (d *decoder) refString() (string, error) {
	if !d.refSlow {
		return d.str(d.refA, d.refB), nil
	}
	var err error
	d.tmp, err = appendUnescape(d.tmp[:0], d.buf[d.refA:d.refB], d.refA, true)
	if err != nil {
		return "", err
	}
	return string(d.tmp), nil
}

// attrText decodes the attribute value at [a, b) whose textClass bits are
// flags: entities, attribute normalisation and (xesc) _xHHHH_.
func (d *decoder) attrText(a, b int, flags uint8, xesc bool) (string, error) {
	v := d.buf[a:b]
	if flags&(tXML|tAttrWS) == 0 {
		if !xesc || flags&tUnd == 0 || !hasEscape(v) {
			return d.str(a, b), nil
		}
		d.tmp = appendDecodeName(d.tmp[:0], v)
		return string(d.tmp), nil
	}
	var err error
	d.tmp, err = appendUnescape(d.tmp[:0], v, a, true)
	if err != nil {
		return "", err
	}
	return d.finishText(0, xesc), nil
}

// finishText turns d.tmp[from:] into a string, applying _xHHHH_ decoding
// when xesc is set.
func (d *decoder) finishText(from int, xesc bool) string {
	t := d.tmp[from:]
	if xesc && hasEscape(t) {
		n := len(d.tmp)
		d.tmp = appendDecodeName(d.tmp, t)
		return d.tmpText(n)
	}
	return d.tmpText(from)
}

// tmpText returns d.tmp[from:] as a string: a copy, or for a long text
// the buffer itself, which the decoder then lets go of.
func (d *decoder) tmpText(from int) string {
	t := d.tmp[from:]
	if len(t) < SharedMin {
		return string(t)
	}
	d.tmp = nil
	return unsafe.String(&t[0], len(t))
}

// leafText reads the character content of a text-only element whose start
// tag was just consumed, up to and including "</tag>".
func (d *decoder) leafText(tag string, empty, xesc bool) (string, error) {
	if empty {
		return "", nil
	}
	b := d.buf
	start := d.pos
	end, flags := scanText(b, start)
	if flags&tLT != 0 {
		return "", d.errf(len(b), `expected "</`+tag+`>", found end of input`)
	}
	if flags&tXML == 0 && end+1 < len(b) && b[end+1] == '/' {
		d.pos = end
		if err := d.endTag(tag); err != nil {
			return "", err
		}
		seg := b[start:end]
		if !xesc || flags&tUnd == 0 || !hasEscape(seg) {
			return d.str(start, end), nil
		}
		d.tmp = appendDecodeName(d.tmp[:0], seg)
		return d.tmpText(0), nil
	}
	// General case: entities, CR, CDATA, comments, processing instructions.
	d.tmp = d.tmp[:0]
	p := start
	for {
		i := bytes.IndexByte(b[p:], '<')
		if i < 0 {
			return "", d.errf(len(b), `expected "</`+tag+`>", found end of input`)
		}
		var err error
		d.tmp, err = appendUnescape(d.tmp, b[p:p+i], p, false)
		if err != nil {
			return "", err
		}
		p += i
		rest := b[p:]
		switch {
		case len(rest) > 1 && rest[1] == '/':
			d.pos = p
			if err := d.endTag(tag); err != nil {
				return "", err
			}
			return d.finishText(0, xesc), nil
		case bytes.HasPrefix(rest, []byte("<![CDATA[")):
			e := bytes.Index(rest[9:], []byte("]]>"))
			if e < 0 {
				return "", d.errf(p, `expected "]]>" closing the CDATA section, found end of input`)
			}
			cd := rest[9 : 9+e]
			for len(cd) > 0 {
				r := bytes.IndexByte(cd, '\r')
				if r < 0 {
					d.tmp = append(d.tmp, cd...)
					break
				}
				d.tmp = append(d.tmp, cd[:r]...)
				d.tmp = append(d.tmp, '\n')
				cd = cd[r+1:]
				if len(cd) > 0 && cd[0] == '\n' {
					cd = cd[1:]
				}
			}
			p += 9 + e + 3
		case bytes.HasPrefix(rest, []byte("<!--")):
			e := bytes.Index(rest[4:], []byte("-->"))
			if e < 0 {
				return "", d.errf(p, `expected "-->" closing the comment, found end of input`)
			}
			p += 4 + e + 3
		case bytes.HasPrefix(rest, []byte("<?")):
			e := bytes.Index(rest[2:], []byte("?>"))
			if e < 0 {
				return "", d.errf(p, `expected "?>" closing the processing instruction, found end of input`)
			}
			p += 2 + e + 2
		default:
			return "", d.expected(p, `text or "</`+tag+`>"`)
		}
	}
}

// emptyContent consumes the content and end tag of an element that must
// be empty (Nil, Ref, TNRef): only whitespace, comments and PIs allowed.
func (d *decoder) emptyContent(tag string, empty bool) error {
	if empty {
		return nil
	}
	if err := d.skipMisc(); err != nil {
		return err
	}
	if d.pos+1 < len(d.buf) && d.buf[d.pos] == '<' && d.buf[d.pos+1] == '/' {
		return d.endTag(tag)
	}
	return d.expected(d.pos, `"</`+tag+`>"`)
}

var prTags = [...]string{"AV", "AI", "CO", "PI", "PC", "T", "SR", "SD"}
var prKinds = [...]Kind{String, Int32, Nil, Int32, Int32, String, Int32, String}

// element handles the start tag at d.pos according to the frame on top.
func (d *decoder) element() error {
	start := d.pos
	name, empty, err := d.startTag()
	if err != nil {
		return err
	}
	top := &d.stack[len(d.stack)-1]
	switch top.kind {
	case fRoot:
		if d.all {
			if string(name) != "Objs" {
				return d.errf(start, "expected <Objs>, found <"+string(name)+">")
			}
			if empty {
				d.results = []Value{}
				d.done = true
				return nil
			}
			return d.push(frame{kind: fObjs, tag: "Objs", start: start, base: len(d.sv)})
		}
	case fTN:
		if string(name) != "T" {
			return d.errf(start, `expected <T> or "</TN>", found <`+string(name)+">")
		}
		t, err := d.leafText("T", empty, true)
		if err != nil {
			return err
		}
		d.st = append(d.st, t)
		return nil
	case fDict:
		if string(name) != "En" {
			return d.errf(start, `expected <En> or "</DCT>", found <`+string(name)+">")
		}
		if empty {
			return d.errf(start, `expected <En> holding a key and a value, found an empty <En/>`)
		}
		return d.push(frame{kind: fEn, tag: "En", start: start})
	case fEn:
		if top.step >= 2 {
			return d.errf(start, `expected "</En>", found <`+string(name)+">")
		}
		want := "Key"
		if top.step == 1 {
			want = "Value"
		}
		if !d.hasN || !equalFoldASCII(d.aN, want) {
			return d.errf(start, `expected a value element with N="`+want+`" in <En>, found <`+string(name)+">")
		}
	case fPR:
		if int(top.step) >= len(prTags) {
			return d.errf(start, `expected "</PR>", found <`+string(name)+">")
		}
		if top.step != 2 {
			tag := prTags[top.step]
			if string(name) != tag {
				return d.errf(start, "expected <"+tag+"> in <PR>, found <"+string(name)+">")
			}
			t, err := d.leafText(tag, empty, true)
			if err != nil {
				return err
			}
			d.sp = append(d.sp, Property{Name: tag, Value: Value{Kind: prKinds[top.step], Text: t}})
			top.step++
			return nil
		}
		d.aN, d.hasN = "CO", true
	case fObj:
		if done, err := d.objChild(top, name, empty, start); done || err != nil {
			return err
		}
		if top.step&seenBase != 0 {
			return d.errf(start, `expected TN, ToString, Props, MS or "</Obj>" (the object already has its value), found <`+string(name)+">")
		}
	case fProps, fMS:
		if !d.hasN {
			return d.errf(start, "expected an N attribute on <"+string(name)+"> in <"+top.tag+">")
		}
		if top.kind == fMS && string(name) == "MS" {
			if err := d.countOne(start); err != nil {
				return err
			}
			set := &PSObject{}
			if empty {
				d.deliver(Value{Kind: MemberSet, Obj: set}, d.aN, true)
				return nil
			}
			return d.push(frame{kind: fMS, step: 1, tag: "MS", name: d.aN, named: true, start: start, obj: set, base: len(d.sp)})
		}
	}
	return d.value(name, empty, start)
}

// objChild handles the parts of an <Obj> that are not its value. It
// reports done=false when name is a value element.
func (d *decoder) objChild(top *frame, name []byte, empty bool, start int) (bool, error) {
	o := top.obj
	once := func(bit uint8) error {
		if top.step&bit != 0 {
			return d.errf(start, "expected at most one <"+string(name)+"> in <Obj>, found a second")
		}
		top.step |= bit
		return nil
	}
	switch string(name) {
	case "TN":
		if err := once(seenTN); err != nil {
			return true, err
		}
		if err := d.countOne(start); err != nil {
			return true, err
		}
		f := frame{kind: fTN, tag: "TN", start: start, obj: o, base: len(d.st), refNum: -1}
		if d.hasRef {
			f.refNum = d.refNum
			if f.refNum < 0 {
				s, err := d.refString()
				if err != nil {
					return true, err
				}
				f.refNum, f.refStr = -2, s
			}
		}
		if empty {
			d.registerTN(&f, nil)
			return true, nil
		}
		return true, d.push(f)
	case "TNRef":
		if err := once(seenTN); err != nil {
			return true, err
		}
		if !d.hasRef {
			return true, d.errf(start, "expected a RefId attribute on <TNRef>")
		}
		tn, ok, err := d.lookupTN()
		if err != nil {
			return true, err
		}
		if !ok {
			return true, d.errf(start, "expected the RefId of an earlier <TN>, found RefId="+quoteBytes(d.buf[d.refA:d.refB]))
		}
		o.TypeNames = tn
		return true, d.emptyContent("TNRef", empty)
	case "ToString":
		if err := once(seenToString); err != nil {
			return true, err
		}
		t, err := d.leafText("ToString", empty, true)
		if err != nil {
			return true, err
		}
		o.ToString, o.HasToString = t, true
		return true, nil
	case "Props":
		if err := once(seenProps); err != nil {
			return true, err
		}
		if empty {
			return true, nil
		}
		return true, d.push(frame{kind: fProps, tag: "Props", start: start, obj: o, base: len(d.sp)})
	case "MS":
		if err := once(seenMS); err != nil {
			return true, err
		}
		if empty {
			return true, nil
		}
		return true, d.push(frame{kind: fMS, tag: "MS", start: start, obj: o, base: len(d.sp)})
	case "LST", "IE", "STK", "QUE", "DCT":
		if top.step&seenBase != 0 {
			return true, d.errf(start, `expected TN, ToString, Props, MS or "</Obj>" (the object already has its value), found <`+string(name)+">")
		}
		top.step |= seenBase
		var tag string
		switch string(name) {
		case "LST":
			o.Container, tag = List, "LST"
		case "IE":
			o.Container, tag = Enumerable, "IE"
		case "STK":
			o.Container, tag = Stack, "STK"
		case "QUE":
			o.Container, tag = Queue, "QUE"
		default:
			o.Container = Dictionary
			if empty {
				return true, nil
			}
			return true, d.push(frame{kind: fDict, tag: "DCT", start: start, obj: o, base: len(d.sd)})
		}
		if empty {
			return true, nil
		}
		return true, d.push(frame{kind: fList, tag: tag, start: start, obj: o, base: len(d.sv)})
	}
	return false, nil
}

// kindOf maps a value element name to its Kind.
func kindOf(name []byte) (Kind, bool) {
	switch string(name) {
	case "S":
		return String, true
	case "I32":
		return Int32, true
	case "B":
		return Bool, true
	case "Obj":
		return Object, true
	case "Ref":
		return Object, true
	case "Nil":
		return Nil, true
	case "I64":
		return Int64, true
	case "DT":
		return DateTime, true
	case "C":
		return Char, true
	case "TS":
		return TimeSpan, true
	case "By":
		return Byte, true
	case "SB":
		return SByte, true
	case "I16":
		return Int16, true
	case "U16":
		return UInt16, true
	case "U32":
		return UInt32, true
	case "U64":
		return UInt64, true
	case "Sg":
		return Single, true
	case "Db":
		return Double, true
	case "D":
		return Decimal, true
	case "G":
		return GUID, true
	case "URI":
		return URI, true
	case "Version":
		return Version, true
	case "BA":
		return Bytes, true
	case "SS":
		return SecureString, true
	case "XD":
		return XMLDocument, true
	case "SBK":
		return ScriptBlock, true
	case "PR":
		return ProgressRecord, true
	}
	return 0, false
}

// xescKind reports whether pwsh _x-encodes the text of kind k.
func xescKind(k Kind) bool {
	return k == String || k == URI || k == XMLDocument || k == ScriptBlock
}

// value parses a value element whose start tag was just consumed and
// delivers it (or pushes a frame that will).
func (d *decoder) value(name []byte, empty bool, start int) error {
	k, ok := kindOf(name)
	if !ok {
		return d.errf(start, "expected a value element (S, I32, B, DT, Obj, Ref, Nil, …), found unknown element <"+string(name)+">")
	}
	if err := d.countOne(start); err != nil {
		return err
	}
	pname, pnamed := "", d.hasN
	if pnamed {
		pname = d.aN
	}
	switch k {
	case Object:
		if name[0] == 'R' { // Ref
			if !d.hasRef {
				return d.errf(start, "expected a RefId attribute on <Ref>")
			}
			o, ok, err := d.lookupObj()
			if err != nil {
				return err
			}
			if !ok {
				return d.errf(start, "expected the RefId of an earlier <Obj>, found RefId="+quoteBytes(d.buf[d.refA:d.refB]))
			}
			if err := d.emptyContent("Ref", empty); err != nil {
				return err
			}
			d.deliver(Value{Kind: Object, Obj: o}, pname, pnamed)
			return nil
		}
		c := d.newCell()
		o := &c.o
		if d.hasRef {
			if err := d.registerObj(o); err != nil {
				return err
			}
		}
		if empty {
			d.deliver(Value{Kind: Object, Obj: o}, pname, pnamed)
			return nil
		}
		return d.push(frame{kind: fObj, tag: "Obj", name: pname, named: pnamed, start: start, obj: o, prim: &c.prim})
	case Nil:
		if err := d.emptyContent("Nil", empty); err != nil {
			return err
		}
		d.deliver(Value{}, pname, pnamed)
		return nil
	case ProgressRecord:
		if empty {
			return d.errf(start, "expected <PR> with AV, AI, CO, PI, PC, T, SR, SD, found an empty <PR/>")
		}
		return d.push(frame{kind: fPR, tag: "PR", name: pname, named: pnamed, start: start, obj: &PSObject{}, base: len(d.sp)})
	}
	tag := k.Tag()
	t, err := d.leafText(tag, empty, xescKind(k))
	if err != nil {
		return err
	}
	d.deliver(Value{Kind: k, Text: t}, pname, pnamed)
	return nil
}

// deliver hands a finished value to the frame on top. Every check was made
// when its start tag was read.
func (d *decoder) deliver(v Value, name string, named bool) {
	top := &d.stack[len(d.stack)-1]
	switch top.kind {
	case fRoot:
		d.result = v
		d.done = true
	case fObjs, fList:
		d.sv = append(d.sv, v)
	case fObj:
		top.step |= seenBase
		*top.prim = v
		top.obj.Primitive = top.prim
	case fProps, fMS:
		d.sp = append(d.sp, Property{Name: name, Value: v})
	case fEn:
		if top.step == 0 {
			d.sd = append(d.sd, DictEntry{Key: v}) // the value follows
		} else {
			d.sd[len(d.sd)-1].Value = v
		}
		top.step++
	case fPR:
		d.sp = append(d.sp, Property{Name: "CO", Value: v})
		top.step++
	}
}

// newCell hands out the next object from the slab. Slab chunks start at a
// size estimated from the input length and double up to 1024 objects, so
// memory follows the objects actually decoded (each counted by countOne
// first).
func (d *decoder) newCell() *objCell {
	if len(d.cells) == 0 {
		d.cells = make([]objCell, d.cNext)
		d.cNext = min(d.cNext*2, 1024)
	}
	c := &d.cells[0]
	d.cells = d.cells[1:]
	return c
}

// carve copies src into a capacity-limited slice of the arena.
func carve[T any](arena *[]T, next *int, src []T) []T {
	n := len(src)
	if n == 0 {
		return nil
	}
	if len(*arena) < n {
		size := max(n, *next)
		*next = min(size*2, 1<<14)
		*arena = make([]T, size)
	}
	out := (*arena)[:n:n]
	copy(out, src)
	*arena = (*arena)[n:]
	return out
}

// closeFrame pops the frame whose end tag was just consumed.
func (d *decoder) closeFrame() error {
	f := d.stack[len(d.stack)-1]
	d.stack[len(d.stack)-1] = frame{}
	d.stack = d.stack[:len(d.stack)-1]
	switch f.kind {
	case fObj:
		d.deliver(Value{Kind: Object, Obj: f.obj}, f.name, f.named)
	case fTN:
		list := carve(&d.sArena, &d.sNext, d.st[f.base:])
		clear(d.st[f.base:])
		d.st = d.st[:f.base]
		d.registerTN(&f, list)
	case fProps:
		f.obj.Props = carve(&d.pArena, &d.pNext, d.sp[f.base:])
		clear(d.sp[f.base:])
		d.sp = d.sp[:f.base]
	case fMS:
		f.obj.Members = carve(&d.pArena, &d.pNext, d.sp[f.base:])
		clear(d.sp[f.base:])
		d.sp = d.sp[:f.base]
		if f.step == 1 {
			d.deliver(Value{Kind: MemberSet, Obj: f.obj}, f.name, true)
		}
	case fList:
		f.obj.Items = carve(&d.vArena, &d.vNext, d.sv[f.base:])
		clear(d.sv[f.base:])
		d.sv = d.sv[:f.base]
	case fDict:
		next := 16
		f.obj.Dict = carve(&d.dArena, &next, d.sd[f.base:])
		clear(d.sd[f.base:])
		d.sd = d.sd[:f.base]
	case fEn:
		if f.step < 2 {
			want := "Key"
			if f.step == 1 {
				want = "Value"
			}
			return d.errf(f.start, `expected <En> to hold a value with N="`+want+`" before "</En>"`)
		}
	case fPR:
		if int(f.step) < len(prTags) {
			return d.errf(f.start, "expected <"+prTags[f.step]+"> in <PR> before \"</PR>\"")
		}
		f.obj.Members = append([]Property(nil), d.sp[f.base:]...)
		clear(d.sp[f.base:])
		d.sp = d.sp[:f.base]
		d.deliver(Value{Kind: ProgressRecord, Obj: f.obj}, f.name, f.named)
	case fObjs:
		d.results = append(make([]Value, 0, len(d.sv)-f.base), d.sv[f.base:]...)
		clear(d.sv[f.base:])
		d.sv = d.sv[:f.base]
		d.done = true
	}
	return nil
}

func (d *decoder) registerObj(o *PSObject) error {
	n := d.refNum
	if n >= 0 {
		if n < len(d.objNum) {
			d.objNum[n] = o
			return nil
		}
		if n == len(d.objNum) {
			d.objNum = append(d.objNum, o)
			return nil
		}
	}
	s, err := d.refString()
	if err != nil {
		return err
	}
	if d.objStr == nil {
		d.objStr = make(map[string]*PSObject)
	}
	d.objStr[s] = o
	return nil
}

func (d *decoder) lookupObj() (*PSObject, bool, error) {
	if n := d.refNum; n >= 0 && n < len(d.objNum) {
		return d.objNum[n], true, nil
	}
	if d.objStr == nil {
		return nil, false, nil
	}
	s, err := d.refString()
	if err != nil {
		return nil, false, err
	}
	o, ok := d.objStr[s]
	return o, ok, nil
}

func (d *decoder) registerTN(f *frame, list []string) {
	f.obj.TypeNames = list
	switch {
	case f.refNum == -1:
		return
	case f.refNum >= 0 && f.refNum < len(d.tnNum):
		d.tnNum[f.refNum] = list
		return
	case f.refNum >= 0 && f.refNum == len(d.tnNum):
		d.tnNum = append(d.tnNum, list)
		return
	}
	key := f.refStr
	if f.refNum >= 0 {
		key = strconv.Itoa(f.refNum)
	}
	if d.tnStr == nil {
		d.tnStr = make(map[string][]string)
	}
	d.tnStr[key] = list
}

func (d *decoder) lookupTN() ([]string, bool, error) {
	if n := d.refNum; n >= 0 && n < len(d.tnNum) {
		return d.tnNum[n], true, nil
	}
	if d.tnStr == nil {
		return nil, false, nil
	}
	s, err := d.refString()
	if err != nil {
		return nil, false, err
	}
	l, ok := d.tnStr[s]
	return l, ok, nil
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
