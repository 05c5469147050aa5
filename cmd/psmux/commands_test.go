package main

import (
	"strings"
	"testing"
)

// The CLI's one table: no name is taken twice (the second would never
// run), every command but help is in the usage, and a typo is answered
// with a name from the table.
func TestCommandTable(t *testing.T) {
	seen := map[string]bool{}
	u := usage()
	for _, c := range cliCommands {
		for _, n := range c.names {
			if seen[n] {
				t.Errorf("%q names two commands", n)
			}
			seen[n] = true
		}
		if c.run == nil && c.names != nil {
			t.Errorf("%v runs nothing", c.names)
		}
		if len(c.names) > 0 && c.names[0] != "help" && !strings.Contains(u, "\n  "+strings.Fields(c.synopsis[0][0])[0]) {
			t.Errorf("the usage does not list %q:\n%s", c.names[0], u)
		}
	}
	for typo, want := range map[string]string{"lss": "ls", "atach": "attach", "kill-sever": "kill-server", "recieve-job": "receive-job"} {
		if got := nearest(typo); got != want {
			t.Errorf("nearest(%q) = %q; want %q", typo, got, want)
		}
	}
}
