package clixml

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// fuzzSeeds are inputs beyond the test tables: odd but valid documents
// and near-misses.
var fuzzSeeds = []string{
	``, `<`, `<S`, `<S>`, `<S/>`, `<Nil/>`, `<Obj/>`, `<Obj RefId="0"><Ref RefId="0"/></Obj>`,
	`<Obj RefId="0"><MS><Ref N="self" RefId="0" /></MS></Obj>`,
	`<Obj RefId="a"><TN RefId="b"><T>x</T></TN><LST><Obj><TNRef RefId="b"/></Obj><Ref RefId="a"/></LST></Obj>`,
	`<Objs><S>a</S><Obj RefId="0"/><Ref RefId="0"/></Objs>`,
	`<S>&amp;&#x1F600;<![CDATA[]]>_xD800__x0041_</S>`,
	`<Obj><DCT><En><Obj N="Key"><LST/></Obj><PR N="Value"><AV/><AI>0</AI><Obj><MS><MS N="m"/></MS></Obj><PI/><PC/><T/><SR/><SD/></PR></En></DCT></Obj>`,
	"\xef\xbb\xbf<?xml version='1.0'?><!-- c --><S N='a&#9;b'>\r\n</S>",
}

func FuzzDecode(f *testing.F) {
	for _, tc := range tagCases {
		f.Add([]byte(tc.xml))
	}
	for _, tc := range jsonCases {
		f.Add([]byte(tc.xml))
	}
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Add(stringBody)
	f.Add(richBody)
	for _, m := range loadCorpus() { // empty when the corpus is absent
		if len(m.body) < 8<<10 { // big seeds make minimisation slow
			f.Add(m.body)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkErr := func(err error) {
			var e *Error
			if !errors.As(err, &e) || !strings.HasPrefix(err.Error(), "clixml: at offset ") || !strings.Contains(err.Error(), "expected") {
				t.Fatalf("error is not a located *Error: %#v", err)
			}
		}
		if vs, err := DecodeAll(data); err != nil {
			checkErr(err)
		} else {
			for _, v := range vs {
				_ = Encode(nil, v)
			}
		}
		v, err := Decode(data)
		if err != nil {
			checkErr(err)
			return
		}
		b1 := Encode(nil, v)
		v2, err := Decode(b1)
		if err != nil {
			t.Fatalf("re-decoding the encoder's output: %v\ninput   %q\nencoded %q", err, data, b1)
		}
		if !equalValues(v, v2) {
			t.Fatalf("Decode→Encode→Decode changed the value\ninput   %q\nencoded %q", data, b1)
		}
		if b2 := Encode(nil, v2); !bytes.Equal(b1, b2) {
			t.Fatalf("encoding is not stable\nfirst  %q\nsecond %q", b1, b2)
		}
		if j := AppendFaithfulJSON(nil, v); !json.Valid(j) {
			t.Fatalf("invalid faithful JSON %q", j)
		}
		if j := AppendPlainJSON(nil, v); !json.Valid(j) {
			t.Fatalf("invalid plain JSON %q", j)
		}
		// Accessors must not panic on anything decoded.
		_, _ = v.Int()
		_, _ = v.Uint()
		_, _ = v.Float()
		_, _ = v.Bool()
		_, _ = v.Time()
		_, _ = v.Duration()
		_, _ = v.Rune()
		_, _ = v.Bytes()
		_ = v.Str()
		_ = v.IsNil()
		_, _ = v.Get("x")
	})
}
