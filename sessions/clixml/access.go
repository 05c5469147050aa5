package clixml

import (
	"encoding/base64"
	"math"
	"strconv"
	"strings"
	"time"
)

// The accessors below look through an object to its wrapped primitive
// (so an enum's Int() is its underlying value) and trim the XML whitespace
// XmlConvert ignores. They return a *ValueError naming the expected kind
// and the text found.

const (
	wantInt   = "an integer (By, SB, I16, U16, I32, U32, I64, U64)"
	wantUint  = "a non-negative integer (By, SB, I16, U16, I32, U32, I64, U64)"
	wantFloat = "a number (Sg, Db, D or an integer)"
	wantBool  = "a boolean (B: true, false, 1 or 0)"
	wantTime  = "a date-time (DT: yyyy-MM-ddTHH:mm:ss[.fffffff][Z|±hh:mm])"
	wantDur   = "a duration (TS: [-]P[nD][T[nH][nM][n[.f]S]])"
	wantBytes = "a byte array (BA: base64)"
	wantChar  = "a character (C: UTF-16 code unit in decimal)"
)

// prim follows an object to the primitive it wraps (bounded, so a
// self-wrapping object cannot loop forever).
func (v Value) prim() Value {
	for i := 0; i < 8 && v.Kind == Object && v.Obj != nil && v.Obj.Primitive != nil; i++ {
		v = *v.Obj.Primitive
	}
	return v
}

func (v Value) errWant(want string) error {
	return &ValueError{Want: want, Kind: v.Kind, Text: v.Str()}
}

func trimXML(s string) string {
	return strings.Trim(s, " \t\r\n")
}

func isIntKind(k Kind) bool {
	switch k {
	case Byte, SByte, Int16, UInt16, Int32, UInt32, Int64, UInt64:
		return true
	}
	return false
}

// Int returns the value of an integer element (or of an object wrapping
// one, such as an enum).
func (v Value) Int() (int64, error) {
	p := v.prim()
	if !isIntKind(p.Kind) {
		return 0, p.errWant(wantInt)
	}
	t := strings.TrimPrefix(trimXML(p.Text), "+")
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil {
		return 0, p.errWant(wantInt)
	}
	return n, nil
}

// Uint returns the value of a non-negative integer element.
func (v Value) Uint() (uint64, error) {
	p := v.prim()
	if !isIntKind(p.Kind) {
		return 0, p.errWant(wantUint)
	}
	t := strings.TrimPrefix(trimXML(p.Text), "+")
	n, err := strconv.ParseUint(t, 10, 64)
	if err != nil {
		if t == "-0" {
			return 0, nil
		}
		return 0, p.errWant(wantUint)
	}
	return n, nil
}

// Float returns the value of an Sg, Db, D or integer element; INF, -INF
// and NaN are accepted as XmlConvert writes them.
func (v Value) Float() (float64, error) {
	p := v.prim()
	switch p.Kind {
	case Single, Double, Decimal:
	default:
		if !isIntKind(p.Kind) {
			return 0, p.errWant(wantFloat)
		}
	}
	t := trimXML(p.Text)
	switch t {
	case "INF":
		return math.Inf(1), nil
	case "-INF":
		return math.Inf(-1), nil
	case "NaN":
		return math.NaN(), nil
	}
	if t == "" {
		return 0, p.errWant(wantFloat)
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= '0' && c <= '9' || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E') {
			return 0, p.errWant(wantFloat)
		}
	}
	bits := 64
	if p.Kind == Single {
		bits = 32
	}
	f, err := strconv.ParseFloat(t, bits)
	if err != nil {
		return 0, p.errWant(wantFloat)
	}
	return f, nil
}

// Bool returns the value of a <B> element: true, false, 1 or 0.
func (v Value) Bool() (bool, error) {
	p := v.prim()
	if p.Kind != Bool {
		return false, p.errWant(wantBool)
	}
	switch trimXML(p.Text) {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, p.errWant(wantBool)
}

// Rune returns the character of a <C> element (a UTF-16 code unit; a
// surrogate half is returned as U+FFFD).
func (v Value) Rune() (rune, error) {
	p := v.prim()
	if p.Kind != Char {
		return 0, p.errWant(wantChar)
	}
	n, err := strconv.ParseUint(trimXML(p.Text), 10, 16)
	if err != nil {
		return 0, p.errWant(wantChar)
	}
	if n >= 0xD800 && n <= 0xDFFF {
		return 0xFFFD, nil
	}
	return rune(n), nil
}

// Bytes decodes the base64 of a <BA> element (whitespace ignored).
func (v Value) Bytes() ([]byte, error) {
	p := v.prim()
	if p.Kind != Bytes {
		return nil, p.errWant(wantBytes)
	}
	t := p.Text
	if strings.ContainsAny(t, " \t\r\n") {
		t = strings.Map(func(r rune) rune {
			if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
				return -1
			}
			return r
		}, t)
	}
	b, err := base64.StdEncoding.DecodeString(t)
	if err != nil {
		return nil, p.errWant(wantBytes)
	}
	return b, nil
}

// Time parses a <DT> element: yyyy-MM-ddTHH:mm:ss with 0–7 (up to 9
// accepted) fraction digits and "Z" (UTC), an offset (a fixed zone) or
// nothing (DateTimeKind.Unspecified, returned as UTC wall-clock time).
func (v Value) Time() (time.Time, error) {
	p := v.prim()
	if p.Kind != DateTime {
		return time.Time{}, p.errWant(wantTime)
	}
	t, ok := parseDateTime(trimXML(p.Text))
	if !ok {
		return time.Time{}, p.errWant(wantTime)
	}
	return t, nil
}

