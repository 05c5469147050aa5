package pwshsim

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/psmux/psmux/sessions/clixml"
)

// val is a runtime value of the interpreter:
//
//	nil                $null
//	bool, int32, int64, float64, string
//	*psArray           System.Object[] (and other lists)
//	*psHash            Hashtable / OrderedDictionary (and other dictionaries)
//	*scriptBlock       { … }
//	*typeVal           [type]
//	*hostObj, *hostUI, *hostRawUI   $Host and its members
//	clixml.Value       everything else: DateTime, SecureString, Guid, Version,
//	                   enums and objects (PSCustomObject, ErrorRecord, …).
//	                   Objects are shared by pointer, so property writes are
//	                   seen by every reference, as in PowerShell.
type val = any

type psArray struct {
	items     []val
	typeNames []string // nil = System.Object[]
}

type psHash struct {
	keys      []val
	vals      []val
	ordered   bool
	typeNames []string // nil = Hashtable / OrderedDictionary
}

type scriptBlock struct {
	body *sbBody
	text string
}

type typeVal struct{ name string }

func newArray(items []val) *psArray { return &psArray{items: items} }

// keyEq compares hashtable keys: strings case-insensitively.
func keyEq(a, b val) bool {
	as, aok := a.(string)
	bs, bok := b.(string)
	if aok && bok {
		return strings.EqualFold(as, bs)
	}
	return valEquals(a, b, false)
}

func (h *psHash) get(k val) (val, bool) {
	for i, kk := range h.keys {
		if keyEq(kk, k) {
			return h.vals[i], true
		}
	}
	return nil, false
}

func (h *psHash) set(k, v val) {
	for i, kk := range h.keys {
		if keyEq(kk, k) {
			h.vals[i] = v
			return
		}
	}
	h.keys = append(h.keys, k)
	h.vals = append(h.vals, v)
}

func (h *psHash) remove(k val) {
	for i, kk := range h.keys {
		if keyEq(kk, k) {
			h.keys = append(h.keys[:i:i], h.keys[i+1:]...)
			h.vals = append(h.vals[:i:i], h.vals[i+1:]...)
			return
		}
	}
}

// ---- conversion from and to CLIXML ----

// fromValue turns a CLIXML value into a runtime value.
func fromValue(v clixml.Value) val {
	switch v.Kind {
	case clixml.Nil:
		return nil
	case clixml.String:
		return v.Text
	case clixml.Bool:
		return v.Text == "true" || v.Text == "1" || strings.EqualFold(v.Text, "true")
	case clixml.Int32:
		n, err := strconv.ParseInt(v.Text, 10, 32)
		if err != nil {
			return v
		}
		return int32(n)
	case clixml.Int64:
		n, err := strconv.ParseInt(v.Text, 10, 64)
		if err != nil {
			return v
		}
		return n
	case clixml.Double:
		f, ok := parseDouble(v.Text)
		if !ok {
			return v
		}
		return f
	case clixml.Object:
		o := v.Obj
		if o == nil {
			return nil
		}
		if len(o.Props) == 0 && len(o.Members) == 0 && o.Primitive == nil {
			switch o.Container {
			case clixml.List, clixml.Enumerable, clixml.Stack, clixml.Queue:
				a := &psArray{items: make([]val, len(o.Items))}
				for i, it := range o.Items {
					a.items[i] = fromValue(it)
				}
				if len(o.TypeNames) > 0 && o.TypeNames[0] != "System.Object[]" {
					a.typeNames = o.TypeNames
				}
				return a
			case clixml.Dictionary:
				h := &psHash{}
				for _, e := range o.Dict {
					h.keys = append(h.keys, fromValue(e.Key))
					h.vals = append(h.vals, fromValue(e.Value))
				}
				if len(o.TypeNames) > 0 && o.TypeNames[0] != "System.Collections.Hashtable" {
					h.typeNames = o.TypeNames
				}
				return h
			}
		}
	}
	return v
}

