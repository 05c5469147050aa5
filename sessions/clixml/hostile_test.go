//go:build unix

package clixml_test

// Hostile CLIXML (bench-reliability.md R10, SPEC S4): every case must end in
// a typed error, with the memory the decoder takes bounded and reported.

import (
	"bytes"
	"errors"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/psmux/psmux/sessions/clixml"
)

// allocDuring runs f and returns the bytes it allocated on the Go heap
// (TotalAlloc delta, an upper bound on the extra memory it held at any
// time) and how many allocations that took.
func allocDuring(f func()) (bytes, count uint64) {
	runtime.GC()
	var a, b runtime.MemStats
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc, b.Mallocs - a.Mallocs
}

func mib(n uint64) string { return strconv.FormatFloat(float64(n)/(1<<20), 'f', 2, 64) + " MiB" }

// wantLimit asserts err is a *clixml.Error wrapping a *clixml.LimitError
// about what.
func wantLimit(t *testing.T, err error, what string, limit int) {
	t.Helper()
	var ce *clixml.Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v (%T), want a *clixml.Error", err, err)
	}
	var le *clixml.LimitError
	if !errors.As(err, &le) {
		t.Fatalf("err = %v, want it to wrap a *clixml.LimitError", err)
	}
	if le.What != what || le.Limit != limit {
		t.Fatalf("LimitError{%q, %d}, want {%q, %d} (err: %v)", le.What, le.Limit, what, limit, err)
	}
}

// wantSyntax asserts err is a *clixml.Error that is not about a cap.
func wantSyntax(t *testing.T, err error) *clixml.Error {
	t.Helper()
	var ce *clixml.Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v (%T), want a *clixml.Error", err, err)
	}
	var le *clixml.LimitError
	if errors.As(err, &le) {
		t.Fatalf("err = %v, want a syntax error, not a cap", err)
	}
	return ce
}

// hugeUnreadable returns a size-byte slice that starts with head and ends
// with tail and whose middle is mapped PROT_NONE: the slice costs no
// memory, and any read of the middle faults.
func hugeUnreadable(t *testing.T, size int, head, tail string) []byte {
	t.Helper()
	page := unix.Getpagesize()
	size = (size + page - 1) / page * page
	b, err := unix.Mmap(-1, 0, size, unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		t.Fatalf("cannot reserve %d bytes of address space: %v", size, err)
	}
	t.Cleanup(func() { _ = unix.Munmap(b) })
	if err := unix.Mprotect(b[:page], unix.PROT_READ|unix.PROT_WRITE); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mprotect(b[size-page:], unix.PROT_READ|unix.PROT_WRITE); err != nil {
		t.Fatal(err)
	}
	copy(b, head)
	for i := len(head); i < page; i++ {
		b[i] = 'x'
	}
	for i := size - page; i < size-len(tail); i++ {
		b[i] = 'x'
	}
	copy(b[size-len(tail):], tail)
	return b
}

// TestHostile200MiBString: one 200 MiB <S> body is refused by the size cap
// from its length alone. The body's middle is unreadable memory, so a
// decoder that looked at it before checking the length would fault (made a
// recoverable panic here by debug.SetPanicOnFault).
func TestHostile200MiBString(t *testing.T) {
	const size = 200 << 20
	body := hugeUnreadable(t, size, "\xEF\xBB\xBF<S>", "</S>")
	for _, tc := range []struct {
		name  string
		opts  []clixml.Option
		limit int
	}{
		{"default cap", nil, clixml.DefaultMaxSize},
		{"MaxSize 10 MiB", []clixml.Option{clixml.MaxSize(10 << 20)}, 10 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			var fault any
			alloc, _ := allocDuring(func() {
				old := debug.SetPanicOnFault(true)
				defer debug.SetPanicOnFault(old)
				defer func() { fault = recover() }()
				_, err = clixml.Decode(body, tc.opts...)
			})
			if fault != nil {
				t.Fatalf("Decode read the body before checking its length: %v", fault)
			}
			wantLimit(t, err, "input size", tc.limit)
			t.Logf("200 MiB body: %v; heap allocated during Decode: %d B", err, alloc)
			if alloc > 64<<10 {
				t.Errorf("Decode allocated %s before refusing the body, want < 64 KiB", mib(alloc))
			}
		})
	}

	// Just under the cap, a big string decodes into one copy of the input:
	// the memory a body can cost stays near its size.
	t.Run("8 MiB string under the cap", func(t *testing.T) {
		const n = 8 << 20
		in := make([]byte, 0, n+16)
		in = append(in, "<S>"...)
		in = append(in, bytes.Repeat([]byte("x"), n)...)
		in = append(in, "</S>"...)
		var v clixml.Value
		var err error
		alloc, _ := allocDuring(func() { v, err = clixml.Decode(in) })
		if err != nil || v.Kind != clixml.String || len(v.Text) != n {
			t.Fatalf("Decode: kind %v, %d bytes, err %v", v.Kind, len(v.Text), err)
		}
		t.Logf("8 MiB string: heap allocated %s (%.2f× the input)", mib(alloc), float64(alloc)/float64(len(in)))
		if alloc > 2*uint64(len(in)) {
			t.Errorf("Decode allocated %s for an %s body, want ≤ 2× the input", mib(alloc), mib(uint64(len(in))))
		}
	})
}

