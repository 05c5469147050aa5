package capture

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/psmux/psmux/sessions/clixml"
	"github.com/psmux/psmux/sessions/psrp"
)

var (
	testRPID = uuid.MustParse("9a9b0a1f-2f45-4c6c-9e9f-3c1d2e4f5a6b")
	testPID  = uuid.MustParse("c1f0b2a3-4d5e-4f60-8a7b-9c8d7e6f5a4b")
)

// message builds the wire bytes of one PSRP message (body with a BOM).
func message(dest psrp.Destination, typ psrp.MessageType, pid uuid.UUID, body string) []byte {
	data := []byte(body)
	if body != "" {
		data = append([]byte{0xEF, 0xBB, 0xBF}, data...)
	}
	return psrp.AppendMessage(nil, psrp.Message{Destination: dest, Type: typ, RPID: testRPID, PID: pid, Data: data})
}

func fragments(id uint64, size int, msg []byte) []byte {
	f := psrp.Fragmenter{NextObjectID: id, Size: size}
	return f.Fragment(nil, msg)
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func dataLine(guid uuid.UUID, stream string, payload []byte) string {
	return fmt.Sprintf("<Data Stream='%s' PSGuid='%s'>%s</Data>", stream, guid, b64(payload))
}

type result struct {
	recs  []Record
	lines []string
	warns []string
}

func run(t *testing.T, f Format, input string) result {
	t.Helper()
	var res result
	d := Decoder{Format: f, Warn: func(err error) { res.warns = append(res.warns, err.Error()) }}
	err := d.Decode(strings.NewReader(input), func(r Record) error {
		res.recs = append(res.recs, r)
		line := AppendJSON(nil, r)
		if !json.Valid(line) {
			t.Errorf("invalid JSON: %s", line)
		}
		res.lines = append(res.lines, string(line))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

const stateBody = `<Obj RefId="0"><MS><I32 N="PipelineState">4</I32></MS></Obj>`

func TestOutOfProcPrefixesNoiseAndPositions(t *testing.T) {
	out := message(psrp.ToClient, psrp.PipelineOutput, testPID, "<S>hello</S>")
	state := message(psrp.ToClient, psrp.PipelineState, testPID, stateBody)
	cap := message(psrp.ToServer, psrp.SessionCapability, uuid.UUID{}, `<Obj RefId="0"><MS><Version N="protocolversion">2.3</Version></MS></Obj>`)
	// The output message is cut into 3 fragments; the first two go in
	// line 4, the third, together with the whole state message, in line 6.
	outFrags := fragments(10, psrp.FragmentHeaderLen+5, out) // 5-byte blobs
	lastBlob := len(out) % 5
	if lastBlob == 0 {
		lastBlob = 5
	}
	cut := len(outFrags) - psrp.FragmentHeaderLen - lastBlob // start of the last fragment
	last := append(append([]byte{}, outFrags[cut:]...), fragments(11, 0, state)...)
	input := strings.Join([]string{
		"\ufeffPowerShell banner noise",
		"C> " + dataLine(uuid.UUID{}, "Default", fragments(1, 0, cap)),
		"S> <DataAck PSGuid='00000000-0000-0000-0000-000000000000' />",
		"S> " + dataLine(testPID, "Default", outFrags[:cut]),
		"",
		"S> " + dataLine(testPID, "Default", last) + "\r",
		"S> <Data Stream='Default' PSGuid='nonsense'>AAAA</Data>",
		"__NamedPipeError__: something",
	}, "\n") // no final newline
	res := run(t, OutOfProc, input)
	if len(res.recs) != 3 {
		t.Fatalf("got %d records, want 3: %q", len(res.recs), res.lines)
	}
	if len(res.warns) != 1 || !strings.Contains(res.warns[0], "line 7:") {
		t.Errorf("warnings %q, want one for line 7", res.warns)
	}
	r := res.recs[0]
	if r.Direction != ClientToServer || r.Type != psrp.SessionCapability || r.Pos.Line != 2 || r.Pos.Fragment != 0 {
		t.Errorf("record 0: %v %v line %d frag %d", r.Direction, r.Type, r.Pos.Line, r.Pos.Fragment)
	}
	r = res.recs[1]
	if r.Type != psrp.PipelineOutput || r.Pos.Line != 6 || r.Pos.Fragment != 0 || r.ObjectID != 10 {
		t.Errorf("record 1: %v line %d frag %d object %d", r.Type, r.Pos.Line, r.Pos.Fragment, r.ObjectID)
	}
	if len(r.FragmentIDs) < 3 || r.FragmentIDs[0] != 0 {
		t.Errorf("record 1 fragment ids %v", r.FragmentIDs)
	}
	if r.Value.Kind != clixml.String || r.Value.Text != "hello" || !r.BOM() {
		t.Errorf("record 1 value %v %q bom %v", r.Value.Kind, r.Value.Text, r.BOM())
	}
	r = res.recs[2]
	if r.Type != psrp.PipelineState || r.Pos.Line != 6 || r.Pos.Fragment != 1 || r.Direction != ServerToClient {
		t.Errorf("record 2: %v line %d frag %d %v", r.Type, r.Pos.Line, r.Pos.Fragment, r.Direction)
	}
	want := `{"direction":"ServerToClient","destination":"Client","type":"PIPELINE_STATE","type_value":"0x00041006",` +
		`"rpid":"9a9b0a1f-2f45-4c6c-9e9f-3c1d2e4f5a6b","pid":"c1f0b2a3-4d5e-4f60-8a7b-9c8d7e6f5a4b","object_id":11,` +
		`"fragments":[0],"bom":true,"data":{"MS":{"PipelineState":4}}}`
	if res.lines[2] != want {
		t.Errorf("JSON line\n got %s\nwant %s", res.lines[2], want)
	}
}

func TestOutOfProcDirectionFromDestination(t *testing.T) {
	msg := message(psrp.ToServer, psrp.PipelineHostResponse, testPID, "<S>x</S>")
	res := run(t, OutOfProc, dataLine(testPID, "PromptResponse", fragments(3, 0, msg))+"\n")
	if len(res.recs) != 1 || res.recs[0].Direction != ClientToServer || res.recs[0].Pos.Stream != "PromptResponse" {
		t.Fatalf("records %q", res.lines)
	}
}

func TestBrokenStreamRecovers(t *testing.T) {
	good := fragments(5, 0, message(psrp.ToClient, psrp.PipelineOutput, testPID, "<S>ok</S>"))
	// A non-start fragment out of nowhere breaks the stream; the next
	// message on it decodes again.
	orphan := psrp.AppendFragment(nil, psrp.Fragment{ObjectID: 4, FragmentID: 1, End: true, Blob: []byte("xx")})
	input := dataLine(testPID, "Default", orphan) + "\n" + dataLine(testPID, "Default", good) + "\n"
	res := run(t, OutOfProc, input)
	if len(res.recs) != 1 || len(res.warns) != 1 || !strings.Contains(res.warns[0], "line 1:") {
		t.Fatalf("records %q warnings %q", res.lines, res.warns)
	}
}

func TestBodyErrorsAndEmptyBodies(t *testing.T) {
	bad := message(psrp.ToClient, psrp.PipelineOutput, testPID, "<S>unterminated")
	empty := message(psrp.ToServer, psrp.EndOfPipelineInput, testPID, "")
	unknown := message(psrp.ToServer, 0x00099999, testPID, "<Nil />")
	short := []byte{1, 0, 0, 0}
	var payload []byte
	payload = append(payload, fragments(1, 0, bad)...)
	payload = append(payload, fragments(2, 0, empty)...)
	payload = append(payload, fragments(3, 0, unknown)...)
	payload = append(payload, fragments(4, 0, short)...)
	res := run(t, Fragments, b64(payload)+"\n")
	if len(res.recs) != 3 {
		t.Fatalf("records %q warnings %q", res.lines, res.warns)
	}
	if len(res.warns) != 1 || !strings.Contains(res.warns[0], "object 4") {
		t.Errorf("warnings %q, want one for the 4-byte message", res.warns)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(res.lines[0]), &m); err != nil {
		t.Fatal(err)
	}
	if m["data"] != nil || !strings.Contains(fmt.Sprint(m["error"]), "clixml:") {
		t.Errorf("undecodable body: %s", res.lines[0])
	}
	if !strings.HasSuffix(res.lines[1], `"bom":false,"data":null}`) {
		t.Errorf("empty body: %s", res.lines[1])
	}
	if !strings.Contains(res.lines[2], `"type":"UNKNOWN_0x00099999","type_value":"0x00099999"`) ||
		!strings.HasSuffix(res.lines[2], `"data":null}`) {
		t.Errorf("unknown type: %s", res.lines[2])
	}
}

func TestFragmentsAcrossLinesAndDirections(t *testing.T) {
	out := fragments(7, psrp.FragmentHeaderLen+4, message(psrp.ToClient, psrp.PipelineOutput, testPID, "<S>abcdefgh</S>"))
	in := fragments(7, 0, message(psrp.ToServer, psrp.PipelineInput, testPID, "<I32>1</I32>"))
	// Same object id in both directions: only per-direction streams keep
	// them apart. The server's bytes are cut mid-header.
	input := "S> " + b64(out[:10]) + "\n" +
		"C> " + b64(in) + "\n" +
		"S> " + base64.RawStdEncoding.EncodeToString(out[10:]) + "\n" +
		"not base64 !\n"
	res := run(t, Fragments, input)
	if len(res.recs) != 2 || len(res.warns) != 1 || !strings.Contains(res.warns[0], "line 4:") {
		t.Fatalf("records %q warnings %q", res.lines, res.warns)
	}
	if res.recs[0].Direction != ClientToServer || res.recs[1].Direction != ServerToClient || res.recs[1].Value.Text != "abcdefgh" {
		t.Errorf("records %q", res.lines)
	}
	if res.recs[1].Pos.Line != 3 || res.recs[1].Pos.Fragment != len(res.recs[1].FragmentIDs)-1 {
		t.Errorf("server record at line %d frag %d, %d fragments", res.recs[1].Pos.Line, res.recs[1].Pos.Fragment, len(res.recs[1].FragmentIDs))
	}
}

func TestIncompleteAtEnd(t *testing.T) {
	frags := fragments(1, psrp.FragmentHeaderLen+3, message(psrp.ToClient, psrp.PipelineOutput, testPID, "<S>abcdef</S>"))
	res := run(t, Fragments, b64(frags[:len(frags)-2]))
	if len(res.recs) != 0 || len(res.warns) != 1 || !strings.Contains(res.warns[0], "input ends inside a message") {
		t.Fatalf("records %q warnings %q", res.lines, res.warns)
	}
}

func TestLineTooLong(t *testing.T) {
	msg := fragments(1, 0, message(psrp.ToClient, psrp.PipelineOutput, testPID, "<S>x</S>"))
	long := "S> " + strings.Repeat("A", 200)
	var res result
	d := Decoder{Format: Fragments, MaxLine: 100, Warn: func(err error) { res.warns = append(res.warns, err.Error()) }}
	err := d.Decode(strings.NewReader(long+"\n"+b64(msg)+"\n"+long), func(r Record) error {
		res.recs = append(res.recs, r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.recs) != 1 || res.recs[0].Pos.Line != 2 || len(res.warns) != 2 ||
		!strings.Contains(res.warns[0], "line 1:") || !strings.Contains(res.warns[1], "line 3:") {
		t.Fatalf("records %d warnings %q", len(res.recs), res.warns)
	}
}

func TestEmitErrorStops(t *testing.T) {
	one := fragments(1, 0, message(psrp.ToClient, psrp.PipelineOutput, testPID, "<S>1</S>"))
	two := fragments(2, 0, message(psrp.ToClient, psrp.PipelineOutput, testPID, "<S>2</S>"))
	stop := errors.New("stop")
	for _, f := range []Format{OutOfProc, Fragments, WSMan} {
		var input string
		switch f {
		case OutOfProc:
			input = dataLine(testPID, "Default", one) + "\n" + dataLine(testPID, "Default", two) + "\n"
		case Fragments:
			input = b64(one) + "\n" + b64(two) + "\n"
		case WSMan:
			input = `<rsp:Stream Name="stdout">` + b64(one) + `</rsp:Stream><rsp:Stream Name="stdout">` + b64(two) + `</rsp:Stream>`
		}
		n := 0
		err := Decode(strings.NewReader(input), f, func(Record) error { n++; return stop })
		if !errors.Is(err, stop) || n != 1 {
			t.Errorf("%v: err %v after %d records", f, err, n)
		}
	}
}

func TestWSMan(t *testing.T) {
	cmdID := "5364FDCD-7BDF-4606-B5BE-B732BBE3FC96"
	capMsg := fragments(1, 0, message(psrp.ToServer, psrp.SessionCapability, uuid.UUID{}, `<Obj RefId="0"><MS /></Obj>`))
	initMsg := fragments(2, 0, message(psrp.ToServer, psrp.InitRunspacePool, uuid.UUID{}, `<Obj RefId="0"><MS /></Obj>`))
	create := fragments(3, 0, message(psrp.ToServer, psrp.CreatePipeline, testPID, `<Obj RefId="0"><MS /></Obj>`))
	// 67 bytes of message in fragments of 40 and 27 bytes, cut inside the first.
	out := fragments(4, psrp.FragmentHeaderLen+40, message(psrp.ToClient, psrp.PipelineOutput, testPID, "<S>streamed over two</S>"))
	state := fragments(5, 0, message(psrp.ToClient, psrp.PipelineState, testPID, stateBody))
	half := 30
	if len(out) != 2*psrp.FragmentHeaderLen+67 {
		t.Fatalf("output message is %d bytes of fragments", len(out))
	}
	input := `HTTP/1.1 200 OK captured by a proxy
<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:wsman="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell">
<s:Header><wsa:MessageID>uuid:1</wsa:MessageID><wsman:ResourceURI>http://schemas.microsoft.com/powershell/Microsoft.PowerShell</wsman:ResourceURI></s:Header>
<s:Body><rsp:Shell><creationXml xmlns="http://schemas.microsoft.com/powershell">` + b64(append(capMsg, initMsg...)) + `</creationXml></rsp:Shell></s:Body></s:Envelope>
<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><rsp:CommandLine xmlns:rsp="urn:x" CommandId="` + cmdID + `"><rsp:Command>Invoke-Expression</rsp:Command><rsp:Arguments>` + b64(create) + `</rsp:Arguments></rsp:CommandLine></s:Body></s:Envelope>` +
		// a cmd.exe shell: its request and the response that relates to it carry no PSRP
		`<Envelope><Header><MessageID>uuid:2</MessageID><ResourceURI>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd</ResourceURI></Header><Body><Stream Name="stdin">` + b64([]byte("dir\r\n")) + `</Stream></Body></Envelope>
<Envelope><Header><RelatesTo>uuid:2</RelatesTo></Header><Body><Stream Name="stdout">` + b64([]byte("Volume in drive C")) + `</Stream></Body></Envelope>
garbage < between & envelopes
<x:Envelope xmlns:x="http://www.w3.org/2003/05/soap-envelope"><x:Body><r:ReceiveResponse xmlns:r="urn:r">
  <r:Stream Name="stdout" CommandId="` + cmdID + `">` + b64(out[:half]) + `</r:Stream>
  <r:Stream Name="stderr" CommandId="` + cmdID + `">bm90IFBTUlA=</r:Stream>
</r:ReceiveResponse></x:Body></x:Envelope>
<s:Envelope xmlns:s="s"><s:Body><rsp:ReceiveResponse xmlns:rsp="r">
  <rsp:Stream Name="stdout" CommandId="` + strings.ToLower(cmdID) + `">
` + b64(out[half:]) + `
  </rsp:Stream>
  <rsp:Stream Name="stdout" CommandId="` + cmdID + `">` + b64(state) + `</rsp:Stream>
  <rsp:Stream Name="stdout" CommandId="` + cmdID + `" End="true"></rsp:Stream>
</rsp:ReceiveResponse></s:Body></s:Envelope>`
	res := run(t, WSMan, input)
	type want struct {
		typ       psrp.MessageType
		dir       Direction
		env       int
		element   string
		index     int
		fragment  int
		commandID string
	}
	wants := []want{
		{psrp.SessionCapability, ClientToServer, 0, "creationXml", 0, 0, ""},
		{psrp.InitRunspacePool, ClientToServer, 0, "creationXml", 0, 1, ""},
		{psrp.CreatePipeline, ClientToServer, 1, "rsp:Arguments", 0, 0, cmdID},
		{psrp.PipelineOutput, ServerToClient, 5, "rsp:Stream", 0, 1, strings.ToLower(cmdID)},
		{psrp.PipelineState, ServerToClient, 5, "rsp:Stream", 1, 0, cmdID},
	}
	if len(res.recs) != len(wants) {
		t.Fatalf("records %q warnings %q", res.lines, res.warns)
	}
	for i, w := range wants {
		r := res.recs[i]
		got := want{r.Type, r.Direction, r.Pos.Envelope, r.Pos.Element, r.Pos.ElementIndex, r.Pos.Fragment, r.Pos.CommandID}
		if got != w {
			t.Errorf("record %d: got %+v, want %+v", i, got, w)
		}
	}
	if res.recs[3].Value.Text != "streamed over two" {
		t.Errorf("reassembled output %q", res.recs[3].Value.Text)
	}
	if len(res.warns) != 1 || !strings.Contains(res.warns[0], "line 7:") {
		t.Errorf("warnings %q, want one XML error on line 7", res.warns)
	}
}

func TestParseFormat(t *testing.T) {
	for _, f := range []Format{OutOfProc, Fragments, WSMan} {
		g, err := ParseFormat(strings.ToUpper(f.String()))
		if err != nil || g != f {
			t.Errorf("ParseFormat(%q) = %v, %v", f, g, err)
		}
	}
	if _, err := ParseFormat("pcap"); err == nil {
		t.Error("ParseFormat(pcap) succeeded")
	}
	if err := Decode(strings.NewReader(""), 0, func(Record) error { return nil }); err == nil {
		t.Error("Decode with format 0 succeeded")
	}
}

func TestAppendJSONEscapes(t *testing.T) {
	r := Record{Type: psrp.PipelineOutput, Destination: 7, Data: []byte("x"), Err: errors.New("bad \"quote\" \x01 \xff")}
	line := AppendJSON(nil, r)
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	if m["destination"] != "7" || m["direction"] != "Unknown" || m["error"] != "bad \"quote\" \x01 \ufffd" {
		t.Errorf("%s", line)
	}
	if !bytes.HasPrefix(line, []byte(`{"direction":"Unknown","destination":"7","type":"PIPELINE_OUTPUT",`)) {
		t.Errorf("key order: %s", line)
	}
}
