package pwshsim

import (
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/psmux/psmux/sessions/clixml"
)

// getMember reads obj.name (PowerShell is lenient: a missing member is
// $null; collections enumerate their items' members).
func (f *frame) getMember(obj val, name string) (val, error) {
	if v, ok := f.hostMember(obj, name); ok {
		return v, nil
	}
	ln := strings.ToLower(name)
	switch o := obj.(type) {
	case nil:
		if ln == "count" || ln == "length" {
			return int32(0), nil
		}
		return nil, nil
	case *psArray:
		switch ln {
		case "count", "length", "longlength":
			return int32(len(o.items)), nil
		case "rank":
			return int32(1), nil
		}
		var out []val
		for _, it := range o.items {
			v, err := f.getMember(it, name)
			if err != nil {
				return nil, err
			}
			if v == nil {
				continue
			}
			if items, ok := enumerate(v); ok {
				out = append(out, items...)
			} else {
				out = append(out, v)
			}
		}
		return collapse(out), nil
	case *psHash:
		if v, ok := o.get(name); ok {
			return v, nil
		}
		switch ln {
		case "count":
			return int32(len(o.keys)), nil
		case "keys":
			return newArray(append([]val(nil), o.keys...)), nil
		case "values":
			return newArray(append([]val(nil), o.vals...)), nil
		}
		return nil, nil
	case string:
		switch ln {
		case "length":
			return int32(len([]rune(o))), nil
		case "count":
			return int32(1), nil
		}
		return nil, nil
	case clixml.Value:
		if isDate(o) {
			if v, ok := dateMember(o, ln); ok {
				return v, nil
			}
		}
		if o.Kind == clixml.Object && o.Obj != nil {
			for _, p := range o.Obj.Props {
				if strings.EqualFold(p.Name, name) {
					return fromValue(p.Value), nil
				}
			}
			for _, p := range o.Obj.Members {
				if strings.EqualFold(p.Name, name) {
					return fromValue(p.Value), nil
				}
			}
			if items, ok := enumerate(o); ok {
				return f.getMember(newArray(items), name)
			}
			if isDict(o) {
				return f.getMember(fromValue(o), name)
			}
			if o.Obj.Primitive != nil && !isDate(o) {
				return f.getMember(fromValue(*o.Obj.Primitive), name)
			}
			if isErrorRecordValue(o) {
				return errorRecordMember(o, ln), nil
			}
		}
		if o.Kind == clixml.Version {
			if v, ok := versionMember(o.Text, ln); ok {
				return v, nil
			}
		}
	}
	if ln == "count" || ln == "length" {
		return int32(1), nil
	}
	return nil, nil
}

// errorRecordMember synthesizes ErrorRecord members pwsh's adapter has
// but the serialized form flattens.
func errorRecordMember(o clixml.Value, ln string) val {
	switch ln {
	case "categoryinfo":
		return valueText(propValue(o, "ErrorCategory_Message"))
	case "errordetails":
		if d := propValue(o, "ErrorDetails_Message"); d.Kind != clixml.Nil {
			return fromValue(d)
		}
	case "scriptstacktrace":
		return fromValue(propValue(o, "ErrorDetails_ScriptStackTrace"))
	}
	return nil
}

func versionMember(text, ln string) (val, bool) {
	parts := strings.Split(text, ".")
	idx := map[string]int{"major": 0, "minor": 1, "build": 2, "revision": 3}
	i, ok := idx[ln]
	if !ok {
		return nil, false
	}
	if i >= len(parts) {
		return int32(-1), true
	}
	n, _ := strconv.Atoi(parts[i])
	return int32(n), true
}

// dateOf returns the time of a DateTime value.
func dateOf(v clixml.Value) (time.Time, bool) {
	if v.Kind == clixml.Object && v.Obj != nil && v.Obj.Primitive != nil {
		v = *v.Obj.Primitive
	}
	return parseDT(v.Text)
}

func dateMember(v clixml.Value, ln string) (val, bool) {
	t, ok := dateOf(v)
	if !ok {
		return nil, false
	}
	switch ln {
	case "year":
		return int32(t.Year()), true
	case "month":
		return int32(t.Month()), true
	case "day":
		return int32(t.Day()), true
	case "hour":
		return int32(t.Hour()), true
	case "minute":
		return int32(t.Minute()), true
	case "second":
		return int32(t.Second()), true
	case "millisecond":
		return int32(t.Nanosecond() / 1e6), true
	case "dayofweek":
		return cxEnum("System.DayOfWeek", t.Weekday().String(), int32(t.Weekday())), true
	case "dayofyear":
		return int32(t.YearDay()), true
	case "ticks":
		return t.UnixNano()/100 + 621355968000000000, true
	case "date":
		y, m, d := t.Date()
		return cxDT(time.Date(y, m, d, 0, 0, 0, 0, t.Location())), true
	case "kind":
		if t.Location() == time.UTC {
			return cxEnum("System.DateTimeKind", "Utc", 1), true
		}
		return cxEnum("System.DateTimeKind", "Local", 2), true
	case "datetime":
		return t.Format("Monday, 02 January 2006 15:04:05"), true
	}
	return nil, false
}