func parseDouble(s string) (float64, bool) {
	switch s {
	case "INF", "Infinity":
		return math.Inf(1), true
	case "-INF", "-Infinity":
		return math.Inf(-1), true
	case "NaN":
		return math.NaN(), true
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

// toValue turns a runtime value into CLIXML for the wire.
func toValue(v val) clixml.Value {
	switch x := v.(type) {
	case nil:
		return cxNil()
	case clixml.Value:
		return x
	case string:
		return cxStr(x)
	case bool:
		return cxBool(x)
	case int32:
		return cxI32(x)
	case int64:
		return cxI64(x)
	case int:
		return cxI32(int32(x))
	case float64:
		return cxDbl(x)
	case *psArray:
		items := make([]clixml.Value, len(x.items))
		for i, it := range x.items {
			items[i] = toValue(it)
		}
		tn := x.typeNames
		if tn == nil {
			tn = tnObjectArray
		}
		return cxList(tn, items)
	case *psHash:
		o := &clixml.PSObject{TypeNames: x.typeNames, Container: clixml.Dictionary}
		if o.TypeNames == nil {
			o.TypeNames = tnHashtable
			if x.ordered {
				o.TypeNames = tnOrdered
			}
		}
		o.Dict = []clixml.DictEntry{}
		for i := range x.keys {
			o.Dict = append(o.Dict, clixml.DictEntry{Key: toValue(x.keys[i]), Value: toValue(x.vals[i])})
		}
		return cxObj(o)
	case *scriptBlock:
		return clixml.Value{Kind: clixml.ScriptBlock, Text: x.text}
	case *typeVal:
		return cxObj(&clixml.PSObject{TypeNames: []string{"System.RuntimeType", "System.Reflection.TypeInfo", "System.Type", "System.Object"},
			ToString: typeFullName(x.name), HasToString: true})
	case *hostObj:
		return x.value()
	case *hostUI:
		return cxObj(&clixml.PSObject{TypeNames: []string{"System.Management.Automation.Internal.Host.InternalHostUserInterface", "System.Object"},
			ToString: "System.Management.Automation.Internal.Host.InternalHostUserInterface", HasToString: true})
	case *hostRawUI:
		return cxObj(&clixml.PSObject{TypeNames: []string{"System.Management.Automation.Internal.Host.InternalHostRawUserInterface", "System.Object"},
			ToString: "System.Management.Automation.Internal.Host.InternalHostRawUserInterface", HasToString: true})
	}
	return cxStr(toStr(v))
}

// ---- basic conversions ----

// unwrapPrim returns the wrapped primitive of an object value (enums,
// DateTimes with notes), else v.
func unwrapPrim(v val) val {
	if cv, ok := v.(clixml.Value); ok && cv.Kind == clixml.Object && cv.Obj != nil && cv.Obj.Primitive != nil {
		if cv.Obj.Primitive.Kind == clixml.DateTime {
			return *cv.Obj.Primitive
		}
		return fromValue(*cv.Obj.Primitive)
	}
	return v
}

// toStr converts to string the way PowerShell does ([string]$x, "…$x…").
func toStr(v val) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		if x {
			return "True"
		}
		return "False"
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	case float64:
		return psDouble(x)
	case *psArray:
		parts := make([]string, len(x.items))
		for i, it := range x.items {
			parts[i] = toStr(it)
		}
		return strings.Join(parts, " ")
	case *psHash:
		if x.ordered {
			return "System.Collections.Specialized.OrderedDictionary"
		}
		return "System.Collections.Hashtable"
	case *scriptBlock:
		return x.text
	case *typeVal:
		return typeFullName(x.name)
	case *hostObj:
		return "System.Management.Automation.Internal.Host.InternalHost"
	case *hostUI:
		return "System.Management.Automation.Internal.Host.InternalHostUserInterface"
	case *hostRawUI:
		return "System.Management.Automation.Internal.Host.InternalHostRawUserInterface"
	case clixml.Value:
		switch x.Kind {
		case clixml.Object:
			if x.Obj != nil && !x.Obj.HasToString && x.Obj.Primitive == nil && x.Obj.Container == clixml.NoContainer {
				return customObjectText(x.Obj)
			}
			if x.Obj != nil && x.Obj.Primitive != nil && x.Obj.Primitive.Kind == clixml.DateTime && !x.Obj.HasToString {
				return dateString(x.Obj.Primitive.Text)
			}
		}
		return valueText(x)
	}
	return ""
}

