package pwshsim

import (
	"os/exec"
	"strings"
	"testing"
)

// TestIndependentOfPsmuxRendering: pwshsim is the stand-in for real pwsh,
// so it computes its answers itself. If it imported psmux's formatter or
// SecureString crypto, a bug there would make the double agree with psmux
// and the tests comparing them would pass for the wrong reason.
func TestIndependentOfPsmuxRendering(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list the package's imports: %v", err)
	}
	out, err := exec.Command(goBin, "list", "-deps", "github.com/psmux/psmux/testenv/pwshsim").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) == 0 || deps[len(deps)-1] != "github.com/psmux/psmux/testenv/pwshsim" {
		t.Fatalf("go list -deps listed %q, not pwshsim's dependencies", deps)
	}
	for _, banned := range []string{"github.com/psmux/psmux/sessions/format", "github.com/psmux/psmux/sessions/pscrypto"} {
		for _, d := range deps {
			if d == banned {
				t.Errorf("pwshsim depends on %s; the double must compute its answers without psmux's code", banned)
			}
		}
	}
}
