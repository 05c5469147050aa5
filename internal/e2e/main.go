package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/psmux/psmux/testenv/reap"
)

// Main is the TestMain of every end-to-end package: it builds psmux and
// pwshsim into a temporary directory (or uses BinDirEnv's), runs the
// tests, and makes sure nothing they start outlives the test binary.
func Main(m *testing.M) {
	reap.Main() // nothing the tests start outlives this binary
	if dir := os.Getenv(BinDirEnv); dir != "" {
		BinDir = dir
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "psmux-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	BinDir = dir
	for _, b := range []struct{ out, pkg string }{{"psmux", "cmd/psmux"}, {"pwshsim", "testenv/cmd/pwshsim"}} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, b.out), "./"+b.pkg)
		cmd.Dir = Root()
		// as the README installs psmux: without cgo, a static binary
		// that starts ~3 ms sooner (no dynamic loader, no libc)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: build %s: %v\n%s", b.pkg, err, out)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var root = sync.OnceValue(func() string {
	dir, err := os.Getwd()
	if err != nil {
		panic(fmt.Sprintf("e2e: %v", err))
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			panic("e2e: no go.mod above " + dir)
		}
	}
})

// Root is the module's root directory (the one holding go.mod), found
// from the test's working directory.
func Root() string { return root() }

// Exit statuses of exec and invoke (SPEC S8), as a user's script sees them.
const (
	ExitOK      = 0
	ExitErrors  = 1
	ExitUsage   = 2
	ExitConnect = 3
	ExitStopped = 4
	ExitBusy    = 5
)
