package ssh_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/psmux/psmux/internal/e2e"
	"github.com/psmux/psmux/testenv/opensshd"
)

// jsonEvents are the stream and computer of each event line of NDJSON
// output (the closing state line left out).
func jsonEvents(t *testing.T, out string) []string {
	t.Helper()
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var v map[string]any
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("not a JSON line: %q: %v", l, err)
		}
		if s, ok := v["stream"]; ok {
			got = append(got, fmt.Sprintf("%v@%v", s, v["computer"]))
		}
	}
	return got
}

// exec --json on a server session reports a command's events as invoke
// --json does to the same host: each record once (Write-Host and
// Write-Verbose are not also reported as Host writes) and the computer
// as given (the ssh_config alias), as PSComputerName keeps -HostName's.
func TestExecAndInvokeJSONAgree(t *testing.T) {
	opensshd.Require(t)
	e2e.EachSubsystem(t, func(t *testing.T, server, sub string) {
		sshd := e2e.StartSshd(t, sub)
		m := e2e.NewMuxEnv(t)
		m.NewSSH(sshd, "j")
		const script = "Write-Verbose v -Verbose; Write-Information i; Write-Host h; 1"
		exec := jsonEvents(t, m.Must("exec", "-t", "j", "--json", "--", script).Stdout)
		inv := e2e.RunCmd(t, e2e.Command(e2e.PsmuxBin(), "invoke", "-F", sshd.SSHConfig, "--json", sshd.Alias, "--", script))
		if inv.Code != 0 {
			t.Fatalf("invoke --json: exit %d\n%s", inv.Code, inv.Stderr)
		}
		invoke := jsonEvents(t, inv.Stdout)
		a := sshd.Alias
		want := []string{"Verbose@" + a, "Information@" + a, "Information@" + a, "Output@" + a}
		if strings.Join(exec, " ") != strings.Join(want, " ") || strings.Join(invoke, " ") != strings.Join(want, " ") {
			t.Fatalf("events (stream@computer):\nexec   %q\ninvoke %q\nwant   %q", exec, invoke, want)
		}
	})
}
