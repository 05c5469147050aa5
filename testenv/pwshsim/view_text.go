package pwshsim

// How pwsh turns a single value into text (ToString as the console shows
// it, the cells of tables and lists), written for the simulator from what
// pwsh 7.6 prints on Linux (en-US-like culture without ANSI styling); it
// does not use psmux's own formatter, so a psmux formatting bug cannot make
// pwshsim agree with it.

import (
	"strconv"
	"strings"
	"time"

	"github.com/psmux/psmux/sessions/clixml"
)

// enumerationLimit is $FormatEnumerationLimit's default.
const enumerationLimit = 4

// categoryNames are System.Management.Automation.ErrorCategory's names,
// in value order.
var categoryNames = []string{
	"NotSpecified", "OpenError", "CloseError", "DeviceError", "DeadlockDetected",
	"InvalidArgument", "InvalidData", "InvalidOperation", "InvalidResult", "InvalidType",
	"MetadataError", "NotImplemented", "NotInstalled", "ObjectNotFound", "OperationStopped",
	"OperationTimeout", "SyntaxError", "ParserError", "PermissionDenied", "ResourceBusy",
	"ResourceExists", "ResourceUnavailable", "ReadError", "WriteError", "FromStdErr",
	"SecurityError", "ProtocolError", "ConnectionError", "AuthenticationError",
	"LimitsExceeded", "QuotaExceeded", "NotEnabled",
}

// categoryName is ErrorCategory.ToString() for the value c.
func categoryName(c int) string {
	if c < 0 || c >= len(categoryNames) {
		return strconv.Itoa(c)
	}
	return categoryNames[c]
}

// propValue returns v's first property (adapted, then note; names compared
// case-insensitively) among names, or Nil.
func propValue(v clixml.Value, names ...string) clixml.Value {
	if v.Kind != clixml.Object || v.Obj == nil {
		return clixml.Value{}
	}
	for _, name := range names {
		for _, set := range [][]clixml.Property{v.Obj.Props, v.Obj.Members} {
			for _, p := range set {
				if strings.EqualFold(p.Name, name) {
					return p.Value
				}
			}
		}
	}
	return clixml.Value{}
}

// shownProps are the properties a default table or list shows for v:
// adapted ones, then notes; none for wrapped primitives.
func shownProps(v clixml.Value) []clixml.Property {
	if v.Kind != clixml.Object || v.Obj == nil || v.Obj.Primitive != nil {
		return nil
	}
	return append(append([]clixml.Property{}, v.Obj.Props...), v.Obj.Members...)
}

// baseTypeName is v's most derived type name, "Deserialized." removed.
func baseTypeName(v clixml.Value) string {
	if v.Kind != clixml.Object || v.Obj == nil || len(v.Obj.TypeNames) == 0 {
		return ""
	}
	return strings.TrimPrefix(v.Obj.TypeNames[0], "Deserialized.")
}

func isDict(v clixml.Value) bool {
	return v.Kind == clixml.Object && v.Obj != nil && v.Obj.Container == clixml.Dictionary
}

func isDate(v clixml.Value) bool {
	switch {
	case v.Kind == clixml.DateTime:
		return true
	case v.Kind == clixml.Object && v.Obj != nil && v.Obj.Primitive != nil:
		return v.Obj.Primitive.Kind == clixml.DateTime
	}
	return false
}

func isErrorRecordValue(v clixml.Value) bool {
	return baseTypeName(v) == "System.Management.Automation.ErrorRecord"
}

// numericKinds are the primitive kinds tables align right.
var numericKinds = map[clixml.Kind]bool{
	clixml.Byte: true, clixml.SByte: true, clixml.Int16: true, clixml.UInt16: true,
	clixml.Int32: true, clixml.UInt32: true, clixml.Int64: true, clixml.UInt64: true,
	clixml.Single: true, clixml.Double: true, clixml.Decimal: true,
}

// isNumericValue reports a bare numeric primitive.
func isNumericValue(v clixml.Value) bool { return numericKinds[v.Kind] }

// numberOf reads a numeric primitive, bare or wrapped.
func numberOf(v clixml.Value) (float64, bool) {
	p := v
	if v.Kind == clixml.Object && v.Obj != nil && v.Obj.Primitive != nil {
		p = *v.Obj.Primitive
	}
	if f, err := strconv.ParseFloat(p.Text, 64); err == nil && numericKinds[p.Kind] {
		return f, true
	}
	return 0, false
}

// numberN is the "N<decimals>" format pwsh uses on Linux: thousands
// separated by commas, a point before the decimals.
func numberN(f float64, decimals int) string {
	digits := strconv.FormatFloat(f, 'f', decimals, 64)
	sign := ""
	if digits[0] == '-' {
		sign, digits = "-", digits[1:]
	}
	whole, frac, _ := strings.Cut(digits, ".")
	if frac != "" {
		frac = "." + frac
	}
	var groups []string
	for len(whole) > 3 {
		groups = append([]string{whole[len(whole)-3:]}, groups...)
		whole = whole[:len(whole)-3]
	}
	groups = append([]string{whole}, groups...)
	return sign + strings.Join(groups, ",") + frac
}

