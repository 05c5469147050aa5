package psrp

import "testing"

// LinesFit keeps the text-lines filter from scripts it cannot follow,
// and only from those: a begin or dynamicparam block, Start-Transcript
// (in any case and spacing), and Update-TypeData, which also ends it for
// the scripts after.
func TestLinesFit(t *testing.T) {
	for _, tc := range []struct {
		script     string
		now, later bool
	}{
		{`1..3`, true, true},
		{`Get-Item /; 'began'`, true, true},
		{`begin { 1 } end { 2 }`, false, true},
		{"BEGIN\n{ 1 }", false, true},
		{`[CmdletBinding()] param() dynamicparam { } end { }`, false, true},
		{`Start-Transcript /tmp/t`, false, true},
		{`start-transcript`, false, true},
		{`Update-TypeData -TypeName System.Int32 -MemberName x -Value 1 -MemberType NoteProperty`, false, false},
		{`$beginning = 1; $beginning`, true, true},
	} {
		now, later := LinesFit(tc.script)
		if now != tc.now || later != tc.later {
			t.Errorf("LinesFit(%q) = %v, %v; want %v, %v", tc.script, now, later, tc.now, tc.later)
		}
		if p := TextPipeline(tc.script); p.EndsInLinesFilter() != tc.now {
			t.Errorf("TextPipeline(%q) ends in the filter: %v; want %v", tc.script, p.EndsInLinesFilter(), tc.now)
		}
	}
}
