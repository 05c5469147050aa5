package clixml

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Str returns an <S> value.
func Str(s string) Value { return Value{Kind: String, Text: s} }

// I32 returns an <I32> value.
func I32(n int32) Value { return Value{Kind: Int32, Text: strconv.FormatInt(int64(n), 10)} }

// I64 returns an <I64> value.
func I64(n int64) Value { return Value{Kind: Int64, Text: strconv.FormatInt(n, 10)} }

// BoolV returns a <B> value (true / false).
func BoolV(b bool) Value {
	if b {
		return Value{Kind: Bool, Text: "true"}
	}
	return Value{Kind: Bool, Text: "false"}
}

// Dbl returns a <Db> value formatted like XmlConvert.ToString(double):
// shortest round-trip digits, INF, -INF, NaN, exponent form "1E+20" below
// 1e-5 and from 1e15 on.
func Dbl(f float64) Value { return Value{Kind: Double, Text: formatFloat(f, 64, 15)} }

func formatFloat(f float64, bits, prec int) string {
	switch {
	case math.IsInf(f, 1):
		return "INF"
	case math.IsInf(f, -1):
		return "-INF"
	case math.IsNaN(f):
		return "NaN"
	case f == 0:
		if math.Signbit(f) {
			return "-0"
		}
		return "0"
	}
	s := strconv.FormatFloat(f, 'e', -1, bits) // -d.ddde±XX
	neg := s[0] == '-'
	if neg {
		s = s[1:]
	}
	ePos := strings.IndexByte(s, 'e')
	mant, exp := s[:ePos], s[ePos+1:]
	x, _ := strconv.Atoi(exp)
	digits := strings.Replace(mant, ".", "", 1)
	var b []byte
	if neg {
		b = append(b, '-')
	}
	if x > -5 && x < prec {
		switch {
		case x < 0:
			b = append(b, "0."...)
			for i := 0; i < -x-1; i++ {
				b = append(b, '0')
			}
			b = append(b, digits...)
		case x+1 >= len(digits):
			b = append(b, digits...)
			for i := len(digits); i < x+1; i++ {
				b = append(b, '0')
			}
		default:
			b = append(b, digits[:x+1]...)
			b = append(b, '.')
			b = append(b, digits[x+1:]...)
		}
		return string(b)
	}
	b = append(b, digits[0])
	if len(digits) > 1 {
		b = append(b, '.')
		b = append(b, digits[1:]...)
	}
	b = append(b, 'E')
	if x < 0 {
		b = append(b, '-')
		x = -x
	} else {
		b = append(b, '+')
	}
	if x < 10 {
		b = append(b, '0')
	}
	b = strconv.AppendInt(b, int64(x), 10)
	return string(b)
}

// NilV returns <Nil />.
func NilV() Value { return Value{Kind: Nil} }

// VersionV returns a <Version> value ("2.3", "1.1.0.1").
func VersionV(s string) Value { return Value{Kind: Version, Text: s} }

// DateTimeV returns a <DT> value in XmlConvert's round-trip format: up to 7
// fraction digits with trailing zeros dropped, "Z" for time.UTC, the offset
// (+02:00) for any other location.
func DateTimeV(t time.Time) Value {
	b := make([]byte, 0, 40)
	if t.Location() == time.UTC {
		b = t.AppendFormat(b, "2006-01-02T15:04:05.9999999Z")
	} else {
		b = t.AppendFormat(b, "2006-01-02T15:04:05.9999999-07:00")
	}
	return Value{Kind: DateTime, Text: string(b)}
}