// setMember writes obj.name = v.
func (f *frame) setMember(obj val, name string, v val) error {
	if ok, err := f.hostSetMember(obj, name, v); ok {
		return err
	}
	switch o := obj.(type) {
	case *psHash:
		o.set(name, v)
		return nil
	case clixml.Value:
		if o.Kind == clixml.Object && o.Obj != nil {
			for i, p := range o.Obj.Props {
				if strings.EqualFold(p.Name, name) {
					o.Obj.Props[i].Value = toValue(v)
					return nil
				}
			}
			for i, p := range o.Obj.Members {
				if strings.EqualFold(p.Name, name) {
					o.Obj.Members[i].Value = toValue(v)
					return nil
				}
			}
		}
	case nil:
		return newRuntimeError("PropertyNotFound", "The property '"+name+"' cannot be found on this object. Verify that the property exists and can be set.")
	}
	return &psError{spec: &errSpec{excTypes: excRuntime, category: catInvalidOperation, fqeid: "PropertyNotFound",
		message: "The property '" + name + "' cannot be found on this object. Verify that the property exists and can be set."}}
}

func methodNotFound(obj val, name string) error {
	return &psError{spec: &errSpec{excTypes: excRuntime, category: catInvalidOperation, fqeid: "MethodNotFound",
		message: "Method invocation failed because [" + typeNameOf(obj) + "] does not contain a method named '" + name + "'.",
		target:  toValue(obj)}}
}

var stringMethods = map[string]bool{"toupper": true, "tolower": true, "trim": true, "trimstart": true, "trimend": true,
	"substring": true, "replace": true, "split": true, "contains": true, "startswith": true, "endswith": true,
	"indexof": true, "lastindexof": true, "padleft": true, "padright": true, "tostring": true, "insert": true,
	"remove": true, "toupperinvariant": true, "tolowerinvariant": true, "equals": true, "gettype": true,
	"tochararray": true, "compareto": true}

// isMethodOf reports whether name is a method of v (ForEach-Object -MemberName).
func isMethodOf(v val, name string) bool {
	if _, ok := v.(string); ok {
		return stringMethods[strings.ToLower(name)]
	}
	return false
}

