package repl

import (
	"context"
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