// isTrue is PowerShell's conversion to bool.
func isTrue(v val) bool {
	v = unwrapPrim(v)
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != ""
	case int32:
		return x != 0
	case int64:
		return x != 0
	case float64:
		return x != 0
	case *psArray:
		switch len(x.items) {
		case 0:
			return false
		case 1:
			return isTrue(x.items[0])
		}
		return true
	case clixml.Value:
		switch x.Kind {
		case clixml.Nil:
			return false
		case clixml.Byte, clixml.SByte, clixml.Int16, clixml.UInt16, clixml.UInt32, clixml.UInt64, clixml.Single, clixml.Decimal:
			f, _ := strconv.ParseFloat(x.Text, 64)
			return f != 0
		case clixml.Char:
			return x.Text != "0"
		}
	}
	return true
}

// number is a numeric value in the narrowest PowerShell type.
type number struct {
	kind int // 1 int32, 2 int64, 3 double
	i    int64
	f    float64
}

func (n number) val() val {
	switch n.kind {
	case 1:
		return int32(n.i)
	case 2:
		return n.i
	}
	return n.f
}

func (n number) float() float64 {
	if n.kind == 3 {
		return n.f
	}
	return float64(n.i)
}

// toNumber converts v to a number; strings are parsed like PowerShell does
// in arithmetic (hex, reals, empty = 0).
func toNumber(v val) (number, bool) {
	v = unwrapPrim(v)
	switch x := v.(type) {
	case nil:
		return number{kind: 1}, true
	case bool:
		if x {
			return number{kind: 1, i: 1}, true
		}
		return number{kind: 1}, true
	case int32:
		return number{kind: 1, i: int64(x)}, true
	case int64:
		return number{kind: 2, i: x}, true
	case int:
		return number{kind: 2, i: int64(x)}, true
	case float64:
		return number{kind: 3, f: x}, true
	case string:
		s := strings.TrimSpace(x)
		if s == "" {
			return number{kind: 1}, true
		}
		neg := false
		if strings.HasPrefix(s, "-") {
			neg, s = true, s[1:]
		} else if strings.HasPrefix(s, "+") {
			s = s[1:]
		}
		pv, ok := parseNumberLiteral(s)
		if !ok {
			return number{}, false
		}
		n, _ := toNumber(pv)
		if neg {
			n.i, n.f = -n.i, -n.f
		}
		return n, true
	case clixml.Value:
		switch x.Kind {
		case clixml.Byte, clixml.SByte, clixml.Int16, clixml.UInt16:
			n, err := strconv.ParseInt(x.Text, 10, 32)
			return number{kind: 1, i: n}, err == nil
		case clixml.UInt32, clixml.UInt64:
			n, err := strconv.ParseInt(x.Text, 10, 64)
			if err != nil {
				f, err := strconv.ParseFloat(x.Text, 64)
				return number{kind: 3, f: f}, err == nil
			}
			return number{kind: 2, i: n}, true
		case clixml.Single, clixml.Decimal:
			f, ok := parseDouble(x.Text)
			return number{kind: 3, f: f}, ok
		case clixml.Char:
			n, err := strconv.ParseInt(x.Text, 10, 32)
			return number{kind: 1, i: n}, err == nil
		}
	}
	return number{}, false
}

func isNumber(v val) bool {
	switch x := unwrapPrim(v).(type) {
	case int32, int64, float64, int:
		return true
	case clixml.Value:
		switch x.Kind {
		case clixml.Byte, clixml.SByte, clixml.Int16, clixml.UInt16, clixml.UInt32, clixml.UInt64, clixml.Single, clixml.Decimal:
			return true
		}
	}
	return false
}

// toInt converts to int (for indexes and counts).
func toInt(v val) (int, bool) {
	n, ok := toNumber(v)
	if !ok {
		return 0, false
	}
	if n.kind == 3 {
		return int(math.RoundToEven(n.f)), true
	}
	return int(n.i), true
}

// enumerate returns the items PowerShell enumerates for v in a pipeline or
// foreach, and whether v is enumerable.
func enumerate(v val) ([]val, bool) {
	switch x := v.(type) {
	case *psArray:
		return x.items, true
	case clixml.Value:
		if x.Kind == clixml.Object && x.Obj != nil {
			switch x.Obj.Container {
			case clixml.List, clixml.Enumerable, clixml.Stack, clixml.Queue:
				out := make([]val, len(x.Obj.Items))
				for i, it := range x.Obj.Items {
					out[i] = fromValue(it)
				}
				return out, true
			}
		}
	}
	return nil, false
}

// asList returns v's items, or v as a one-item list ($null: none).
func asList(v val) []val {
	if items, ok := enumerate(v); ok {
		return items
	}
	if v == nil {
		return nil
	}
	return []val{v}
}

