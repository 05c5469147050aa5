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
