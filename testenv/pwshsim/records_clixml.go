package pwshsim

import (
	"strconv"
	"strings"
	"time"

	"github.com/psmux/psmux/sessions/clixml"
)

// Small private constructors for CLIXML values. They use only the types of
// sessions/clixml/value.go on purpose (see the brief): the package's own
// constructors are being written concurrently.

func cxNil() clixml.Value         { return clixml.Value{Kind: clixml.Nil} }
func cxStr(s string) clixml.Value { return clixml.Value{Kind: clixml.String, Text: s} }
func cxI32(n int32) clixml.Value {
	return clixml.Value{Kind: clixml.Int32, Text: strconv.FormatInt(int64(n), 10)}
}
func cxI64(n int64) clixml.Value {
	return clixml.Value{Kind: clixml.Int64, Text: strconv.FormatInt(n, 10)}
}
func cxU32(n uint32) clixml.Value {
	return clixml.Value{Kind: clixml.UInt32, Text: strconv.FormatUint(uint64(n), 10)}
}
func cxDbl(f float64) clixml.Value                    { return clixml.Value{Kind: clixml.Double, Text: formatDouble(f)} }
func cxVer(s string) clixml.Value                     { return clixml.Value{Kind: clixml.Version, Text: s} }
func cxBool(b bool) clixml.Value                      { return clixml.Value{Kind: clixml.Bool, Text: strconv.FormatBool(b)} }
func cxDT(t time.Time) clixml.Value                   { return clixml.Value{Kind: clixml.DateTime, Text: formatDT(t)} }
func cxProp(n string, v clixml.Value) clixml.Property { return clixml.Property{Name: n, Value: v} }

// cxStrOrNil is S for a non-empty string and Nil otherwise.
func cxStrOrNil(s string) clixml.Value {
	if s == "" {
		return cxNil()
	}
	return cxStr(s)
}

// cxObj builds a complex object.
func cxObj(o *clixml.PSObject) clixml.Value { return clixml.Value{Kind: clixml.Object, Obj: o} }

// cxBag is a property bag: no type names, notes in <MS>.
func cxBag(members ...clixml.Property) clixml.Value {
	return cxObj(&clixml.PSObject{Members: members})
}

// cxEnum is an enum value as pwsh serialises it.
func cxEnum(typeName, name string, n int32) clixml.Value {
	p := cxI32(n)
	return cxObj(&clixml.PSObject{
		TypeNames:   []string{typeName, "System.Enum", "System.ValueType", "System.Object"},
		ToString:    name,
		HasToString: true,
		Primitive:   &p,
	})
}

// cxList is a list object with the given type names.
func cxList(typeNames []string, items []clixml.Value) clixml.Value {
	if items == nil {
		items = []clixml.Value{}
	}
	return cxObj(&clixml.PSObject{TypeNames: typeNames, Container: clixml.List, Items: items})
}

var (
	tnArrayList   = []string{"System.Collections.ArrayList", "System.Object"}
	tnObjectArray = []string{"System.Object[]", "System.Array", "System.Object"}
	tnHashtable   = []string{"System.Collections.Hashtable", "System.Object"}
	tnOrdered     = []string{"System.Collections.Specialized.OrderedDictionary", "System.Object"}
	tnCustom      = []string{"System.Management.Automation.PSCustomObject", "System.Object"}
)

// coreLib is the assembly suffix of .NET 8 (pwsh 7.4) core types.
const coreLib = "System.Private.CoreLib, Version=8.0.0.0, Culture=neutral, PublicKeyToken=7cec85d7bea7798e"

// smaAssembly is System.Management.Automation's assembly name in pwsh 7.4.
const smaAssembly = "System.Management.Automation, Version=7.4.6.0, Culture=neutral, PublicKeyToken=31bf3856ad364e35"

// formatDT writes a DateTime as XmlConvert's round-trip form: up to seven
// fraction digits with trailing zeros dropped, "Z" for UTC, the offset
// otherwise.
func formatDT(t time.Time) string {
	if t.Location() == time.UTC {
		return t.Format("2006-01-02T15:04:05.9999999Z")
	}
	return t.Format("2006-01-02T15:04:05.9999999-07:00")
}

// parseDT reads a DT text (all the forms formatDT and pwsh write).
func parseDT(s string) (time.Time, bool) {
	for _, l := range []string{"2006-01-02T15:04:05.9999999Z07:00", "2006-01-02T15:04:05.9999999"} {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// formatDouble renders a float64 the way .NET Core's double.ToString()
// (shortest round-trip) does: scientific notation with a signed two-digit
// exponent from 1E-05 down and from 1E+15 up, plain digits otherwise.
func formatDouble(f float64) string { return netDouble(f, -1) }

// psDouble is a double as PowerShell itself converts it to text (output,
// "$x"): 15 significant digits, so 0.1+0.2 reads 0.3 and 1/3 reads
// 0.333333333333333, while .ToString() gives the round-trip form.
func psDouble(f float64) string { return netDouble(f, 15) }

// netDouble is .NET's general format with at most digits significant
// digits (-1: as many as round-trip needs).
func netDouble(f float64, digits int) string {
	switch {
	case f != f:
		return "NaN"
	case f > 1.7976931348623157e308:
		return "Infinity"
	case f < -1.7976931348623157e308:
		return "-Infinity"
	case f == 0:
		return "0"
	}
	prec := -1
	if digits > 0 {
		prec = digits - 1
	}
	e := strconv.FormatFloat(f, 'e', prec, 64) // d.ddde±XX
	mant, exp := e, 0
	for i := 0; i < len(e); i++ {
		if e[i] == 'e' {
			mant = e[:i]
			exp, _ = strconv.Atoi(e[i+1:])
			break
		}
	}
	if prec >= 0 && strings.Contains(mant, ".") {
		mant = strings.TrimRight(strings.TrimRight(mant, "0"), ".")
	}
	limit := 15
	if digits > 0 {
		limit = digits
	}
	if exp >= limit || exp < -4 {
		sign := "+"
		if exp < 0 {
			sign = "-"
			exp = -exp
		}
		es := strconv.Itoa(exp)
		if len(es) < 2 {
			es = "0" + es
		}
		return mant + "E" + sign + es
	}
	rounded, _ := strconv.ParseFloat(e, 64)
	return strconv.FormatFloat(rounded, 'f', -1, 64)
}
