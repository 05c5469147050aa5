package pwshsim

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	req "github.com/psmux/psmux/testenv/require"
)

// viewScripts are scripts whose Out-String -Width 80 text pwshsim must
// print as real pwsh does.
var viewScripts = []struct{ name, script string }{
	{"double output", "$x = 0.1; $y = 0.2; $x + $y; 1/3; 1e20; 1.5e-7; 123456789012345678.0; 3.0"},
	{"double in a string", `"$(0.1 + 0.2) $(1/3)"; (0.1 + 0.2).ToString()`},
	{"table floats", "[pscustomobject]@{a = 1/3; b = 2.5; c = 1}, [pscustomobject]@{a = 1234567.891; b = 1e20; c = 22}"},
	{"table mixed", "[pscustomobject]@{x = 5; y = 's'}, [pscustomobject]@{x = 2.5; y = 't'}"},
	{"list", "[pscustomobject]@{A = 1; Bb = 'x'; D = @(1, 2, 3, 4, 5); E = $false; F = 1/3}"},
	{"list nulls", "[pscustomobject]@{A = 1; C = $null; S = 'y  '; D = @(); E = $false}"},
	{"table nulls", "[pscustomobject]@{A = $null; B = 'x  '}, [pscustomobject]@{A = 2; B = $null}"},
	{"date", "[datetime]'2026-11-22T10:29:00'"},
	{"date in a table", "[pscustomobject]@{When = [datetime]'2026-11-22T10:29:00'; N = 1}"},
	{"strings and ints", "'a', 'b  ', 1, 2, $true, $null, 'c'"},
	{"hashtable", "[ordered]@{a = 1; bb = 'x'; c = 0.5}"},
}

// endMark ends each script's text in real pwsh's answer.
const endMark = "<<end of Out-String>>"

// TestViewsAgainstRealPwsh runs each script's "| Out-String -Width 80" in
// real pwsh (one process for all) and in pwshsim and compares the text.
func TestViewsAgainstRealPwsh(t *testing.T) {
	bin := req.PwshBin()
	if bin == "" {
		req.Missing(t, req.Pwsh, "no pwsh on PATH or in PSMUX_PWSH_BIN")
	}
	var all strings.Builder
	for _, sc := range viewScripts {
		all.WriteString("[Console]::Out.Write(($(" + sc.script + ") | Out-String -Width 80) + '" + endMark + "')\n")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "-NoLogo", "-NoProfile", "-NonInteractive", "-Command", all.String()).Output()
	if err != nil {
		t.Fatalf("pwsh: %v\n%s", err, out)
	}
	answers := strings.Split(string(out), endMark)
	if len(answers) != len(viewScripts)+1 {
		t.Fatalf("pwsh answered %d scripts, want %d:\n%s", len(answers)-1, len(viewScripts), out)
	}
	for i, sc := range viewScripts {
		t.Run(sc.name, func(t *testing.T) {
			h := &fakeHost{}
			testRunspace().Invoke(ctx, script("$("+sc.script+") | Out-String -Width 80"), nil, h)
			got := outputs(h)
			if len(got) != 1 {
				t.Fatalf("pwshsim sent %d objects, want one string: %+v", len(got), got)
			}
			if got[0].Text != answers[i] {
				t.Errorf("pwshsim prints\n%q\nreal pwsh prints\n%q", got[0].Text, answers[i])
			}
		})
	}
}
