package repl

import "testing"

// PowerShell's other quote characters open and close strings as ' and "
// do, so a line ends or continues as pwsh would parse it.
func TestIncompleteQuoteCharacters(t *testing.T) {
	for _, c := range []struct {
		script string
		open   bool
	}{
		{"'it’s'", true},     // ’ closes the string, the last ' opens one
		{"'it’’s'", false},   // ’’ is an escaped quote
		{"‘a’", false},       // typographic single quotes
		{"“a”", false},       // typographic double quotes
		{"“a", true},         // an open double-quoted string
		{"\"it’s\"", false},  // ’ inside a double-quoted string is text
		{"„a“ + 'b'", false}, // low and high double quotes
	} {
		if got := Incomplete(c.script); got != c.open {
			t.Errorf("Incomplete(%q) = %v, want %v", c.script, got, c.open)
		}
	}
}

// A line ending where pwsh's parser reports incomplete input continues,
// as pwsh's console shows ">>" (checked against the parser's
// IncompleteInput: Get-Process |, 1,, a backtick at the very end, 1 +,
// a &&, a ||, a pipe then a comment); a backtick followed by spaces, a
// quoted pipe and a parameter do not.
func TestIncompleteLikePwshParser(t *testing.T) {
	for _, c := range []struct {
		script string
		open   bool
	}{
		{"Get-Process |", true},
		{"1,", true},
		{"Get-Date `", true},
		{"1 +", true},
		{"$x =", true},
		{"a &&", true},
		{"a ||", true},
		{"Get-Process | # why", true},
		{"'x' |  ", true},
		{"Get-Date `  ", false},
		{"'a |'", false},
		{"Get-ChildItem -Recurse", false},
		{"1..3 | % { $_ }", false},
		{"Get-Process |\nSelect-Object -First 1", false},
		{"a & b", false},
		{"$x = 1", false},
		{"# just |", false},
	} {
		if got := Incomplete(c.script); got != c.open {
			t.Errorf("Incomplete(%q) = %v, want %v", c.script, got, c.open)
		}
	}
}
