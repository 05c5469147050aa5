package clixml

import "testing"

// TestEscapeTable checks pwsh's EncodeString rules (psrp-brief §7.3) in
// both directions: Go string → text inside <S> → Go string.
func TestEscapeTable(t *testing.T) {
	cases := []struct {
		name, str, wire string
	}{
		{"plain", "hello", "hello"},
		{"LF", "a\nb", "a_x000A_b"},
		{"CRLF", "\r\n", "_x000D__x000A_"},
		{"TAB", "\t", "_x0009_"},
		{"NUL", "\x00", "_x0000_"},
		{"0x1F", "\x1f", "_x001F_"},
		{"space is not escaped", " ", " "},
		{"DEL", "\x7f", "_x007F_"},
		{"C1 first", "\u0080", "_x0080_"},
		{"C1 last", "\u009f", "_x009F_"},
		{"NBSP is not escaped", "\u00a0", "\u00a0"},
		{"non-BMP as surrogate pair", "𝄞", "_xD834__xDD1E_"},
		{"emoji", "😀", "_xD83D__xDE00_"},
		{"latin-1 kept", "café", "café"},
		{"BMP kept", "日本", "日本"},
		{"underscore alone", "a_b", "a_b"},
		{"trailing underscore", "a_", "a_"},
		{"underscore before x", "_x", "_x005F_x"},
		{"underscore before X", "_X", "_x005F_X"},
		{"literal escape", "_x000A_", "_x005F_x000A_"},
		{"double underscore", "__x", "__x005F_x"},
		{"XML specials", `<&>"'`, `&lt;&amp;&gt;"'`},
		{"max BMP", "\uffff", "\uffff"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			enc := Encode(nil, Str(tc.str))
			if want := "<S>" + tc.wire + "</S>"; tc.str != "" && string(enc) != want {
				t.Errorf("Encode(%q) = %s, want %s", tc.str, enc, want)
			}
			v, err := Decode(enc)
			if err != nil || v.Text != tc.str {
				t.Errorf("Decode(%s) = %q, %v; want %q", enc, v.Text, err, tc.str)
			}
		})
	}
}

// TestUnescapeTable checks XmlConvert.DecodeName behaviour on wire text
// that the encoder would not produce.
func TestUnescapeTable(t *testing.T) {
	cases := []struct {
		name, wire, str string
	}{
		{"lower-case hex", "_x00e9_", "é"},
		{"upper-case X", "_X00E9_", "é"},
		{"8 digits", "_x0001D11E_", "𝄞"},
		{"8 digits BMP", "_x000000E9_", "é"},
		{"8 digits above U+10FFFF kept", "_x0011FFFF_", "_x0011FFFF_"},
		{"pair recombined", "_xD834__xDD1E_", "𝄞"},
		{"pair via 8-digit halves", "_x0000D834__x0000DD1E_", "𝄞"},
		{"lone high surrogate", "_xD83C_", "\uFFFD"},
		{"lone low surrogate", "_xDD1E_", "\uFFFD"},
		{"reversed pair", "_xDD1E__xD834_", "\uFFFD\uFFFD"},
		{"high then text", "_xD834_abc", "\uFFFDabc"},
		{"high then BMP escape", "_xD834__x0041_", "\uFFFDA"},
		{"bad hex kept", "_x001G_", "_x001G_"},
		{"short kept", "_x12_", "_x12_"},
		{"no closing underscore", "_x0041", "_x0041"},
		{"five digits kept", "_x00041_", "_x00041_"},
		{"escaped escape", "_x005F_x0000_", "_x0000_"},
		{"adjacent escapes", "_x0041__x0042_", "AB"},
		{"underscore run", "__x0041_", "_A"},
		{"NUL", "_x0000_", "\x00"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := Decode([]byte("<S>" + tc.wire + "</S>"))
			if err != nil || v.Text != tc.str {
				t.Errorf("Decode <S>%s</S> = %q, %v; want %q", tc.wire, v.Text, err, tc.str)
			}
			v, err = Decode([]byte(`<Obj RefId="0"><TN RefId="0"><T>` + tc.wire + `</T></TN><ToString>` + tc.wire + `</ToString><MS><Nil N="` + tc.wire + `" /></MS></Obj>`))
			if err != nil {
				t.Fatal(err)
			}
			if o := v.Obj; o.TypeNames[0] != tc.str || o.ToString != tc.str || o.Members[0].Name != tc.str {
				t.Errorf("T/ToString/N decoded to %q %q %q, want %q", o.TypeNames[0], o.ToString, o.Members[0].Name, tc.str)
			}
		})
	}
}

