package ssh_test

import (
	"strings"
	"testing"
	"time"

	"github.com/psmux/psmux/internal/e2e"
	"github.com/psmux/psmux/testenv/opensshd"
)

// A session created with --reconnect heals by itself (issue 14 item 3):
// its sshd is killed, with every connection, and started again a little
// later; with no client doing anything the session is Opened again, on a
// new runspace with its init script run again, and its log says so. A
// session without --reconnect stays Broken.
func TestReconnectingSessionHealsWhenTheHostComesBack(t *testing.T) {
	opensshd.Require(t)
	e2e.EachSubsystem(t, func(t *testing.T, server, sub string) {
		sshd := e2e.StartSshd(t, sub)
		m := e2e.NewMuxEnv(t)
		m.NewSSH(sshd, "healing", "--reconnect", "--init", "$marker = 'from init'")
		m.NewSSH(sshd, "plain")
		m.Must("exec", "-t", "healing", "--", "$x = 'before'")
		sshd.Kill()
		m.WaitState("healing", "Broken")
		m.WaitState("plain", "Broken")
		// down until the healer has found nobody answering twice
		for deadline := time.Now().Add(2 * time.Minute); !strings.Contains(m.Log(), "session healing (1): reconnecting (attempt 3)"); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the healer never tried a third time:\n%s", m.Log())
			}
		}
		sshd.Restart(t)
		back := time.Now()
		m.WaitState("healing", "Opened")
		t.Logf("%s: Opened again %s after sshd came back", server, time.Since(back).Round(10*time.Millisecond))
		out := m.Must("exec", "-t", "healing", "--", `"[$x] $marker"`).Stdout
		if strings.TrimSpace(out) != "[] from init" {
			t.Fatalf("after healing: %q; want a new runspace ($x gone) with the init script run again", out)
		}
		log := m.Must("capture", "-t", "healing").Stderr // session events: psmux: session NAME: …
		for _, want := range []string{"Broken: ", "Reconnecting: the server reopens the session", "Reconnected by the server after the link broke", "the init script ran again"} {
			if !strings.Contains(log, want) {
				t.Fatalf("the log does not say %q:\n%s", want, log)
			}
		}
		if rows := m.Ls(); rows[1].Name != "plain" || rows[1].State != "Broken" {
			t.Fatalf("a session without --reconnect: %+v; want it left Broken", rows[1])
		}
	})
}
