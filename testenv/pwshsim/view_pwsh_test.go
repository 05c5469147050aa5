package pwshsim

import (
	"bytes"
	"strings"
	"testing"

	"github.com/psmux/psmux/sessions/clixml"
	"github.com/psmux/psmux/sessions/psrp"
	"github.com/psmux/psmux/testenv/transcripts"
)

// viewKnownDiffs are the recorded scenarios pwshsim's views still render
// differently from real pwsh's Out-String -Width 120, with the reason.
// A difference not listed fails, and so does a listed one that is gone.
var viewKnownDiffs = map[string]string{
	"prim-duration": "pwsh lists a TimeSpan's properties (Days … TotalMilliseconds); pwshsim prints the <TS> wire text",
	"prim-uri":      "pwsh lists a live System.Uri's properties; the <URI> wire form carries only the string, which pwshsim prints",
	"prim-xml":      "pwsh shows an XmlDocument through its XML adapter; pwshsim prints the XML text",
	"childitem":     "pwsh uses the FileSystem view (Directory: header, Mode LastWriteTime Length Name); pwshsim lists every property",
}

// recordedOutput decodes the PIPELINE_OUTPUT objects pwsh sent for script.
func recordedOutput(t *testing.T, recs map[replayKey][]replayEvent, script string) []clixml.Value {
	t.Helper()
	evs, ok := recs[replayKey{script: script}]
	if !ok {
		t.Fatalf("no recorded pipeline runs %q", script)
	}
	var out []clixml.Value
	for _, ev := range evs {
		if ev.t != psrp.PipelineOutput {
			continue
		}
		body := bytes.TrimPrefix(ev.body, []byte("\xef\xbb\xbf"))
		if len(body) == 0 { // $null
			out = append(out, clixml.NilV())
			continue
		}
		v, err := clixml.Decode(body)
		if err != nil {
			t.Fatalf("%q: %v", script, err)
		}
		out = append(out, v)
	}
	return out
}

// TestViewsMatchPwshOutString renders the objects real pwsh 7.6 sent in
// each recorded object scenario with pwshsim's views and compares the
// text with what pwsh's Out-String -Width 120 printed for the same
// objects (testenv/transcripts).
func TestViewsMatchPwshOutString(t *testing.T) {
	compared := 0
	differs := map[string]bool{}
	for _, sc := range transcripts.Scenarios {
		if len(sc.Steps) != 2 || sc.Steps[1].Script != sc.Steps[0].Script+transcripts.OutString {
			continue
		}
		data, err := transcripts.Transcript(sc.Name)
		if err != nil {
			t.Fatal(err)
		}
		recs := parseTranscript(data)
		objs := recordedOutput(t, recs, sc.Steps[0].Script)
		text := recordedOutput(t, recs, sc.Steps[1].Script)
		if len(text) != 1 || text[0].Kind != clixml.String {
			t.Fatalf("%s: Out-String sent %d objects, want one string", sc.Name, len(text))
		}
		compared++
		want := strings.TrimRight(strings.ReplaceAll(text[0].Text, "\r\n", "\n"), "\n")
		got := strings.TrimRight(strings.Join(renderAll(objs, 120), "\n"), "\n")
		if got == want {
			continue
		}
		differs[sc.Name] = true
		if _, known := viewKnownDiffs[sc.Name]; !known {
			t.Errorf("%s: pwshsim renders\n%s\n--- pwsh's Out-String -Width 120 printed\n%s\n---", sc.Name, got, want)
		}
	}
	for name, why := range viewKnownDiffs {
		if !differs[name] {
			t.Errorf("%s is a known difference (%s) but now renders as pwsh does: drop it", name, why)
		}
	}
	if compared < 20 {
		t.Fatalf("only %d recorded object scenarios compared", compared)
	}
}
