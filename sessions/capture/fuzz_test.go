package capture

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/psmux/psmux/sessions/psrp"
)

// fuzzCorpusDir returns the corpus directory, or "" when it is absent
// (fuzz targets then run on their built-in seeds only).
func fuzzCorpusDir() string {
	dir := os.Getenv("PSMUX_CORPUS")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "corpus")
	}
	if _, err := os.Stat(filepath.Join(dir, "expect.jsonl")); err != nil {
		return ""
	}
	return dir
}

// maxSeed keeps big captures out of the seed set (they slow every
// iteration down without adding shapes).
const maxSeed = 96 << 10

func addFileSeeds(f *testing.F, pattern string, split bool) {
	dir := fuzzCorpusDir()
	if dir == "" {
		return
	}
	files, _ := filepath.Glob(filepath.Join(dir, pattern))
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		if split {
			for _, line := range bytes.SplitAfter(data, []byte{'\n'}) {
				if len(line) > 0 && len(line) <= maxSeed {
					f.Add(line)
				}
			}
		}
		if len(data) <= maxSeed {
			f.Add(data)
		}
	}
}

// fuzzDecode runs one input with small caps and checks what comes out.
func fuzzDecode(t *testing.T, format Format, data []byte) {
	d := Decoder{
		Format:     format,
		MaxLine:    1 << 16,
		MaxMessage: 1 << 18,
		MaxInput:   1 << 20,
		Warn: func(err error) {
			if _, ok := err.(*InputError); !ok {
				t.Errorf("warning of type %T: %v", err, err)
			}
		},
	}
	var line []byte
	err := d.Decode(bytes.NewReader(data), func(r Record) error {
		if len(r.Data) > d.MaxMessage {
			t.Fatalf("record of %d bytes over the %d-byte cap", len(r.Data), d.MaxMessage)
		}
		line = AppendJSON(line[:0], r)
		if !json.Valid(line) {
			t.Fatalf("invalid JSON line: %q", line)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
}

func seedMessages() [][]byte {
	out := fragments(1, 0, message(psrp.ToClient, psrp.PipelineOutput, testPID, "<S>hello</S>"))
	state := fragments(2, psrp.FragmentHeaderLen+8, message(psrp.ToClient, psrp.PipelineState, testPID, stateBody))
	empty := fragments(3, 0, message(psrp.ToServer, psrp.EndOfPipelineInput, testPID, ""))
	return [][]byte{out, state, empty}
}

func FuzzDecodeOutOfProc(f *testing.F) {
	var all []string
	for _, m := range seedMessages() {
		l := dataLine(testPID, "Default", m)
		f.Add([]byte(l + "\n"))
		all = append(all, "S> "+l)
	}
	all = append(all, "C> <Command PSGuid='"+testPID.String()+"' />", "noise", "", "<Data Stream='PromptResponse' PSGuid='"+uuid.Nil.String()+"'>AAAA</Data>\r")
	f.Add([]byte(strings.Join(all, "\n")))
	addFileSeeds(f, "ansible-debugger-oop/*.txt", true)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, OutOfProc, data) })
}

func FuzzDecodeFragments(f *testing.F) {
	var all []string
	for _, m := range seedMessages() {
		f.Add([]byte(b64(m) + "\n"))
		all = append(all, "C> "+b64(m[:len(m)/2]), "C> "+b64(m[len(m)/2:]))
	}
	f.Add([]byte(strings.Join(all, "\n")))
	addFileSeeds(f, "*/*.b64", true)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, Fragments, data) })
}

func FuzzDecodeWSMan(f *testing.F) {
	ms := seedMessages()
	f.Add([]byte(`<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><rsp:ReceiveResponse xmlns:rsp="r">` +
		`<rsp:Stream Name="stdout" CommandId="ABC">` + b64(ms[0]) + `</rsp:Stream>` +
		`<rsp:Stream Name="stdout" CommandId="ABC">` + b64(ms[1][:30]) + `</rsp:Stream></rsp:ReceiveResponse></s:Body></s:Envelope>` +
		`text <s:Envelope><s:Body><rsp:CommandLine CommandId="ABC"><rsp:Arguments>` + b64(ms[2]) + `</rsp:Arguments></rsp:CommandLine>` +
		`<creationXml>` + b64(ms[1][30:]) + `</creationXml></s:Body></s:Envelope>`))
	f.Add([]byte(`<Envelope><Header><MessageID>1</MessageID><ResourceURI>cmd</ResourceURI></Header></Envelope><Envelope><Header><RelatesTo>1</RelatesTo></Header><Body><Stream Name="stdout">AAAA</Stream></Body></Envelope>`))
	addFileSeeds(f, "ironposh/*.xml", false)
	if dir := fuzzCorpusDir(); dir != "" {
		// Each envelope of a few recordings, and one whole small recording.
		for _, name := range []string{"test_psrp_open_runspace.yml", "test_psrp_set_runspaces.yml", "test_psrp_pshost_methods.yml", "test_psrp_disconnect_runspaces.yml"} {
			input, _, err := yamlEnvelopes(filepath.Join(dir, "pypsrp-winrm", name))
			if err != nil {
				continue
			}
			if len(input) <= maxSeed {
				f.Add(input)
			}
			for _, env := range bytes.Split(input, []byte("\n<")) {
				if len(env) <= maxSeed {
					f.Add(append([]byte("<"), env...))
				}
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, WSMan, data) })
}
