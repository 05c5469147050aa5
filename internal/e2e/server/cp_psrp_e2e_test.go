package server_test

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/psmux/psmux/internal/e2e"
	req "github.com/psmux/psmux/testenv/require"

	"github.com/psmux/psmux/testenv/opensshd"
)

// Copying to and from a session works without SFTP, over the session
// itself as PowerShell's Copy-Item -ToSession/-FromSession does: on a
// host whose sshd has no sftp subsystem, and in a local session. Real
// pwsh only (the copy runs .NET file calls pwshsim does not have).
func TestCpOverPSRPWithoutSFTP(t *testing.T) {
	opensshd.Require(t)
	pwsh := e2e.RealPwsh(t)
	if pwsh == "" {
		req.Missing(t, req.Pwsh, "no pwsh: . shared/pwsh/env.sh")
	}
	sshd := opensshd.Start(t, opensshd.Options{Subsystems: map[string]string{"powershell": req.SSHS(pwsh)}})
	m := e2e.NewMuxEnv(t)
	m.NewSSH(sshd, "nosftp")
	m.Must("new", "-n", "local", "--local", "--pwsh", pwsh)
	data := make([]byte, 2<<20+12345) // three chunks, the last a partial one
	rand.Read(data)
	dir := t.TempDir()
	src := filepath.Join(dir, "src.bin")
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"nosftp", "local"} {
		t.Run(s, func(t *testing.T) {
			remoteDir := t.TempDir()
			remote := filepath.Join(remoteDir, "remote.bin")
			m.Must("cp", src, s+":"+remote)
			back := filepath.Join(t.TempDir(), "back.bin")
			m.Must("cp", s+":"+remote, back)
			for _, p := range []string{remote, back} {
				if got, err := os.ReadFile(p); err != nil || !bytes.Equal(got, data) {
					t.Fatalf("%s: %v, %d bytes; want the %d bytes sent", p, err, len(got), len(data))
				}
			}
			if left, _ := filepath.Glob(filepath.Join(remoteDir, "*.psmux-part")); len(left) > 0 {
				t.Fatalf("the upload left %q", left)
			}
			// a directory takes the file under its own name, both ways
			m.Must("cp", src, s+":"+remoteDir)
			intoDir := t.TempDir()
			m.Must("cp", s+":"+remote, intoDir)
			for _, p := range []string{filepath.Join(remoteDir, "src.bin"), filepath.Join(intoDir, "remote.bin")} {
				if got, err := os.ReadFile(p); err != nil || !bytes.Equal(got, data) {
					t.Fatalf("copy into a directory, %s: %v, %d bytes", p, err, len(got))
				}
			}
			// a relative path is taken from the session's location
			m.Must("exec", "-t", s, "--", "Set-Location '"+remoteDir+"'")
			m.Must("cp", src, s+":relative.bin")
			if got, err := os.ReadFile(filepath.Join(remoteDir, "relative.bin")); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("relative upload: %v, %d bytes", err, len(got))
			}
			// a missing file: exit 1 and PowerShell's text with the path
			missing := filepath.Join(remoteDir, "missing.bin")
			r := m.Run("cp", s+":"+missing, filepath.Join(dir, "x"))
			if r.Code != 1 || !strings.Contains(r.Stderr, "Cannot find path '"+missing+"' because it does not exist.") {
				t.Fatalf("cp of a missing file: exit %d, stderr %q; want 1 and PowerShell's text naming the path", r.Code, r.Stderr)
			}
		})
	}
}
