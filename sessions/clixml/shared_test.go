package clixml

import (
	"strings"
	"testing"
	"unsafe"
)

// TestSharedLongText: with Shared, a long text is the same string it
// would be as a copy, plain or escaped, and a short one is a copy (a
// change to the input does not reach it); without Shared no text is
// left in the input.
func TestSharedLongText(t *testing.T) {
	long := strings.Repeat("ab", SharedMin)
	for _, tc := range []struct{ name, xml, want string }{
		{"plain", "<S>" + long + "</S>", long},
		{"escaped", "<S>" + long + "_x000A_" + long + "</S>", long + "\n" + long},
		{"entities", "<S>" + long + "&amp;</S>", long + "&"},
	} {
		for _, shared := range []bool{false, true} {
			in := []byte(tc.xml)
			var opts []Option
			if shared {
				opts = append(opts, Shared())
			}
			v, err := Decode(in, opts...)
			if err != nil {
				t.Fatal(err)
			}
			if v.Text != tc.want {
				t.Fatalf("%s, shared %v: a %d-byte text, want %d", tc.name, shared, len(v.Text), len(tc.want))
			}
			if shared && tc.name == "plain" && unsafe.StringData(v.Text) != &in[3] {
				t.Fatalf("plain, shared: the long text is a copy, not the input's bytes")
			}
			if !shared {
				in[3] = 'X' // the caller's buffer, reused
				if v.Text[0] != 'a' {
					t.Fatalf("%s: without Shared the text changed with its input", tc.name)
				}
			}
		}
	}
	in := []byte("<Obj><MS><S N=\"a\">short</S><S N=\"b\">" + long + "</S></MS></Obj>")
	v, err := Decode(in, Shared())
	if err != nil {
		t.Fatal(err)
	}
	a, _ := v.Obj.Get("a")
	copy(in[bytesIndex(in, "short"):], "XXXXX")
	if a.Text != "short" {
		t.Fatalf("a short text shared its input: %q", a.Text)
	}
}

func bytesIndex(b []byte, s string) int { return strings.Index(string(b), s) }
