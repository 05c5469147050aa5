package psrp

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/psmux/psmux/sessions/clixml"
)

// Golden lines from psrp-brief §1.7, §6.2 and §8.2 (built byte for byte
// from the pwsh layouts).
var (
	briefRPID = uuid.MustParse("9a9b0a1f-2f45-4c6c-9e9f-3c1d2e4f5a6b")
	briefPID  = uuid.MustParse("c1f0b2a3-4d5e-4f60-8a7b-9c8d7e6f5a4b")

	goldenCapability = `<Data Stream='Default' PSGuid='00000000-0000-0000-0000-000000000000'>AAAAAAAAAAEAAAAAAAAAAAMAAADHAgAAAAIAAQAfCpuaRS9sTJ6fPB0uT1prAAAAAAAAAAAAAAAAAAAAADxPYmogUmVmSWQ9IjAiPjxNUz48VmVyc2lvbiBOPSJwcm90b2NvbHZlcnNpb24iPjIuMzwvVmVyc2lvbj48VmVyc2lvbiBOPSJQU1ZlcnNpb24iPjIuMDwvVmVyc2lvbj48VmVyc2lvbiBOPSJTZXJpYWxpemF0aW9uVmVyc2lvbiI+MS4xLjAuMTwvVmVyc2lvbj48L01TPjwvT2JqPg==</Data>`
	goldenInit       = `<Data Stream='Default' PSGuid='00000000-0000-0000-0000-000000000000'>AAAAAAAAAAIAAAAAAAAAAAMAAALnAgAAAAQAAQAfCpuaRS9sTJ6fPB0uT1prAAAAAAAAAAAAAAAAAAAAADxPYmogUmVmSWQ9IjAiPjxNUz48STMyIE49Ik1pblJ1bnNwYWNlcyI+MTwvSTMyPjxJMzIgTj0iTWF4UnVuc3BhY2VzIj4xPC9JMzI+PE9iaiBOPSJQU1RocmVhZE9wdGlvbnMiIFJlZklkPSIxIj48VE4gUmVmSWQ9IjAiPjxUPlN5c3RlbS5NYW5hZ2VtZW50LkF1dG9tYXRpb24uUnVuc3BhY2VzLlBTVGhyZWFkT3B0aW9uczwvVD48VD5TeXN0ZW0uRW51bTwvVD48VD5TeXN0ZW0uVmFsdWVUeXBlPC9UPjxUPlN5c3RlbS5PYmplY3Q8L1Q+PC9UTj48VG9TdHJpbmc+RGVmYXVsdDwvVG9TdHJpbmc+PEkzMj4wPC9JMzI+PC9PYmo+PE9iaiBOPSJBcGFydG1lbnRTdGF0ZSIgUmVmSWQ9IjIiPjxUTiBSZWZJZD0iMSI+PFQ+U3lzdGVtLlRocmVhZGluZy5BcGFydG1lbnRTdGF0ZTwvVD48VD5TeXN0ZW0uRW51bTwvVD48VD5TeXN0ZW0uVmFsdWVUeXBlPC9UPjxUPlN5c3RlbS5PYmplY3Q8L1Q+PC9UTj48VG9TdHJpbmc+VW5rbm93bjwvVG9TdHJpbmc+PEkzMj4yPC9JMzI+PC9PYmo+PE5pbCBOPSJBcHBsaWNhdGlvbkFyZ3VtZW50cyIgLz48T2JqIE49Ikhvc3RJbmZvIiBSZWZJZD0iMyI+PE1TPjxCIE49Il9pc0hvc3ROdWxsIj50cnVlPC9CPjxCIE49Il9pc0hvc3RVSU51bGwiPnRydWU8L0I+PEIgTj0iX2lzSG9zdFJhd1VJTnVsbCI+dHJ1ZTwvQj48QiBOPSJfdXNlUnVuc3BhY2VIb3N0Ij50cnVlPC9CPjwvTVM+PC9PYmo+PC9NUz48L09iaj4=</Data>`
	goldenServerCap  = `<Data Stream='Default' PSGuid='00000000-0000-0000-0000-000000000000'>AAAAAAAAAAUAAAAAAAAAAAMAAADKAQAAAAIAAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAO+7vzxPYmogUmVmSWQ9IjAiPjxNUz48VmVyc2lvbiBOPSJwcm90b2NvbHZlcnNpb24iPjIuMzwvVmVyc2lvbj48VmVyc2lvbiBOPSJQU1ZlcnNpb24iPjIuMDwvVmVyc2lvbj48VmVyc2lvbiBOPSJTZXJpYWxpemF0aW9uVmVyc2lvbiI+MS4xLjAuMTwvVmVyc2lvbj48L01TPjwvT2JqPg==</Data>`
	goldenPoolState  = `<Data Stream='Default' PSGuid='00000000-0000-0000-0000-000000000000'>AAAAAAAAAAcAAAAAAAAAAAMAAABnAQAAAAUQAgAfCpuaRS9sTJ6fPB0uT1prAAAAAAAAAAAAAAAAAAAAAO+7vzxPYmogUmVmSWQ9IjAiPjxNUz48STMyIE49IlJ1bnNwYWNlU3RhdGUiPjI8L0kzMj48L01TPjwvT2JqPg==</Data>`
	goldenResponse   = `<Data Stream='PromptResponse' PSGuid='c1f0b2a3-4d5e-4f60-8a7b-9c8d7e6f5a4b'>AAAAAAAAAAQAAAAAAAAAAAMAAAFGAgAAAAERBAAfCpuaRS9sTJ6fPB0uT1pro7LwwV5NYE+Ke5yNfm9aSzxPYmogUmVmSWQ9IjAiPjxNUz48UyBOPSJtciI+dHlwZWQgdGV4dDwvUz48STY0IE49ImNpIj4xPC9JNjQ+PE9iaiBOPSJtaSIgUmVmSWQ9IjEiPjxUTiBSZWZJZD0iMCI+PFQ+U3lzdGVtLk1hbmFnZW1lbnQuQXV0b21hdGlvbi5SZW1vdGluZy5SZW1vdGVIb3N0TWV0aG9kSWQ8L1Q+PFQ+U3lzdGVtLkVudW08L1Q+PFQ+U3lzdGVtLlZhbHVlVHlwZTwvVD48VD5TeXN0ZW0uT2JqZWN0PC9UPjwvVE4+PFRvU3RyaW5nPlJlYWRMaW5lPC9Ub1N0cmluZz48STMyPjExPC9JMzI+PC9PYmo+PC9NUz48L09iaj4=</Data>`
	goldenEndOfInput = `AAAAAAAAAAUAAAAAAAAAAAMAAAAoAgAAAAMQBAAfCpuaRS9sTJ6fPB0uT1pro7LwwV5NYE+Ke5yNfm9aSw==`
)

