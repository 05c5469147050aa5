package mux

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestEventHeadMatchesDecode: the quick read of an event's command and
// kind agrees with decoding it, for every kind and with or without a
// command.
func TestEventHeadMatchesDecode(t *testing.T) {
	for _, e := range []Event{
		{Kind: KindSession, Text: "Opened"},
		{Cmd: 7, Kind: KindInput, Text: `"quoted" ,"kind":"x"`},
		{Cmd: 12345, Kind: KindMsg, Type: 266244, XML: "<I32>1</I32>"},
		{Cmd: 3, Kind: KindState, Text: "Completed", HadErrors: true},
		{TS: 1, Cmd: 1, Kind: KindHost, Method: 16},
	} {
		b := encodeEvent(e)
		var full Event
		if err := json.Unmarshal(b, &full); err != nil {
			t.Fatal(err)
		}
		cmd, kind := eventHead(b)
		if cmd != full.Cmd || kind != full.Kind {
			t.Errorf("%s: head says cmd %d kind %q, decoding says %d %q", b, cmd, kind, full.Cmd, full.Kind)
		}
	}
	// Another shape still works, through a full decode.
	if cmd, kind := eventHead([]byte(`{"kind":"state","cmd":4}`)); cmd != 4 || kind != KindState {
		t.Errorf("reordered: %d %q", cmd, kind)
	}
	if cmd, kind := eventHead([]byte(`not json`)); cmd != 0 || kind != "" {
		t.Errorf("garbage: %d %q", cmd, kind)
	}
}

// jsonEvent is what encoding/json writes for e, as events were encoded
// before appendEvent.
func jsonEvent(t testing.TB, e Event) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// sameEvent reports whether appendEvent's JSON for e decodes to what
// encoding/json's does.
func sameEvent(t testing.TB, e Event) bool {
	var got, want Event
	if err := json.Unmarshal(appendEvent(nil, e), &got); err != nil {
		t.Fatalf("%+v: %v: %s", e, err, appendEvent(nil, e))
	}
	if err := json.Unmarshal(jsonEvent(t, e), &want); err != nil {
		t.Fatal(err)
	}
	return got == want
}

// TestAppendEventIsJSON: appendEvent's JSON decodes to the event, for
// every field present or absent, and for strings with every kind of
// escape (quotes, backslashes, each control character, invalid UTF-8,
// U+2028/U+2029); where no string needs one, its bytes are exactly
// encoding/json's (the same names, order and omissions; HTML's
// characters left as they are).
func TestAppendEventIsJSON(t *testing.T) {
	var controls strings.Builder
	for c := range 0x20 {
		controls.WriteByte(byte(c))
	}
	controls.WriteString("\x7f")
	strs := []string{"", "plain", `"quoted" \ back\slash`, controls.String(), "<S>a & b</S>",
		"bad \xff\xfe utf8 \xe2\x82", "line\u2028sep\u2029para", "ünï €😀", "\x00", `\u0041`}
	events := []Event{{}, {TS: -5, Cmd: -1, Type: -2, Method: -3}, {TS: 1 << 62, Cmd: 1 << 31, Kind: KindMsg, Type: 266244, Method: 16, HadErrors: true}}
	for _, s := range strs {
		events = append(events, Event{TS: 1, Cmd: 2, Kind: s, XML: s, Text: s, Client: s},
			Event{Kind: KindMsg, XML: s}, Event{Kind: KindInput, Text: s, Client: s})
	}
	for _, e := range events {
		if !sameEvent(t, e) {
			t.Errorf("%+v: %s decodes differently", e, appendEvent(nil, e))
		}
	}
	for _, e := range append(events[:3:3], Event{TS: 1, Cmd: 2, Kind: KindMsg, XML: "<S>a & b</S>", Text: "t", Client: "c"}) {
		if got, want := appendEvent(nil, e), jsonEvent(t, e); !bytes.Equal(got, want) {
			t.Errorf("%+v:\n got %s\nwant %s", e, got, want)
		}
	}
	// encodeEvent stamps the time.
	if b := encodeEvent(Event{Kind: KindMsg, XML: "<S>x</S>"}); !bytes.HasPrefix(b, []byte(`{"ts":1`)) {
		t.Errorf("encodeEvent: %s", b)
	}
}

// FuzzAppendEvent: for any strings and numbers, appendEvent's JSON
// decodes to what encoding/json's does.
func FuzzAppendEvent(f *testing.F) {
	f.Add(int64(1), 2, "msg", 3, 4, "<S>a</S>", "text", true, "client")
	f.Add(int64(0), 0, "\x00\"\\", 0, 0, "\xff\u2028", "", false, "")
	f.Fuzz(func(t *testing.T, ts int64, cmd int, kind string, typ, method int, xml, text string, had bool, client string) {
		e := Event{TS: ts, Cmd: cmd, Kind: kind, Type: typ, Method: method, XML: xml, Text: text, HadErrors: had, Client: client}
		if !sameEvent(t, e) {
			t.Errorf("%+v: %s decodes differently", e, appendEvent(nil, e))
		}
	})
}

// BenchmarkEncodeEvent: one line of text output as the server logs it.
func BenchmarkEncodeEvent(b *testing.B) {
	e := Event{TS: 1733363000000, Cmd: 12, Kind: KindMsg, Type: 266244, XML: "<S>12345</S>"}
	b.ReportAllocs()
	for b.Loop() {
		encodeEvent(e)
	}
}
