package clixml

import (
	"math"
	"strconv"
	"unicode/utf8"
)

// Budgets of one rendering. Decoded documents hold at most MaxObjects
// values, but a shared object (<Ref> to it from many places) is expanded at
// every use, which a hostile document can turn into exponential output.
// Once a rendering has expanded renderBudget objects or written
// renderBytes bytes, further objects are rendered like a cycle.
const (
	renderBudget = 1 << 20
	renderBytes  = 64 << 20
)

// AppendFaithfulJSON appends v as SPEC S10 "faithful JSON" (the data of
// psmux debug decode):
//
//   - Nil → null; B → true/false; integers (By SB I16 U16 I32 U32 I64 U64)
//     and Sg/Db → JSON numbers with the wire text verbatim (Sg/Db INF,
//     -INF, NaN → strings "INF", "-INF", "NaN"; text that is no JSON number
//     → its normalised number, or the text as a string);
//   - S, C (the character itself), D, DT, TS, G, URI, Version, XD → strings;
//     BA → its base64 string; SS → {"SecureString": base64};
//     SBK → {"ScriptBlock": text};
//   - an object → {"TypeNames":[…], "ToString":…, "Value":…, "Props":{…},
//     "MS":{…}, "List":[…], "Dict":[{"Key":…,"Value":…}]} in that order,
//     absent parts omitted; Value is the wrapped primitive (an enum's
//     number); LST/IE/STK/QUE all under List, in wire order; Props and MS
//     as JSON objects in wire order (a duplicate name is written twice;
//     readers typically keep the later); a nested member set is
//     {"MS":{…}};
//   - PR → {"TypeNames":["System.Management.Automation.ProgressRecord"],
//     "MS":{"AV":…,"AI":…,"CO":…,"PI":…,"PC":…,"T":…,"SR":…,"SD":…}};
//   - Ref/TNRef are resolved: a shared object is written in full at each
//     use, and a reference back to an object on the current path (a cycle)
//     is written as {"Ref": true} — as is any object past the rendering
//     budget (2^20 objects or 64 MiB of output), which only a document
//     built to expand exponentially through shared references reaches.
//
// Output is valid JSON: control characters are escaped and invalid UTF-8
// becomes \ufffd.
func AppendFaithfulJSON(dst []byte, v Value) []byte {
	r := renderer{faithful: true, start: len(dst)}
	return r.value(dst, v)
}

// AppendPlainJSON appends v as SPEC S8 "plain JSON" (the value of psmux
// --json): primitives as themselves (strings, numbers, booleans, null;
// Sg/Db infinities and NaN as "Infinity", "-Infinity", "NaN" like
// ConvertTo-Json; D as a number; C as a one-character string), dates and
// durations as their ISO 8601 text, BA as base64, SS as the string
// "System.Security.SecureString" (its contents are never shown); an
// object as
//
//   - a cycle (or an object past the budget described at
//     AppendFaithfulJSON) → its ToString string, or null;
//   - an enum (type names include System.Enum) → its ToString string;
//   - DCT → an object keyed by each key's string form (Str), in wire order;
//   - LST/IE/STK/QUE → an array;
//   - with Props or MS → {property: value} with Props first, then MS;
//   - otherwise its ToString string, or its wrapped primitive, or {};
//
// and a PR as {"Activity", "ActivityId", "CurrentOperation",
// "ParentActivityId", "PercentComplete", "RecordType", "SecondsRemaining",
// "StatusDescription"}.
func AppendPlainJSON(dst []byte, v Value) []byte {
	r := renderer{start: len(dst)}
	return r.value(dst, v)
}

type renderer struct {
	faithful bool
	start    int // len(dst) when the rendering began
	path     []*PSObject
	pathBuf  [16]*PSObject
	pathSet  map[*PSObject]int // replaces the linear search on deep paths
	expanded int
}

const pathLinear = 32

func (r *renderer) onPath(o *PSObject) bool {
	if r.pathSet != nil {
		return r.pathSet[o] > 0
	}
	for _, p := range r.path {
		if p == o {
			return true
		}
	}
	return false
}

func (r *renderer) enter(o *PSObject, written int) bool {
	if r.path == nil {
		r.path = r.pathBuf[:0]
	}
	if r.onPath(o) || r.expanded >= renderBudget || written-r.start > renderBytes {
		return false
	}
	r.expanded++
	r.path = append(r.path, o)
	if r.pathSet == nil && len(r.path) > pathLinear {
		r.pathSet = make(map[*PSObject]int, 2*pathLinear)
		for _, p := range r.path[:len(r.path)-1] {
			r.pathSet[p]++
		}
	}
	if r.pathSet != nil {
		r.pathSet[o]++
	}
	return true
}

