package format_test

import (
	"bytes"
	"flag"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/psmux/psmux/sessions/capture"
	"github.com/psmux/psmux/sessions/clixml"
	"github.com/psmux/psmux/sessions/format"
	"github.com/psmux/psmux/sessions/psrp"
	"github.com/psmux/psmux/testenv/transcripts"
)

var showGolden = flag.Bool("golden-diff", false, "print every scenario's rendering beside pwsh's")

// knownDiffs are the scenarios whose rendering still differs from what
// pwsh's own Out-String -Width 120 prints, each with the reason. A
// scenario that differs and is not listed fails; one that is listed
// and no longer differs fails too, so the list stays exact.
var knownDiffs = map[string]string{
	"prim-duration": "pwsh shows a TimeSpan with its list view (Days … TotalMilliseconds); sessions/format prints the <TS> wire text (P1DT2H3M4.005S)",
	"prim-guid":     "pwsh shows a Guid as a one-column table headed Guid; sessions/format prints the bare value",
	"prim-uri":      "pwsh lists a live System.Uri's properties; the <URI> wire form carries only the string, which sessions/format prints",
	"prim-version":  "pwsh shows a Version as a table (Major Minor Build Revision); sessions/format prints 1.2.3.4",
	"prim-xml":      "pwsh shows an XmlDocument through its XML adapter (a table of the root element); sessions/format prints the XML string",
	"childitem":     "pwsh uses the FileSystem table view (Directory: header, Mode LastWriteTime Length Name); sessions/format has no view for Deserialized.System.IO.DirectoryInfo/FileInfo and lists every property",
}

// pipelineOutputs splits a transcript into its pipelines, in the order
// the client created them, each with its decoded PIPELINE_OUTPUT values.
func pipelineOutputs(t *testing.T, data []byte) [][]clixml.Value {
	t.Helper()
	var order []uuid.UUID
	outs := map[uuid.UUID][]clixml.Value{}
	d := capture.Decoder{Format: capture.OutOfProc}
	err := d.Decode(bytes.NewReader(data), func(r capture.Record) error {
		switch r.Type {
		case psrp.CreatePipeline:
			order = append(order, r.PID)
		case psrp.PipelineOutput:
			if len(r.Body()) == 0 { // pwsh's $null: an empty body
				outs[r.PID] = append(outs[r.PID], clixml.NilV())
				return nil
			}
			v, err := clixml.Decode(r.Body())
			if err != nil {
				return err
			}
			outs[r.PID] = append(outs[r.PID], v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	res := make([][]clixml.Value, len(order))
	for i, pid := range order {
		res[i] = outs[pid]
	}
	return res
}

// TestFormatMatchesPwshOutString renders the objects real pwsh sent for
// each recorded object scenario and compares the text with what pwsh's
// Out-String -Width 120 printed for the same objects in the same session.
func TestFormatMatchesPwshOutString(t *testing.T) {
	differs := map[string]bool{}
	var names []string
	for _, sc := range transcripts.Scenarios {
		if len(sc.Steps) != 2 || sc.Steps[1].Script != sc.Steps[0].Script+transcripts.OutString {
			continue
		}
		names = append(names, sc.Name)
		data, err := transcripts.Transcript(sc.Name)
		if err != nil {
			t.Fatal(err)
		}
		pipes := pipelineOutputs(t, data)
		if len(pipes) != 2 || len(pipes[1]) != 1 || pipes[1][0].Kind != clixml.String {
			t.Fatalf("%s: want two pipelines, the second one string: %d pipelines", sc.Name, len(pipes))
		}
		want := strings.TrimRight(strings.ReplaceAll(pipes[1][0].Text, "\r\n", "\n"), "\n")
		got := strings.TrimRight(strings.Join(format.Lines(pipes[0], 120), "\n"), "\n")
		// pwsh's Out-String starts a table or list after one blank line;
		// leading blank lines are compared as they are.
		if got != want {
			differs[sc.Name] = true
			if _, known := knownDiffs[sc.Name]; !known || *showGolden {
				t.Errorf("%s: sessions/format renders\n%s\n--- pwsh's Out-String -Width 120 prints\n%s\n---", sc.Name, show(got), show(want))
			}
		} else if *showGolden {
			t.Logf("%s: same", sc.Name)
		}
	}
	sort.Strings(names)
	for name, why := range knownDiffs {
		if !differs[name] {
			t.Errorf("%s is listed as a known difference (%s) but renders as pwsh does now: drop it from knownDiffs", name, why)
		}
	}
	if len(names) < 20 {
		t.Fatalf("only %d object scenarios: %v", len(names), names)
	}
}

func show(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		fmt.Fprintf(&b, "|%s|\n", l)
	}
	return b.String()
}