// callMethod invokes obj.name(args).
func (f *frame) callMethod(obj val, name string, args []val) (val, error) {
	if v, ok, err := f.hostMethod(obj, name, args); ok {
		return v, err
	}
	ln := strings.ToLower(name)
	argStr := func(i int) string {
		if i < len(args) {
			return toStr(args[i])
		}
		return ""
	}
	argInt := func(i int) (int, bool) {
		if i < len(args) {
			return toInt(args[i])
		}
		return 0, false
	}
	switch ln {
	case "gettype":
		return typeObject(obj), nil
	case "equals":
		if len(args) == 1 {
			return valEquals(obj, args[0], false), nil
		}
	}
	switch o := obj.(type) {
	case nil:
		return nil, newRuntimeError("InvokeMethodOnNull", "You cannot call a method on a null-valued expression.")
	case string:
		return stringMethod(o, ln, name, args, argStr, argInt)
	case *psArray:
		switch ln {
		case "contains":
			if len(args) == 1 {
				for _, it := range o.items {
					if valEquals(it, args[0], false) {
						return true, nil
					}
				}
				return false, nil
			}
		case "indexof":
			if len(args) == 1 {
				for i, it := range o.items {
					if valEquals(it, args[0], false) {
						return int32(i), nil
					}
				}
				return int32(-1), nil
			}
		case "tostring":
			return typeNameOf(o), nil
		case "add":
			if o.typeNames != nil && len(args) == 1 {
				o.items = append(o.items, args[0])
				return int32(len(o.items) - 1), nil
			}
			return nil, &psError{spec: &errSpec{excTypes: excRuntime, category: catNotSpecified, fqeid: "NotSupportedException",
				message: "Exception calling \"Add\" with \"1\" argument(s): \"Collection was of a fixed size.\""}}
		case "foreach", "where":
			if len(args) == 1 {
				if sb, ok := args[0].(*scriptBlock); ok {
					var out []val
					for _, it := range o.items {
						c := *f
						c.under, c.hasUnder = it, true
						c.src = sb.body.src
						var res []val
						c.out = func(x val) error { res = append(res, x); return nil }
						if err := c.execBlock(sb.body.end); err != nil {
							return nil, err
						}
						if ln == "where" {
							if isTrue(collapse(res)) {
								out = append(out, it)
							}
						} else {
							out = append(out, res...)
						}
					}
					return &psArray{items: out, typeNames: []string{"System.Collections.ObjectModel.Collection`1[[System.Management.Automation.PSObject, " + smaAssembly + "]]", "System.Object"}}, nil
				}
			}
		}
	case *psHash:
		switch ln {
		case "containskey", "contains":
			if len(args) == 1 {
				_, ok := o.get(args[0])
				return ok, nil
			}
		case "containsvalue":
			if len(args) == 1 {
				for _, v := range o.vals {
					if valEquals(v, args[0], false) {
						return true, nil
					}
				}
				return false, nil
			}
		case "add":
			if len(args) == 2 {
				if _, dup := o.get(args[0]); dup {
					return nil, &psError{spec: &errSpec{excTypes: excRuntime, category: catNotSpecified, fqeid: "ArgumentException",
						message: "Exception calling \"Add\" with \"2\" argument(s): \"Item has already been added. Key in dictionary: '" + toStr(args[0]) + "'  Key being added: '" + toStr(args[0]) + "'\""}}
				}
				o.set(args[0], args[1])
				return nil, nil
			}
		case "remove":
			if len(args) == 1 {
				o.remove(args[0])
				return nil, nil
			}
		case "clear":
			o.keys, o.vals = nil, nil
			return nil, nil
		case "tostring":
			return toStr(o), nil
		case "getenumerator":
			var out []val
			for i, k := range o.keys {
				out = append(out, cxObj(&clixml.PSObject{TypeNames: []string{"System.Collections.DictionaryEntry", "System.ValueType", "System.Object"},
					ToString: "System.Collections.DictionaryEntry", HasToString: true,
					Props: []clixml.Property{cxProp("Name", toValue(k)), cxProp("Key", toValue(k)), cxProp("Value", toValue(o.vals[i]))}}))
			}
			return newArray(out), nil
		}
	case *scriptBlock:
		switch ln {
		case "invoke", "invokereturnasis":
			var out []val
			c := &frame{it: f.it, sc: &scope{vars: map[string]val{}, parent: f.sc}, out: func(v val) error { out = append(out, v); return nil }, errw: f.errw, src: o.body.src}
			var eargs []evArg
			for _, a := range args {
				eargs = append(eargs, evArg{hasValue: true, v: a})
			}
			if err := c.bindParams(o.body, eargs); err != nil {
				return nil, err
			}
			err := c.execBlock(o.body.end)
			if _, ok := err.(flowReturn); ok {
				err = nil
			}
			return collapse(out), err
		case "tostring":
			return o.text, nil
		}
	case clixml.Value:
		if isDate(o) {
			if v, ok, err := dateMethod(o, ln, args); ok {
				return v, err
			}
		}
		if ln == "tostring" {
			return toStr(o), nil
		}
	}
	if isNumber(obj) || isBoolVal(obj) {
		switch ln {
		case "tostring":
			if len(args) == 1 {
				return formatValue(obj, argStr(0))
			}
			if f, ok := obj.(float64); ok {
				return formatDouble(f), nil // round-trip, unlike "$x"
			}
			return toStr(obj), nil
		case "compareto":
			if len(args) == 1 {
				c, err := valCompare(obj, args[0], false)
				return int32(c), err
			}
		}
	}
	if ln == "tostring" {
		return toStr(obj), nil
	}
	return nil, methodNotFound(obj, name)
}