// collapse turns collected pipeline output into a value: nothing → $null,
// one item → the item, more → an array.
func collapse(items []val) val {
	switch len(items) {
	case 0:
		return nil
	case 1:
		return items[0]
	}
	return newArray(items)
}

// typeNameOf is the .NET type name of a value (for errors and -is).
func typeNameOf(v val) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return "System.String"
	case bool:
		return "System.Boolean"
	case int32:
		return "System.Int32"
	case int64:
		return "System.Int64"
	case float64:
		return "System.Double"
	case *psArray:
		if x.typeNames != nil {
			return x.typeNames[0]
		}
		return "System.Object[]"
	case *psHash:
		if x.typeNames != nil {
			return x.typeNames[0]
		}
		if x.ordered {
			return "System.Collections.Specialized.OrderedDictionary"
		}
		return "System.Collections.Hashtable"
	case *scriptBlock:
		return "System.Management.Automation.ScriptBlock"
	case *typeVal:
		return "System.RuntimeType"
	case *hostObj:
		return "System.Management.Automation.Internal.Host.InternalHost"
	case *hostUI:
		return "System.Management.Automation.Internal.Host.InternalHostUserInterface"
	case *hostRawUI:
		return "System.Management.Automation.Internal.Host.InternalHostRawUserInterface"
	case clixml.Value:
		switch x.Kind {
		case clixml.Object:
			if x.Obj != nil && len(x.Obj.TypeNames) > 0 {
				return strings.TrimPrefix(x.Obj.TypeNames[0], "Deserialized.")
			}
			if x.Obj != nil && x.Obj.Primitive != nil {
				return typeNameOf(clixml.Value(*x.Obj.Primitive))
			}
			return "System.Management.Automation.PSCustomObject"
		case clixml.DateTime:
			return "System.DateTime"
		case clixml.SecureString:
			return "System.Security.SecureString"
		case clixml.Char:
			return "System.Char"
		case clixml.GUID:
			return "System.Guid"
		case clixml.Version:
			return "System.Version"
		case clixml.TimeSpan:
			return "System.TimeSpan"
		case clixml.Byte:
			return "System.Byte"
		case clixml.Decimal:
			return "System.Decimal"
		case clixml.Single:
			return "System.Single"
		case clixml.UInt32:
			return "System.UInt32"
		case clixml.UInt64:
			return "System.UInt64"
		case clixml.Int16:
			return "System.Int16"
		}
		return "System.Object"
	}
	return "System.Object"
}

// ---- arithmetic ----

// arith applies + - * / % with PowerShell's rules: the left operand's type
// decides (string concatenation/repetition, array concatenation/repetition,
// hashtable union), numbers widen Int32 → Int64 → Double, Int32/Int64
// overflow gives Double, non-integral division gives Double.
func arith(op string, l, r val) (val, error) {
	l, r = unwrapPrim(l), unwrapPrim(r)
	switch x := l.(type) {
	case string:
		switch op {
		case "+":
			return x + toStr(r), nil
		case "*":
			n, ok := toInt(r)
			if !ok || n < 0 {
				return nil, convError(r, "System.Int32")
			}
			if len(x)*n > 1<<30 {
				return nil, newRuntimeError("OutOfMemoryException", "Array dimensions exceeded supported range.")
			}
			return strings.Repeat(x, n), nil
		}
		if _, ok := toNumber(x); !ok {
			return nil, opError(op, l)
		}
	case *psArray:
		switch op {
		case "+":
			items := append(append([]val(nil), x.items...), asListForAdd(r)...)
			return newArray(items), nil
		case "*":
			n, ok := toInt(r)
			if !ok || n < 0 {
				return nil, convError(r, "System.Int32")
			}
			var items []val
			for i := 0; i < n; i++ {
				items = append(items, x.items...)
			}
			return newArray(items), nil
		}
		return nil, opError(op, l)
	case *psHash:
		if op == "+" {
			rh, ok := r.(*psHash)
			if !ok {
				return nil, newRuntimeError("AddHashTableToNonHashTable", "A hash table can only be added to another hash table.")
			}
			out := &psHash{ordered: x.ordered}
			out.keys = append(out.keys, x.keys...)
			out.vals = append(out.vals, x.vals...)
			for i, k := range rh.keys {
				if _, dup := out.get(k); dup {
					return nil, newRuntimeError("DuplicateKeyInHashLiteral", "Item has already been added. Key in dictionary: '"+toStr(k)+"'  Key being added: '"+toStr(k)+"'")
				}
				out.set(k, rh.vals[i])
			}
			return out, nil
		}
		return nil, opError(op, l)
	case nil:
		if op == "+" {
			if _, ok := r.(*psArray); ok {
				return r, nil
			}
			if isNumber(r) || r == nil {
				return r, nil
			}
			if s, ok := r.(string); ok {
				return s, nil
			}
			return r, nil
		}
	}
	ln, ok := toNumber(l)
	if !ok {
		return nil, opError(op, l)
	}
	rn, ok := toNumber(r)
	if !ok {
		return nil, convError(r, typeNameOf(l))
	}
	return numArith(op, ln, rn)
}

