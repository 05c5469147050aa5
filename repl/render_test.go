package repl

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/psmux/psmux/sessions/clixml"
	"github.com/psmux/psmux/sessions/format"
	"github.com/psmux/psmux/sessions/psrp"
)

func record(typeName, msg string) clixml.Value {
	o := &clixml.PSObject{TypeNames: []string{typeName, "System.Management.Automation.InformationalRecord", "System.Object"}, ToString: msg, HasToString: true}
	o.AddMember("InformationalRecord_Message", clixml.Str(msg))
	return clixml.Obj(o)
}

func newRenderer() (*Renderer, *strings.Builder, *strings.Builder) {
	var out, errb strings.Builder
	return &Renderer{Out: &out, Err: &errb, Format: format.Lines, Width: 80}, &out, &errb
}

// A warning sent both as a record and as a host call (pwsh) prints once;
// sent only as a record (a server that does not format) it still prints.
func TestRendererShowsTwinsOnce(t *testing.T) {
	r, _, errb := newRenderer()
	r.Message(psrp.WarningRecord, record("System.Management.Automation.WarningRecord", "careful"))
	r.HostCall(context.Background(), psrp.HostCallMsg{CI: -100, Method: psrp.WriteWarningLine, Params: []clixml.Value{clixml.Str("careful")}})
	r.HostCall(context.Background(), psrp.HostCallMsg{CI: -100, Method: psrp.WriteWarningLine, Params: []clixml.Value{clixml.Str("again")}})
	r.Message(psrp.WarningRecord, record("System.Management.Automation.WarningRecord", "again"))
	r.Message(psrp.WarningRecord, record("System.Management.Automation.WarningRecord", "only a record"))
	want := "WARNING: careful\nWARNING: again\nWARNING: only a record\n"
	if errb.String() != want {
		t.Fatalf("stderr %q, want %q", errb.String(), want)
	}
}

func TestRendererFormatsUnformattedOutputAndColours(t *testing.T) {
	r, out, errb := newRenderer()
	r.Color = true
	r.Message(psrp.PipelineOutput, clixml.I32(42))
	r.HostCall(context.Background(), psrp.HostCallMsg{CI: -100, Method: psrp.WriteErrorLine, Params: []clixml.Value{clixml.Str("boom")}})
	if out.String() != "42\n" {
		t.Fatalf("stdout %q", out.String())
	}
	if errb.String() != "\x1b[91mboom\x1b[0m\n" || r.Errors() != 1 {
		t.Fatalf("stderr %q errors %d", errb.String(), r.Errors())
	}
	r2, _, errb2 := newRenderer() // NO_COLOR: Color false
	r2.HostCall(context.Background(), psrp.HostCallMsg{CI: -100, Method: psrp.WriteErrorLine, Params: []clixml.Value{clixml.Str("boom")}})
	if strings.Contains(errb2.String(), "\x1b") {
		t.Fatalf("escape codes without colour: %q", errb2.String())
	}
}

func TestRendererPromptWithoutTerminalFails(t *testing.T) {
	r, _, _ := newRenderer()
	_, errRec := r.HostCall(context.Background(), psrp.HostCallMsg{CI: 1, Method: psrp.ReadLine})
	if errRec == nil || !strings.Contains(errRec.Obj.ToString, "needs an interactive terminal") {
		t.Fatalf("ReadLine without a terminal: %+v", errRec)
	}
}

// Output written as host calls with no twin to match (text output of a
// long command, one WriteLine per line) is remembered for at most
// maxTwins lines: the memory stays flat, and a twin is still found.
func TestRendererTwinsStayBounded(t *testing.T) {
	r, out, errb := newRenderer()
	for i := range 100000 {
		r.HostCall(context.Background(), psrp.HostCallMsg{CI: -100, Method: psrp.WriteLine2, Params: []clixml.Value{clixml.Str("line " + strconv.Itoa(i))}})
	}
	if len(r.twins) > maxTwins || r.twinN > maxTwins || len(r.twinOrder) > maxTwins {
		t.Fatalf("after 100000 lines the renderer remembers %d keys (%d in order), want ≤ %d", len(r.twins), r.twinN, maxTwins)
	}
	if n := strings.Count(out.String(), "\n"); n != 100000 {
		t.Fatalf("%d lines printed, want 100000", n)
	}
	r.HostCall(context.Background(), psrp.HostCallMsg{CI: -100, Method: psrp.WriteWarningLine, Params: []clixml.Value{clixml.Str("late")}})
	r.Message(psrp.WarningRecord, record("System.Management.Automation.WarningRecord", "late"))
	if errb.String() != "WARNING: late\n" {
		t.Fatalf("stderr %q: the late warning's twin should print once", errb.String())
	}
}

// Long host writes (the pieces of a long line, mux.maxEventText each) are
// remembered for at most maxTwinBytes of text, the newest always: a
// client printing a 60 MB line keeps a few MB for twins, not 60, and the
// newest text still finds its twin.
func TestRendererTwinBytesStayBounded(t *testing.T) {
	r, out, _ := newRenderer()
	piece := strings.Repeat("p", 1<<20)
	for i := range 60 {
		r.HostCall(context.Background(), psrp.HostCallMsg{CI: -100, Method: psrp.Write1, Params: []clixml.Value{clixml.Str(piece[:len(piece)-i])}})
	}
	if r.twinBytes > maxTwinBytes {
		t.Fatalf("after 60 MB of writes the renderer remembers %d bytes of text, want ≤ %d", r.twinBytes, maxTwinBytes)
	}
	held := 0
	for k, n := range r.twins {
		held += n * len(k.text)
	}
	if held != r.twinBytes {
		t.Fatalf("the twins hold %d bytes, the ring counts %d", held, r.twinBytes)
	}
	n := out.Len()
	info := hostRecord(piece[:len(piece)-59])
	r.Message(psrp.InformationRecord, info)
	if out.Len() != n {
		t.Fatalf("the last piece's record printed again (%d bytes)", out.Len()-n)
	}
}

// hostRecord is a Write-Host record of msg (an InformationRecord tagged
// PSHOST) as a server that does not format sends it.
func hostRecord(msg string) clixml.Value {
	tags := &clixml.PSObject{Container: clixml.List, Items: []clixml.Value{clixml.Str("PSHOST")}}
	o := clixml.NewObject("System.Management.Automation.InformationRecord").
		AddMember("MessageData", clixml.Str(msg)).AddMember("Tags", clixml.Obj(tags))
	return clixml.Obj(o)
}
