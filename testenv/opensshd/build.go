package opensshd

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var pwshsimBuild struct {
	once sync.Once
	bin  []byte // the built executable
	err  error
}

// BuildPwshsim builds testenv/cmd/pwshsim once per test binary and returns
// the path of a copy in t.TempDir(), so nothing outlives the test. The
// module root is found by walking up from the working directory to go.mod.
func BuildPwshsim(t testing.TB) string {
	t.Helper()
	b := &pwshsimBuild
	b.once.Do(func() { b.bin, b.err = buildPwshsim() })
	if b.err != nil {
		t.Fatal(b.err)
	}
	path := filepath.Join(t.TempDir(), "pwshsim")
	if err := os.WriteFile(path, b.bin, 0o755); err != nil {
		t.Fatalf("opensshd: write pwshsim: %v", err)
	}
	return path
}

func buildPwshsim() ([]byte, error) {
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return nil, fmt.Errorf("opensshd: build pwshsim: %w", err)
	}
	dir, err := os.MkdirTemp("", "psmux-pwshsim-")
	if err != nil {
		return nil, fmt.Errorf("opensshd: build pwshsim: %w", err)
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "pwshsim")
	cmd := exec.Command(goBin, "build", "-o", out, "./testenv/cmd/pwshsim")
	cmd.Dir = root
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("opensshd: go build pwshsim: %w\n%s", err, msg)
	}
	bin, err := os.ReadFile(out)
	if err != nil {
		return nil, fmt.Errorf("opensshd: build pwshsim: %w", err)
	}
	return bin, nil
}

// moduleRoot walks up from the working directory to the directory that
// holds go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("opensshd: find module root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("opensshd: find module root: no go.mod above the working directory")
		}
		dir = parent
	}
}
