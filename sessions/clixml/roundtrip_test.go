package clixml

import (
	"bytes"
	"testing"
)

func ptr(v Value) *Value { return &v }

func props(kv ...any) []Property {
	var ps []Property
	for i := 0; i < len(kv); i += 2 {
		ps = append(ps, Property{Name: kv[i].(string), Value: kv[i+1].(Value)})
	}
	return ps
}

func obj(o PSObject) Value { return Value{Kind: Object, Obj: &o} }

// tagCases hold each tag in the exact form pwsh writes it, with the value
// it decodes to. Decode(xml) must equal want and Encode(want) must equal
// xml.
var tagCases = []struct {
	name string
	xml  string
	want Value
}{
	{"S", `<S>hello world</S>`, Str("hello world")},
	{"S empty", `<S></S>`, Str("")},
	{"S named", `<S N="Name">x</S>`, Str("x")}, // name is dropped at top level
	{"C", `<C>233</C>`, Prim(Char, "233")},
	{"B true", `<B>true</B>`, BoolV(true)},
	{"B false", `<B>false</B>`, BoolV(false)},
	{"DT", `<DT>2024-05-01T13:45:10.1234567Z</DT>`, Prim(DateTime, "2024-05-01T13:45:10.1234567Z")},
	{"TS", `<TS>PT9.0269026S</TS>`, Prim(TimeSpan, "PT9.0269026S")},
	{"By", `<By>255</By>`, ByteV(255)},
	{"SB", `<SB>-128</SB>`, SByteV(-128)},
	{"I16", `<I16>-32768</I16>`, I16(-32768)},
	{"U16", `<U16>65535</U16>`, U16(65535)},
	{"I32", `<I32>-2147483648</I32>`, I32(-2147483648)},
	{"U32", `<U32>4294967295</U32>`, U32(4294967295)},
	{"I64", `<I64>9223372036854775807</I64>`, I64(9223372036854775807)},
	{"U64", `<U64>18446744073709551615</U64>`, U64(18446744073709551615)},
	{"Sg", `<Sg>1.5</Sg>`, Sgl(1.5)},
	{"Db", `<Db>-INF</Db>`, Prim(Double, "-INF")},
	{"D", `<D>1291921.101291</D>`, DecimalV("1291921.101291")},
	{"G", `<G>9a9b0a1f-2f45-4c6c-9e9f-3c1d2e4f5a6b</G>`, Guid("9A9B0A1F-2F45-4C6C-9E9F-3C1D2E4F5A6B")},
	{"URI", `<URI>https://example.com/a?b=c&amp;d=e</URI>`, URIV("https://example.com/a?b=c&d=e")},
	{"Version", `<Version>1.1.0.1</Version>`, VersionV("1.1.0.1")},
	{"BA", `<BA>AQID</BA>`, BytesV([]byte{1, 2, 3})},
	{"SS", `<SS>c2VjcmV0</SS>`, SecureStringV("c2VjcmV0")},
	{"XD", `<XD>&lt;a b="1"&gt;x&lt;/a&gt;</XD>`, Prim(XMLDocument, `<a b="1">x</a>`)},
	{"SBK", `<SBK>Get-Process | Select-Object -First 1_x000A_</SBK>`, ScriptBlockV("Get-Process | Select-Object -First 1\n")},
	{"Nil", `<Nil />`, NilV()},
	{"PR", `<PR><AV>Copying</AV><AI>1</AI><Nil /><PI>-1</PI><PC>50</PC><T>Processing</T><SR>-1</SR><SD>Half way</SD></PR>`,
		Value{Kind: ProgressRecord, Obj: &PSObject{Members: props(
			"AV", Str("Copying"), "AI", I32(1), "CO", NilV(), "PI", I32(-1), "PC", I32(50),
			"T", Str("Processing"), "SR", I32(-1), "SD", Str("Half way"))}}},
	{"PR current operation", `<PR><AV>A</AV><AI>0</AI><S>op_x000A_</S><PI>-1</PI><PC>-1</PC><T>Completed</T><SR>-1</SR><SD /></PR>`,
		Value{Kind: ProgressRecord, Obj: &PSObject{Members: props(
			"AV", Str("A"), "AI", I32(0), "CO", Str("op\n"), "PI", I32(-1), "PC", I32(-1),
			"T", Str("Completed"), "SR", I32(-1), "SD", Str(""))}}},
	{"Obj empty", `<Obj RefId="0" />`, obj(PSObject{})},
	{"Obj property bag", `<Obj RefId="0"><MS><I32 N="RunspaceState">2</I32></MS></Obj>`,
		obj(PSObject{Members: props("RunspaceState", I32(2))})},
	{"Obj full", `<Obj RefId="0"><TN RefId="0"><T>System.IO.DirectoryInfo</T><T>System.Object</T></TN><ToString>ADMF</ToString><Props><S N="Name">ADMF</S><B N="Exists">true</B></Props><MS><S N="PSChildName">ADMF</S></MS></Obj>`,
		obj(PSObject{TypeNames: []string{"System.IO.DirectoryInfo", "System.Object"}, ToString: "ADMF", HasToString: true,
			Props: props("Name", Str("ADMF"), "Exists", BoolV(true)), Members: props("PSChildName", Str("ADMF"))})},
	{"Obj ToString empty", `<Obj RefId="0"><ToString /></Obj>`, obj(PSObject{HasToString: true})},
	{"enum", `<Obj RefId="0"><TN RefId="0"><T>System.Management.Automation.Runspaces.PSThreadOptions</T><T>System.Enum</T><T>System.ValueType</T><T>System.Object</T></TN><ToString>Default</ToString><I32>0</I32></Obj>`,
		Enum("System.Management.Automation.Runspaces.PSThreadOptions", "Default", 0)},
	{"wrapped string with note", `<Obj RefId="0"><S>abc</S><MS><S N="PSComputerName">web1</S></MS></Obj>`,
		obj(PSObject{Primitive: ptr(Str("abc")), Members: props("PSComputerName", Str("web1"))})},
	{"LST", `<Obj RefId="0"><TN RefId="0"><T>System.Object[]</T><T>System.Array</T><T>System.Object</T></TN><LST><I32>1</I32><S>two</S><Nil /></LST></Obj>`,
		Array(I32(1), Str("two"), NilV())},
	{"LST empty", `<Obj RefId="0"><LST /></Obj>`, obj(PSObject{Container: List})},
	{"IE", `<Obj RefId="0"><IE><S>a</S></IE></Obj>`, obj(PSObject{Container: Enumerable, Items: []Value{Str("a")}})},
	{"STK", `<Obj RefId="0"><STK><I32>2</I32><I32>1</I32></STK></Obj>`, obj(PSObject{Container: Stack, Items: []Value{I32(2), I32(1)}})},
	{"QUE", `<Obj RefId="0"><QUE><I32>1</I32></QUE></Obj>`, obj(PSObject{Container: Queue, Items: []Value{I32(1)}})},
	{"DCT", `<Obj RefId="0"><TN RefId="0"><T>System.Collections.Hashtable</T><T>System.Object</T></TN><DCT><En><S N="Key">a</S><I32 N="Value">1</I32></En><En><I32 N="Key">2</I32><Nil N="Value" /></En></DCT></Obj>`,
		Hashtable(DictEntry{Str("a"), I32(1)}, DictEntry{I32(2), NilV()})},
	{"DCT empty", `<Obj RefId="0"><DCT /></Obj>`, obj(PSObject{Container: Dictionary})},
	{"nested member set", `<Obj RefId="0"><MS><MS N="PSStandardMembers"><S N="DefaultDisplayProperty">Name</S></MS><MS N="Empty" /></MS></Obj>`,
		obj(PSObject{Members: props(
			"PSStandardMembers", Value{Kind: MemberSet, Obj: &PSObject{Members: props("DefaultDisplayProperty", Str("Name"))}},
			"Empty", Value{Kind: MemberSet, Obj: &PSObject{}})})},
	{"nested objects", `<Obj RefId="0"><MS><Obj N="a" RefId="1"><MS><Obj N="b" RefId="2"><ToString>x</ToString></Obj></MS></Obj><Nil N="c" /></MS></Obj>`,
		obj(PSObject{Members: props(
			"a", obj(PSObject{Members: props("b", obj(PSObject{ToString: "x", HasToString: true}))}),
			"c", NilV())})},
	{"escaped names", `<Obj RefId="0"><MS><S N="a_x0009_b c&amp;&lt;&gt;&quot;">v</S></MS></Obj>`,
		obj(PSObject{Members: props("a\tb c&<>\"", Str("v"))})},
}