func asListForAdd(v val) []val {
	if a, ok := v.(*psArray); ok {
		return a.items
	}
	return []val{v}
}

func numArith(op string, a, b number) (val, error) {
	kind := a.kind
	if b.kind > kind {
		kind = b.kind
	}
	if kind == 3 {
		x, y := a.float(), b.float()
		switch op {
		case "+":
			return x + y, nil
		case "-":
			return x - y, nil
		case "*":
			return x * y, nil
		case "/":
			if y == 0 {
				return nil, divZero()
			}
			return x / y, nil
		case "%":
			if y == 0 {
				return nil, divZero()
			}
			return math.Mod(x, y), nil
		}
	}
	x, y := a.i, b.i
	fits := func(r int64) val {
		if kind == 1 && r >= math.MinInt32 && r <= math.MaxInt32 {
			return int32(r)
		}
		if kind == 1 {
			return float64(r)
		}
		return r
	}
	switch op {
	case "+":
		r := x + y
		if kind == 2 && ((x > 0 && y > 0 && r < 0) || (x < 0 && y < 0 && r >= 0)) {
			return float64(x) + float64(y), nil
		}
		return fits(r), nil
	case "-":
		r := x - y
		if kind == 2 && ((x >= 0 && y < 0 && r < 0) || (x < 0 && y > 0 && r >= 0)) {
			return float64(x) - float64(y), nil
		}
		return fits(r), nil
	case "*":
		if x != 0 && y != 0 {
			r := x * y
			if r/y != x || (kind == 2 && (x == -1 && y == math.MinInt64 || y == -1 && x == math.MinInt64)) {
				return float64(x) * float64(y), nil
			}
			return fits(r), nil
		}
		return fits(0), nil
	case "/":
		if y == 0 {
			return nil, divZero()
		}
		if x%y == 0 {
			return fits(x / y), nil
		}
		return float64(x) / float64(y), nil
	case "%":
		if y == 0 {
			return nil, divZero()
		}
		return fits(x % y), nil
	}
	return nil, newRuntimeError("OperatorNotSupported", "The operator '"+op+"' is not supported.")
}

func divZero() error {
	return &psError{spec: &errSpec{excTypes: excRuntime, message: "Attempted to divide by zero.",
		fqeid: "RuntimeException", category: catNotSpecified}}
}

func opError(op string, l val) error {
	names := map[string]string{"+": "op_Addition", "-": "op_Subtraction", "*": "op_Multiply", "/": "op_Division", "%": "op_Modulus"}
	return &psError{spec: &errSpec{excTypes: excRuntime, category: catInvalidOperation, fqeid: "MethodNotFound",
		message: "Method invocation failed because [" + typeNameOf(l) + "] does not contain a method named '" + names[op] + "'.",
		reason:  "RuntimeException"}}
}

func convError(v val, to string) error {
	return &psError{spec: &errSpec{excTypes: excRuntime, category: catInvalidArgument, fqeid: "InvalidCastFromStringToInteger",
		message: "Cannot convert value \"" + toStr(v) + "\" to type \"" + to + "\". Error: \"The input string '" + toStr(v) + "' was not in a correct format.\"",
		reason:  "RuntimeException"}}
}

// ---- comparison ----

// enumName returns an enum value's member name.
func enumName(v val) (string, bool) {
	cv, ok := v.(clixml.Value)
	if !ok || cv.Kind != clixml.Object || cv.Obj == nil || cv.Obj.Primitive == nil || !cv.Obj.HasToString {
		return "", false
	}
	for _, t := range cv.Obj.TypeNames {
		if t == "System.Enum" || t == "Deserialized.System.Enum" {
			return cv.Obj.ToString, true
		}
	}
	return "", false
}

