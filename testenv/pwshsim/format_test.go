package pwshsim

import (
	"strings"
	"testing"

	"github.com/psmux/psmux/sessions/clixml"
)

func custom(props ...clixml.Property) clixml.Value {
	return cxObj(&clixml.PSObject{TypeNames: tnCustom, Members: props})
}

func TestFormatLines(t *testing.T) {
	dt := clixml.Value{Kind: clixml.DateTime, Text: "2026-11-22T10:29:00+01:00"}
	proc := cxObj(&clixml.PSObject{
		TypeNames: []string{"Deserialized.System.Diagnostics.Process", "Deserialized.System.ComponentModel.Component"},
		Props: []clixml.Property{cxProp("Id", cxI32(42)), cxProp("ProcessName", cxStr("pwsh")), cxProp("SI", cxI32(1)),
			cxProp("NPM", cxI64(20480)), cxProp("PM", cxI64(10485760)), cxProp("WS", cxI64(1572864000)), cxProp("CPU", cxDbl(12345.678))},
	})
	tests := []struct {
		name  string
		in    []clixml.Value
		width int
		want  []string
	}{
		{"primitives", []clixml.Value{cxStr("a\nb"), cxI32(5), cxBool(true), cxNil(), cxDbl(0.5)}, 80,
			[]string{"a", "b", "5", "True", "0.5"}},
		{"table", []clixml.Value{custom(cxProp("Name", cxStr("x")), cxProp("Len", cxI32(1000))),
			custom(cxProp("Name", cxStr("longer")), cxProp("Len", cxI32(2)))}, 80,
			[]string{"", "Name    Len", "----    ---", "x      1000", "longer    2", ""}},
		{"list", []clixml.Value{custom(cxProp("A", cxI32(1)), cxProp("Bb", cxStr("x")), cxProp("C", cxNil()),
			cxProp("D", cxList(tnObjectArray, []clixml.Value{cxI32(1), cxI32(2)})), cxProp("E", cxBool(false)))}, 80,
			[]string{"", "A  : 1", "Bb : x", "C  : ", "D  : {1, 2}", "E  : False", ""}},
		{"list wraps", []clixml.Value{custom(cxProp("A", cxStr(strings.Repeat("x", 30))), cxProp("B", cxI32(1)),
			cxProp("C", cxI32(1)), cxProp("D", cxI32(1)), cxProp("E", cxI32(1)))}, 20,
			[]string{"", "A : xxxxxxxxxxxxxxxx", "    xxxxxxxxxxxxxx", "B : 1", "C : 1", "D : 1", "E : 1", ""}},
		{"narrow table cuts", []clixml.Value{custom(cxProp("Name", cxStr("abcdefghij")), cxProp("Other", cxStr("klmnopqrst")))}, 12,
			[]string{"", "Name  Other", "----  -----", "abcd… klmno…", ""}},
		{"deserialized process view", []clixml.Value{proc}, 80, []string{"",
			" NPM(K)    PM(M)      WS(M)     CPU(s)      Id  SI ProcessName",
			" ------    -----      -----     ------      --  -- -----------",
			"     20    10.00   1,500.00  12,345.68      42   1 pwsh", ""}},
		{"datetime", []clixml.Value{dt, dt}, 80, []string{"", "Sunday, 22 November 2026 10:29:00", "Sunday, 22 November 2026 10:29:00", ""}},
		{"datetime in cell", []clixml.Value{custom(cxProp("When", dt))}, 80, []string{"", "When", "----", "11/22/2026 10:29:00", ""}},
		// As pwsh 7.6 prints [version]"1.2" and [version]"123456789.2.3.4".
		{"version", []clixml.Value{{Kind: clixml.Version, Text: "1.2"}, {Kind: clixml.Version, Text: "123456789.2.3.4"}}, 80,
			[]string{"", "Major  Minor  Build  Revision", "-----  -----  -----  --------", "1      2      -1     -1", "12345… 2      3      4", ""}},
		{"enum", []clixml.Value{cxEnum("System.ConsoleColor", "Red", 12)}, 80, []string{"Red"}},
		{"array unrolls", []clixml.Value{cxList(tnObjectArray, []clixml.Value{cxStr("x"), cxStr("y")})}, 80, []string{"x", "y"}},
		{"secure string", []clixml.Value{{Kind: clixml.SecureString, Text: "AA=="}}, 80, []string{"System.Security.SecureString"}},
		{"type change ends table", []clixml.Value{custom(cxProp("a", cxI32(1))), cxStr("s"), custom(cxProp("a", cxI32(2)))}, 80,
			[]string{"", "a", "-", "1", "", "s", "", "a", "-", "2", ""}},
		{"nested object cell", []clixml.Value{custom(cxProp("o", custom(cxProp("x", cxI32(1)), cxProp("y", cxStr("z")))))}, 80,
			[]string{"", "o", "-", "@{x=1; y=z}", ""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := renderAll(tc.in, tc.width)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

func TestFormatterStreaming(t *testing.T) {
	f := newViewer(80)
	texts := func(ls []viewLine) []string {
		var out []string
		for _, l := range ls {
			out = append(out, l.text)
		}
		return out
	}
	var got []string
	got = append(got, texts(f.add(custom(cxProp("n", cxStr("a")))))...)
	got = append(got, texts(f.flush())...) // header fixed here (pwsh's 300 ms)
	got = append(got, texts(f.add(custom(cxProp("n", cxStr("longer")))))...)
	got = append(got, texts(f.end())...)
	want := []string{"", "n", "-", "a", "…", ""} // widths were fixed at the flush
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestFormatErrorRecordFlattened(t *testing.T) {
	// A record sent with RemoteStreamOptions: InvocationInfo_* notes.
	rec := cxObj(&clixml.PSObject{
		TypeNames:   []string{"Deserialized.System.Management.Automation.ErrorRecord"},
		ToString:    "Cannot find path '/nope' because it does not exist.",
		HasToString: true,
		Members: []clixml.Property{
			cxProp("Exception", cxObj(&clixml.PSObject{Props: []clixml.Property{cxProp("Message", cxStr("Cannot find path '/nope' because it does not exist."))}})),
			cxProp("ErrorCategory_Category", cxI32(13)),
			cxProp("ErrorCategory_Activity", cxStr("Get-Item")),
			cxProp("InvocationInfo_MyCommand", cxStr("Get-Item")),
			cxProp("InvocationInfo_ScriptLineNumber", cxI32(1)),
		},
	})
	if got := conciseView(rec); len(got) != 1 || got[0] != "Get-Item: Cannot find path '/nope' because it does not exist." {
		t.Errorf("got %q", got)
	}
	lines := renderAll([]clixml.Value{cxStr("x"), rec}, 80)
	if len(lines) != 2 || !strings.HasPrefix(lines[1], "Get-Item: ") {
		t.Errorf("FormatLines %q", lines)
	}
}

func TestFormatDouble(t *testing.T) {
	a, b := 0.1, 0.2
	for in, want := range map[float64]string{3.5: "3.5", 1e15: "1E+15", 123456789012345: "123456789012345",
		0.0001: "0.0001", 0.00001: "1E-05", -2.5e-7: "-2.5E-07", a + b: "0.30000000000000004", 100: "100"} {
		if got := formatDouble(in); got != want {
			t.Errorf("formatDouble(%v) = %q, want %q", in, got, want)
		}
	}
}

// As real pwsh 7.6 prints these doubles (output and "$x"); see
// TestViewsAgainstRealPwsh for the comparison with pwsh itself.
func TestPsDouble(t *testing.T) {
	a, b := 0.1, 0.2
	for in, want := range map[float64]string{a + b: "0.3", 1.0 / 3: "0.333333333333333", 1e20: "1E+20", 1.5e-7: "1.5E-07",
		123456789012345678: "1.23456789012346E+17", 3: "3", -2.5: "-2.5", 93784005.0 / 86400000: "1.08546302083333"} {
		if got := psDouble(in); got != want {
			t.Errorf("psDouble(%v) = %q, want %q", in, got, want)
		}
	}
}
