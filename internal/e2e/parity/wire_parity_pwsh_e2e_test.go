package parity_test

import (
	"slices"
	"strconv"
	"testing"

	"github.com/psmux/psmux/internal/e2e"
	"github.com/psmux/psmux/testenv/opensshd"
	req "github.com/psmux/psmux/testenv/require"
)

func TestWireParityPwsh(t *testing.T) {
	opensshd.Require(t)
	req.Tool(t, req.Tmux, "tmux", "apt-get install tmux")
	server := e2e.RealPwsh(t)
	if server == "" {
		t.Skip("no real pwsh")
	}
	client := req.PwshBin()
	if client == "" {
		req.Missing(t, req.Pwsh, "no pwsh launcher for the reference client")
	}
	allowed := e2e.WireAllowList(t)
	e := e2e.NewWireEnv(t, server)
	t.Run("capture", func(t *testing.T) {
		for name, drive := range map[string]func(e *e2e.WireEnv){
			"pwsh-batch":        func(e *e2e.WireEnv) { e.PwshBatch(client) },
			"pwsh-interactive":  func(e *e2e.WireEnv) { e.PwshInteractive(client) },
			"psmux-batch":       (*e2e.WireEnv).PsmuxBatch,
			"psmux-interactive": (*e2e.WireEnv).PsmuxInteractive,
		} {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				drive(e.On(t))
			})
		}
	})
	if t.Failed() {
		return
	}
	used := make([]int, len(allowed))
	example := make([]string, len(allowed))
	for _, scenario := range e2e.WireScenarios {
		caps := map[string]*e2e.WireCapture{}
		for _, side := range []string{e2e.WireRef, e2e.WireMux} {
			c, problems := e2e.ReadWire(e.Path(side, scenario))
			for _, p := range problems {
				t.Errorf("%s %s: %v", side, scenario, p)
			}
			caps[side] = c
		}
		if caps[e2e.WireRef] == nil || caps[e2e.WireMux] == nil {
			continue
		}
		for _, d := range e2e.CompareWire(scenario, caps[e2e.WireRef], caps[e2e.WireMux]) {
			i := slices.IndexFunc(allowed, func(a e2e.WireAllowed) bool { return a.Re.MatchString(d.Key) })
			if i < 0 {
				t.Errorf("wire difference not in docs/WIRE-PARITY.md: %s %s", d.Key, d.Detail)
				continue
			}
			if used[i]++; used[i] == 1 {
				example[i] = d.Key + " " + d.Detail
			}
		}
	}
	for i, a := range allowed {
		if used[i] > 0 {
			t.Logf("allowed (%s) %dx %s, e.g. %s", a.Status, used[i], a.Pattern, example[i])
		} else if a.Status == "harmless, timing" {
			t.Logf("allowed (%s) 0x %s: not seen in this run", a.Status, a.Pattern)
		} else {
			t.Errorf("docs/WIRE-PARITY.md allows %s (%s), which no longer differs: remove the row", strconv.Quote(a.Pattern), a.Status)
		}
	}
}
