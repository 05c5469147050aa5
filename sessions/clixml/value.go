package clixml

import "strconv"

// Kind is the CLIXML element a Value was (or will be) written as.
type Kind uint8

// The kinds, one per CLIXML tag of psrp-brief §7.2.
const (
	Nil            Kind = iota // <Nil />
	String                     // <S>
	Char                       // <C> (UTF-16 code unit, decimal)
	Bool                       // <B>
	DateTime                   // <DT>
	TimeSpan                   // <TS>
	Byte                       // <By>
	SByte                      // <SB>
	Int16                      // <I16>
	UInt16                     // <U16>
	Int32                      // <I32>
	UInt32                     // <U32>
	Int64                      // <I64>
	UInt64                     // <U64>
	Single                     // <Sg>
	Double                     // <Db>
	Decimal                    // <D>
	GUID                       // <G>
	URI                        // <URI>
	Version                    // <Version>
	Bytes                      // <BA> (Text holds the base64 as sent)
	SecureString               // <SS> (Text holds the base64 as sent)
	XMLDocument                // <XD>
	ScriptBlock                // <SBK>
	ProgressRecord             // <PR> (Obj.Members holds AV, AI, CO, PI, PC, T, SR, SD)
	Object                     // <Obj> (Obj is set)
	MemberSet                  // nested <MS N="name"> inside an <MS> (Obj.Members holds its members)
)

var tags = [...]string{
	Nil: "Nil", String: "S", Char: "C", Bool: "B", DateTime: "DT", TimeSpan: "TS",
	Byte: "By", SByte: "SB", Int16: "I16", UInt16: "U16", Int32: "I32", UInt32: "U32",
	Int64: "I64", UInt64: "U64", Single: "Sg", Double: "Db", Decimal: "D", GUID: "G",
	URI: "URI", Version: "Version", Bytes: "BA", SecureString: "SS", XMLDocument: "XD",
	ScriptBlock: "SBK", ProgressRecord: "PR", Object: "Obj", MemberSet: "MS",
}

// Tag returns the element name of the kind ("S", "I32", "Obj", …).
func (k Kind) Tag() string {
	if int(k) < len(tags) {
		return tags[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Value is one CLIXML value. Primitives keep their text exactly as it
// stood on the wire after XML and _xHHHH_ unescaping, so a decoded value
// re-encodes to the same text and a number is only parsed when asked for.
type Value struct {
	Kind Kind
	Text string    // primitive text; empty for Nil and Object
	Obj  *PSObject // set for Object and ProgressRecord
}

// Container says which collection element an object carries.
type Container uint8

// Containers of an <Obj>.
const (
	NoContainer Container = iota
	List                  // <LST>
	Enumerable            // <IE>
	Stack                 // <STK>
	Queue                 // <QUE>
	Dictionary            // <DCT>
)

// Property is a named value inside <Props> or <MS>.
type Property struct {
	Name  string
	Value Value
}

// DictEntry is one <En> of a <DCT>.
type DictEntry struct {
	Key   Value
	Value Value
}

// PSObject is a complex object: <Obj> with its type names, ToString,
// wrapped primitive (enums keep the underlying integer here), container,
// adapted properties (<Props>) and extended members (<MS>), in pwsh's order.
type PSObject struct {
	TypeNames   []string
	ToString    string
	HasToString bool
	Primitive   *Value // the wrapped primitive element, if any
	Container   Container
	Items       []Value     // LST, IE, STK, QUE
	Dict        []DictEntry // DCT
	Props       []Property  // <Props>
	Members     []Property  // <MS>
}
