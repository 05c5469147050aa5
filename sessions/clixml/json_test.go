package clixml

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

// jsonCases: CLIXML → faithful JSON (SPEC S10) and plain JSON (SPEC S8).
var jsonCases = []struct {
	name, xml, faithful, plain string
}{
	{"Nil", `<Nil />`, `null`, `null`},
	{"S", `<S>a"b\c_x000A_</S>`, `"a\"b\\c\n"`, `"a\"b\\c\n"`},
	{"S control chars", `<S>_x0001__x001F_&#x9;</S>`, `"\u0001\u001f\t"`, `"\u0001\u001f\t"`},
	{"C", `<C>233</C>`, `"é"`, `"é"`},
	{"C surrogate", `<C>55356</C>`, `"` + "\uFFFD" + `"`, `"` + "\uFFFD" + `"`},
	{"B", `<B>true</B>`, `true`, `true`},
	{"B 0", `<B>0</B>`, `false`, `false`},
	{"I32", `<I32>-5</I32>`, `-5`, `-5`},
	{"U64", `<U64>18446744073709551615</U64>`, `18446744073709551615`, `18446744073709551615`},
	{"I32 non-canonical", `<I32> +007 </I32>`, `7`, `7`},
	{"I32 garbage", `<I32>x</I32>`, `"x"`, `"x"`},
	{"Db", `<Db>1.5E+20</Db>`, `1.5E+20`, `1.5E+20`},
	{"Db INF", `<Db>INF</Db>`, `"INF"`, `"Infinity"`},
	{"Sg -INF", `<Sg>-INF</Sg>`, `"-INF"`, `"-Infinity"`},
	{"Db NaN", `<Db>NaN</Db>`, `"NaN"`, `"NaN"`},
	{"Db leading dot", `<Db>.5</Db>`, `0.5`, `0.5`},
	{"D", `<D>1291921.101291</D>`, `"1291921.101291"`, `1291921.101291`},
	{"DT", `<DT>2024-05-01T13:45:10.1234567Z</DT>`, `"2024-05-01T13:45:10.1234567Z"`, `"2024-05-01T13:45:10.1234567Z"`},
	{"TS", `<TS>PT9.0269026S</TS>`, `"PT9.0269026S"`, `"PT9.0269026S"`},
	{"G", `<G>9a9b0a1f-2f45-4c6c-9e9f-3c1d2e4f5a6b</G>`, `"9a9b0a1f-2f45-4c6c-9e9f-3c1d2e4f5a6b"`, `"9a9b0a1f-2f45-4c6c-9e9f-3c1d2e4f5a6b"`},
	{"URI", `<URI>http://x/</URI>`, `"http://x/"`, `"http://x/"`},
	{"Version", `<Version>2.3</Version>`, `"2.3"`, `"2.3"`},
	{"BA", `<BA>AQID</BA>`, `"AQID"`, `"AQID"`},
	{"SS", `<SS>c2VjcmV0</SS>`, `{"SecureString":"c2VjcmV0"}`, `"System.Security.SecureString"`},
	{"SBK", `<SBK>ls</SBK>`, `{"ScriptBlock":"ls"}`, `"ls"`},
	{"XD", `<XD>&lt;a/&gt;</XD>`, `"<a/>"`, `"<a/>"`},
	{"PR", `<PR><AV>Copy</AV><AI>1</AI><Nil /><PI>-1</PI><PC>50</PC><T>Processing</T><SR>-1</SR><SD>half</SD></PR>`,
		`{"TypeNames":["System.Management.Automation.ProgressRecord"],"MS":{"AV":"Copy","AI":1,"CO":null,"PI":-1,"PC":50,"T":"Processing","SR":-1,"SD":"half"}}`,
		`{"Activity":"Copy","ActivityId":1,"CurrentOperation":null,"ParentActivityId":-1,"PercentComplete":50,"RecordType":"Processing","SecondsRemaining":-1,"StatusDescription":"half"}`},
	{"property bag", `<Obj RefId="0"><MS><I32 N="RunspaceState">2</I32><Nil N="x" /></MS></Obj>`,
		`{"MS":{"RunspaceState":2,"x":null}}`, `{"RunspaceState":2,"x":null}`},
	{"object with everything", `<Obj RefId="0"><TN RefId="0"><T>T1</T><T>System.Object</T></TN><ToString>ts</ToString><Props><S N="p">1</S></Props><MS><S N="m">2</S></MS></Obj>`,
		`{"TypeNames":["T1","System.Object"],"ToString":"ts","Props":{"p":"1"},"MS":{"m":"2"}}`, `{"p":"1","m":"2"}`},
	{"enum", `<Obj RefId="0"><TN RefId="0"><T>E</T><T>System.Enum</T><T>System.ValueType</T><T>System.Object</T></TN><ToString>Opened</ToString><I32>2</I32></Obj>`,
		`{"TypeNames":["E","System.Enum","System.ValueType","System.Object"],"ToString":"Opened","Value":2}`, `"Opened"`},
	{"object with only ToString", `<Obj RefId="0"><TN RefId="0"><T>System.IntPtr</T></TN><ToString>0</ToString></Obj>`,
		`{"TypeNames":["System.IntPtr"],"ToString":"0"}`, `"0"`},
	{"wrapped primitive without ToString", `<Obj RefId="0"><I64>7</I64></Obj>`, `{"Value":7}`, `7`},
	{"empty object", `<Obj RefId="0" />`, `{}`, `{}`},
	{"list", `<Obj RefId="0"><TN RefId="0"><T>System.Object[]</T></TN><LST><I32>1</I32><S>a</S></LST></Obj>`,
		`{"TypeNames":["System.Object[]"],"List":[1,"a"]}`, `[1,"a"]`},
	{"queue", `<Obj RefId="0"><QUE><I32>1</I32></QUE></Obj>`, `{"List":[1]}`, `[1]`},
	{"empty list", `<Obj RefId="0"><LST /></Obj>`, `{"List":[]}`, `[]`},
	{"hashtable", `<Obj RefId="0"><TN RefId="0"><T>System.Collections.Hashtable</T><T>System.Object</T></TN><DCT><En><S N="Key">a</S><I32 N="Value">1</I32></En><En><I32 N="Key">2</I32><Nil N="Value" /></En></DCT></Obj>`,
		`{"TypeNames":["System.Collections.Hashtable","System.Object"],"Dict":[{"Key":"a","Value":1},{"Key":2,"Value":null}]}`, `{"a":1,"2":null}`},
	{"duplicate names kept", `<Obj RefId="0"><MS><S N="a">1</S><S N="a">2</S></MS></Obj>`, `{"MS":{"a":"1","a":"2"}}`, `{"a":"1","a":"2"}`},
	{"nested member set", `<Obj RefId="0"><MS><MS N="set"><S N="x">1</S></MS></MS></Obj>`, `{"MS":{"set":{"MS":{"x":"1"}}}}`, `{"set":{"x":"1"}}`},
	{"shared object written twice", `<Obj RefId="0"><MS><Obj N="a" RefId="1"><ToString>t</ToString></Obj><Ref N="b" RefId="1" /></MS></Obj>`,
		`{"MS":{"a":{"ToString":"t"},"b":{"ToString":"t"}}}`, `{"a":"t","b":"t"}`},
}