// TimeSpanV returns a <TS> value in XmlConvert's duration format
// ("PT9.0269026S", "P1DT2H3M", "-PT0.5S"; 7 fraction digits at most).
func TimeSpanV(d time.Duration) Value {
	b := make([]byte, 0, 32)
	u := uint64(d)
	if d < 0 {
		b = append(b, '-')
		u = uint64(-d) // two's complement also right for math.MinInt64
	}
	ticks := u / 100 // .NET resolution
	days := ticks / (864000000000)
	ticks %= 864000000000
	h := ticks / 36000000000
	ticks %= 36000000000
	m := ticks / 600000000
	ticks %= 600000000
	s := ticks / 10000000
	frac := ticks % 10000000
	b = append(b, 'P')
	if days > 0 {
		b = strconv.AppendUint(b, days, 10)
		b = append(b, 'D')
	}
	if h > 0 || m > 0 || s > 0 || frac > 0 {
		b = append(b, 'T')
		if h > 0 {
			b = strconv.AppendUint(b, h, 10)
			b = append(b, 'H')
		}
		if m > 0 {
			b = strconv.AppendUint(b, m, 10)
			b = append(b, 'M')
		}
		if s > 0 || frac > 0 {
			b = strconv.AppendUint(b, s, 10)
			if frac > 0 {
				f := []byte(strconv.FormatUint(frac+10000000, 10))[1:]
				for len(f) > 0 && f[len(f)-1] == '0' {
					f = f[:len(f)-1]
				}
				b = append(b, '.')
				b = append(b, f...)
			}
			b = append(b, 'S')
		}
	} else if days == 0 {
		b = append(b, "T0S"...)
	}
	return Value{Kind: TimeSpan, Text: string(b)}
}

// Obj returns the Value of an object (a nil o gives an Object value that
// encodes as <Nil />).
func Obj(o *PSObject) Value { return Value{Kind: Object, Obj: o} }

// NewObject returns an object with the given type names (most derived
// first), as a starting point for the builder methods.
func NewObject(typeNames ...string) *PSObject {
	if len(typeNames) == 0 {
		return &PSObject{}
	}
	return &PSObject{TypeNames: typeNames}
}

// Enum returns an enum the way pwsh writes one: TN typeName, System.Enum,
// System.ValueType, System.Object; ToString; the underlying <I32>.
func Enum(typeName string, toString string, value int32) Value {
	p := I32(value)
	return Value{Kind: Object, Obj: &PSObject{
		TypeNames:   []string{typeName, "System.Enum", "System.ValueType", "System.Object"},
		ToString:    toString,
		HasToString: true,
		Primitive:   &p,
	}}
}

// Hashtable returns a System.Collections.Hashtable with the given entries.
func Hashtable(entries ...DictEntry) Value {
	return Value{Kind: Object, Obj: &PSObject{
		TypeNames: []string{"System.Collections.Hashtable", "System.Object"},
		Container: Dictionary,
		Dict:      entries,
	}}
}

// AddMember appends an extended (note) property, written in <MS>, and
// returns o for chaining.
func (o *PSObject) AddMember(name string, v Value) *PSObject {
	o.Members = append(o.Members, Property{Name: name, Value: v})
	return o
}

// AddProp appends an adapted property, written in <Props>, and returns o.
func (o *PSObject) AddProp(name string, v Value) *PSObject {
	o.Props = append(o.Props, Property{Name: name, Value: v})
	return o
}

// SetToString sets the ToString text and returns o.
func (o *PSObject) SetToString(s string) *PSObject {
	o.ToString, o.HasToString = s, true
	return o
}

func find(ps []Property, name string) (Value, bool) {
	for i := range ps {
		if ps[i].Name == name {
			return ps[i].Value, true
		}
	}
	for i := range ps {
		if strings.EqualFold(ps[i].Name, name) {
			return ps[i].Value, true
		}
	}
	return Value{}, false
}

// Member returns the first <MS> member with the name (case-insensitive,
// as PowerShell matches member names).
func (o *PSObject) Member(name string) (Value, bool) {
	if o == nil {
		return Value{}, false
	}
	return find(o.Members, name)
}

// Prop returns the first <Props> property with the name (case-insensitive).
func (o *PSObject) Prop(name string) (Value, bool) {
	if o == nil {
		return Value{}, false
	}
	return find(o.Props, name)
}

// Get looks the name up in <MS> and then in <Props> (case-insensitive).
func (o *PSObject) Get(name string) (Value, bool) {
	if v, ok := o.Member(name); ok {
		return v, true
	}
	return o.Prop(name)
}

// IsA reports whether the object's type names include name (exact match;
// a "Deserialized." prefix is not added on the wire).
func (o *PSObject) IsA(name string) bool {
	if o == nil {
		return false
	}
	for _, t := range o.TypeNames {
		if t == name {
			return true
		}
	}
	return false
}

// Get looks a property up on an object value (see PSObject.Get); it
// reports false for anything that is not an object.
func (v Value) Get(name string) (Value, bool) {
	if v.Obj == nil {
		return Value{}, false
	}
	return v.Obj.Get(name)
}
