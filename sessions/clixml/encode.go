package clixml

import (
	"slices"
	"strconv"
	"sync"
)

// Encode appends v to dst as compact CLIXML, the way pwsh's serializer
// writes a message body (no declaration, no BOM, no <Objs> root, no
// namespace, no whitespace):
//
//   - an object is <Obj [N=".."] RefId="n"> with its parts in pwsh's
//     order: <TN RefId="m"> (or <TNRef RefId="m" /> when an identical list
//     was written before in this call), <ToString>, the wrapped primitive or
//     the container (LST/IE/STK/QUE/DCT; only the primitive when both are
//     set), <Props>, <MS>; an object with none of these is <Obj RefId="n" />;
//   - Obj and TN RefIds count from 0 in each call; an object met again (a
//     shared or cyclic *PSObject) is written as <Ref [N=".."] RefId="n" />;
//   - empty elements are written as <Nil N="x" />, <LST />, <ToString />
//     (space before "/>"), but an empty string as <S></S> / <S N="x"></S>,
//     which is what pwsh sends (its serializer calls WriteString("") —
//     seen 199 times in real server traffic in shared/corpus, <S /> never);
//     attributes use double quotes;
//   - S, URI, XD, SBK, ToString, T, the PR strings and every N value get
//     pwsh's _xHHHH_ escaping (§7.3) and then XML escaping (&amp; &lt;
//     &gt;, &quot; in attributes). Invalid UTF-8 is written as U+FFFD,
//     except that in _x-escaped text a WTF-8 encoded surrogate (bytes ED
//     A0–BF 80–BF) becomes its _xHHHH_ escape.
//
// A Value of unknown Kind, or an Object/ProgressRecord/MemberSet with a nil
// Obj, is written as <Nil />. A ProgressRecord is written from its Members
// AV, AI, CO, PI, PC, T, SR, SD (missing ones as "", 0, Nil, -1, -1,
// Processing, -1, "").
func Encode(dst []byte, v Value) []byte {
	e := encoderPool.Get().(*encoder)
	e.dst = dst
	e.value(v, "", false)
	dst = e.dst
	e.dst = nil
	big := len(e.objIDs) > 1<<12 || cap(e.tnLists) > 1<<12 // not worth keeping
	clear(e.objIDs)
	clear(e.tnIDs)
	clear(e.tnLists)
	e.tnLists = e.tnLists[:0]
	e.nextObj = 0
	if !big {
		encoderPool.Put(e)
	}
	return dst
}

// MarshalCLIXML returns Encode(nil, v).
func (v Value) MarshalCLIXML() []byte { return Encode(nil, v) }

type encoder struct {
	dst     []byte
	objIDs  map[*PSObject]int
	nextObj int
	tnLists [][]string     // type-name lists written, by RefId
	tnIDs   map[string]int // joined list → RefId, once there are many
	key     []byte
}

var encoderPool = sync.Pool{New: func() any {
	return &encoder{objIDs: make(map[*PSObject]int), tnIDs: make(map[string]int)}
}}

func (e *encoder) name(name string, named bool) {
	if named {
		e.dst = append(e.dst, ` N="`...)
		e.dst = appendText(e.dst, name, true, true)
		e.dst = append(e.dst, '"')
	}
}

func (e *encoder) refID(n int) {
	e.dst = append(e.dst, ` RefId="`...)
	e.dst = strconv.AppendInt(e.dst, int64(n), 10)
	e.dst = append(e.dst, '"')
}

// leaf writes <tag N="..">text</tag>; empty text gives <tag N=".." />
// when short is set (pwsh's XmlWriter.WriteElementString: ToString, T, PR
// parts) and <tag N=".."></tag> otherwise (pwsh writes primitives with
// WriteString, which closes the start tag even for "": real servers send
// <S N="Extension"></S>).
func (e *encoder) leaf(tag, name string, named bool, text string, xesc, short bool) {
	e.dst = append(e.dst, '<')
	e.dst = append(e.dst, tag...)
	e.name(name, named)
	if text == "" && short {
		e.dst = append(e.dst, " />"...)
		return
	}
	e.dst = append(e.dst, '>')
	e.dst = appendText(e.dst, text, xesc, false)
	e.dst = append(e.dst, "</"...)
	e.dst = append(e.dst, tag...)
	e.dst = append(e.dst, '>')
}

func (e *encoder) value(v Value, name string, named bool) {
	switch {
	case v.Kind == Object:
		if v.Obj != nil {
			e.object(v.Obj, name, named)
			return
		}
	case v.Kind == ProgressRecord:
		if v.Obj != nil {
			e.progress(v.Obj, name, named)
			return
		}
	case v.Kind == MemberSet:
		if v.Obj != nil {
			e.dst = append(e.dst, "<MS"...)
			e.name(name, named)
			if len(v.Obj.Members) == 0 {
				e.dst = append(e.dst, " />"...)
				return
			}
			e.dst = append(e.dst, '>')
			e.props(v.Obj.Members)
			e.dst = append(e.dst, "</MS>"...)
			return
		}
	case v.Kind > Nil && v.Kind < ProgressRecord:
		e.leaf(tags[v.Kind], name, named, v.Text, xescKind(v.Kind), false)
		return
	}
	e.dst = append(e.dst, "<Nil"...)
	e.name(name, named)
	e.dst = append(e.dst, " />"...)
}