func TestJSONRenderings(t *testing.T) {
	for _, tc := range jsonCases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := Decode([]byte(tc.xml))
			if err != nil {
				t.Fatal(err)
			}
			f := AppendFaithfulJSON(nil, v)
			if string(f) != tc.faithful {
				t.Errorf("faithful %s\n     want %s", f, tc.faithful)
			}
			p := AppendPlainJSON(nil, v)
			if string(p) != tc.plain {
				t.Errorf("plain %s\n  want %s", p, tc.plain)
			}
			if !json.Valid(f) || !json.Valid(p) {
				t.Errorf("invalid JSON: %s / %s", f, p)
			}
		})
	}
}

// TestJSONInvalidUTF8 renders strings that hold invalid UTF-8 (possible
// for values built in Go) as valid JSON with \ufffd.
func TestJSONInvalidUTF8(t *testing.T) {
	v := Obj(NewObject("T\xff").AddMember("k\xed\xa0\x80", Str("a\xffb\x00")))
	want := `{"TypeNames":["T\ufffd"],"MS":{"k\ufffd\ufffd\ufffd":"a\ufffdb\u0000"}}`
	if got := AppendFaithfulJSON(nil, v); string(got) != want || !json.Valid(got) {
		t.Errorf("got %s\nwant %s", got, want)
	}
}