func TestTagRoundTrips(t *testing.T) {
	for _, tc := range tagCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode([]byte(tc.xml))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !equalValues(got, tc.want) {
				t.Fatalf("Decode = %s\nwant     %s", AppendFaithfulJSON(nil, got), AppendFaithfulJSON(nil, tc.want))
			}
			xml := tc.xml
			if tc.name == "S named" {
				xml = `<S>x</S>`
			}
			if enc := Encode(nil, tc.want); string(enc) != xml {
				t.Fatalf("Encode = %s\nwant     %s", enc, xml)
			}
			if enc := Encode(nil, got); string(enc) != xml {
				t.Fatalf("Encode(Decode) = %s\nwant           %s", enc, xml)
			}
		})
	}
}

// TestDecodeTolerates checks input pwsh does not write but a decoder must
// accept, each decoding to the same value as the canonical form.
func TestDecodeTolerates(t *testing.T) {
	cases := []struct{ name, in, canon string }{
		{"BOM", "\xef\xbb\xbf<S>a</S>", `<S>a</S>`},
		{"surrounding whitespace", "\r\n  <S>a</S>\n\t", `<S>a</S>`},
		{"XML declaration", `<?xml version="1.0" encoding="utf-8"?><S>a</S>`, `<S>a</S>`},
		{"comments and PIs", `<!-- c --><Obj RefId="0"><!-- x --><MS><?pi x?><S N="a">b<!-- y --></S></MS></Obj><!-- z -->`, `<Obj RefId="0"><MS><S N="a">b</S></MS></Obj>`},
		{"inter-element whitespace", "<Obj RefId=\"0\">\n  <TN RefId=\"0\">\n    <T>X</T>\n  </TN>\n  <MS>\n    <S N=\"a\">b</S>\n  </MS>\n</Obj>", `<Obj RefId="0"><TN RefId="0"><T>X</T></TN><MS><S N="a">b</S></MS></Obj>`},
		{"empty S", `<S />`, `<S></S>`},
		{"empty S no space", `<S/>`, `<S></S>`},
		{"empty ToString long form", `<Obj RefId="0"><ToString></ToString></Obj>`, `<Obj RefId="0"><ToString /></Obj>`},
		{"Nil long form", `<Nil></Nil>`, `<Nil />`},
		{"empty containers", `<Obj><LST></LST><MS></MS><Props/></Obj>`, `<Obj RefId="0"><LST /></Obj>`},
		{"single quotes and spaced attributes", `<Obj RefId = '0' ><MS><S N = 'a' >b</S ></MS></Obj >`, `<Obj RefId="0"><MS><S N="a">b</S></MS></Obj>`},
		{"attribute order and extra attributes", `<Obj xmlns="http://schemas.microsoft.com/powershell/2004/04" RefId="0" N="ignored"><MS><S Foo="1" N="a">b</S></MS></Obj>`, `<Obj RefId="0"><MS><S N="a">b</S></MS></Obj>`},
		{"entities", `<S>&amp;&lt;&gt;&quot;&apos;&#65;&#x42;&#x1D11E;</S>`, `<S>&amp;&lt;&gt;"'AB_xD834__xDD1E_</S>`},
		{"CDATA", `<S><![CDATA[<a> & _x0041_]]>tail</S>`, `<S>&lt;a&gt; &amp; Atail</S>`},
		{"entity building an escape", `<S>&#95;x0041_</S>`, `<S>A</S>`},
		{"CRLF normalisation", "<S>a\r\nb\rc</S>", `<S>a_x000A_b_x000A_c</S>`},
		{"char ref CR kept", `<S>a&#13;b</S>`, `<S>a_x000D_b</S>`},
		{"attribute whitespace normalisation", "<Obj RefId=\"0\"><MS><S N=\"a\tb\nc\">v</S></MS></Obj>", `<Obj RefId="0"><MS><S N="a b c">v</S></MS></Obj>`},
		{"parts in any order", `<Obj RefId="0"><MS><S N="m">1</S></MS><Props><S N="p">2</S></Props><I32>5</I32><ToString>t</ToString><TN RefId="0"><T>X</T></TN></Obj>`,
			`<Obj RefId="0"><TN RefId="0"><T>X</T></TN><ToString>t</ToString><I32>5</I32><Props><S N="p">2</S></Props><MS><S N="m">1</S></MS></Obj>`},
		{"lower-case dictionary names", `<Obj RefId="0"><DCT><En><S N="key">a</S><S N="VALUE">b</S></En></DCT></Obj>`, `<Obj RefId="0"><DCT><En><S N="Key">a</S><S N="Value">b</S></En></DCT></Obj>`},
		{"B as 1", `<B>1</B>`, `<B>1</B>`},
		{"non-sequential RefIds", `<Obj RefId="x7"><MS><Obj N="a" RefId="100"><ToString>t</ToString></Obj><Ref N="b" RefId="100" /><Ref N="c" RefId="x7" /></MS></Obj>`,
			`<Obj RefId="0"><MS><Obj N="a" RefId="1"><ToString>t</ToString></Obj><Ref N="b" RefId="1" /><Ref N="c" RefId="0" /></MS></Obj>`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode([]byte(tc.in))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			want, err := Decode([]byte(tc.canon))
			if err != nil {
				t.Fatalf("Decode(canonical): %v", err)
			}
			if !equalValues(got, want) {
				t.Errorf("Decode = %s\nwant     %s", AppendFaithfulJSON(nil, got), AppendFaithfulJSON(nil, want))
			}
			if enc := Encode(nil, got); string(enc) != tc.canon {
				t.Errorf("Encode = %s\nwant     %s", enc, tc.canon)
			}
		})
	}
}