func stringMethod(s, ln, name string, args []val, argStr func(int) string, argInt func(int) (int, bool)) (val, error) {
	r := []rune(s)
	bad := func() (val, error) {
		return nil, methodArgCount(name, len(args))
	}
	outOfRange := func(param string) (val, error) {
		return nil, &psError{spec: &errSpec{excTypes: excRuntime, category: catNotSpecified, fqeid: "ArgumentOutOfRangeException",
			message: "Exception calling \"" + name + "\" with \"" + itoa(len(args)) + "\" argument(s): \"" + param + "\""}}
	}
	switch ln {
	case "toupper", "toupperinvariant":
		return strings.ToUpper(s), nil
	case "tolower", "tolowerinvariant":
		return strings.ToLower(s), nil
	case "tostring":
		return s, nil
	case "trim", "trimstart", "trimend":
		cut := " \t\r\n\v\f"
		if len(args) > 0 {
			cut = ""
			for _, a := range args {
				cut += toStr(a)
			}
		}
		switch ln {
		case "trim":
			if len(args) == 0 {
				return strings.TrimFunc(s, unicode.IsSpace), nil
			}
			return strings.Trim(s, cut), nil
		case "trimstart":
			return strings.TrimLeft(s, cut), nil
		}
		return strings.TrimRight(s, cut), nil
	case "substring":
		start, ok := argInt(0)
		if !ok {
			return bad()
		}
		if start < 0 || start > len(r) {
			return outOfRange("startIndex cannot be larger than length of string. (Parameter 'startIndex')")
		}
		if len(args) > 1 {
			n, _ := argInt(1)
			if n < 0 || start+n > len(r) {
				return outOfRange("Index and length must refer to a location within the string. (Parameter 'length')")
			}
			return string(r[start : start+n]), nil
		}
		return string(r[start:]), nil
	case "replace":
		if len(args) != 2 {
			return bad()
		}
		return strings.ReplaceAll(s, argStr(0), argStr(1)), nil
	case "split":
		if len(args) == 0 {
			return newArray(toVals(strings.Fields(s))), nil
		}
		seps := argStr(0)
		var parts []string
		if len(args) > 0 {
			if _, isStr := args[0].(string); isStr && len([]rune(seps)) > 1 {
				// string.Split(string) splits on the whole string in .NET Core
				parts = strings.Split(s, seps)
			} else {
				if !strings.ContainsAny(s, seps) {
					parts = []string{s}
				} else {
					parts = splitKeepEmpty(s, seps)
				}
			}
		}
		return newArray(toVals(parts)), nil
	case "contains":
		return strings.Contains(s, argStr(0)), nil
	case "startswith":
		return strings.HasPrefix(s, argStr(0)), nil
	case "endswith":
		return strings.HasSuffix(s, argStr(0)), nil
	case "indexof":
		i := strings.Index(s, argStr(0))
		if i < 0 {
			return int32(-1), nil
		}
		return int32(len([]rune(s[:i]))), nil
	case "lastindexof":
		i := strings.LastIndex(s, argStr(0))
		if i < 0 {
			return int32(-1), nil
		}
		return int32(len([]rune(s[:i]))), nil
	case "padleft", "padright":
		n, ok := argInt(0)
		if !ok {
			return bad()
		}
		pad := " "
		if len(args) > 1 {
			pad = argStr(1)
		}
		for len([]rune(s)) < n {
			if ln == "padleft" {
				s = pad + s
			} else {
				s += pad
			}
		}
		return s, nil
	case "insert":
		i, ok := argInt(0)
		if !ok || i < 0 || i > len(r) {
			return bad()
		}
		return string(r[:i]) + argStr(1) + string(r[i:]), nil
	case "remove":
		i, ok := argInt(0)
		if !ok || i < 0 || i > len(r) {
			return bad()
		}
		if len(args) > 1 {
			n, _ := argInt(1)
			if i+n > len(r) {
				return bad()
			}
			return string(r[:i]) + string(r[i+n:]), nil
		}
		return string(r[:i]), nil
	case "tochararray":
		out := make([]val, len(r))
		for i, c := range r {
			out[i] = clixml.Value{Kind: clixml.Char, Text: strconv.Itoa(int(c))}
		}
		return newArray(out), nil
	case "compareto":
		c, _ := valCompare(s, argStr(0), false)
		return int32(c), nil
	}
	return nil, methodNotFound(s, name)
}

func splitKeepEmpty(s, seps string) []string {
	var out []string
	start := 0
	for i, c := range s {
		if strings.ContainsRune(seps, c) {
			out = append(out, s[start:i])
			start = i + len(string(c))
		}
	}
	return append(out, s[start:])
}