// encodeLine builds the Data line for one message as object id oid.
func encodeLine(t *testing.T, guid uuid.UUID, prompt bool, oid uint64, m Message) string {
	t.Helper()
	f := Fragmenter{NextObjectID: oid}
	payload := f.Fragment(nil, AppendMessage(nil, m))
	return strings.TrimSuffix(string(AppendPacket(nil, Packet{Kind: Data, GUID: guid, PromptResponse: prompt, Payload: payload})), "\n")
}

func TestGoldenClientMessagesByteExact(t *testing.T) {
	capBody := clixml.Encode(nil, NewSessionCapability("2.3").Value())
	initBody := clixml.Encode(nil, InitRunspacePoolMsg{MinRunspaces: 1, MaxRunspaces: 1, ApartmentState: 2, HostInfo: NoHost()}.Value())
	mr := clixml.Str("typed text")
	respBody := clixml.Encode(nil, HostResponseMsg{CI: 1, Method: ReadLine, Result: &mr}.Value())
	cases := []struct {
		name, want string
		got        string
	}{
		{"SESSION_CAPABILITY", goldenCapability, encodeLine(t, NilGUID, false, 1, Message{ToServer, SessionCapability, briefRPID, NilGUID, capBody})},
		{"INIT_RUNSPACEPOOL", goldenInit, encodeLine(t, NilGUID, false, 2, Message{ToServer, InitRunspacePool, briefRPID, NilGUID, initBody})},
		{"PIPELINE_HOST_RESPONSE", goldenResponse, encodeLine(t, briefPID, true, 4, Message{ToServer, PipelineHostResponse, briefRPID, briefPID, respBody})},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, c.got, c.want)
		}
	}
	f := Fragmenter{NextObjectID: 5}
	eoi := f.Fragment(nil, AppendMessage(nil, Message{ToServer, EndOfPipelineInput, briefRPID, briefPID, nil}))
	if got := base64.StdEncoding.EncodeToString(eoi); got != goldenEndOfInput {
		t.Errorf("END_OF_PIPELINE_INPUT fragment:\n got %s\nwant %s", got, goldenEndOfInput)
	}
}