// TestJSONAppends checks both renderings append to dst.
func TestJSONAppends(t *testing.T) {
	if got := AppendFaithfulJSON([]byte("x="), I32(1)); string(got) != "x=1" {
		t.Errorf("faithful: %s", got)
	}
	if got := AppendPlainJSON([]byte("x="), BoolV(true)); string(got) != "x=true" {
		t.Errorf("plain: %s", got)
	}
}

// TestJSONRenderBudget: a document whose shared references would expand
// exponentially renders in bounded size.
func TestJSONRenderBudget(t *testing.T) {
	// Object i lists object i-1 twice: 2^40 expansions if unbounded.
	o := NewObject().SetToString("leaf")
	for i := 0; i < 40; i++ {
		o = &PSObject{Container: List, Items: []Value{Obj(o), Obj(o)}}
	}
	out := AppendFaithfulJSON(nil, Obj(o))
	if !json.Valid(out) || len(out) > 64<<20 {
		t.Fatalf("output of %d bytes", len(out))
	}
	out = AppendPlainJSON(nil, Obj(o))
	if !json.Valid(out) || len(out) > 64<<20 {
		t.Fatalf("plain output of %d bytes", len(out))
	}
}

// TestJSONDeepReferenceChain: object i refers to object i-1 (each defined
// at top level of a list), so rendering follows ever longer chains of
// shared references; the cycle check and the budget keep it bounded.
func TestJSONDeepReferenceChain(t *testing.T) {
	var b []byte
	b = append(b, `<Obj RefId="root"><LST><Obj RefId="0" />`...)
	for i := 1; i < 3000; i++ {
		b = append(b, `<Obj RefId="`...)
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, `"><MS><Ref N="prev" RefId="`...)
		b = strconv.AppendInt(b, int64(i-1), 10)
		b = append(b, `" /></MS></Obj>`...)
	}
	b = append(b, `</LST></Obj>`...)
	v, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, render := range []func([]byte, Value) []byte{AppendFaithfulJSON, AppendPlainJSON} {
		out := render(nil, v)
		if !json.Valid(out) || len(out) > renderBytes+1<<20 {
			t.Fatalf("output of %d bytes", len(out))
		}
	}
}

// AppendJSONString writes the bytes encoding/json writes (without its
// HTML escaping) for every ASCII character, U+2028/U+2029, other
// characters and invalid UTF-8.
func TestAppendJSONStringAsEncodingJSON(t *testing.T) {
	inputs := []string{"a\u2028b\u2029c", "é€😀", "bad \xff\xfe utf-8", "\x1b[31mred\x1b[0m"}
	for c := range 0x80 {
		inputs = append(inputs, "x"+string(rune(c))+"y")
	}
	for _, in := range inputs {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(in); err != nil {
			t.Fatal(err)
		}
		if got := string(AppendJSONString(nil, in)); got != strings.TrimSuffix(want.String(), "\n") {
			t.Errorf("%q: %s; encoding/json: %s", in, got, want.String())
		}
	}
}
