package sessions_test

import (
	"strings"
	"testing"

	"github.com/psmux/psmux/sessions"
)

func TestSplitCommand(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"pwsh -sshs -NoLogo", []string{"pwsh", "-sshs", "-NoLogo"}},
		{"  python3   'a b/server.py'  ", []string{"python3", "a b/server.py"}},
		{`sh -c "echo 'x'"`, []string{"sh", "-c", "echo 'x'"}},
		{"a ''", []string{"a", ""}},
	} {
		got, err := sessions.SplitCommand(tc.in)
		if err != nil || strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want) {
			t.Errorf("sessions.SplitCommand(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "  ", "sh 'open"} {
		if _, err := sessions.SplitCommand(bad); err == nil {
			t.Errorf("sessions.SplitCommand(%q) succeeded", bad)
		}
	}
}
