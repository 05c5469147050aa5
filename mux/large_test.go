package mux

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/psmux/psmux/mux/outlog"
	"github.com/psmux/psmux/sessions/clixml"
	"github.com/psmux/psmux/sessions/psrp"
)

// TestLongWriteIsLoggedInPieces: a host write longer than maxEventText is
// logged as Write pieces followed by the call itself with the rest; the
// pieces keep the colours, end on whole characters and put the text back
// together exactly; a short write stays one event.
func TestLongWriteIsLoggedInPieces(t *testing.T) {
	// "é" is two bytes: with an odd prefix the cut falls inside one
	text := "a" + strings.Repeat("é", maxEventText) + "end"
	for _, tc := range []struct {
		call  psrp.HostCallMsg
		piece psrp.HostMethod
		at    int
	}{
		{psrp.HostCallMsg{Method: psrp.WriteLine2, Params: []clixml.Value{clixml.Str(text)}}, psrp.Write1, 0},
		{psrp.HostCallMsg{Method: psrp.Write1, Params: []clixml.Value{clixml.Str(text)}}, psrp.Write1, 0},
		{psrp.HostCallMsg{Method: psrp.WriteLine3, Params: []clixml.Value{clixml.I32(10), clixml.I32(4), clixml.Str(text)}}, psrp.Write2, 2},
	} {
		var methods []psrp.HostMethod
		var got strings.Builder
		hostEvents(7, tc.call, func(e Event) {
			if e.Cmd != 7 || e.Kind != KindHost {
				t.Fatalf("%v: event cmd %d kind %q", tc.call.Method, e.Cmd, e.Kind)
			}
			if len(e.XML) > maxEventText+1024 {
				t.Fatalf("%v: an event of %d bytes of XML, want about %d at most", tc.call.Method, len(e.XML), maxEventText)
			}
			c, err := e.HostCall() // now: the XML is valid only during fn
			if err != nil {
				t.Fatal(err)
			}
			methods = append(methods, c.Method)
			s := c.Params[tc.at].Text
			if !utf8.ValidString(s) {
				t.Fatalf("%v: piece %d cuts a character", tc.call.Method, len(methods))
			}
			if tc.at == 2 && (c.Params[0].Text != "10" || c.Params[1].Text != "4") {
				t.Fatalf("%v: piece %d has colours %q %q, want 10 4", tc.call.Method, len(methods), c.Params[0].Text, c.Params[1].Text)
			}
			got.WriteString(s)
		})
		want := []psrp.HostMethod{tc.piece, tc.piece, tc.call.Method}
		if len(methods) != len(want) || methods[0] != want[0] || methods[1] != want[1] || methods[2] != want[2] {
			t.Errorf("%v: events %v, want %v", tc.call.Method, methods, want)
		}
		if got.String() != text {
			t.Errorf("%v: the pieces hold %d bytes, not the %d-byte text", tc.call.Method, got.Len(), len(text))
		}
	}
	n := 0
	hostEvents(1, psrp.HostCallMsg{Method: psrp.WriteLine2, Params: []clixml.Value{clixml.Str("short")}}, func(Event) { n++ })
	if n != 1 {
		t.Errorf("a short write made %d events, want 1", n)
	}
}

// TestLongTwinLoggedOnce: of a long Write-Host text, which pwsh sends as
// a record and as host calls (psrp-brief §8.4), whichever comes second is
// the twin, in either order; two texts from the same side, or two
// different texts, are not.
func TestLongTwinLoggedOnce(t *testing.T) {
	a, b := strings.Repeat("a", maxEventText+1), strings.Repeat("b", maxEventText+1)
	for _, tc := range []struct {
		name  string
		steps []bool // fromHost
		texts []string
		want  []bool
	}{
		{"record then host", []bool{false, true}, []string{a, a}, []bool{false, true}},
		{"host then record", []bool{true, false}, []string{a, a}, []bool{false, true}},
		{"twice from the host", []bool{true, true}, []string{a, a}, []bool{false, false}},
		{"different texts", []bool{false, true}, []string{a, b}, []bool{false, false}},
		{"a pair, then the same again", []bool{false, true, false, true}, []string{a, a, a, a}, []bool{false, true, false, true}},
	} {
		var lt longTwin
		for i, fromHost := range tc.steps {
			if got := lt.twin(tc.texts[i], fromHost); got != tc.want[i] {
				t.Errorf("%s: step %d twin = %v, want %v", tc.name, i, got, tc.want[i])
			}
		}
	}
}

// TestEventOverTheFrameCapBecomesANotice: an event too large for any
// frame is replaced by a notice that says so (it was dropped silently,
// and exec exited 0 having printed nothing), and the events after it
// still go.
func TestEventOverTheFrameCapBecomesANotice(t *testing.T) {
	const limit = 4096 // MaxEventFrame in the server; a small one here
	big := encodeEvent(Event{Cmd: 3, Kind: KindMsg, XML: strings.Repeat("x", limit)})
	b := appendEvFrameOrNotice(nil, 1, outlog.Event{Seq: 5, Data: big}, limit)
	b = appendEvFrameOrNotice(b, 1, outlog.Event{Seq: 6, Data: encodeEvent(Event{Cmd: 3, Kind: KindMsg, XML: "<S>after</S>"})}, limit)
	c := NewCodec(bytes.NewReader(b), nil)
	c.ReadEvents()
	m, err := c.Read()
	if err != nil {
		t.Fatal(err)
	}
	f := m.(*EventFrame)
	var e Event
	if err := decodeEvent(f.Ev, &e); err != nil {
		t.Fatal(err)
	}
	if f.Seq != 5 || e.Cmd != 3 || e.Kind != KindSession || !strings.Contains(e.Text, "over the") {
		t.Fatalf("frame seq %d, event %+v; want seq 5, a session notice of command 3 about the cap", f.Seq, e)
	}
	if m, err = c.Read(); err != nil || m.(*EventFrame).Seq != 6 {
		t.Fatalf("the next frame: %+v, %v; want seq 6", m, err)
	}
}