// deepNesting returns levels of <Obj RefId="i"><LST> and their closers.
func deepNesting(levels int) []byte {
	var b bytes.Buffer
	b.Grow(levels * 32)
	for i := range levels {
		b.WriteString(`<Obj RefId="`)
		b.WriteString(strconv.Itoa(i))
		b.WriteString(`"><LST>`)
	}
	b.WriteString("<S>bottom</S>")
	for range levels {
		b.WriteString("</LST></Obj>")
	}
	return b.Bytes()
}

// TestHostileDeepNesting: 10^6 levels of <Obj><LST> are refused by the
// depth cap, early and cheaply; with the cap raised the decoder still uses
// no stack in proportion to the depth.
func TestHostileDeepNesting(t *testing.T) {
	in := deepNesting(1_000_000)
	var err error
	alloc, _ := allocDuring(func() { _, err = clixml.Decode(in) })
	wantLimit(t, err, "nesting depth", clixml.DefaultMaxDepth)
	var ce *clixml.Error
	errors.As(err, &ce)
	if ce.Offset > 64<<10 {
		t.Errorf("refused at offset %d, want the first few KiB (depth %d)", ce.Offset, clixml.DefaultMaxDepth)
	}
	t.Logf("10^6-deep <Obj><LST> (%s): %v; heap allocated %s", mib(uint64(len(in))), err, mib(alloc))
	if alloc > 1<<20 {
		t.Errorf("Decode allocated %s before refusing, want < 1 MiB", mib(alloc))
	}

	// 10^5 levels with the cap lifted, under a 512 KiB goroutine stack
	// limit: a recursive decoder would die here.
	t.Run("iterative", func(t *testing.T) {
		const levels = 100_000
		in := deepNesting(levels)
		old := debug.SetMaxStack(512 << 10)
		defer debug.SetMaxStack(old)
		var v clixml.Value
		alloc, _ := allocDuring(func() { v, err = clixml.Decode(in, clixml.MaxDepth(3*levels)) })
		debug.SetMaxStack(old)
		if err != nil {
			t.Fatal(err)
		}
		depth := 0
		for v.Kind == clixml.Object {
			depth++
			v = v.Obj.Items[0]
		}
		if depth != levels || v.Text != "bottom" {
			t.Fatalf("depth %d, bottom %q", depth, v.Text)
		}
		t.Logf("10^5 levels decoded with MaxDepth %d: heap allocated %s", 3*levels, mib(alloc))
	})
}

// TestHostileBillionLaughs: DTDs are refused, entity references other than
// XML's five and character references are refused, nothing is expanded.
func TestHostileBillionLaughs(t *testing.T) {
	var dtd strings.Builder
	dtd.WriteString(`<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">`)
	for i := 1; i <= 9; i++ {
		dtd.WriteString(`<!ENTITY lol` + strconv.Itoa(i) + ` "`)
		prev := "lol"
		if i > 1 {
			prev = "lol" + strconv.Itoa(i-1)
		}
		for range 10 {
			dtd.WriteString("&" + prev + ";")
		}
		dtd.WriteString(`">`)
	}
	dtd.WriteString(`]>`)
	head := dtd.String()
	cases := []struct{ name, in string }{
		{"DOCTYPE before the body", head + `<S>&lol9;</S>`},
		{"DOCTYPE before an object", "\xEF\xBB\xBF" + head + `<Obj RefId="0"><MS><S N="x">&lol9;</S></MS></Obj>`},
		{"DOCTYPE inside an object", `<Obj RefId="0"><MS>` + head + `<S N="x">&lol9;</S></MS></Obj>`},
		{"DOCTYPE inside a string", `<S>` + head + `&lol9;</S>`},
		{"undeclared entity in text", `<S>&lol9;</S>`},
		{"undeclared entity in an attribute", `<Obj RefId="0"><MS><S N="&lol9;">x</S></MS></Obj>`},
		{"external entity", `<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><S>&e;</S>`},
		{"parameter entity", `<!DOCTYPE x [<!ENTITY % p "<!ENTITY e 'x'>"> %p;]><S>&e;</S>`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.in)
			var v clixml.Value
			var err error
			alloc, _ := allocDuring(func() { v, err = clixml.Decode(in) })
			if err == nil {
				t.Fatalf("Decode accepted it: %+v", v)
			}
			wantSyntax(t, err)
			t.Logf("%v; heap allocated %d B", err, alloc)
			if alloc > 64<<10 {
				t.Errorf("Decode allocated %d B, want < 64 KiB: was something expanded?", alloc)
			}
		})
	}
	// XML's own five entities and character references still work.
	v, err := clixml.Decode([]byte(`<S>&amp;&lt;&gt;&quot;&apos;&#65;&#x42;</S>`))
	if err != nil || v.Text != `&<>"'AB` {
		t.Fatalf("predefined entities: %q, %v", v.Text, err)
	}
}

