package sessions

import (
	"context"
	"sync/atomic"

	"github.com/psmux/psmux/sessions/clixml"
	"github.com/psmux/psmux/sessions/psrp"
)

// TextPipeline returns the pipeline that prints script's output as
// pwsh's host would: psrp.TextPipeline when the server runs
// psrp.LinesFilter, else the script and Out-Default, as Enter-PSSession
// sends it. Whether it does is asked once per connection, with the
// filter run on no input (psrp.LinesProbe): a server whose language
// mode allows no scripts (a JEA endpoint) or no steppable pipelines
// (ConstrainedLanguage), one that transcribes, or one that is not
// PowerShell fails it. A probe that ctx cut short is asked again next
// time; two callers may both ask, which costs one probe more. A script
// psrp.LinesFit says the filter cannot follow gets Out-Default without
// a probe; after one it says no later one fits, none does.
func (c *Conn) TextPipeline(ctx context.Context, script string) psrp.CreatePipelineMsg {
	now, later := psrp.LinesFit(script)
	if !later {
		c.lines.Store(-1)
	}
	if !now {
		return psrp.ScriptPipeline(script, true)
	}
	if c.lines.Load() == 0 {
		var h probeHandler
		res, err := c.invoke(ctx, psrp.LinesProbe(), nil, &h)
		switch {
		case err == nil && res.State == psrp.Completed && !res.HadErrors && h.n.Load() == 0:
			c.lines.CompareAndSwap(0, 1)
		case err == nil && ctx.Err() == nil:
			c.lines.Store(-1)
		}
	}
	if c.lines.Load() == 1 {
		return psrp.TextPipeline(script)
	}
	return psrp.ScriptPipeline(script, true)
}

// probeHandler counts what a probe printed, which it should not.
type probeHandler struct{ n atomic.Int32 }

func (h *probeHandler) Message(psrp.MessageType, clixml.Value) { h.n.Add(1) }

func (h *probeHandler) HostCall(context.Context, psrp.HostCallMsg) (clixml.Value, *clixml.Value) {
	h.n.Add(1)
	return clixml.Value{}, nil
}