func TestDecodeAllObjsRoot(t *testing.T) {
	doc := "\xef\xbb\xbf<?xml version=\"1.0\"?>\r\n<Objs Version=\"1.1.0.1\" xmlns=\"http://schemas.microsoft.com/powershell/2004/04\">\r\n" +
		"  <Obj RefId=\"0\">\r\n    <TN RefId=\"0\"><T>A</T></TN>\r\n    <ToString>one</ToString>\r\n  </Obj>\r\n" +
		"  <S>two</S>\r\n" +
		"  <Obj RefId=\"1\"><TNRef RefId=\"0\" /><MS><Ref N=\"first\" RefId=\"0\" /></MS></Obj>\r\n" +
		"</Objs>\r\n"
	vs, err := DecodeAll([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 3 || vs[0].Str() != "one" || vs[1].Str() != "two" {
		t.Fatalf("got %d values: %+v", len(vs), vs)
	}
	first, _ := vs[2].Get("first")
	if first.Obj != vs[0].Obj {
		t.Errorf("Ref across top-level objects did not resolve to the same *PSObject")
	}
	if &vs[2].Obj.TypeNames[0] != &vs[0].Obj.TypeNames[0] {
		t.Errorf("TNRef across top-level objects did not resolve to the same slice")
	}
	if vs, err := DecodeAll([]byte(`<Objs Version="1.1.0.1" />`)); err != nil || vs == nil || len(vs) != 0 {
		t.Errorf("empty <Objs/>: %v, %v", vs, err)
	}
	if _, err := DecodeAll([]byte(`<S>a</S>`)); err == nil || err.Error() != `clixml: at offset 0: expected <Objs>, found <S>` {
		t.Errorf("bare element: %v", err)
	}
}

func TestEncodeAppends(t *testing.T) {
	dst := []byte("prefix:")
	out := Encode(dst, Str("a"))
	if string(out) != "prefix:<S>a</S>" {
		t.Errorf("Encode appended %q", out)
	}
	if string(I32(5).MarshalCLIXML()) != "<I32>5</I32>" {
		t.Errorf("MarshalCLIXML = %q", I32(5).MarshalCLIXML())
	}
}

func TestEncodeUnknownAndNilObjects(t *testing.T) {
	cases := []struct {
		v    Value
		want string
	}{
		{Value{Kind: Object}, `<Nil />`},
		{Value{Kind: ProgressRecord}, `<Nil />`},
		{Value{Kind: Kind(200), Text: "x"}, `<Nil />`},
		{Obj(&PSObject{Primitive: ptr(I32(1)), Container: List, Items: []Value{I32(2)}}), `<Obj RefId="0"><I32>1</I32></Obj>`},
		{Value{Kind: ProgressRecord, Obj: &PSObject{}}, `<PR><AV /><AI>0</AI><Nil /><PI>-1</PI><PC>-1</PC><T>Processing</T><SR>-1</SR><SD /></PR>`},
	}
	for _, tc := range cases {
		if got := Encode(nil, tc.v); string(got) != tc.want {
			t.Errorf("Encode(%+v) = %s, want %s", tc.v, got, tc.want)
		}
	}
}

// TestEncodeIsCompact checks that output has no whitespace between
// elements and no XML declaration or BOM.
func TestEncodeIsCompact(t *testing.T) {
	for _, tc := range tagCases {
		out := Encode(nil, tc.want)
		if bytes.Contains(out, []byte(">\n")) || bytes.HasPrefix(out, []byte("\xef\xbb\xbf")) || bytes.HasPrefix(out, []byte("<?")) {
			t.Errorf("%s: not compact: %s", tc.name, out)
		}
	}
}
