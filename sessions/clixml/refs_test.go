package clixml

import (
	"encoding/json"
	"testing"
)

func TestRefResolvesToSamePointer(t *testing.T) {
	in := `<Obj RefId="0"><MS><Obj N="a" RefId="1"><ToString>shared</ToString></Obj><Ref N="b" RefId="1" /><Obj N="c" RefId="2"><LST><Ref RefId="1" /></LST></Obj></MS></Obj>`
	v, err := Decode([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := v.Get("a")
	b, _ := v.Get("b")
	c, _ := v.Get("c")
	if a.Obj == nil || a.Obj != b.Obj || c.Obj.Items[0].Obj != a.Obj {
		t.Fatalf("Ref did not resolve to the *PSObject of <Obj RefId=\"1\">")
	}
	if got := string(Encode(nil, v)); got != in {
		t.Errorf("re-encoded shared object as\n%s\nwant\n%s", got, in)
	}
}

func TestSelfReference(t *testing.T) {
	in := `<Obj RefId="0"><TN RefId="0"><T>Node</T></TN><MS><S N="Name">root</S><Ref N="Self" RefId="0" /><Obj N="Child" RefId="1"><TNRef RefId="0" /><MS><Ref N="Parent" RefId="0" /><Ref N="Self" RefId="1" /></MS></Obj></MS></Obj>`
	v, err := Decode([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	self, _ := v.Get("Self")
	if self.Obj != v.Obj {
		t.Fatal("self reference did not resolve to the object being built")
	}
	child, _ := v.Get("child")
	parent, _ := child.Get("Parent")
	cself, _ := child.Get("Self")
	if parent.Obj != v.Obj || cself.Obj != child.Obj {
		t.Fatal("nested references did not resolve")
	}
	if got := string(Encode(nil, v)); got != in {
		t.Errorf("cyclic value encoded as\n%s\nwant\n%s", got, in)
	}
	fj := AppendFaithfulJSON(nil, v)
	if want := `{"TypeNames":["Node"],"MS":{"Name":"root","Self":{"Ref":true},"Child":{"TypeNames":["Node"],"MS":{"Parent":{"Ref":true},"Self":{"Ref":true}}}}}`; string(fj) != want {
		t.Errorf("faithful JSON of a cycle = %s\nwant %s", fj, want)
	}
	pj := AppendPlainJSON(nil, v)
	if want := `{"Name":"root","Self":null,"Child":{"Parent":null,"Self":null}}`; string(pj) != want {
		t.Errorf("plain JSON of a cycle = %s\nwant %s", pj, want)
	}
}

func TestSelfWrappingPrimitive(t *testing.T) {
	in := `<Obj RefId="0"><Ref RefId="0" /></Obj>`
	v, err := Decode([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if v.Obj.Primitive == nil || v.Obj.Primitive.Obj != v.Obj {
		t.Fatal("object wrapping a reference to itself not resolved")
	}
	if got := string(Encode(nil, v)); got != in {
		t.Errorf("encoded as %s", got)
	}
	if v.Str() != "" {
		t.Errorf("Str() = %q", v.Str())
	}
	if _, err := v.Int(); err == nil {
		t.Error("Int() of a self-wrapping object succeeded")
	}
	if !json.Valid(AppendFaithfulJSON(nil, v)) || !json.Valid(AppendPlainJSON(nil, v)) {
		t.Error("invalid JSON for a self-wrapping object")
	}
}

func TestTNRefSharesSlice(t *testing.T) {
	in := `<Obj RefId="0"><MS><Obj N="a" RefId="1"><TN RefId="0"><T>X</T><T>System.Object</T></TN></Obj><Obj N="b" RefId="2"><TNRef RefId="0" /></Obj><Obj N="c" RefId="3"><TN RefId="1"><T>Y</T></TN></Obj><Obj N="d" RefId="4"><TNRef RefId="1" /></Obj></MS></Obj>`
	v, err := Decode([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	ms := v.Obj.Members
	if &ms[0].Value.Obj.TypeNames[0] != &ms[1].Value.Obj.TypeNames[0] || &ms[2].Value.Obj.TypeNames[0] != &ms[3].Value.Obj.TypeNames[0] {
		t.Fatal("TNRef did not resolve to the earlier slice")
	}
	if ms[1].Value.Obj.TypeNames[1] != "System.Object" || ms[3].Value.Obj.TypeNames[0] != "Y" {
		t.Fatal("wrong type names")
	}
	if got := string(Encode(nil, v)); got != in {
		t.Errorf("encoded as\n%s\nwant\n%s", got, in)
	}
}

// TestEncoderRefIDs: RefId counters start at 0 in every call; identical
// type-name lists (equal content, different slices) become TNRef; an
// object met twice becomes Ref.
func TestEncoderRefIDs(t *testing.T) {
	shared := NewObject("A", "System.Object").SetToString("s")
	v := Obj(NewObject().
		AddMember("x", Obj(shared)).
		AddMember("y", Obj(NewObject("A", "System.Object"))).
		AddMember("z", Obj(shared)).
		AddMember("e", Enum("E", "One", 1)))
	want := `<Obj RefId="0"><MS><Obj N="x" RefId="1"><TN RefId="0"><T>A</T><T>System.Object</T></TN><ToString>s</ToString></Obj><Obj N="y" RefId="2"><TNRef RefId="0" /></Obj><Ref N="z" RefId="1" /><Obj N="e" RefId="3"><TN RefId="1"><T>E</T><T>System.Enum</T><T>System.ValueType</T><T>System.Object</T></TN><ToString>One</ToString><I32>1</I32></Obj></MS></Obj>`
	for i := 0; i < 2; i++ { // the second call starts from 0 again
		if got := string(Encode(nil, v)); got != want {
			t.Fatalf("call %d:\n%s\nwant\n%s", i, got, want)
		}
	}
}