func (r *renderer) leave() {
	o := r.path[len(r.path)-1]
	r.path = r.path[:len(r.path)-1]
	if r.pathSet != nil {
		r.pathSet[o]--
	}
}

func (r *renderer) value(dst []byte, v Value) []byte {
	switch v.Kind {
	case Nil:
		return append(dst, "null"...)
	case String, DateTime, TimeSpan, GUID, URI, Version, XMLDocument, Bytes:
		return AppendJSONString(dst, v.Text)
	case Decimal:
		if !r.faithful && isJSONNumber(v.Text) {
			return append(dst, v.Text...)
		}
		return AppendJSONString(dst, v.Text)
	case Char:
		c, err := v.Rune()
		if err != nil {
			return AppendJSONString(dst, v.Text)
		}
		var b [4]byte
		return AppendJSONString(dst, string(b[:utf8.EncodeRune(b[:], c)]))
	case Bool:
		switch trimXML(v.Text) {
		case "true", "1":
			return append(dst, "true"...)
		case "false", "0":
			return append(dst, "false"...)
		}
		return AppendJSONString(dst, v.Text)
	case Byte, SByte, Int16, UInt16, Int32, UInt32, Int64, UInt64:
		if isJSONNumber(v.Text) {
			return append(dst, v.Text...)
		}
		t := trimXML(v.Text)
		if n, err := strconv.ParseInt(t, 10, 64); err == nil {
			return strconv.AppendInt(dst, n, 10)
		}
		if len(t) > 0 && t[0] == '+' {
			t = t[1:]
		}
		if n, err := strconv.ParseUint(t, 10, 64); err == nil {
			return strconv.AppendUint(dst, n, 10)
		}
		return AppendJSONString(dst, v.Text)
	case Single, Double:
		if isJSONNumber(v.Text) {
			return append(dst, v.Text...)
		}
		f, err := v.Float()
		switch {
		case err != nil:
			return AppendJSONString(dst, v.Text)
		case math.IsInf(f, 1):
			if r.faithful {
				return append(dst, `"INF"`...)
			}
			return append(dst, `"Infinity"`...)
		case math.IsInf(f, -1):
			if r.faithful {
				return append(dst, `"-INF"`...)
			}
			return append(dst, `"-Infinity"`...)
		case math.IsNaN(f):
			return append(dst, `"NaN"`...)
		}
		return strconv.AppendFloat(dst, f, 'g', -1, 64)
	case SecureString:
		if !r.faithful {
			return AppendJSONString(dst, SecureStringText)
		}
		dst = append(dst, `{"SecureString":`...)
		dst = AppendJSONString(dst, v.Text)
		return append(dst, '}')
	case ScriptBlock:
		if !r.faithful {
			return AppendJSONString(dst, v.Text)
		}
		dst = append(dst, `{"ScriptBlock":`...)
		dst = AppendJSONString(dst, v.Text)
		return append(dst, '}')
	case ProgressRecord:
		if v.Obj == nil {
			return append(dst, "null"...)
		}
		return r.progress(dst, v.Obj)
	case MemberSet:
		if v.Obj == nil {
			return append(dst, "null"...)
		}
		if r.faithful {
			dst = append(dst, `{"MS":`...)
			dst = r.props(dst, v.Obj.Members)
			return append(dst, '}')
		}
		return r.props(dst, v.Obj.Members)
	case Object:
		if v.Obj == nil {
			return append(dst, "null"...)
		}
		if r.faithful {
			return r.faithfulObject(dst, v.Obj)
		}
		return r.plainObject(dst, v.Obj)
	}
	return append(dst, "null"...)
}

func (r *renderer) props(dst []byte, ps []Property) []byte {
	dst = append(dst, '{')
	for i := range ps {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendJSONString(dst, ps[i].Name)
		dst = append(dst, ':')
		dst = r.value(dst, ps[i].Value)
	}
	return append(dst, '}')
}

func (r *renderer) items(dst []byte, vs []Value) []byte {
	dst = append(dst, '[')
	for i := range vs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = r.value(dst, vs[i])
	}
	return append(dst, ']')
}