func toVals(ss []string) []val {
	out := make([]val, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func typeObject(v val) clixml.Value {
	full := typeNameOf(v)
	name := full
	if i := strings.LastIndexByte(full, '.'); i >= 0 {
		name = full[i+1:]
	}
	return cxObj(&clixml.PSObject{
		TypeNames:   []string{"System.RuntimeType", "System.Reflection.TypeInfo", "System.Type", "System.Object"},
		ToString:    full,
		HasToString: true,
		Props: []clixml.Property{cxProp("Name", cxStr(name)), cxProp("FullName", cxStr(full)),
			cxProp("IsPublic", cxBool(true)), cxProp("IsSerial", cxBool(true)), cxProp("BaseType", cxStr("System.Object"))},
	})
}

func dateMethod(v clixml.Value, ln string, args []val) (val, bool, error) {
	t, ok := dateOf(v)
	if !ok {
		return nil, false, nil
	}
	num := func() float64 {
		if len(args) == 0 {
			return 0
		}
		n, _ := toNumber(args[0])
		return n.float()
	}
	add := func(d time.Duration) (val, bool, error) { return cxDT(t.Add(d)), true, nil }
	switch ln {
	case "tostring":
		if len(args) == 1 {
			return netDateFormat(t, toStr(args[0])), true, nil
		}
		return t.Format("01/02/2006 15:04:05"), true, nil
	case "addseconds":
		return add(time.Duration(num() * float64(time.Second)))
	case "addminutes":
		return add(time.Duration(num() * float64(time.Minute)))
	case "addhours":
		return add(time.Duration(num() * float64(time.Hour)))
	case "addmilliseconds":
		return add(time.Duration(num() * float64(time.Millisecond)))
	case "adddays":
		n := num()
		whole := math.Trunc(n)
		return cxDT(t.AddDate(0, 0, int(whole)).Add(time.Duration((n - whole) * 24 * float64(time.Hour)))), true, nil
	case "addmonths":
		return cxDT(t.AddDate(0, int(num()), 0)), true, nil
	case "addyears":
		return cxDT(t.AddDate(int(num()), 0, 0)), true, nil
	case "touniversaltime":
		return cxDT(t.UTC()), true, nil
	case "tolocaltime":
		return cxDT(t.Local()), true, nil
	case "tolongdatestring":
		return t.Format("Monday, 02 January 2006"), true, nil
	case "toshortdatestring":
		return t.Format("01/02/2006"), true, nil
	case "tolongtimestring":
		return t.Format("15:04:05"), true, nil
	case "toshorttimestring":
		return t.Format("15:04"), true, nil
	}
	return nil, false, nil
}

// ---- static members ----

func (f *frame) staticMember(obj val, name string) (val, error) {
	tv, ok := obj.(*typeVal)
	if !ok {
		return nil, newRuntimeError("StaticMemberOnNonType", "Static members can only be accessed on types.")
	}
	full := strings.ToLower(typeFullName(tv.name))
	ln := strings.ToLower(name)
	switch full + "::" + ln {
	case "system.int32::maxvalue":
		return int32(math.MaxInt32), nil
	case "system.int32::minvalue":
		return int32(math.MinInt32), nil
	case "system.int64::maxvalue":
		return int64(math.MaxInt64), nil
	case "system.int64::minvalue":
		return int64(math.MinInt64), nil
	case "system.double::maxvalue":
		return math.MaxFloat64, nil
	case "system.double::nan":
		return math.NaN(), nil
	case "system.double::positiveinfinity":
		return math.Inf(1), nil
	case "system.math::pi":
		return math.Pi, nil
	case "system.math::e":
		return math.E, nil
	case "system.string::empty":
		return "", nil
	case "system.environment::newline":
		return "\n", nil
	case "system.environment::machinename":
		return f.it.r.opts.ComputerName, nil
	case "system.environment::username":
		return f.it.r.opts.UserName, nil
	case "system.environment::processorcount":
		return int32(4), nil
	case "system.environment::osversion":
		return "Unix 6.1.0.0", nil
	case "system.datetime::now":
		return cxDT(f.it.r.opts.Now()), nil
	case "system.datetime::utcnow":
		return cxDT(f.it.r.opts.Now().UTC()), nil
	case "system.datetime::today":
		t := f.it.r.opts.Now()
		y, m, d := t.Date()
		return cxDT(time.Date(y, m, d, 0, 0, 0, 0, t.Location())), nil
	}
	if full == "system.consolecolor" {
		if n, ok := parseConsoleColor(name); ok {
			return cxEnum("System.ConsoleColor", consoleColors[n], int32(n)), nil
		}
	}
	return nil, nil
}

func (f *frame) staticCall(obj val, name string, args []val) (val, error) {
	tv, ok := obj.(*typeVal)
	if !ok {
		return nil, newRuntimeError("StaticMemberOnNonType", "Static members can only be accessed on types.")
	}
	full := strings.ToLower(typeFullName(tv.name))
	ln := strings.ToLower(name)
	nums := func() ([]float64, bool) {
		out := make([]float64, len(args))
		for i, a := range args {
			n, ok := toNumber(a)
			if !ok {
				return nil, false
			}
			out[i] = n.float()
		}
		return out, true
	}
	switch full {
	case "system.math":
		n, ok := nums()
		if !ok || len(n) == 0 {
			return nil, methodArgCount(name, len(args))
		}
		switch ln {
		case "round":
			if len(n) > 1 {
				p := math.Pow(10, n[1])
				return math.RoundToEven(n[0]*p) / p, nil
			}
			return math.RoundToEven(n[0]), nil
		case "floor":
			return math.Floor(n[0]), nil
		case "ceiling":
			return math.Ceil(n[0]), nil
		case "truncate":
			return math.Trunc(n[0]), nil
		case "abs":
			if x, ok := args[0].(int32); ok {
				if x < 0 {
					return -x, nil
				}
				return x, nil
			}
			return math.Abs(n[0]), nil
		case "sqrt":
			return math.Sqrt(n[0]), nil
		case "pow":
			if len(n) > 1 {
				return math.Pow(n[0], n[1]), nil
			}
		case "max", "min":
			if len(n) > 1 {
				c, _ := valCompare(args[0], args[1], false)
				if (ln == "max") == (c >= 0) {
					return args[0], nil
				}
				return args[1], nil
			}
		}
	case "system.string":
		switch ln {
		case "join":
			if len(args) >= 2 {
				var parts []string
				for _, a := range args[1:] {
					for _, it := range asList(a) {
						parts = append(parts, toStr(it))
					}
				}
				return strings.Join(parts, toStr(args[0])), nil
			}
		case "isnullorempty":
			if len(args) == 1 {
				return toStr(args[0]) == "", nil
			}
		case "isnullorwhitespace":
			if len(args) == 1 {
				return strings.TrimSpace(toStr(args[0])) == "", nil
			}
		case "format":
			if len(args) >= 1 {
				return formatOperator(toStr(args[0]), args[1:])
			}
		case "new":
			if len(args) == 2 {
				n, _ := toInt(args[1])
				return strings.Repeat(toStr(args[0]), n), nil
			}
		}
	case "system.management.automation.host.choicedescription":
		if ln == "new" && len(args) >= 1 {
			help := ""
			if len(args) > 1 {
				help = toStr(args[1])
			}
			return newChoice(toStr(args[0]), help), nil
		}
	case "system.guid":
		if ln == "newguid" {
			return clixml.Value{Kind: clixml.GUID, Text: "3f2504e0-4f89-41d3-9a0c-0305e82c3301"}, nil
		}
	case "system.collections.hashtable":
		if ln == "new" {
			return &psHash{}, nil
		}
	case "system.datetime":
		if ln == "parse" && len(args) >= 1 {
			return castTo("datetime", args[0])
		}
	}
	return nil, methodNotFound(obj, name)
}

// ---- formatting (-f, ToString(fmt), Get-Date -Format) ----

func asFormatArgs(v val) []val {
	if a, ok := v.(*psArray); ok {
		return a.items
	}
	return []val{v}
}

// formatOperator implements .NET composite formatting: {i[,align][:fmt]}.
func formatOperator(f string, args []val) (val, error) {
	var b strings.Builder
	bad := func() (val, error) {
		return nil, &psError{spec: &errSpec{excTypes: excRuntime, category: catNotSpecified, fqeid: "FormatError",
			message: "Error formatting a string: Input string was not in a correct format.."}}
	}
	for i := 0; i < len(f); i++ {
		c := f[i]
		switch {
		case c == '{' && i+1 < len(f) && f[i+1] == '{':
			b.WriteByte('{')
			i++
		case c == '}' && i+1 < len(f) && f[i+1] == '}':
			b.WriteByte('}')
			i++
		case c == '{':
			end := strings.IndexByte(f[i:], '}')
			if end < 0 {
				return bad()
			}
			spec := f[i+1 : i+end]
			i += end
			fmtSpec := ""
			if j := strings.IndexByte(spec, ':'); j >= 0 {
				spec, fmtSpec = spec[:j], spec[j+1:]
			}
			align := 0
			if j := strings.IndexByte(spec, ','); j >= 0 {
				a, err := strconv.Atoi(strings.TrimSpace(spec[j+1:]))
				if err != nil {
					return bad()
				}
				align, spec = a, spec[:j]
			}
			idx, err := strconv.Atoi(strings.TrimSpace(spec))
			if err != nil || idx < 0 {
				return bad()
			}
			if idx >= len(args) {
				return nil, &psError{spec: &errSpec{excTypes: excRuntime, category: catNotSpecified, fqeid: "FormatError",
					message: "Error formatting a string: Index (zero based) must be greater than or equal to zero and less than the size of the argument list.."}}
			}
			s := toStr(args[idx])
			if fmtSpec != "" {
				fv, err := formatValue(args[idx], fmtSpec)
				if err != nil {
					return nil, err
				}
				s = toStr(fv)
			}
			for n := len([]rune(s)); n < abs(align); n++ {
				if align > 0 {
					s = " " + s
				} else {
					s += " "
				}
			}
			b.WriteString(s)
		case c == '}':
			return bad()
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// formatValue applies a .NET format string to one value.
func formatValue(v val, fmtSpec string) (val, error) {
	if cv, ok := unwrapPrim(v).(clixml.Value); ok && isDate(cv) {
		t, _ := dateOf(cv)
		return netDateFormat(t, fmtSpec), nil
	}
	n, ok := toNumber(v)
	if !ok || fmtSpec == "" {
		return toStr(v), nil
	}
	spec := strings.ToUpper(fmtSpec[:1])
	prec := -1
	if len(fmtSpec) > 1 {
		p, err := strconv.Atoi(fmtSpec[1:])
		if err != nil {
			return customNumberFormat(n.float(), fmtSpec), nil
		}
		prec = p
	}
	switch spec {
	case "N":
		if prec < 0 {
			prec = 2
		}
		return numberN(n.float(), prec), nil
	case "F":
		if prec < 0 {
			prec = 2
		}
		return strconv.FormatFloat(n.float(), 'f', prec, 64), nil
	case "D":
		s := strconv.FormatInt(int64(n.float()), 10)
		if n.kind != 3 {
			s = strconv.FormatInt(n.i, 10)
		}
		neg := strings.HasPrefix(s, "-")
		s = strings.TrimPrefix(s, "-")
		for len(s) < prec {
			s = "0" + s
		}
		if neg {
			s = "-" + s
		}
		return s, nil
	case "X":
		s := strconv.FormatInt(n.i, 16)
		if n.kind == 1 && n.i < 0 {
			s = strconv.FormatUint(uint64(uint32(n.i)), 16)
		}
		if fmtSpec[0] == 'X' {
			s = strings.ToUpper(s)
		}
		for len(s) < prec {
			s = "0" + s
		}
		return s, nil
	case "P":
		if prec < 0 {
			prec = 2
		}
		return numberN(n.float()*100, prec) + " %", nil
	case "E":
		if prec < 0 {
			prec = 6
		}
		s := strconv.FormatFloat(n.float(), 'E', prec, 64)
		if i := strings.IndexAny(s, "+-"); i > 0 {
			exp := s[i+1:]
			for len(exp) < 3 {
				exp = "0" + exp
			}
			s = s[:i+1] + exp
		}
		return s, nil
	case "G", "R":
		return toStr(n.val()), nil
	}
	return customNumberFormat(n.float(), fmtSpec), nil
}

// customNumberFormat handles simple custom patterns like "0.00" or "#,##0".
func customNumberFormat(f float64, fmtSpec string) string {
	dec := 0
	if i := strings.IndexByte(fmtSpec, '.'); i >= 0 {
		dec = strings.Count(fmtSpec[i+1:], "0") + strings.Count(fmtSpec[i+1:], "#")
		mandatory := strings.Count(fmtSpec[i+1:], "0")
		s := strconv.FormatFloat(f, 'f', dec, 64)
		for dec > mandatory && strings.HasSuffix(s, "0") {
			s = strings.TrimSuffix(s, "0")
			dec--
		}
		s = strings.TrimSuffix(s, ".")
		if strings.Contains(fmtSpec, ",") {
			ip, fp := s, ""
			if j := strings.IndexByte(s, '.'); j >= 0 {
				ip, fp = s[:j], s[j+1:]
			}
			g := numberN(mustFloat(ip), 0)
			if fp != "" {
				return g + "." + fp
			}
			return g
		}
		return s
	}
	if strings.Contains(fmtSpec, ",") {
		return numberN(math.RoundToEven(f), 0)
	}
	s := strconv.FormatFloat(math.RoundToEven(f), 'f', 0, 64)
	width := strings.Count(fmtSpec, "0")
	for len(s) < width {
		s = "0" + s
	}
	return s
}

func mustFloat(s string) float64 {
	f, _ := strconv.ParseFloat(s, 64)
	return f
}

// netDateFormat formats a time with a .NET date format string (standard
// one-letter formats and custom patterns), invariant culture.
func netDateFormat(t time.Time, f string) string {
	switch f {
	case "d":
		return t.Format("01/02/2006")
	case "D":
		return t.Format("Monday, 02 January 2006")
	case "t":
		return t.Format("15:04")
	case "T":
		return t.Format("15:04:05")
	case "f":
		return t.Format("Monday, 02 January 2006 15:04")
	case "F":
		return t.Format("Monday, 02 January 2006 15:04:05")
	case "g":
		return t.Format("01/02/2006 15:04")
	case "G":
		return t.Format("01/02/2006 15:04:05")
	case "s":
		return t.Format("2006-01-02T15:04:05")
	case "u":
		return t.UTC().Format("2006-01-02 15:04:05Z")
	case "o", "O":
		s := t.Format("2006-01-02T15:04:05.0000000")
		if t.Location() == time.UTC {
			return s + "Z"
		}
		return s + t.Format("-07:00")
	case "M", "m":
		return t.Format("January 02")
	case "Y", "y":
		return t.Format("2006 January")
	}
	var b strings.Builder
	for i := 0; i < len(f); {
		c := f[i]
		n := 1
		for i+n < len(f) && f[i+n] == c {
			n++
		}
		switch c {
		case 'y':
			y := t.Year()
			switch {
			case n <= 2:
				s := strconv.Itoa(y % 100)
				if n == 2 && len(s) < 2 {
					s = "0" + s
				}
				b.WriteString(s)
			default:
				s := strconv.Itoa(y)
				for len(s) < n {
					s = "0" + s
				}
				b.WriteString(s)
			}
		case 'M':
			switch n {
			case 1:
				b.WriteString(strconv.Itoa(int(t.Month())))
			case 2:
				b.WriteString(t.Format("01"))
			case 3:
				b.WriteString(t.Format("Jan"))
			default:
				b.WriteString(t.Format("January"))
			}
		case 'd':
			switch n {
			case 1:
				b.WriteString(strconv.Itoa(t.Day()))
			case 2:
				b.WriteString(t.Format("02"))
			case 3:
				b.WriteString(t.Format("Mon"))
			default:
				b.WriteString(t.Format("Monday"))
			}
		case 'H':
			if n == 1 {
				b.WriteString(strconv.Itoa(t.Hour()))
			} else {
				b.WriteString(t.Format("15"))
			}
		case 'h':
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			s := strconv.Itoa(h)
			if n > 1 && len(s) < 2 {
				s = "0" + s
			}
			b.WriteString(s)
		case 'm':
			if n == 1 {
				b.WriteString(strconv.Itoa(t.Minute()))
			} else {
				b.WriteString(t.Format("04"))
			}
		case 's':
			if n == 1 {
				b.WriteString(strconv.Itoa(t.Second()))
			} else {
				b.WriteString(t.Format("05"))
			}
		case 'f', 'F':
			digits := strconv.Itoa(t.Nanosecond() + 1e9)[1:]
			if n > 7 {
				n = 7
			}
			s := digits[:n]
			if c == 'F' {
				s = strings.TrimRight(s, "0")
			}
			b.WriteString(s)
		case 't':
			s := "AM"
			if t.Hour() >= 12 {
				s = "PM"
			}
			if n == 1 {
				s = s[:1]
			}
			b.WriteString(s)
		case 'z':
			_, off := t.Zone()
			sign := "+"
			if off < 0 {
				sign, off = "-", -off
			}
			h, m := off/3600, off%3600/60
			switch n {
			case 1:
				b.WriteString(sign + strconv.Itoa(h))
			case 2:
				b.WriteString(sign + twoDigits(h))
			default:
				b.WriteString(sign + twoDigits(h) + ":" + twoDigits(m))
			}
		case 'K':
			if t.Location() == time.UTC {
				b.WriteString("Z")
			} else {
				b.WriteString(t.Format("-07:00"))
			}
			n = 1
		case '\'', '"':
			end := strings.IndexByte(f[i+1:], c)
			if end < 0 {
				b.WriteString(f[i+1:])
				return b.String()
			}
			b.WriteString(f[i+1 : i+1+end])
			i += end + 2
			continue
		case '\\':
			if i+1 < len(f) {
				b.WriteByte(f[i+1])
			}
			i += 2
			continue
		default:
			b.WriteString(f[i : i+n])
		}
		i += n
	}
	return b.String()
}

func twoDigits(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}

// uFormat implements Get-Date -UFormat's common specifiers.
func uFormat(t time.Time, f string) string {
	var b strings.Builder
	for i := 0; i < len(f); i++ {
		if f[i] != '%' || i+1 >= len(f) {
			b.WriteByte(f[i])
			continue
		}
		i++
		switch f[i] {
		case 'Y':
			b.WriteString(t.Format("2006"))
		case 'y':
			b.WriteString(t.Format("06"))
		case 'm':
			b.WriteString(t.Format("01"))
		case 'd':
			b.WriteString(t.Format("02"))
		case 'H':
			b.WriteString(t.Format("15"))
		case 'M':
			b.WriteString(t.Format("04"))
		case 'S':
			b.WriteString(t.Format("05"))
		case 's':
			b.WriteString(strconv.FormatInt(t.Unix(), 10))
		case 'A':
			b.WriteString(t.Format("Monday"))
		case 'a':
			b.WriteString(t.Format("Mon"))
		case 'B':
			b.WriteString(t.Format("January"))
		case 'b', 'h':
			b.WriteString(t.Format("Jan"))
		case 'F':
			b.WriteString(t.Format("2006-01-02"))
		case 'T':
			b.WriteString(t.Format("15:04:05"))
		case 'Z', 'z':
			b.WriteString(t.Format("-07"))
		case '%':
			b.WriteByte('%')
		default:
			b.WriteByte('%')
			b.WriteByte(f[i])
		}
	}
	return b.String()
}