// TestHostileRefIDs: huge numbers of RefIds, huge and non-numeric RefIds,
// references to undefined ids.
func TestHostileRefIDs(t *testing.T) {
	objs := func(n int, ref func(i int) string) []byte {
		var b bytes.Buffer
		b.WriteString(`<Obj RefId="x"><LST>`)
		for i := range n {
			b.WriteString(`<Obj RefId="`)
			b.WriteString(ref(i))
			b.WriteString(`" />`)
		}
		b.WriteString(`</LST></Obj>`)
		return b.Bytes()
	}

	// 2·10^6 distinct RefIds: refused by the value-count cap.
	t.Run("2e6 RefIds, default cap", func(t *testing.T) {
		in := objs(2_000_000, strconv.Itoa)
		var err error
		alloc, n := allocDuring(func() { _, err = clixml.Decode(in) })
		wantLimit(t, err, "value count", clixml.DefaultMaxObjects)
		t.Logf("2·10^6 <Obj RefId> (%s body): %v; heap allocated %s in %d allocations (%.1f× the body)",
			mib(uint64(len(in))), err, mib(alloc), n, float64(alloc)/float64(len(in)))
		// The cap bounds it; record what that bound costs.
		if alloc > 512<<20 {
			t.Errorf("Decode allocated %s before refusing, want < 512 MiB", mib(alloc))
		}
	})
	t.Run("2e6 RefIds, MaxObjects 10000", func(t *testing.T) {
		in := objs(2_000_000, strconv.Itoa)
		var err error
		alloc, _ := allocDuring(func() { _, err = clixml.Decode(in, clixml.MaxObjects(10_000)) })
		wantLimit(t, err, "value count", 10_000)
		// The decoder makes one string copy of the whole input on first
		// need (here the non-numeric RefId="x"); beyond that the cap
		// keeps it small.
		t.Logf("with MaxObjects(10000): %v; heap allocated %s (the input is %s)", err, mib(alloc), mib(uint64(len(in))))
		if alloc > uint64(len(in))+8<<20 {
			t.Errorf("Decode allocated %s before refusing, want < the input + 8 MiB", mib(alloc))
		}
	})

	// RefIds that are not small numbers go through the string table: huge
	// numbers, long digit strings, names. All decode, memory stays ~linear.
	t.Run("sparse and non-numeric RefIds", func(t *testing.T) {
		const n = 100_000
		in := objs(n, func(i int) string {
			switch i % 3 {
			case 0:
				return strconv.Itoa(1_000_000_000 + i) // beyond the dense table
			case 1:
				return "18446744073709551616" + strconv.Itoa(i) // overflows any int
			}
			return "id-" + strconv.Itoa(i)
		})
		var v clixml.Value
		var err error
		alloc, _ := allocDuring(func() { v, err = clixml.Decode(in) })
		if err != nil {
			t.Fatal(err)
		}
		if got := len(v.Obj.Items); got != n {
			t.Fatalf("%d items, want %d", got, n)
		}
		t.Logf("%d sparse/non-numeric RefIds (%s body): heap allocated %s (%.1f× the body)",
			n, mib(uint64(len(in))), mib(alloc), float64(alloc)/float64(len(in)))
		if alloc > 32*uint64(len(in)) {
			t.Errorf("allocated %s for a %s body", mib(alloc), mib(uint64(len(in))))
		}
	})

	t.Run("a 1 MiB RefId", func(t *testing.T) {
		id := strings.Repeat("9", 1<<20)
		in := []byte(`<Obj RefId="x"><LST><Obj RefId="` + id + `" /><Ref RefId="` + id + `" /></LST></Obj>`)
		v, err := clixml.Decode(in)
		if err != nil {
			t.Fatal(err)
		}
		if it := v.Obj.Items; len(it) != 2 || it[0].Obj != it[1].Obj {
			t.Fatalf("the Ref did not resolve to the object")
		}
	})

	for _, tc := range []struct{ name, in string }{
		{"Ref to an undefined id", `<Obj RefId="0"><LST><Ref RefId="1" /></LST></Obj>`},
		{"Ref to a huge undefined id", `<Obj RefId="0"><LST><Ref RefId="99999999999999999999999" /></LST></Obj>`},
		{"TNRef to an undefined id", `<Obj RefId="0"><TNRef RefId="7" /></Obj>`},
		{"Ref without RefId", `<Obj RefId="0"><LST><Ref /></LST></Obj>`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := clixml.Decode([]byte(tc.in))
			if err == nil {
				t.Fatal("accepted")
			}
			wantSyntax(t, err)
			t.Log(err)
		})
	}
}
