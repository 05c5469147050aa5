package e2e

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	req "github.com/psmux/psmux/testenv/require"

	"github.com/psmux/psmux/testenv/opensshd"
	gossh "golang.org/x/crypto/ssh"
)

// End-to-end tests of psmux over SSH against Debian's real sshd on
// loopback, whose "Subsystem powershell" runs pwshsim (or psrpcore's
// independent server, or a real pwsh).

// SubsystemCommand is what sshd runs for "Subsystem powershell" in tests
// where the PowerShell server does not matter: pwshsim.
func SubsystemCommand(t *testing.T) string {
	return PwshsimBin() + " -sshs -NoLogo -NoProfile"
}

// Subsystems are the "Subsystem powershell" commands tests about the
// PowerShell server run against: pwshsim always, real pwsh when there is
// one.
func Subsystems(t *testing.T) map[string]string {
	out := map[string]string{"pwshsim": SubsystemCommand(t)}
	if p := RealPwsh(t); p != "" {
		out["pwsh"] = req.SSHS(p)
	}
	return out
}

// EachSubsystem runs f as a parallel subtest per subsystems(t) entry
// (pwshsim, and real pwsh when there is one), named after the server.
func EachSubsystem(t *testing.T, f func(t *testing.T, server, sub string)) {
	t.Helper()
	subs := Subsystems(t)
	for _, name := range slices.Sorted(maps.Keys(subs)) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f(t, name, subs[name])
		})
	}
}

// Long reports whether PSMUX_LONG=1 asks for the full-size runs of the
// tests that move gigabytes (the default run is sized for CI).
func Long() bool { return os.Getenv("PSMUX_LONG") == "1" }

// PsmuxRun runs the psmux binary with env added.
func PsmuxRun(t *testing.T, env []string, args ...string) Result {
	t.Helper()
	cmd := Command(PsmuxBin(), args...)
	cmd.Env = append(os.Environ(), env...)
	return RunCmd(t, cmd)
}

func StartSshd(t *testing.T, subsystem string, extra ...string) *opensshd.Sshd {
	t.Helper()
	return opensshd.Start(t, opensshd.Options{
		Subsystems: map[string]string{"powershell": subsystem, "sftp": "internal-sftp"},
		Extra:      extra,
	})
}

// JumpConfig writes an ssh_config reaching b's host through a.
func JumpConfig(t *testing.T, a, b *opensshd.Sshd) string {
	t.Helper()
	cfg := fmt.Sprintf(`Host jumpbox
    HostName 127.0.0.1
    Port %d
Host target
    HostName 127.0.0.1
    Port %d
    ProxyJump jumpbox
Host *
    User %s
    IdentityFile %s
    IdentitiesOnly yes
    UserKnownHostsFile %s %s
    GlobalKnownHostsFile /dev/null
    StrictHostKeyChecking yes
`, a.Port, b.Port, a.User, a.ClientKey, a.KnownHosts, b.KnownHosts)
	// both servers must accept the one key: authorise a's key on b too
	p := filepath.Join(t.TempDir(), "ssh_config")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Authorize adds the public half of keyPath to s's authorized keys.
func Authorize(t *testing.T, s *opensshd.Sshd, keyPath string) {
	t.Helper()
	pem, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := gossh.ParsePrivateKey(pem)
	if err != nil {
		t.Fatal(err)
	}
	matches, _ := filepath.Glob(filepath.Join(s.Dir, "authorized_keys*"))
	if len(matches) == 0 {
		t.Fatalf("no authorized_keys in %s", s.Dir)
	}
	f, err := os.OpenFile(matches[0], os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.Write(gossh.MarshalAuthorizedKey(signer.PublicKey()))
}

// Askpass writes a script that answers every question with answer and
// logs the questions.
func Askpass(t *testing.T, answer string) (path, log string) {
	dir := t.TempDir()
	path, log = filepath.Join(dir, "askpass"), filepath.Join(dir, "asked")
	script := fmt.Sprintf("#!/bin/sh\nprintf '%%s\\n' \"$1\" >> %s\necho '%s'\n", log, answer)
	if err := os.WriteFile(path, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	return path, log
}