// valEquals is -eq between two scalars (right converted to the left's type).
func valEquals(l, r val, cs bool) bool {
	// An enum compares with a string by name, as the string converts to it.
	if n, ok := enumName(l); ok {
		if s, ok := r.(string); ok {
			return strings.EqualFold(n, s)
		}
	}
	if n, ok := enumName(r); ok {
		if s, ok := l.(string); ok {
			return strings.EqualFold(n, s)
		}
	}
	l, r = unwrapPrim(l), unwrapPrim(r)
	if l == nil || r == nil {
		return l == nil && r == nil
	}
	switch x := l.(type) {
	case string:
		rs := toStr(r)
		if cs {
			return x == rs
		}
		return strings.EqualFold(x, rs)
	case bool:
		return x == isTrue(r)
	}
	if isNumber(l) {
		ln, _ := toNumber(l)
		rn, ok := toNumber(r)
		if !ok {
			return false
		}
		if ln.kind == 3 || rn.kind == 3 {
			return ln.float() == rn.float()
		}
		return ln.i == rn.i
	}
	if lv, ok := l.(clixml.Value); ok {
		if rv, ok := r.(clixml.Value); ok {
			if lv.Kind == clixml.Object || rv.Kind == clixml.Object {
				return lv.Obj == rv.Obj
			}
			return lv.Kind == rv.Kind && lv.Text == rv.Text
		}
		if lv.Kind != clixml.Object {
			return strings.EqualFold(toStr(l), toStr(r))
		}
		return false
	}
	switch x := l.(type) {
	case *psArray:
		y, ok := r.(*psArray)
		return ok && x == y
	case *psHash:
		y, ok := r.(*psHash)
		return ok && x == y
	}
	return l == r
}

// valCompare orders two scalars (-gt/-lt…): <0, 0, >0.
func valCompare(l, r val, cs bool) (int, error) {
	l, r = unwrapPrim(l), unwrapPrim(r)
	if l == nil && r == nil {
		return 0, nil
	}
	if l == nil {
		return -1, nil
	}
	if r == nil {
		return 1, nil
	}
	if s, ok := l.(string); ok {
		rs := toStr(r)
		if !cs {
			s, rs = strings.ToLower(s), strings.ToLower(rs)
		}
		return strings.Compare(s, rs), nil
	}
	if lv, ok := l.(clixml.Value); ok && lv.Kind == clixml.DateTime {
		lt, _ := parseDT(lv.Text)
		if rv, ok := r.(clixml.Value); ok && rv.Kind == clixml.DateTime {
			rt, _ := parseDT(rv.Text)
			return lt.Compare(rt), nil
		}
	}
	if b, ok := l.(bool); ok {
		rb := isTrue(r)
		switch {
		case b == rb:
			return 0, nil
		case !b:
			return -1, nil
		}
		return 1, nil
	}
	ln, ok := toNumber(l)
	if !ok {
		return strings.Compare(strings.ToLower(toStr(l)), strings.ToLower(toStr(r))), nil
	}
	rn, ok := toNumber(r)
	if !ok {
		return 0, &psError{spec: &errSpec{excTypes: excRuntime, category: catInvalidOperation, fqeid: "ComparisonFailure",
			message: "Could not compare \"" + toStr(l) + "\" to \"" + toStr(r) + "\". Error: \"Cannot convert value \"" + toStr(r) + "\" to type \"" + typeNameOf(l) + "\".\""}}
	}
	if ln.kind == 3 || rn.kind == 3 {
		a, b := ln.float(), rn.float()
		switch {
		case a < b:
			return -1, nil
		case a > b:
			return 1, nil
		}
		return 0, nil
	}
	switch {
	case ln.i < rn.i:
		return -1, nil
	case ln.i > rn.i:
		return 1, nil
	}
	return 0, nil
}

