package clixml

import (
	"bytes"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestDecodeErrorMessages(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{"mismatched end tag", `<S>abc</I32>`, `clixml: at offset 6: expected "</S>", found "</I32>"`},
		{"mismatched end tag of Obj", `<Obj RefId="0"><MS></Props></Obj>`, `clixml: at offset 19: expected "</MS>", found "</Props>"`},
		{"unknown tag", `<Foo />`, `clixml: at offset 0: expected a value element (S, I32, B, DT, Obj, Ref, Nil, …), found unknown element <Foo>`},
		{"unknown tag in Obj", `<Obj RefId="0"><Bar/></Obj>`, `clixml: at offset 15: expected a value element (S, I32, B, DT, Obj, Ref, Nil, …), found unknown element <Bar>`},
		{"unknown tag in TN", `<Obj><TN><X>a</X></TN></Obj>`, `clixml: at offset 9: expected <T> or "</TN>", found <X>`},
		{"unknown tag in DCT", `<Obj><DCT><S>a</S></DCT></Obj>`, `clixml: at offset 10: expected <En> or "</DCT>", found <S>`},
		{"unknown entity", `<S>&foo;</S>`, `clixml: at offset 3: expected an entity reference (&amp; &lt; &gt; &quot; &apos; &#NN; &#xHH;), found "&foo;"`},
		{"bare ampersand", `<S>a & b</S>`, `clixml: at offset 5: expected an entity reference (&amp; &lt; &gt; &quot; &apos; &#NN; &#xHH;), found "& b"`},
		{"entity without semicolon", `<S>&amp</S>`, `clixml: at offset 3: expected an entity reference (&amp; &lt; &gt; &quot; &apos; &#NN; &#xHH;), found "&amp"`},
		{"surrogate char ref", `<S>&#xD800;</S>`, `clixml: at offset 3: expected a character reference to a legal XML character, found "&#xD800;"`},
		{"NUL char ref", `<S>x&#0;</S>`, `clixml: at offset 4: expected a character reference to a legal XML character, found "&#0;"`},
		{"huge char ref", `<S>&#99999999999;</S>`, `clixml: at offset 3: expected an entity reference (&amp; &lt; &gt; &quot; &apos; &#NN; &#xHH;), found "&#99999999999;"`},
		{"bad entity in N", `<Obj><MS><S N="a&b">x</S></MS></Obj>`, `clixml: at offset 16: expected an entity reference (&amp; &lt; &gt; &quot; &apos; &#NN; &#xHH;), found "&b"`},
		{"unknown Ref", `<Obj RefId="0"><MS><Ref N="x" RefId="5" /></MS></Obj>`, `clixml: at offset 19: expected the RefId of an earlier <Obj>, found RefId="5"`},
		{"Ref without RefId", `<Ref />`, `clixml: at offset 0: expected a RefId attribute on <Ref>`},
		{"unknown TNRef", `<Obj RefId="0"><TNRef RefId="3" /></Obj>`, `clixml: at offset 15: expected the RefId of an earlier <TN>, found RefId="3"`},
		{"property without N", `<Obj RefId="0"><Props><S>x</S></Props></Obj>`, `clixml: at offset 22: expected an N attribute on <S> in <Props>`},
		{"text in Obj", `<Obj RefId="0">hello</Obj>`, `clixml: at offset 15: expected a child element of <Obj> or "</Obj>", found text "hello"`},
		{"text in LST", `<Obj><LST>x</LST></Obj>`, `clixml: at offset 10: expected a value element or "</LST>", found text "x"`},
		{"element in S", `<S>a<B>1</B></S>`, `clixml: at offset 4: expected text or "</S>", found "<B>"`},
		{"content in Nil", `<Nil>x</Nil>`, `clixml: at offset 5: expected "</Nil>", found text "x"`},
		{"two roots", `<S>a</S><S>b</S>`, `clixml: at offset 8: expected end of input, found "<S>"`},
		{"trailing text", `<S>a</S>junk`, `clixml: at offset 8: expected end of input, found text "junk"`},
		{"UTF-16", "\xff\xfe<\x00S\x00", `clixml: at offset 0: expected UTF-8 input, found a UTF-16 byte order mark`},
		{"invalid UTF-8", "<S>a\xffb</S>", `clixml: at offset 4: expected UTF-8 text, found the invalid byte 0xff`},
		{"dictionary key name", `<Obj><DCT><En><S N="K">a</S></En></DCT></Obj>`, `clixml: at offset 14: expected a value element with N="Key" in <En>, found <S>`},
		{"dictionary without value", `<Obj><DCT><En><S N="Key">a</S></En></DCT></Obj>`, `clixml: at offset 10: expected <En> to hold a value with N="Value" before "</En>"`},
		{"dictionary third element", `<Obj><DCT><En><S N="Key">a</S><S N="Value">b</S><S N="Value">c</S></En></DCT></Obj>`, `clixml: at offset 48: expected "</En>", found <S>`},
		{"empty En", `<Obj><DCT><En /></DCT></Obj>`, `clixml: at offset 10: expected <En> holding a key and a value, found an empty <En/>`},
		{"PR order", `<PR><AI>1</AI></PR>`, `clixml: at offset 4: expected <AV> in <PR>, found <AI>`},
		{"PR short", `<PR><AV>a</AV><AI>1</AI></PR>`, `clixml: at offset 0: expected <CO> in <PR> before "</PR>"`},
		{"empty PR", `<PR />`, `clixml: at offset 0: expected <PR> with AV, AI, CO, PI, PC, T, SR, SD, found an empty <PR/>`},
		{"second value in Obj", `<Obj RefId="0"><I32>1</I32><S>2</S></Obj>`, `clixml: at offset 27: expected TN, ToString, Props, MS or "</Obj>" (the object already has its value), found <S>`},
		{"list after value", `<Obj RefId="0"><I32>1</I32><LST /></Obj>`, `clixml: at offset 27: expected TN, ToString, Props, MS or "</Obj>" (the object already has its value), found <LST>`},
		{"second ToString", `<Obj><ToString>a</ToString><ToString>b</ToString></Obj>`, `clixml: at offset 27: expected at most one <ToString> in <Obj>, found a second`},
		{"unterminated attribute", `<S N="ab>x</S>`, `clixml: at offset 5: expected the closing quote of attribute "N", found end of input`},
		{"unquoted attribute", `<S N=ab>x</S>`, `clixml: at offset 5: expected a quoted attribute value, found text "ab>x"`},
		{"lt in attribute", `<S N="<">x</S>`, `clixml: at offset 6: expected an attribute value without "<", found "<"`},
		{"attribute without value", `<S N>x</S>`, `clixml: at offset 4: expected "=" after attribute "N", found text ">x"`},
		{"attributes not separated", `<S N="a"M="b">x</S>`, `clixml: at offset 8: expected whitespace, ">" or "/>", found text "M=\"b\">x"`},
		{"DOCTYPE", `<!DOCTYPE x><S/>`, `clixml: at offset 0: expected an element, found "<!DOCTYPE x>"`},
		{"CDATA between elements", `<Obj><![CDATA[x]]></Obj>`, `clixml: at offset 5: expected an element, found "<![CDATA[x]]>"`},
		{"unterminated comment", `<S>a<!-- x</S>`, `clixml: at offset 4: expected "-->" closing the comment, found end of input`},
		{"unterminated CDATA", `<S><![CDATA[abc</S>`, `clixml: at offset 3: expected "]]>" closing the CDATA section, found end of input`},
		{"unterminated PI", `<?xml version="1.0"`, `clixml: at offset 0: expected "?>" closing the processing instruction, found end of input`},
		{"empty input", ``, `clixml: at offset 0: expected a CLIXML element, found end of input`},
		{"only whitespace", "\xef\xbb\xbf \r\n", `clixml: at offset 6: expected a CLIXML element, found end of input`},
		{"lone <", `<`, `clixml: at offset 0: expected an element, found "<"`},
		{"truncated start tag", `<S`, `clixml: at offset 0: expected ">" closing <S>, found end of input`},
		{"truncated text", `<S>abc`, `clixml: at offset 6: expected "</S>", found end of input`},
		{"truncated Obj", `<Obj RefId="0"><MS>`, `clixml: at offset 19: expected "</MS>", found end of input`},
		{"truncated end tag", `<S>a</S`, `clixml: at offset 4: expected "</S>", found "</S"`},
		{"end tag at top", `</S>`, `clixml: at offset 0: expected a CLIXML element, found "</S>"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := Decode([]byte(tc.in))
			if err == nil {
				t.Fatalf("Decode succeeded: %+v", v)
			}
			if err.Error() != tc.want {
				t.Errorf("error\n got %s\nwant %s", err, tc.want)
			}
			var e *Error
			if !errors.As(err, &e) || e.Offset < 0 || e.Offset > len(tc.in) {
				t.Errorf("not an *Error with an offset in range: %#v", err)
			}
		})
	}
}

// TestTruncatedInput decodes every proper prefix of real bodies: each must
// fail with an *Error (no panic, no success).
func TestTruncatedInput(t *testing.T) {
	bodies := []string{tagCases[len(tagCases)-4].xml}
	for _, tc := range tagCases {
		bodies = append(bodies, tc.xml)
	}
	for _, body := range bodies {
		for n := 0; n < len(body); n++ {
			_, err := Decode([]byte(body[:n]))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("prefix %q: expected an *Error, got %v", body[:n], err)
			}
			if !strings.HasPrefix(err.Error(), "clixml: at offset ") || !strings.Contains(err.Error(), "expected") {
				t.Fatalf("prefix %q: message %q", body[:n], err)
			}
		}
	}
}

func limitOf(t *testing.T, err error) *LimitError {
	t.Helper()
	var le *LimitError
	if !errors.As(err, &le) {
		t.Fatalf("expected a *LimitError, got %v", err)
	}
	return le
}

// TestSizeCapRejects200MiBWithoutAllocating hands Decode a 200 MiB <S>
// (pages untouched but for its ends) and checks that the default 64 MiB
// cap rejects it from its length, allocating next to nothing.
func TestSizeCapRejects200MiBWithoutAllocating(t *testing.T) {
	data := make([]byte, 200<<20)
	copy(data, "<S>")
	copy(data[len(data)-4:], "</S>")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Decode(data)
	runtime.ReadMemStats(&after)
	le := limitOf(t, err)
	if le.What != "input size" || le.Limit != DefaultMaxSize {
		t.Errorf("LimitError = %+v", le)
	}
	if want := "clixml: at offset 67108864: expected at most 67108864 bytes of input, found 209715200"; err.Error() != want {
		t.Errorf("error %q", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 64<<10 {
		t.Errorf("rejection allocated %d bytes", n)
	}
	if allocs := testing.AllocsPerRun(10, func() { _, _ = Decode(data) }); allocs > 8 {
		t.Errorf("rejection made %v allocations", allocs)
	}
	if _, err := DecodeAll(data); limitOf(t, err).What != "input size" {
		t.Errorf("DecodeAll: %v", err)
	}
	if _, err := Decode([]byte("<S>12345</S>"), MaxSize(11)); limitOf(t, err).Limit != 11 {
		t.Errorf("MaxSize(11): %v", err)
	}
	if _, err := Decode([]byte("<S>1234</S>"), MaxSize(11)); err != nil {
		t.Errorf("input of exactly MaxSize rejected: %v", err)
	}
}

// TestDepthCapStopsMillionDeepNesting: 10^6 nested elements are rejected
// by the depth cap at the 257th level, quickly and without deep recursion.
func TestDepthCapStopsMillionDeepNesting(t *testing.T) {
	const n = 1_000_000
	for _, unit := range []string{"<Obj>", "<Obj><LST>", `<Obj RefId="0"><MS><Obj N="a">`, "<Obj><DCT><En><Obj N=\"Key\">", "<PR><AV>a</AV><AI>0</AI>"} {
		data := bytes.Repeat([]byte(unit), n/len(unit)*5)
		start := time.Now()
		_, err := Decode(data)
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s: took %v", unit, d)
		}
		le := limitOf(t, err)
		if le.What != "nesting depth" || le.Limit != DefaultMaxDepth {
			t.Errorf("%s: %+v", unit, le)
		}
		var e *Error
		errors.As(err, &e)
		if e.Offset > 300*len(unit) || !strings.Contains(err.Error(), "expected elements nested at most 256 deep") {
			t.Errorf("%s: %v", unit, err)
		}
	}
	// Exactly at the cap is fine; one more is not.
	ok := strings.Repeat("<Obj>", 256) + strings.Repeat("</Obj>", 256)
	if _, err := Decode([]byte(ok)); err != nil {
		t.Errorf("256 levels rejected: %v", err)
	}
	deep := strings.Repeat("<Obj>", 257) + strings.Repeat("</Obj>", 257)
	_, err := Decode([]byte(deep))
	if want := `clixml: at offset 1280: expected elements nested at most 256 deep, found <Obj> deeper`; err == nil || err.Error() != want {
		t.Errorf("257 levels: %v", err)
	}
	if _, err := Decode([]byte(ok), MaxDepth(10)); limitOf(t, err).Limit != 10 {
		t.Errorf("MaxDepth(10): %v", err)
	}
}

func TestObjectCap(t *testing.T) {
	in := []byte(`<Obj RefId="0"><LST><I32>1</I32><I32>2</I32><Obj RefId="1" /></LST></Obj>`)
	if _, err := Decode(in, MaxObjects(4)); err != nil {
		t.Fatalf("4 values under MaxObjects(4): %v", err)
	}
	_, err := Decode(in, MaxObjects(3))
	if le := limitOf(t, err); le.What != "value count" || le.Limit != 3 {
		t.Errorf("%+v", le)
	}
	if want := `clixml: at offset 44: expected at most 3 values in one document, found more`; err.Error() != want {
		t.Errorf("error %q", err)
	}
	// A million values hit the default cap.
	many := append([]byte("<Obj><LST>"), bytes.Repeat([]byte("<Nil/>"), DefaultMaxObjects)...)
	many = append(many, "</LST></Obj>"...)
	_, err = Decode(many)
	if limitOf(t, err).What != "value count" {
		t.Errorf("default cap: %v", err)
	}
}