func (r *renderer) faithfulObject(dst []byte, o *PSObject) []byte {
	if !r.enter(o, len(dst)) {
		return append(dst, `{"Ref":true}`...)
	}
	defer r.leave()
	dst = append(dst, '{')
	sep := false
	field := func(name string) {
		if sep {
			dst = append(dst, ',')
		}
		sep = true
		dst = append(dst, name...)
	}
	if len(o.TypeNames) > 0 {
		field(`"TypeNames":[`)
		for i, t := range o.TypeNames {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendJSONString(dst, t)
		}
		dst = append(dst, ']')
	}
	if o.HasToString {
		field(`"ToString":`)
		dst = AppendJSONString(dst, o.ToString)
	}
	if o.Primitive != nil {
		field(`"Value":`)
		dst = r.value(dst, *o.Primitive)
	}
	if len(o.Props) > 0 {
		field(`"Props":`)
		dst = r.props(dst, o.Props)
	}
	if len(o.Members) > 0 {
		field(`"MS":`)
		dst = r.props(dst, o.Members)
	}
	switch o.Container {
	case List, Enumerable, Stack, Queue:
		field(`"List":`)
		dst = r.items(dst, o.Items)
	case Dictionary:
		field(`"Dict":[`)
		for i := range o.Dict {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"Key":`...)
			dst = r.value(dst, o.Dict[i].Key)
			dst = append(dst, `,"Value":`...)
			dst = r.value(dst, o.Dict[i].Value)
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

func (r *renderer) plainObject(dst []byte, o *PSObject) []byte {
	if !r.enter(o, len(dst)) {
		if o.HasToString {
			return AppendJSONString(dst, o.ToString)
		}
		return append(dst, "null"...)
	}
	defer r.leave()
	switch {
	case o.IsA("System.Enum"):
		return AppendJSONString(dst, Obj(o).Str())
	case o.Container == Dictionary:
		dst = append(dst, '{')
		for i := range o.Dict {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendJSONString(dst, o.Dict[i].Key.Str())
			dst = append(dst, ':')
			dst = r.value(dst, o.Dict[i].Value)
		}
		return append(dst, '}')
	case o.Container != NoContainer:
		return r.items(dst, o.Items)
	case len(o.Props) > 0 || len(o.Members) > 0:
		dst = append(dst, '{')
		n := 0
		for _, ps := range [2][]Property{o.Props, o.Members} {
			for i := range ps {
				if n > 0 {
					dst = append(dst, ',')
				}
				n++
				dst = AppendJSONString(dst, ps[i].Name)
				dst = append(dst, ':')
				dst = r.value(dst, ps[i].Value)
			}
		}
		return append(dst, '}')
	case o.HasToString:
		return AppendJSONString(dst, o.ToString)
	case o.Primitive != nil:
		return r.value(dst, *o.Primitive)
	}
	return append(dst, "{}"...)
}

var prPlainNames = [...]string{"Activity", "ActivityId", "CurrentOperation", "ParentActivityId",
	"PercentComplete", "RecordType", "SecondsRemaining", "StatusDescription"}

func (r *renderer) progress(dst []byte, o *PSObject) []byte {
	if r.faithful {
		dst = append(dst, `{"TypeNames":["System.Management.Automation.ProgressRecord"],"MS":`...)
		dst = r.props(dst, o.Members)
		return append(dst, '}')
	}
	dst = append(dst, '{')
	for i, tag := range prTags {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = append(dst, prPlainNames[i]...)
		dst = append(dst, `":`...)
		v, ok := o.Member(tag)
		switch {
		case !ok && i == 2:
			dst = append(dst, "null"...)
		case !ok:
			dst = r.value(dst, Value{Kind: prKinds[i], Text: prDefaults[i]})
		default:
			dst = r.value(dst, v)
		}
	}
	return append(dst, '}')
}

// isJSONNumber reports whether s is a JSON number as it stands.
func isJSONNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	if i >= len(s) {
		return false
	}
	if s[i] == '0' {
		i++
	} else if s[i] >= '1' && s[i] <= '9' {
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	} else {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		k := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == k {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		k := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == k {
			return false
		}
	}
	return i == len(s)
}

var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return
}()

// lowerHex spells \u escapes as encoding/json does.
const lowerHex = "0123456789abcdef"

// AppendJSONString appends s as a JSON string literal: quotes,
// backslashes, control characters and U+2028/U+2029 escaped, invalid
// UTF-8 as \ufffd; the same bytes as encoding/json without its HTML
// escaping.
func AppendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', lowerHex[c>>4], lowerHex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			// valid in JSON, but not in JavaScript source: escaped, as
			// encoding/json escapes them
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', lowerHex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
