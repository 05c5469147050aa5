package trace

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/psmux/psmux/sessions/capture"
	"github.com/psmux/psmux/sessions/psrp"
)

func dataLine(t *testing.T, guid uuid.UUID, frags ...psrp.Fragment) []byte {
	t.Helper()
	var payload []byte
	for _, f := range frags {
		payload = psrp.AppendFragment(payload, f)
	}
	return psrp.AppendPacket(nil, psrp.Packet{Kind: psrp.Data, GUID: guid, Payload: payload})
}

func message(typ psrp.MessageType, body string) []byte {
	return psrp.AppendMessage(nil, psrp.Message{Destination: 2, Type: typ, RPID: uuid.MustParse("11111111-2222-3333-4444-555555555555"), Data: []byte(body)})
}

func decode(t *testing.T, trace []byte) []capture.Record {
	t.Helper()
	var recs []capture.Record
	d := capture.Decoder{Format: capture.OutOfProc, Warn: func(err error) { t.Errorf("decode: %v", err) }}
	if err := d.Decode(bytes.NewReader(trace), func(r capture.Record) error {
		r.Data = append([]byte(nil), r.Data...)
		recs = append(recs, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return recs
}

// TestRecorderPassesPlainTrafficAsItCame: packets without secrets are
// written byte for byte, prefixed by direction, even when the transport
// hands them over in pieces.
func TestRecorderPassesPlainTrafficAsItCame(t *testing.T) {
	var out bytes.Buffer
	r := NewRecorder(&out)
	l1 := dataLine(t, uuid.Nil, psrp.Fragment{ObjectID: 1, Start: true, End: true, Blob: message(psrp.SessionCapability, `<Obj RefId="0"><MS><Version N="protocolversion">2.3</Version></MS></Obj>`)})
	l2 := []byte("<DataAck PSGuid='00000000-0000-0000-0000-000000000000' />\n")
	all := append(append([]byte(nil), l1...), l2...)
	for i := 0; i < len(all); i += 7 {
		r.Server(all[i:min(i+7, len(all))])
	}
	r.Client([]byte("<Close PSGuid='00000000-0000-0000-0000-000000000000' />\n"))
	want := "S> " + string(l1) + "S> " + string(l2) + "C> <Close PSGuid='00000000-0000-0000-0000-000000000000' />\n"
	if out.String() != want {
		t.Fatalf("got\n%q\nwant\n%q", out.String(), want)
	}
}

// TestRecorderMasksSecrets: SecureStrings, the session key and the
// quoted literals of an -AsPlainText script are masked, also when the
// message is split over fragments in two packets; the result decodes.
func TestRecorderMasksSecrets(t *testing.T) {
	var out bytes.Buffer
	r := NewRecorder(&out)
	pid := uuid.MustParse("aaaaaaaa-2222-3333-4444-555555555555")
	resp := message(psrp.PipelineHostResponse, `<Obj RefId="0"><MS><SS N="mr">c2VjcmV0LWNpcGhlcg==</SS><I64 N="ci">1</I64></MS></Obj>`)
	r.Client(dataLine(t, pid, psrp.Fragment{ObjectID: 5, Start: true, Blob: resp[:50]}))
	r.Client(dataLine(t, pid, psrp.Fragment{ObjectID: 5, FragmentID: 1, End: true, Blob: resp[50:]}))
	key := message(psrp.EncryptedSessionKey, `<Obj RefId="0"><MS><S N="EncryptedSessionKey">c2Vzc2lvbi1rZXk=</S></MS></Obj>`)
	r.Server(dataLine(t, uuid.Nil, psrp.Fragment{ObjectID: 2, Start: true, End: true, Blob: key}))
	create := message(psrp.CreatePipeline, `<Obj RefId="0"><MS><S N="Cmd">$v = ConvertTo-SecureString 'pl&amp;in''text' -AsPlainText; "x$v"</S></MS></Obj>`)
	r.Client(dataLine(t, pid, psrp.Fragment{ObjectID: 6, Start: true, End: true, Blob: create}))

	s := out.String()
	for _, secret := range []string{"c2VjcmV0LWNpcGhlcg==", "c2Vzc2lvbi1rZXk=", "pl&amp;in", "text'"} {
		if strings.Contains(s, secret) {
			t.Fatalf("%q is in the trace", secret)
		}
	}
	recs := decode(t, out.Bytes())
	if len(recs) != 3 {
		t.Fatalf("%d messages decoded, want 3", len(recs))
	}
	for i, want := range []string{`<SS N="mr">` + Mask + `</SS>`, `<S N="EncryptedSessionKey">` + Mask + `</S>`, `<S N="Cmd">$v = ConvertTo-SecureString '***' -AsPlainText; '***'</S>`} {
		if !strings.Contains(string(recs[i].Body()), want) {
			t.Fatalf("message %d: %s\nwant %s", i, recs[i].Body(), want)
		}
	}
	if recs[0].ObjectID != 5 {
		t.Fatalf("the reassembled message lost its object id: %d", recs[0].ObjectID)
	}
}

// TestRecorderBoundsLines: an endless line is dropped with a note, and
// recording goes on after it.
func TestRecorderBoundsLines(t *testing.T) {
	var out bytes.Buffer
	r := NewRecorder(&out)
	chunk := bytes.Repeat([]byte("A"), 1<<20)
	for i := 0; i < 65; i++ {
		r.Server(chunk)
	}
	r.Server([]byte("\n<DataAck PSGuid='00000000-0000-0000-0000-000000000000' />\n"))
	if out.Len() > 1000 || !strings.Contains(out.String(), "left out") || !strings.HasSuffix(out.String(), "S> <DataAck PSGuid='00000000-0000-0000-0000-000000000000' />\n") {
		t.Fatalf("got %d bytes: %.200q", out.Len(), out.String())
	}
}