// TestEscapeOnlyWherePwshDoes: _x escaping applies to S, URI, XD, SBK,
// ToString, T, N and the PR strings, not to the other primitives.
func TestEscapeOnlyWherePwshDoes(t *testing.T) {
	for _, k := range []Kind{String, URI, XMLDocument, ScriptBlock} {
		v, err := Decode([]byte("<" + k.Tag() + ">_x0041_</" + k.Tag() + ">"))
		if err != nil || v.Text != "A" {
			t.Errorf("%s: %q, %v", k.Tag(), v.Text, err)
		}
	}
	for _, k := range []Kind{Version, GUID, Decimal, DateTime, Bytes, SecureString, Int32} {
		v, err := Decode([]byte("<" + k.Tag() + ">_x0041_</" + k.Tag() + ">"))
		if err != nil || v.Text != "_x0041_" {
			t.Errorf("%s: %q, %v", k.Tag(), v.Text, err)
		}
		if enc := Encode(nil, Prim(k, "a_xb")); string(enc) != "<"+k.Tag()+">a_xb</"+k.Tag()+">" {
			t.Errorf("%s encoded as %s", k.Tag(), enc)
		}
	}
	pr := Value{Kind: ProgressRecord, Obj: &PSObject{Members: props("AV", Str("a\nb"), "SD", Str("_x"))}}
	enc := string(Encode(nil, pr))
	if want := `<PR><AV>a_x000A_b</AV><AI>0</AI><Nil /><PI>-1</PI><PC>-1</PC><T>Processing</T><SR>-1</SR><SD>_x005F_x</SD></PR>`; enc != want {
		t.Errorf("PR = %s\nwant %s", enc, want)
	}
}

// TestPsrpcoreRoundTrip uses psrpcore's test string
// (jborean93/psrpcore tests/conftest.py). Its lone high surrogate \uD83C
// is written in Go as WTF-8 ("\xed\xa0\xbc"); the encoder turns it into
// _xD83C_, the decoder turns _xD83C_ into U+FFFD (a Go string cannot hold
// a lone surrogate as valid UTF-8).
func TestPsrpcoreRoundTrip(t *testing.T) {
	const goStr = "treble clef\n _x0000_ _X0000_ 𝄞 café \xed\xa0\xbc _x001G_"
	const wire = "treble clef_x000A_ _x005F_x0000_ _x005F_X0000_ _xD834__xDD1E_ café _xD83C_ _x005F_x001G_"
	const decoded = "treble clef\n _x0000_ _X0000_ 𝄞 café \uFFFD _x001G_"
	if got := string(Encode(nil, Str(goStr))); got != "<S>"+wire+"</S>" {
		t.Errorf("Encode = %s\nwant     <S>%s</S>", got, wire)
	}
	v, err := Decode([]byte("<S>" + wire + "</S>"))
	if err != nil || v.Text != decoded {
		t.Errorf("Decode = %q, %v\nwant     %q", v.Text, err, decoded)
	}
	// All parts that Go strings represent exactly round-trip both ways.
	const exact = "treble clef\n _x0000_ _X0000_ 𝄞 café _x001G_"
	const exactWire = "treble clef_x000A_ _x005F_x0000_ _x005F_X0000_ _xD834__xDD1E_ café _x005F_x001G_"
	if got := string(Encode(nil, Str(exact))); got != "<S>"+exactWire+"</S>" {
		t.Errorf("Encode(exact) = %s", got)
	}
	if v, _ := Decode([]byte("<S>" + exactWire + "</S>")); v.Text != exact {
		t.Errorf("Decode(exact) = %q", v.Text)
	}
}

// TestEncodeInvalidUTF8 checks that invalid UTF-8 in a Go string becomes
// U+FFFD (WTF-8 surrogates become escapes in _x-escaped text only).
func TestEncodeInvalidUTF8(t *testing.T) {
	cases := []struct {
		v    Value
		want string
	}{
		{Str("a\xffb"), "<S>a\uFFFDb</S>"},
		{Str("\xed\xb4\x9e"), "<S>_xDD1E_</S>"},
		{Prim(Version, "1\xed\xa0\xbc"), "<Version>1\uFFFD\uFFFD\uFFFD</Version>"},
		{Prim(Int32, "1\r2"), "<I32>1&#xD;2</I32>"},
		{Obj(&PSObject{Members: props("n\xff\"", Str(""))}), `<Obj RefId="0"><MS><S N="n` + "\uFFFD" + `&quot;"></S></MS></Obj>`},
	}
	for _, tc := range cases {
		if got := string(Encode(nil, tc.v)); got != tc.want {
			t.Errorf("Encode(%q) = %q, want %q", tc.v.Text, got, tc.want)
		}
	}
}