// parseWireDate reads the DT element's text.
func parseWireDate(s string) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, true
	}
	t, err := time.Parse("2006-01-02T15:04:05.9999999", s)
	return t, err == nil
}

// dateString is DateTime.ToString(): "11/22/2026 10:29:00".
func dateString(wire string) string {
	t, ok := parseWireDate(wire)
	if !ok {
		return wire
	}
	return t.Format("01/02/2006 15:04:05")
}

// dateDisplay is how Out-Default shows a DateTime on its own (Get-Date's
// view, which honours the DisplayHint note).
func dateDisplay(v clixml.Value) string {
	wire, hint := v.Text, ""
	if v.Kind == clixml.Object && v.Obj != nil && v.Obj.Primitive != nil {
		wire = v.Obj.Primitive.Text
		h := propValue(v, "DisplayHint")
		if h.Kind == clixml.String {
			hint = h.Text
		} else if h.Kind == clixml.Object && h.Obj != nil && h.Obj.HasToString {
			hint = h.Obj.ToString
		}
	}
	t, ok := parseWireDate(wire)
	if !ok {
		return wire
	}
	const longDate, longTime = "Monday, 02 January 2006", "15:04:05"
	switch hint {
	case "Date":
		return t.Format(longDate)
	case "Time":
		return t.Format(longTime)
	}
	return t.Format(longDate + " " + longTime)
}

// customObjectText is a PSCustomObject's (or hashtable-like property
// bag's) ToString(): "@{a=1; b=x}".
func customObjectText(o *clixml.PSObject) string {
	var b strings.Builder
	b.WriteString("@{")
	for i, p := range append(append([]clixml.Property{}, o.Props...), o.Members...) {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.Name + "=" + valueText(p.Value))
	}
	b.WriteString("}")
	return b.String()
}

func isSequence(o *clixml.PSObject) bool {
	switch o.Container {
	case clixml.List, clixml.Enumerable, clixml.Stack, clixml.Queue:
		return true
	}
	return false
}

// valueText is a value's ToString() as PowerShell converts it to a string.
func valueText(v clixml.Value) string {
	switch v.Kind {
	case clixml.Nil:
		return ""
	case clixml.Bool:
		if v.Text == "true" || v.Text == "1" {
			return "True"
		}
		return "False"
	case clixml.Char:
		if n, err := strconv.Atoi(v.Text); err == nil {
			return string(rune(n))
		}
		return v.Text
	case clixml.DateTime:
		return dateString(v.Text)
	case clixml.SecureString:
		return "System.Security.SecureString"
	case clixml.Bytes:
		return "System.Byte[]"
	case clixml.ProgressRecord:
		return "System.Management.Automation.ProgressRecord"
	case clixml.Double, clixml.Single:
		f, err := strconv.ParseFloat(v.Text, 64)
		if err != nil {
			return v.Text
		}
		if v.Kind == clixml.Single {
			return netDouble(f, 7)
		}
		return psDouble(f)
	case clixml.Object:
		return objectText(v.Obj)
	}
	return v.Text
}

func objectText(o *clixml.PSObject) string {
	switch {
	case o == nil:
		return ""
	case o.HasToString:
		return o.ToString
	case o.Primitive != nil:
		return valueText(*o.Primitive)
	case isSequence(o):
		parts := make([]string, 0, len(o.Items))
		for _, it := range o.Items {
			parts = append(parts, valueText(it))
		}
		return strings.Join(parts, " ")
	case o.Container == clixml.Dictionary:
		if len(o.TypeNames) == 0 {
			return "System.Collections.Hashtable"
		}
		return o.TypeNames[0]
	case len(o.Props)+len(o.Members) > 0:
		return customObjectText(o)
	case len(o.TypeNames) > 0:
		return o.TypeNames[0]
	}
	return ""
}

// cellText is a property value in a table cell or list entry: collections
// show as "{a, b, c, d…}" (at most $FormatEnumerationLimit items).
func cellText(v clixml.Value) string {
	if v.Kind != clixml.Object || v.Obj == nil || v.Obj.Primitive != nil {
		return valueText(v)
	}
	o := v.Obj
	var items []string
	n := 0
	switch {
	case o.Container == clixml.Dictionary && !o.HasToString:
		n = len(o.Dict)
		for i := 0; i < n && i < enumerationLimit; i++ {
			items = append(items, "["+valueText(o.Dict[i].Key)+", "+valueText(o.Dict[i].Value)+"]")
		}
	case isSequence(o) && (!o.HasToString || (o.Container == clixml.List && len(o.Items) > 0)):
		n = len(o.Items)
		for i := 0; i < n && i < enumerationLimit; i++ {
			items = append(items, cellText(o.Items[i]))
		}
	default:
		return valueText(v)
	}
	s := "{" + strings.Join(items, ", ")
	if n > enumerationLimit {
		s += "…"
	}
	return s + "}"
}

// textLines splits text into lines as the console writes them.
func textLines(s string) []string {
	return strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
}