// wildcardRegexp translates a PowerShell wildcard pattern.
func wildcardRegexp(pat string, cs bool) (*regexp.Regexp, error) {
	var b strings.Builder
	if !cs {
		b.WriteString("(?is)")
	} else {
		b.WriteString("(?s)")
	}
	b.WriteString("^")
	for i := 0; i < len(pat); i++ {
		c := pat[i]
		switch c {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		case '[':
			j := strings.IndexByte(pat[i:], ']')
			if j < 0 {
				b.WriteString(regexp.QuoteMeta(pat[i:]))
				i = len(pat)
				continue
			}
			b.WriteString("[" + strings.ReplaceAll(pat[i+1:i+j], `\`, `\\`) + "]")
			i += j
		case '`':
			if i+1 < len(pat) {
				i++
				b.WriteString(regexp.QuoteMeta(string(pat[i])))
			}
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}

func compileRegex(pat string, cs bool) (*regexp.Regexp, error) {
	// .NET named groups (?<n>…) are the same in Go; translate nothing else.
	if !cs {
		pat = "(?i)" + pat
	}
	re, err := regexp.Compile(pat)
	if err != nil {
		return nil, newRuntimeError("InvalidRegularExpression", "The regular expression pattern "+pat+" is not valid.")
	}
	return re, nil
}

// ---- casts ----

// typeFullName maps accelerators to full .NET type names.
func typeFullName(name string) string {
	if full, ok := typeAccelerators[strings.ToLower(name)]; ok {
		return full
	}
	return name
}

var typeAccelerators = map[string]string{
	"int": "System.Int32", "int32": "System.Int32", "system.int32": "System.Int32",
	"long": "System.Int64", "int64": "System.Int64", "system.int64": "System.Int64",
	"double": "System.Double", "system.double": "System.Double", "float": "System.Single",
	"string": "System.String", "system.string": "System.String",
	"bool": "System.Boolean", "boolean": "System.Boolean", "system.boolean": "System.Boolean",
	"char": "System.Char", "array": "System.Array", "object[]": "System.Object[]",
	"hashtable": "System.Collections.Hashtable", "ordered": "System.Collections.Specialized.OrderedDictionary",
	"pscustomobject": "System.Management.Automation.PSObject", "psobject": "System.Management.Automation.PSObject",
	"datetime": "System.DateTime", "system.datetime": "System.DateTime",
	"math": "System.Math", "system.math": "System.Math", "environment": "System.Environment",
	"system.environment": "System.Environment", "console": "System.Console", "void": "System.Void",
	"securestring": "System.Security.SecureString", "system.security.securestring": "System.Security.SecureString",
	"string[]": "System.String[]", "int[]": "System.Int32[]", "object": "System.Object",
	"scriptblock": "System.Management.Automation.ScriptBlock", "regex": "System.Text.RegularExpressions.Regex",
	"guid": "System.Guid", "version": "System.Version", "timespan": "System.TimeSpan",
	"system.management.automation.host.choicedescription":   "System.Management.Automation.Host.ChoiceDescription",
	"system.management.automation.host.choicedescription[]": "System.Management.Automation.Host.ChoiceDescription[]",
	"management.automation.host.choicedescription":          "System.Management.Automation.Host.ChoiceDescription",
	"management.automation.host.choicedescription[]":        "System.Management.Automation.Host.ChoiceDescription[]",
	"consolecolor": "System.ConsoleColor", "system.consolecolor": "System.ConsoleColor",
}

func knownType(name string) bool {
	_, ok := typeAccelerators[strings.ToLower(name)]
	return ok
}

func typeNotFound(name string) error {
	return &psError{spec: &errSpec{excTypes: excRuntime, category: catInvalidOperation, fqeid: "TypeNotFound",
		message: "Unable to find type [" + name + "].", target: cxStr(name)}}
}

// castTo converts v to the named type.
func castTo(name string, v val) (val, error) {
	ln := strings.ToLower(strings.TrimSpace(name))
	fail := func() (val, error) { return nil, convError(v, typeFullName(name)) }
	switch ln {
	case "int", "int32", "system.int32":
		n, ok := toNumber(v)
		if !ok {
			return fail()
		}
		f := math.RoundToEven(n.float())
		if n.kind != 3 {
			f = float64(n.i)
		}
		if f > math.MaxInt32 || f < math.MinInt32 {
			return nil, newRuntimeError("InvalidCastIConvertible", "Cannot convert value \""+toStr(v)+"\" to type \"System.Int32\". Error: \"Value was either too large or too small for an Int32.\"")
		}
		return int32(f), nil
	case "long", "int64", "system.int64":
		n, ok := toNumber(v)
		if !ok {
			return fail()
		}
		if n.kind == 3 {
			return int64(math.RoundToEven(n.f)), nil
		}
		return n.i, nil
	case "double", "system.double", "float", "single", "decimal":
		n, ok := toNumber(v)
		if !ok {
			return fail()
		}
		return n.float(), nil
	case "string", "system.string":
		if v == nil {
			return "", nil
		}
		return toStr(v), nil
	case "bool", "boolean", "system.boolean":
		return isTrue(v), nil
	case "char":
		if s, ok := v.(string); ok && len([]rune(s)) == 1 {
			return clixml.Value{Kind: clixml.Char, Text: strconv.Itoa(int([]rune(s)[0]))}, nil
		}
		if n, ok := toInt(v); ok {
			return clixml.Value{Kind: clixml.Char, Text: strconv.Itoa(n)}, nil
		}
		return fail()
	case "array", "object[]", "system.object[]", "string[]", "int[]", "system.string[]":
		items := asList(v)
		out := make([]val, len(items))
		for i, it := range items {
			out[i] = it
			switch ln {
			case "string[]", "system.string[]":
				out[i] = toStr(it)
			case "int[]":
				c, err := castTo("int", it)
				if err != nil {
					return nil, err
				}
				out[i] = c
			}
		}
		return newArray(out), nil
	case "hashtable", "system.collections.hashtable":
		if h, ok := v.(*psHash); ok {
			return h, nil
		}
		return fail()
	case "ordered":
		if h, ok := v.(*psHash); ok {
			h.ordered = true
			return h, nil
		}
		return fail()
	case "pscustomobject", "psobject", "system.management.automation.pscustomobject":
		if h, ok := v.(*psHash); ok {
			return hashToObject(h), nil
		}
		return v, nil
	case "void":
		return nil, nil
	case "object", "system.object":
		return v, nil
	case "datetime", "system.datetime":
		switch x := v.(type) {
		case clixml.Value:
			if isDate(x) {
				return x, nil
			}
		case string:
			for _, l := range []string{"2006-01-02T15:04:05.9999999Z07:00", "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02", "01/02/2006 15:04:05", "01/02/2006"} {
				if t, err := time.ParseInLocation(l, x, time.Local); err == nil {
					return cxDT(t), nil
				}
			}
		}
		return fail()
	case "system.management.automation.host.choicedescription", "management.automation.host.choicedescription":
		return toChoice(v), nil
	case "system.management.automation.host.choicedescription[]", "management.automation.host.choicedescription[]":
		items := asList(v)
		out := make([]val, len(items))
		for i, it := range items {
			out[i] = toChoice(it)
		}
		return newArray(out), nil
	case "consolecolor", "system.consolecolor":
		if n, ok := parseConsoleColor(toStr(v)); ok {
			return cxEnum("System.ConsoleColor", consoleColors[n], int32(n)), nil
		}
		return fail()
	case "securestring", "system.security.securestring":
		if cv, ok := v.(clixml.Value); ok && cv.Kind == clixml.SecureString {
			return cv, nil
		}
		return fail()
	}
	if knownType(name) {
		return v, nil
	}
	return nil, typeNotFound(name)
}

// hashToObject builds a PSCustomObject from a hashtable literal.
func hashToObject(h *psHash) clixml.Value {
	o := &clixml.PSObject{TypeNames: append([]string(nil), tnCustom...)}
	for i, k := range h.keys {
		o.Members = append(o.Members, cxProp(toStr(k), toValue(h.vals[i])))
	}
	if o.Members == nil {
		o.Members = []clixml.Property{}
	}
	return cxObj(o)
}

// toChoice converts a string ("&Yes") or object to a ChoiceDescription.
func toChoice(v val) val {
	if cv, ok := v.(clixml.Value); ok && cv.Kind == clixml.Object && cv.Obj != nil {
		for _, tn := range cv.Obj.TypeNames {
			if strings.HasSuffix(tn, "ChoiceDescription") {
				return cv
			}
		}
	}
	return newChoice(toStr(v), "")
}

func newChoice(label, help string) clixml.Value {
	return cxObj(&clixml.PSObject{
		TypeNames:   []string{"System.Management.Automation.Host.ChoiceDescription", "System.Object"},
		ToString:    "System.Management.Automation.Host.ChoiceDescription",
		HasToString: true,
		Props: []clixml.Property{
			cxProp("Label", cxStr(label)),
			cxProp("HelpMessage", cxStr(help)),
		},
	})
}