func digitsAt(s string, i, n int) (int, bool) {
	if i+n > len(s) {
		return 0, false
	}
	v := 0
	for k := i; k < i+n; k++ {
		c := s[k]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

func parseDateTime(s string) (time.Time, bool) {
	// yyyy-MM-ddTHH:mm:ss
	if len(s) < 19 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	y, ok1 := digitsAt(s, 0, 4)
	mo, ok2 := digitsAt(s, 5, 2)
	d, ok3 := digitsAt(s, 8, 2)
	h, ok4 := digitsAt(s, 11, 2)
	mi, ok5 := digitsAt(s, 14, 2)
	sec, ok6 := digitsAt(s, 17, 2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 59 {
		return time.Time{}, false
	}
	i := 19
	ns := 0
	if i < len(s) && s[i] == '.' {
		i++
		scale := 100000000
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			if n < 9 {
				ns += int(s[i]-'0') * scale
				scale /= 10
			}
			n++
			i++
		}
		if n == 0 {
			return time.Time{}, false
		}
	}
	loc := time.UTC
	switch {
	case i == len(s):
	case s[i] == 'Z' && i+1 == len(s):
	case (s[i] == '+' || s[i] == '-') && len(s) == i+6 && s[i+3] == ':':
		oh, ok1 := digitsAt(s, i+1, 2)
		om, ok2 := digitsAt(s, i+4, 2)
		if !ok1 || !ok2 || oh > 14 || om > 59 {
			return time.Time{}, false
		}
		off := oh*3600 + om*60
		if s[i] == '-' {
			off = -off
		}
		loc = time.FixedZone("", off)
	default:
		return time.Time{}, false
	}
	t := time.Date(y, time.Month(mo), d, h, mi, sec, ns, loc)
	if t.Day() != d { // Feb 30 and the like
		return time.Time{}, false
	}
	return t, true
}

// Duration parses a <TS> element (XSD duration as XmlConvert writes it;
// a year counts 365 days and a month 30, as in .NET).
func (v Value) Duration() (time.Duration, error) {
	p := v.prim()
	if p.Kind != TimeSpan {
		return 0, p.errWant(wantDur)
	}
	d, ok := parseDuration(trimXML(p.Text))
	if !ok {
		return 0, p.errWant(wantDur)
	}
	return d, nil
}

func parseDuration(s string) (time.Duration, bool) {
	neg := false
	if strings.HasPrefix(s, "-") {
		neg, s = true, s[1:]
	}
	if len(s) < 2 || s[0] != 'P' {
		return 0, false
	}
	s = s[1:]
	const maxNs = uint64(math.MaxInt64)
	var total uint64
	add := func(n, unit uint64) bool {
		if n != 0 && unit > maxNs/n {
			return false
		}
		if total+n*unit > maxNs+1 || total+n*unit < total {
			return false
		}
		total += n * unit
		return true
	}
	inTime, any := false, false
	for len(s) > 0 {
		if s[0] == 'T' {
			if inTime {
				return 0, false
			}
			inTime = true
			s = s[1:]
			if len(s) == 0 {
				return 0, false
			}
			continue
		}
		i := 0
		var n uint64
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			if n > (math.MaxUint64-9)/10 {
				return 0, false
			}
			n = n*10 + uint64(s[i]-'0')
			i++
		}
		if i == 0 || i == len(s) {
			return 0, false
		}
		var frac uint64 // nanoseconds
		if s[i] == '.' {
			if !inTime {
				return 0, false
			}
			i++
			scale := uint64(100000000)
			k := 0
			for i < len(s) && s[i] >= '0' && s[i] <= '9' {
				frac += uint64(s[i]-'0') * scale
				scale /= 10
				i++
				k++
			}
			if k == 0 || i == len(s) || s[i] != 'S' {
				return 0, false
			}
		}
		const day = uint64(24 * time.Hour)
		ok := true
		switch {
		case !inTime && s[i] == 'Y':
			ok = add(n, 365*day)
		case !inTime && s[i] == 'M':
			ok = add(n, 30*day)
		case !inTime && s[i] == 'D':
			ok = add(n, day)
		case inTime && s[i] == 'H':
			ok = add(n, uint64(time.Hour))
		case inTime && s[i] == 'M':
			ok = add(n, uint64(time.Minute))
		case inTime && s[i] == 'S':
			ok = add(n, uint64(time.Second)) && add(frac, 1)
		default:
			return 0, false
		}
		if !ok {
			return 0, false
		}
		any = true
		s = s[i+1:]
	}
	if !any {
		return 0, false
	}
	if neg {
		if total > maxNs+1 {
			return 0, false
		}
		return time.Duration(-int64(total-1) - 1), true
	}
	if total > maxNs {
		return 0, false
	}
	return time.Duration(total), true
}

// IsNil reports whether v is <Nil /> (or an object value without object).
func (v Value) IsNil() bool {
	return v.Kind == Nil || ((v.Kind == Object || v.Kind == ProgressRecord || v.Kind == MemberSet) && v.Obj == nil)
}

// SecureStringText is how a SecureString shows, as pwsh shows it: its
// type name, never its contents.
const SecureStringText = "System.Security.SecureString"

// Str returns the display text: Text for a primitive (SecureStringText
// for a SecureString); for an object its ToString, or else its wrapped
// primitive's text; "" for Nil, member sets and progress records.
func (v Value) Str() string {
	for i := 0; i < 8; i++ {
		if v.Kind != Object {
			switch v.Kind {
			case ProgressRecord, MemberSet:
				return ""
			case SecureString:
				return SecureStringText
			}
			return v.Text
		}
		if v.Obj == nil {
			return ""
		}
		if v.Obj.HasToString {
			return v.Obj.ToString
		}
		if v.Obj.Primitive == nil {
			return ""
		}
		v = *v.Obj.Primitive
	}
	return ""
}