func decodeLine(t *testing.T, line string) (Packet, Assembled, Message) {
	t.Helper()
	p, err := ParsePacket([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	var got []Assembled
	d := Defragmenter{RecordIDs: true}
	if err := d.Write(p.Payload, func(a Assembled) error {
		a.Message = append([]byte(nil), a.Message...)
		got = append(got, a)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("%d messages, want 1", len(got))
	}
	m, err := ParseMessage(got[0].Message)
	if err != nil {
		t.Fatal(err)
	}
	return p, got[0], m
}

func TestGoldenServerLinesDecode(t *testing.T) {
	_, a, m := decodeLine(t, goldenServerCap)
	if a.ObjectID != 5 || m.Destination != ToClient || m.Type != SessionCapability || m.RPID != NilGUID || !m.HasBOM() {
		t.Errorf("server capability: oid %d dest %v type %v rpid %v bom %v", a.ObjectID, m.Destination, m.Type, m.RPID, m.HasBOM())
	}
	v, err := clixml.Decode(m.Body())
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseSessionCapability(v)
	if err != nil || c.ProtocolVersion != "2.3" || c.PSVersion != "2.0" || c.SerializationVersion != "1.1.0.1" {
		t.Errorf("capability %+v, %v", c, err)
	}
	_, a, m = decodeLine(t, goldenPoolState)
	if a.ObjectID != 7 || m.Type != RunspacePoolState || m.RPID != briefRPID {
		t.Errorf("pool state: oid %d type %v rpid %v", a.ObjectID, m.Type, m.RPID)
	}
	v, _ = clixml.Decode(m.Body())
	s, err := ParseState(RunspacePoolState, v)
	if err != nil || RunspacePoolStateValue(s.State) != PoolOpened {
		t.Errorf("state %+v, %v", s, err)
	}
	p, _, m := decodeLine(t, goldenResponse)
	if !p.PromptResponse || p.GUID != briefPID || m.PID != briefPID {
		t.Errorf("response packet %+v pid %v", p, m.PID)
	}
}

func TestGUIDDotNetByteOrder(t *testing.T) {
	var b [16]byte
	PutGUID(b[:], briefRPID)
	want := []byte{0x1f, 0x0a, 0x9b, 0x9a, 0x45, 0x2f, 0x6c, 0x4c, 0x9e, 0x9f, 0x3c, 0x1d, 0x2e, 0x4f, 0x5a, 0x6b}
	if !bytes.Equal(b[:], want) {
		t.Fatalf("PutGUID = % x, want % x", b, want)
	}
	if GUIDFromBytes(b[:]) != briefRPID {
		t.Fatal("GUIDFromBytes does not invert PutGUID")
	}
}

func TestParsePacketAcceptsPwshGrammar(t *testing.T) {
	g := "c1f0b2a3-4d5e-4f60-8a7b-9c8d7e6f5a4b"
	for _, line := range []string{
		"<DataAck PSGuid='" + g + "' />",
		"<CommandAck PSGuid='" + g + "' />\r",
		`<Close PSGuid="{` + strings.ToUpper(g) + `}"/>`,
		"<Signal PSGuid='" + g + "'></Signal>",
		"<Data Stream='promptresponse' PSGuid='" + g + "'>AAAA</Data>",
		"<Data PSGuid='" + g + "' Stream='Default'>AAAA</Data>",
	} {
		p, err := ParsePacket([]byte(line))
		if err != nil {
			t.Errorf("%q: %v", line, err)
			continue
		}
		if p.GUID.String() != g {
			t.Errorf("%q: guid %v", line, p.GUID)
		}
	}
}

func TestParsePacketRejectsWithReason(t *testing.T) {
	g := "c1f0b2a3-4d5e-4f60-8a7b-9c8d7e6f5a4b"
	cases := map[string]string{
		"hello world":                                          "expected '<'",
		"<Foo PSGuid='" + g + "' />":                           "unknown element",
		"<DataAck />":                                          "missing PSGuid",
		"<DataAck PSGuid='zz' />":                              "not a GUID",
		"<DataAck PSGuid='" + g + "' xmlns='x' />":             "unexpected attribute",
		"<Data PSGuid='" + g + "'>AAAA</Data>":                 "exactly the Stream and PSGuid",
		"<Data Stream='Default' PSGuid='" + g + "'></Data>":    "empty Data",
		"<Data Stream='Default' PSGuid='" + g + "'>!!!</Data>": "not base64",
		"<Data Stream='Default' PSGuid='" + g + "'>AAAA":       "</Data>",
		"<DataAck PSGuid='" + g + "' ":                         "unterminated",
	}
	for line, want := range cases {
		_, err := ParsePacket([]byte(line))
		var pe *PacketError
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want a PacketError mentioning %q", line, err, want)
		}
	}
	if _, err := ParsePacket(nil); !errors.Is(err, ErrEmptyLine) {
		t.Errorf("empty line: %v", err)
	}
}

func TestReaderNoiseCapsAndNamedPipeErrors(t *testing.T) {
	in := "Welcome to my shell\n\n__NamedPipeError__:boom\n<DataAck PSGuid='00000000-0000-0000-0000-000000000000' />\r\n" +
		"<Close PSGuid='00000000-0000-0000-0000-000000000000' />\n" + strings.Repeat("x", 300) + "\n"
	r := NewReader(strings.NewReader(in))
	r.SetMaxLine(200)
	it, err := r.Next()
	if err != nil || it.Noise != "Welcome to my shell" {
		t.Fatalf("first item %+v %v, want noise", it, err)
	}
	it, err = r.Next()
	if err != nil || it.PipeError != "boom" {
		t.Fatalf("second item %+v %v, want pipe error", it, err)
	}
	it, err = r.Next()
	if err != nil || it.Packet.Kind != DataAck {
		t.Fatalf("third %+v %v", it, err)
	}
	if it, err = r.Next(); err != nil || it.Packet.Kind != Close {
		t.Fatalf("fourth %+v %v", it, err)
	}
	var le *LineTooLongError
	if _, err = r.Next(); !errors.As(err, &le) {
		t.Fatalf("long line: %v, want LineTooLongError", err)
	}
	// After the first packet, garbage is an error, not noise.
	r = NewReader(strings.NewReader("<DataAck PSGuid='00000000-0000-0000-0000-000000000000' />\ngarbage\n"))
	r.Next()
	if _, err := r.Next(); err == nil {
		t.Fatal("garbage after the first packet accepted")
	}
	// Strict (server) reader: a blank line is fatal, EOF mid-line reported.
	if _, err := NewStrictReader(strings.NewReader("\n")).Next(); !errors.Is(err, ErrEmptyLine) {
		t.Fatalf("strict blank line: %v", err)
	}
	if _, err := NewStrictReader(strings.NewReader("<DataA")).Next(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("truncated line: %v", err)
	}
}

func TestDefragmenterStreamsAcrossPayloads(t *testing.T) {
	f := Fragmenter{Size: 30} // 9-byte blobs
	msgs := [][]byte{bytes.Repeat([]byte("a"), 40), {}, []byte("hello"), bytes.Repeat([]byte("z"), 9)}
	var stream []byte
	for _, m := range msgs {
		stream = f.Fragment(stream, m)
	}
	// Feed in odd-sized chunks, splitting headers and blobs.
	var got [][]byte
	d := Defragmenter{}
	for i := 0; i < len(stream); i += 7 {
		end := min(i+7, len(stream))
		if err := d.Write(stream[i:end], func(a Assembled) error {
			got = append(got, append([]byte{}, a.Message...))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != len(msgs) {
		t.Fatalf("%d messages, want %d", len(got), len(msgs))
	}
	for i := range msgs {
		if !bytes.Equal(got[i], msgs[i]) {
			t.Errorf("message %d = %q, want %q", i, got[i], msgs[i])
		}
	}
	if d.Pending() {
		t.Error("pending after whole messages")
	}
}

// TestDefragmenterKeep: with Keep, messages put together from payloads of
// whole fragments, or of parts of them (which go through the pending
// buffer, reused), come out right and stay right after later writes; a
// message says it is Owned only when no buffer it is in is reused.
func TestDefragmenterKeep(t *testing.T) {
	f := Fragmenter{Size: 30} // 9-byte blobs
	var msgs [][]byte
	for i, n := range []int{40, 5, 30, 3, 100, 9} {
		m := make([]byte, n)
		for j := range m {
			m[j] = byte('a' + (i*7+j)%26) // every byte different from its neighbours
		}
		msgs = append(msgs, m)
	}
	for _, step := range []int{0, 5, 7, 11, 13, 17, 25, 40} { // 0: one payload per fragment
		d := Defragmenter{Keep: true}
		var got [][]byte
		var owned []bool
		keep := func(a Assembled) error {
			m := a.Message
			if !a.Owned {
				m = bytes.Clone(m)
			}
			got, owned = append(got, m), append(owned, a.Owned)
			return nil
		}
		for _, m := range msgs {
			var payloads [][]byte
			if step == 0 {
				_ = f.FragmentEach(m, nil, func(fr []byte) error { payloads = append(payloads, bytes.Clone(fr)); return nil })
			} else {
				s := f.Fragment(nil, m)
				for i := 0; i < len(s); i += step {
					payloads = append(payloads, bytes.Clone(s[i:min(i+step, len(s))]))
				}
			}
			for _, p := range payloads {
				if err := d.Write(p, keep); err != nil {
					t.Fatal(err)
				}
			}
		}
		for i := range msgs {
			if !bytes.Equal(got[i], msgs[i]) {
				t.Errorf("step %d: message %d = %q, want %q", step, i, got[i], msgs[i])
			}
		}
		if step == 0 && (!owned[1] || !owned[0]) {
			t.Errorf("whole fragments: owned %v, want every message owned", owned)
		}
	}
}

func TestDefragmenterRejectsBrokenSequences(t *testing.T) {
	frag := func(oid, fid uint64, start, end bool, blob string) []byte {
		return AppendFragment(nil, Fragment{ObjectID: oid, FragmentID: fid, Start: start, End: end, Blob: []byte(blob)})
	}
	cases := map[string][]byte{
		"object id 0":     frag(0, 0, true, true, "x"),
		"expected 1":      append(frag(1, 0, true, false, "x"), frag(1, 2, false, true, "y")...),
		"interleaved":     append(frag(1, 0, true, false, "x"), frag(2, 1, false, true, "y")...),
		"without a start": frag(3, 1, false, true, "x"),
		"exceeds":         {0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0x7f, 0xff, 0xff, 0xff},
		"unknown flags":   {0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0x13, 0, 0, 0, 0},
	}
	for want, in := range cases {
		d := Defragmenter{MaxMessage: 1 << 20}
		err := d.Write(in, func(Assembled) error { return nil })
		var fe *FragmentError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v", want, err)
		}
	}
}

func TestFragmenterSplitsAtPwshSize(t *testing.T) {
	msg := bytes.Repeat([]byte{7}, 2*32747+1116)
	var sizes []int
	var f Fragmenter
	f.NextObjectID = 327
	_ = f.FragmentEach(msg, nil, func(fr []byte) error { sizes = append(sizes, len(fr)-FragmentHeaderLen); return nil })
	if len(sizes) != 3 || sizes[0] != 32747 || sizes[1] != 32747 || sizes[2] != 1116 {
		t.Fatalf("blob sizes %v, want [32747 32747 1116] as pwsh (corpus E102)", sizes)
	}
}
