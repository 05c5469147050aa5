package cli_test

import (
	"strings"
	"testing"

	"github.com/psmux/psmux/internal/e2e"
)

// The server runs its Go code on one thread unless --procs says
// otherwise (mux.DefaultProcs): a server started on demand says so in
// its log, and one started with --procs 3 runs on three.
func TestServerProcs(t *testing.T) {
	t.Run("on demand", func(t *testing.T) {
		m := e2e.NewMuxEnv(t)
		m.Must("new", "-n", "a", "--local", "--pwsh", e2e.PwshsimBin()+" -s")
		if log := m.Log(); !strings.Contains(log, "GOMAXPROCS=1 ") {
			t.Fatalf("the server started on demand does not run on one thread; its log:\n%s", log)
		}
	})
	t.Run("--procs 3", func(t *testing.T) {
		m := e2e.NewMuxEnv(t)
		log := m.Serve("--procs", "3")
		log.WaitFor(t, "GOMAXPROCS=3 ")
	})
}
