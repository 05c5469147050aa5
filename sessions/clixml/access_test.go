package clixml

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestInt(t *testing.T) {
	cases := []struct {
		v    Value
		want int64
		err  string
	}{
		{I32(-5), -5, ""},
		{Prim(Byte, "255"), 255, ""},
		{Prim(SByte, "-128"), -128, ""},
		{Prim(Int16, " 12 "), 12, ""},
		{Prim(UInt32, "+4294967295"), 4294967295, ""},
		{I64(math.MinInt64), math.MinInt64, ""},
		{Enum("E", "Two", 2), 2, ""},
		{U64(math.MaxUint64), 0, `clixml: expected an integer (By, SB, I16, U16, I32, U32, I64, U64), found <U64> "18446744073709551615"`},
		{Str("5"), 0, `clixml: expected an integer (By, SB, I16, U16, I32, U32, I64, U64), found <S> "5"`},
		{Prim(Int32, "x"), 0, `clixml: expected an integer (By, SB, I16, U16, I32, U32, I64, U64), found <I32> "x"`},
		{NilV(), 0, `clixml: expected an integer (By, SB, I16, U16, I32, U32, I64, U64), found <Nil> ""`},
	}
	for _, tc := range cases {
		got, err := tc.v.Int()
		if tc.err != "" {
			var ve *ValueError
			if err == nil || err.Error() != tc.err || !errors.As(err, &ve) {
				t.Errorf("%+v: err %v, want %s", tc.v, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%+v: %d, %v; want %d", tc.v, got, err, tc.want)
		}
	}
}

func TestUintFloatBoolRune(t *testing.T) {
	if n, err := U64(math.MaxUint64).Uint(); err != nil || n != math.MaxUint64 {
		t.Errorf("Uint: %d %v", n, err)
	}
	if _, err := I32(-1).Uint(); err == nil {
		t.Error("Uint(-1) succeeded")
	}
	floats := []struct {
		v    Value
		want float64
	}{
		{Prim(Double, "1.5E+20"), 1.5e20}, {Prim(Single, "0.1"), float64(float32(0.1))}, {Prim(Decimal, "1291921.101291"), 1291921.101291},
		{I32(3), 3}, {Prim(Double, "INF"), math.Inf(1)}, {Prim(Double, "-INF"), math.Inf(-1)},
	}
	for _, tc := range floats {
		if f, err := tc.v.Float(); err != nil || f != tc.want {
			t.Errorf("Float(%q) = %v, %v", tc.v.Text, f, err)
		}
	}
	if f, err := Prim(Double, "NaN").Float(); err != nil || !math.IsNaN(f) {
		t.Errorf("NaN: %v %v", f, err)
	}
	for _, bad := range []Value{Prim(Double, "Infinity"), Prim(Double, "0x1p3"), Str("1")} {
		if _, err := bad.Float(); err == nil {
			t.Errorf("Float(%+v) succeeded", bad)
		}
	}
	for text, want := range map[string]bool{"true": true, "false": false, "1": true, "0": false, " true ": true} {
		if b, err := Prim(Bool, text).Bool(); err != nil || b != want {
			t.Errorf("Bool(%q) = %v, %v", text, b, err)
		}
	}
	for _, bad := range []Value{Prim(Bool, "True"), Prim(Bool, "yes"), Str("true")} {
		if _, err := bad.Bool(); err == nil || !strings.Contains(err.Error(), "expected a boolean") {
			t.Errorf("Bool(%+v): %v", bad, err)
		}
	}
	if r, err := CharV('é').Rune(); err != nil || r != 'é' {
		t.Errorf("Rune: %q %v", r, err)
	}
	if b, err := BytesV([]byte{1, 2, 3}).Bytes(); err != nil || string(b) != "\x01\x02\x03" {
		t.Errorf("Bytes: %v %v", b, err)
	}
	if b, err := Prim(Bytes, "AQ\r\nID").Bytes(); err != nil || string(b) != "\x01\x02\x03" {
		t.Errorf("Bytes with whitespace: %v %v", b, err)
	}
}

func TestTime(t *testing.T) {
	cases := []struct {
		text string
		want time.Time
	}{
		{"2024-05-01T13:45:10.1234567Z", time.Date(2024, 5, 1, 13, 45, 10, 123456700, time.UTC)},
		{"2024-05-01T13:45:10Z", time.Date(2024, 5, 1, 13, 45, 10, 0, time.UTC)},
		{"2024-05-01T13:45:10.5Z", time.Date(2024, 5, 1, 13, 45, 10, 500000000, time.UTC)},
		{"2023-08-31T14:40:37.0592148-04:00", time.Date(2023, 8, 31, 18, 40, 37, 59214800, time.UTC)},
		{"2024-05-01T13:45:10.1234567+02:00", time.Date(2024, 5, 1, 11, 45, 10, 123456700, time.UTC)},
		{"2024-05-01T13:45:10.12", time.Date(2024, 5, 1, 13, 45, 10, 120000000, time.UTC)},
	}
	for _, tc := range cases {
		got, err := Prim(DateTime, tc.text).Time()
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("Time(%q) = %v, %v; want %v", tc.text, got, err, tc.want)
		}
	}
	got, _ := Prim(DateTime, "2024-05-01T13:45:10+02:00").Time()
	if _, off := got.Zone(); off != 7200 {
		t.Errorf("offset kept as %d", off)
	}
	for _, bad := range []string{"2024-05-01", "2024-13-01T00:00:00Z", "2024-02-30T00:00:00Z", "2024-05-01T13:45:10.Z", "2024-05-01T13:45:10+2:00", "x"} {
		if _, err := Prim(DateTime, bad).Time(); err == nil || !strings.Contains(err.Error(), "expected a date-time") {
			t.Errorf("Time(%q): %v", bad, err)
		}
	}
}

func TestDateTimeV(t *testing.T) {
	cases := []struct {
		t    time.Time
		want string
	}{
		{time.Date(2024, 5, 1, 13, 45, 10, 123456700, time.UTC), "2024-05-01T13:45:10.1234567Z"},
		{time.Date(2024, 5, 1, 13, 45, 10, 123456789, time.UTC), "2024-05-01T13:45:10.1234567Z"},
		{time.Date(2024, 5, 1, 13, 45, 10, 500000000, time.UTC), "2024-05-01T13:45:10.5Z"},
		{time.Date(2024, 5, 1, 13, 45, 10, 0, time.UTC), "2024-05-01T13:45:10Z"},
		{time.Date(2024, 5, 1, 13, 45, 10, 0, time.FixedZone("", 2*3600)), "2024-05-01T13:45:10+02:00"},
		{time.Date(2024, 5, 1, 13, 45, 10, 0, time.FixedZone("", 0)), "2024-05-01T13:45:10+00:00"},
		{time.Date(2023, 8, 31, 14, 40, 37, 59214800, time.FixedZone("", -4*3600)), "2023-08-31T14:40:37.0592148-04:00"},
	}
	for _, tc := range cases {
		v := DateTimeV(tc.t)
		if v.Kind != DateTime || v.Text != tc.want {
			t.Errorf("DateTimeV(%v) = %q, want %q", tc.t, v.Text, tc.want)
		}
		back, err := v.Time()
		if err != nil || !back.Equal(tc.t.Truncate(100*time.Nanosecond)) {
			t.Errorf("round trip of %v: %v %v", tc.t, back, err)
		}
	}
}

func TestDuration(t *testing.T) {
	cases := []struct {
		text string
		want time.Duration
	}{
		{"PT9.0269026S", 9*time.Second + 26902600},
		{"P1DT2H3M", 26*time.Hour + 3*time.Minute},
		{"-PT0.5S", -500 * time.Millisecond},
		{"PT0S", 0},
		{"P1D", 24 * time.Hour},
		{"PT1H", time.Hour},
		{"P1Y2M", (365 + 60) * 24 * time.Hour},
		{"PT0.0000001S", 100},
	}
	for _, tc := range cases {
		got, err := Prim(TimeSpan, tc.text).Duration()
		if err != nil || got != tc.want {
			t.Errorf("Duration(%q) = %v, %v; want %v", tc.text, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "P", "PT", "1S", "PT1", "PT1.S", "P1.5D", "PT1X", "P1H", "PT1D", "P99999999999999999999D", "P200000D"} {
		if _, err := Prim(TimeSpan, bad).Duration(); err == nil {
			t.Errorf("Duration(%q) succeeded", bad)
		}
	}
	for _, d := range []time.Duration{0, 26902600 + 9*time.Second, 26*time.Hour + 3*time.Minute, -500 * time.Millisecond, 100, 49*time.Hour + time.Second} {
		v := TimeSpanV(d)
		if back, err := v.Duration(); err != nil || back != d {
			t.Errorf("TimeSpanV(%v) = %q → %v, %v", d, v.Text, back, err)
		}
	}
	if v := TimeSpanV(9*time.Second + 26902600); v.Text != "PT9.0269026S" {
		t.Errorf("TimeSpanV = %q", v.Text)
	}
	if v := TimeSpanV(26*time.Hour + 3*time.Minute); v.Text != "P1DT2H3M" {
		t.Errorf("TimeSpanV = %q", v.Text)
	}
}

func TestDbl(t *testing.T) {
	cases := map[float64]string{
		0: "0", 1: "1", -2.5: "-2.5", 0.1: "0.1", 1e14: "100000000000000", 1e15: "1E+15",
		1.5e20: "1.5E+20", 0.0001: "0.0001", 0.00001: "1E-05", 1.2345e-7: "1.2345E-07",
		math.Inf(1): "INF", math.Inf(-1): "-INF", 123456789012345680000: "1.2345678901234568E+20",
	}
	for f, want := range cases {
		if got := Dbl(f).Text; got != want {
			t.Errorf("Dbl(%v) = %q, want %q", f, got, want)
		}
		if back, err := Dbl(f).Float(); err != nil || back != f {
			t.Errorf("Dbl(%v) does not round-trip: %v %v", f, back, err)
		}
	}
	if got := Dbl(math.NaN()).Text; got != "NaN" {
		t.Errorf("NaN: %q", got)
	}
	if got := Dbl(math.Copysign(0, -1)).Text; got != "-0" {
		t.Errorf("-0: %q", got)
	}
	if got := Sgl(1e7).Text; got != "1E+07" {
		t.Errorf("Sgl(1e7) = %q", got)
	}
	if got := Sgl(1234567).Text; got != "1234567" {
		t.Errorf("Sgl(1234567) = %q", got)
	}
}

func TestConstructors(t *testing.T) {
	cases := []struct {
		v    Value
		want string
	}{
		{Str("x"), `<S>x</S>`},
		{I32(-1), `<I32>-1</I32>`},
		{I64(1 << 40), `<I64>1099511627776</I64>`},
		{U32(7), `<U32>7</U32>`},
		{BoolV(true), `<B>true</B>`},
		{NilV(), `<Nil />`},
		{VersionV("2.3"), `<Version>2.3</Version>`},
		{Guid("ABC-DEF"), `<G>abc-def</G>`},
		{SecureStringV("AAA="), `<SS>AAA=</SS>`},
		{BytesV([]byte("hi")), `<BA>aGk=</BA>`},
		{CharV('A'), `<C>65</C>`},
		{CharV('😀'), `<C>65533</C>`},
		{Enum("System.Management.Automation.Runspaces.PSThreadOptions", "Default", 0),
			`<Obj RefId="0"><TN RefId="0"><T>System.Management.Automation.Runspaces.PSThreadOptions</T><T>System.Enum</T><T>System.ValueType</T><T>System.Object</T></TN><ToString>Default</ToString><I32>0</I32></Obj>`},
		{Array(Str("a")), `<Obj RefId="0"><TN RefId="0"><T>System.Object[]</T><T>System.Array</T><T>System.Object</T></TN><LST><S>a</S></LST></Obj>`},
		{Hashtable(DictEntry{Str("k"), I32(1)}), `<Obj RefId="0"><TN RefId="0"><T>System.Collections.Hashtable</T><T>System.Object</T></TN><DCT><En><S N="Key">k</S><I32 N="Value">1</I32></En></DCT></Obj>`},
		{Obj(NewObject().AddProp("p", I32(1)).AddMember("m", Str("v"))), `<Obj RefId="0"><Props><I32 N="p">1</I32></Props><MS><S N="m">v</S></MS></Obj>`},
		{Obj(nil), `<Nil />`},
	}
	for _, tc := range cases {
		if got := string(Encode(nil, tc.v)); got != tc.want {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
	}
}

func TestLookupCaseInsensitive(t *testing.T) {
	o := NewObject().AddProp("Name", Str("prop")).AddProp("Only", Str("p")).AddMember("name", Str("member")).AddMember("NAME", Str("second"))
	if v, ok := o.Get("NAME"); !ok || v.Text != "second" {
		t.Errorf("Get(NAME) = %q: MS first, an exact match before a case-folded one", v.Text)
	}
	if v, ok := o.Get("Name"); !ok || v.Text != "member" {
		t.Errorf("Get(Name) = %q", v.Text)
	}
	if v, ok := o.Get("only"); !ok || v.Text != "p" {
		t.Errorf("Get(only) = %q, %v", v.Text, ok)
	}
	if v, ok := o.Prop("NAME"); !ok || v.Text != "prop" {
		t.Errorf("Prop(NAME) = %q", v.Text)
	}
	if v, ok := o.Member("nAmE"); !ok || v.Text != "member" {
		t.Errorf("Member(nAmE) = %q", v.Text)
	}
	if _, ok := o.Get("missing"); ok {
		t.Error("Get(missing) found something")
	}
	var nilObj *PSObject
	if _, ok := nilObj.Get("x"); ok {
		t.Error("nil object lookup succeeded")
	}
	if _, ok := Str("x").Get("x"); ok {
		t.Error("Get on a string succeeded")
	}
}

func TestStrAndIsNil(t *testing.T) {
	cases := []struct {
		v    Value
		want string
	}{
		{Str("a"), "a"}, {I32(5), "5"}, {NilV(), ""},
		{Enum("E", "Opened", 2), "Opened"},
		{Obj(&PSObject{Primitive: ptr(Str("wrapped"))}), "wrapped"},
		{Obj(&PSObject{}), ""},
		{Value{Kind: ProgressRecord, Obj: &PSObject{}}, ""},
		{SecureStringV("YQBiAGMA"), "System.Security.SecureString"}, // never its contents
	}
	for _, tc := range cases {
		if got := tc.v.Str(); got != tc.want {
			t.Errorf("Str(%+v) = %q, want %q", tc.v, got, tc.want)
		}
	}
	if !NilV().IsNil() || !Obj(nil).IsNil() || Str("").IsNil() || Obj(&PSObject{}).IsNil() {
		t.Error("IsNil wrong")
	}
}
