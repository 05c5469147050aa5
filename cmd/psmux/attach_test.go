package main

import "testing"

// attach --via carries -L and -S to the far side's psmux proxy, quoted
// for its shell.
func TestProxyCommandCarriesTheSocket(t *testing.T) {
	for _, c := range []struct {
		g    global
		want string
	}{
		{global{}, "psmux proxy"},
		{global{label: "work"}, "psmux -L 'work' proxy"},
		{global{socket: "/run/it's/s"}, `psmux -S '/run/it'\''s/s' proxy`},
	} {
		if got := proxyCommand(c.g); got != c.want {
			t.Errorf("proxyCommand(%+v) = %q, want %q", c.g, got, c.want)
		}
	}
}
