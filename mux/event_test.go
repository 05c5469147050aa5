package mux

import (
	"encoding/json"
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