func (e *encoder) props(ps []Property) {
	for i := range ps {
		e.value(ps[i].Value, ps[i].Name, true)
	}
}

func (e *encoder) object(o *PSObject, name string, named bool) {
	if id, ok := e.objIDs[o]; ok {
		e.dst = append(e.dst, "<Ref"...)
		e.name(name, named)
		e.refID(id)
		e.dst = append(e.dst, " />"...)
		return
	}
	id := e.nextObj
	e.nextObj++
	e.objIDs[o] = id
	e.dst = append(e.dst, "<Obj"...)
	e.name(name, named)
	e.refID(id)
	if len(o.TypeNames) == 0 && !o.HasToString && o.Primitive == nil && o.Container == NoContainer &&
		len(o.Props) == 0 && len(o.Members) == 0 {
		e.dst = append(e.dst, " />"...)
		return
	}
	e.dst = append(e.dst, '>')
	if len(o.TypeNames) > 0 {
		e.typeNames(o.TypeNames)
	}
	if o.HasToString {
		e.leaf("ToString", "", false, o.ToString, true, true)
	}
	if o.Primitive != nil {
		e.value(*o.Primitive, "", false)
	} else if o.Container != NoContainer {
		e.container(o)
	}
	if len(o.Props) > 0 {
		e.dst = append(e.dst, "<Props>"...)
		e.props(o.Props)
		e.dst = append(e.dst, "</Props>"...)
	}
	if len(o.Members) > 0 {
		e.dst = append(e.dst, "<MS>"...)
		e.props(o.Members)
		e.dst = append(e.dst, "</MS>"...)
	}
	e.dst = append(e.dst, "</Obj>"...)
}

// tnID returns the RefId of an identical type-name list written earlier
// in this call. The first lists are compared directly (no allocation);
// past tnLinear lists a map keyed by the joined names takes over.
func (e *encoder) tnID(tn []string) (int, bool) {
	if len(e.tnLists) <= tnLinear {
		for i, l := range e.tnLists {
			if slices.Equal(l, tn) {
				return i, true
			}
		}
		return 0, false
	}
	if len(e.tnIDs) == 0 {
		for i, l := range e.tnLists {
			e.tnIDs[tnKey(&e.key, l)] = i
		}
	}
	id, ok := e.tnIDs[tnKey(&e.key, tn)]
	return id, ok
}

const tnLinear = 32

func tnKey(buf *[]byte, tn []string) string {
	b := (*buf)[:0]
	for _, t := range tn {
		b = append(b, t...)
		b = append(b, 0)
	}
	*buf = b
	return string(b)
}

func (e *encoder) typeNames(tn []string) {
	if id, ok := e.tnID(tn); ok {
		e.dst = append(e.dst, "<TNRef"...)
		e.refID(id)
		e.dst = append(e.dst, " />"...)
		return
	}
	id := len(e.tnLists)
	e.tnLists = append(e.tnLists, tn)
	if len(e.tnIDs) > 0 {
		e.tnIDs[tnKey(&e.key, tn)] = id
	}
	e.dst = append(e.dst, "<TN"...)
	e.refID(id)
	e.dst = append(e.dst, '>')
	for _, t := range tn {
		e.leaf("T", "", false, t, true, true)
	}
	e.dst = append(e.dst, "</TN>"...)
}

func (e *encoder) container(o *PSObject) {
	var tag string
	switch o.Container {
	case List:
		tag = "LST"
	case Enumerable:
		tag = "IE"
	case Stack:
		tag = "STK"
	case Queue:
		tag = "QUE"
	case Dictionary:
		if len(o.Dict) == 0 {
			e.dst = append(e.dst, "<DCT />"...)
			return
		}
		e.dst = append(e.dst, "<DCT>"...)
		for i := range o.Dict {
			e.dst = append(e.dst, "<En>"...)
			e.value(o.Dict[i].Key, "Key", true)
			e.value(o.Dict[i].Value, "Value", true)
			e.dst = append(e.dst, "</En>"...)
		}
		e.dst = append(e.dst, "</DCT>"...)
		return
	default:
		return
	}
	if len(o.Items) == 0 {
		e.dst = append(e.dst, '<')
		e.dst = append(e.dst, tag...)
		e.dst = append(e.dst, " />"...)
		return
	}
	e.dst = append(e.dst, '<')
	e.dst = append(e.dst, tag...)
	e.dst = append(e.dst, '>')
	for i := range o.Items {
		e.value(o.Items[i], "", false)
	}
	e.dst = append(e.dst, "</"...)
	e.dst = append(e.dst, tag...)
	e.dst = append(e.dst, '>')
}

var prDefaults = [...]string{"", "0", "", "-1", "-1", "Processing", "-1", ""}

func (e *encoder) progress(o *PSObject, name string, named bool) {
	e.dst = append(e.dst, "<PR"...)
	e.name(name, named)
	e.dst = append(e.dst, '>')
	for i, tag := range prTags {
		v, ok := o.Member(tag)
		if i == 2 {
			if !ok {
				v = Value{}
			}
			e.value(v, "", false)
			continue
		}
		text := prDefaults[i]
		if ok {
			text = v.Str()
		}
		e.leaf(tag, "", false, text, true, true)
	}
	e.dst = append(e.dst, "</PR>"...)
}
