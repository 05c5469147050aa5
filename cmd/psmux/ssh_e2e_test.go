package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	req "github.com/psmux/psmux/testenv/require"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/psmux/psmux/testenv/faultproxy"
	"github.com/psmux/psmux/testenv/opensshd"
	"github.com/psmux/psmux/testenv/reap"
	"github.com/psmux/psmux/testenv/sshserver"
	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// End-to-end tests of psmux over SSH against Debian's real sshd on
// loopback, whose "Subsystem powershell" runs pwshsim (or psrpcore's
// independent server, or a real pwsh).

// subsystemCommand is what sshd runs for "Subsystem powershell" in tests
// where the PowerShell server does not matter: pwshsim.
func subsystemCommand(t *testing.T) string {
	return pwshsimBin() + " -sshs -NoLogo -NoProfile"
}

// subsystems are the "Subsystem powershell" commands tests about the
// PowerShell server run against: pwshsim always, real pwsh when there is
// one.
func subsystems(t *testing.T) map[string]string {
	out := map[string]string{"pwshsim": subsystemCommand(t)}
	if p := realPwsh(t); p != "" {
		out["pwsh"] = req.SSHS(p)
	}
	return out
}

// eachSubsystem runs f as a parallel subtest per subsystems(t) entry
// (pwshsim, and real pwsh when there is one), named after the server.
func eachSubsystem(t *testing.T, f func(t *testing.T, server, sub string)) {
	t.Helper()
	subs := subsystems(t)
	for _, name := range slices.Sorted(maps.Keys(subs)) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f(t, name, subs[name])
		})
	}
}

// long reports whether PSMUX_LONG=1 asks for the full-size runs of the
// tests that move gigabytes (the default run is sized for CI).
func long() bool { return os.Getenv("PSMUX_LONG") == "1" }

// psmuxRun runs the psmux binary with env added.
func psmuxRun(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := command(psmuxBin(), args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

func startSshd(t *testing.T, subsystem string, extra ...string) *opensshd.Sshd {
	t.Helper()
	return opensshd.Start(t, opensshd.Options{
		Subsystems: map[string]string{"powershell": subsystem, "sftp": "internal-sftp"},
		Extra:      extra,
	})
}

func TestInvokeOverOpenSSH(t *testing.T) {
	opensshd.Require(t)
	servers := subsystems(t)
	if src := psrpcoreSrc(t, false); src != "" {
		servers["psrpcore"] = peerServer(src)
	}
	for name, sub := range servers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sshd := startSshd(t, sub)
			script := "$x = 6 * 7; $x"
			want := "42\n"
			if name == "psrpcore" { // it has no variables or arithmetic
				script, want = "42", "42\n"
			}
			r := psmuxRun(t, nil, "invoke", "-F", sshd.SSHConfig, sshd.Alias, "--", script)
			if r.code != 0 || r.stdout != want {
				t.Fatalf("subsystem: exit %d, stdout %q, stderr %q\n%s", r.code, r.stdout, r.stderr, sshd.Log())
			}
			r = psmuxRun(t, nil, "invoke", "-F", sshd.SSHConfig, "--exec", sub, sshd.Alias, "--", script)
			if r.code != 0 || r.stdout != want {
				t.Fatalf("--exec: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
			opensshd.RequireClient(t)
			r = psmuxRun(t, nil, "invoke", "-F", sshd.SSHConfig, "--ssh-client=system", sshd.Alias, "--", script)
			if r.code != 0 || r.stdout != want {
				t.Fatalf("--ssh-client=system: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
		})
	}
}

// jumpConfig writes an ssh_config reaching b's host through a.
func jumpConfig(t *testing.T, a, b *opensshd.Sshd) string {
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

func TestInvokeThroughProxyJump(t *testing.T) {
	opensshd.Require(t)
	jump := startSshd(t, subsystemCommand(t), "LogLevel DEBUG1")
	target := startSshd(t, subsystemCommand(t))
	authorize(t, target, jump.ClientKey)
	cfg := jumpConfig(t, jump, target)
	r := psmuxRun(t, nil, "invoke", "-F", cfg, "target", "--", "$x = 6 * 7; $x")
	if r.code != 0 || r.stdout != "42\n" {
		t.Fatalf("ProxyJump: exit %d, stdout %q, stderr %q\njump log:\n%s", r.code, r.stdout, r.stderr, jump.Log())
	}
	if fwd := fmt.Sprintf("target 127.0.0.1 port %d", target.Port); !strings.Contains(jump.Log(), fwd) {
		t.Fatalf("the jump host did not forward to the target (%q not in its log)", fwd)
	}
	// -J on the command line does the same
	r = psmuxRun(t, nil, "invoke", "-F", cfg, "-J", "jumpbox", fmt.Sprintf("127.0.0.1:%d", target.Port), "--", "'via -J'")
	if r.code != 0 || r.stdout != "via -J\n" {
		t.Fatalf("-J: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

// authorize adds the public half of keyPath to s's authorized keys.
func authorize(t *testing.T, s *opensshd.Sshd, keyPath string) {
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

func TestHostKeyPolicyOverOpenSSH(t *testing.T) {
	opensshd.Require(t)
	sshd := startSshd(t, subsystemCommand(t))
	kh := filepath.Join(t.TempDir(), "known_hosts")
	fp := gossh.FingerprintSHA256(sshd.HostKey)

	r := psmuxRun(t, nil, "invoke", "-F", sshd.SSHConfig, "-o", "UserKnownHostsFile="+kh, sshd.Alias, "--", "1")
	if r.code != exitConnect || !strings.Contains(r.stderr, fp) || !strings.Contains(r.stderr, "StrictHostKeyChecking=accept-new") {
		t.Fatalf("unknown key, non-interactive: exit %d, stderr %q; want exit 3 naming %s and how to trust it", r.code, r.stderr, fp)
	}
	if _, err := os.Stat(kh); err == nil {
		t.Fatal("a refused key was written")
	}

	r = psmuxRun(t, nil, "invoke", "-F", sshd.SSHConfig, "-o", "UserKnownHostsFile="+kh, "-o", "StrictHostKeyChecking=accept-new", sshd.Alias, "--", "'added'")
	if r.code != 0 || r.stdout != "added\n" || !strings.Contains(r.stderr, "Permanently added") {
		t.Fatalf("accept-new: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	b, _ := os.ReadFile(kh)
	if !strings.Contains(string(b), strings.TrimSpace(string(gossh.MarshalAuthorizedKey(sshd.HostKey)))) {
		t.Fatalf("accept-new wrote %q", b)
	}

	// The same name now answers with another key.
	other := startSshd(t, subsystemCommand(t))
	line := knownhosts.Line([]string{knownhosts.Normalize(other.Addr)}, sshd.HostKey)
	os.WriteFile(kh, []byte(line+"\n"), 0o600)
	r = psmuxRun(t, nil, "invoke", "-F", other.SSHConfig, "-o", "UserKnownHostsFile="+kh, "-o", "StrictHostKeyChecking=accept-new", other.Alias, "--", "1")
	if r.code != exitConnect || !strings.Contains(r.stderr, fp) || !strings.Contains(r.stderr, gossh.FingerprintSHA256(other.HostKey)) {
		t.Fatalf("changed key: exit %d, stderr %q; want a refusal with both fingerprints", r.code, r.stderr)
	}
}

// askpass writes a script that answers every question with answer and
// logs the questions.
func askpass(t *testing.T, answer string) (path, log string) {
	dir := t.TempDir()
	path, log = filepath.Join(dir, "askpass"), filepath.Join(dir, "asked")
	script := fmt.Sprintf("#!/bin/sh\nprintf '%%s\\n' \"$1\" >> %s\necho '%s'\n", log, answer)
	if err := os.WriteFile(path, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	return path, log
}

func TestPasswordPromptsAndWrongPassword(t *testing.T) {
	srv, err := sshserver.Start(sshserver.Options{Passwords: map[string]string{"bob": "hunter2"}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	kh := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(kh, []byte(knownhosts.Line([]string{knownhosts.Normalize(srv.Addr())}, srv.HostKey())+"\n"), 0o600)
	args := func(script string) []string {
		return []string{"invoke", "-F", os.DevNull, "-o", "UserKnownHostsFile=" + kh, "-o", "IdentityAgent=none",
			"-o", "PubkeyAuthentication=no", "-p", fmt.Sprint(srv.Port()), "bob@127.0.0.1", "--", script}
	}
	right, rightLog := askpass(t, "hunter2")
	r := psmuxRun(t, []string{"SSH_ASKPASS=" + right, "SSH_ASKPASS_REQUIRE=force"}, args("'in'")...)
	if r.code != 0 || r.stdout != "in\n" {
		t.Fatalf("right password: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if b, _ := os.ReadFile(rightLog); !strings.Contains(string(b), "bob@127.0.0.1's password") {
		t.Fatalf("asked %q", b)
	}
	wrong, _ := askpass(t, "nope")
	r = psmuxRun(t, []string{"SSH_ASKPASS=" + wrong, "SSH_ASKPASS_REQUIRE=force"}, args("'in'")...)
	if r.code != exitConnect || !strings.Contains(r.stderr, "Permission denied") {
		t.Fatalf("wrong password: exit %d, stderr %q; want exit 3 and Permission denied", r.code, r.stderr)
	}
	// No way to ask: fails at once, never hangs.
	r = psmuxRun(t, []string{"SSH_ASKPASS="}, args("'in'")...)
	if r.code != exitConnect || !strings.Contains(r.stderr, "Permission denied") {
		t.Fatalf("no prompter: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestFanOutWithBlackholedHost(t *testing.T) {
	opensshd.Require(t)
	var hosts [3]*opensshd.Sshd
	for i := range hosts {
		hosts[i] = startSshd(t, subsystemCommand(t))
	}
	proxy, err := faultproxy.New(hosts[2].Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	proxy.Blackhole(true)
	var cfg strings.Builder
	for i, h := range hosts {
		port := h.Port
		if i == 2 {
			port = proxy.Port()
		}
		fmt.Fprintf(&cfg, "Host h%d\n    HostName 127.0.0.1\n    Port %d\n    User %s\n    IdentityFile %s\n    UserKnownHostsFile %s\n    StrictHostKeyChecking yes\n    GlobalKnownHostsFile /dev/null\n    IdentitiesOnly yes\n",
			i+1, port, h.User, h.ClientKey, h.KnownHosts)
	}
	p := filepath.Join(t.TempDir(), "ssh_config")
	os.WriteFile(p, []byte(cfg.String()), 0o600)

	// h1 and h2 run a command that holds until the test creates a file,
	// so h3's connect timeout fires while they still run: the blackholed
	// host is reported while the others go on, and does not hold them back.
	release := filepath.Join(t.TempDir(), "release")
	held := fmt.Sprintf("while (-not (Test-Path '%s')) { Start-Sleep -Milliseconds 50 }; 'hello'", release)
	cmd := command(psmuxBin(), "invoke", "-F", p, "--connect-timeout", "2s", "h1,h2,h3", "--", held)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// the deadline: a fan-out that waits for h1 and h2 before it gives up
	// on h3 would never report h3
	deadline := time.AfterFunc(2*time.Minute, func() { reap.KillGroup(cmd) })
	defer deadline.Stop()
	var errb strings.Builder
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		errb.WriteString(sc.Text() + "\n")
		if strings.HasPrefix(sc.Text(), "[h3] Unreachable") {
			break
		}
	}
	if !strings.HasPrefix(sc.Text(), "[h3] Unreachable") {
		t.Fatalf("stderr ended (or two minutes passed) without h3's summary: %q", errb.String())
	}
	if strings.Contains(errb.String(), "Completed") || stdout.Len() > 0 {
		t.Fatalf("h1 or h2 finished before the test let them: stderr %q", errb.String())
	}
	if err := os.WriteFile(release, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for sc.Scan() {
		errb.WriteString(sc.Text() + "\n")
	}
	werr := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(werr, &ee) || ee.ExitCode() != exitConnect {
		t.Fatalf("exit %v, want 3 (one host unreachable); stderr %q", werr, errb.String())
	}
	for _, want := range []string{"[h1] hello\n", "[h2] hello\n"} {
		if !strings.Contains(stdout.String(), want) {
			t.Fatalf("stdout %q lacks %q", stdout.String(), want)
		}
	}
	var summaries []string
	for _, l := range strings.Split(strings.TrimSpace(errb.String()), "\n") {
		if strings.Contains(l, " in ") && (strings.Contains(l, "Completed") || strings.Contains(l, "Unreachable")) {
			summaries = append(summaries, l)
		}
	}
	if len(summaries) != 3 || !strings.HasPrefix(summaries[0], "[h3] Unreachable") ||
		!strings.Contains(errb.String(), "[h1] Completed") || !strings.Contains(errb.String(), "[h2] Completed") {
		t.Fatalf("summaries %q (stderr %q); want h3 Unreachable, then h1 and h2 Completed", summaries, errb.String())
	}
	if !strings.Contains(errb.String(), "timed out") {
		t.Fatalf("stderr %q does not say the connect timed out", errb.String())
	}
}

func TestResetMidOutputExits3(t *testing.T) {
	opensshd.Require(t)
	sshd := startSshd(t, subsystemCommand(t))
	proxy, kh := proxied(t, sshd)
	proxy.ResetAfter(1 << 20)
	r := psmuxRun(t, nil, "invoke", "-F", sshd.SSHConfig, "-p", fmt.Sprint(proxy.Port()), "-o", "UserKnownHostsFile="+kh,
		sshd.Alias, "--", "1..200000 | % { 'x' * 100 }")
	if r.code != exitConnect || !strings.Contains(r.stderr, "connection lost") {
		t.Fatalf("exit %d, stderr %q; want 3 and connection lost", r.code, r.stderr)
	}
	if proxy.Stats().Resets == 0 {
		t.Fatal("the proxy did not reset the connection")
	}
}

// TestRekeyEvery64KiBByteExact streams output through a connection that
// rekeys every 64 KiB: 10 MiB (160 key exchanges), 100 MiB with
// PSMUX_LONG=1.
func TestRekeyEvery64KiBByteExact(t *testing.T) {
	opensshd.Require(t)
	sshd := startSshd(t, subsystemCommand(t), "RekeyLimit 64K", "LogLevel DEBUG1")
	n := 10000 // lines of ~1 KB
	if long() {
		n = 100000
	}
	script := fmt.Sprintf("1..%d | %% { \"$_ \" + ('x' * 1000) }", n)
	cmd := command(psmuxBin(), "invoke", "-F", sshd.SSHConfig, "-o", "RekeyLimit=64K", sshd.Alias, "--", script)
	h := sha256.New()
	cmd.Stdout = h
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v: %s", err, errb.String())
	}
	want := sha256.New()
	pad := strings.Repeat("x", 1000)
	for i := 1; i <= n; i++ {
		fmt.Fprintf(want, "%d %s\n", i, pad)
	}
	if !bytes.Equal(h.Sum(nil), want.Sum(nil)) {
		t.Fatalf("output differs from the expected %d lines", n)
	}
	if k := strings.Count(sshd.Log(), "SSH2_MSG_NEWKEYS received"); k < 10 {
		t.Fatalf("sshd saw %d key exchanges; the rekey limit did not apply", k)
	}
}

// TestCpRoundTripLargeFile copies 32 MiB of random bytes up and back
// over SFTP (100 MiB with PSMUX_LONG=1).
func TestCpRoundTripLargeFile(t *testing.T) {
	opensshd.Require(t)
	sshd := startSshd(t, subsystemCommand(t))
	dir := t.TempDir()
	src := filepath.Join(dir, "blob")
	size := 32 << 20
	if long() {
		size = 100 << 20
	}
	data := make([]byte, size)
	rand.Read(data)
	os.WriteFile(src, data, 0o600)
	remote := filepath.Join(t.TempDir(), "uploaded")
	r := psmuxRun(t, nil, "cp", "-F", sshd.SSHConfig, src, sshd.Alias+":"+remote)
	if r.code != 0 {
		t.Fatalf("upload: exit %d, stderr %q", r.code, r.stderr)
	}
	back := filepath.Join(dir, "back")
	r = psmuxRun(t, nil, "cp", "-F", sshd.SSHConfig, sshd.Alias+":"+remote, back)
	if r.code != 0 {
		t.Fatalf("download: exit %d, stderr %q", r.code, r.stderr)
	}
	for _, p := range []string{remote, back} {
		got, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s differs from the source (%v)", p, err)
		}
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(remote), ".*.part"))
	if len(left) > 0 {
		t.Fatalf("temporary files left: %q", left)
	}
}

func TestDoctor(t *testing.T) {
	opensshd.Require(t)
	sshd := startSshd(t, subsystemCommand(t))
	r := psmuxRun(t, nil, "doctor", "-F", sshd.SSHConfig, sshd.Alias)
	if r.code != 0 || !strings.Contains(r.stdout, "publickey") || !strings.Contains(r.stdout, "PowerShell 7.") ||
		!strings.Contains(r.stdout, gossh.FingerprintSHA256(sshd.HostKey)) {
		t.Fatalf("doctor: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = psmuxRun(t, nil, "doctor", "-F", sshd.SSHConfig, "--subsystem", "nosuch", sshd.Alias)
	if r.code != exitConnect || !strings.Contains(r.stdout, "subsystem request failed") {
		t.Fatalf("doctor, missing subsystem: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = psmuxRun(t, nil, "doctor", "--json", "-F", sshd.SSHConfig, "--subsystem", "nosuch", sshd.Alias)
	if !strings.HasPrefix(r.stdout, `{"dest":`) || !strings.Contains(r.stdout, `"ok":false`) {
		t.Fatalf("doctor --json: %q", r.stdout)
	}
}

// TestReadmeTesthostWalkthrough follows the README: start testhost with
// a --dir, then psmux invoke with the ssh_config it wrote.
func TestReadmeTesthostWalkthrough(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "testhost")
	if out, err := exec.Command("go", "build", "-o", bin, "../../testenv/cmd/testhost").CombinedOutput(); err != nil {
		t.Fatalf("build testhost: %v\n%s", err, out)
	}
	dir := t.TempDir()
	cmd := command(bin, "--listen", "127.0.0.1:0", "--dir", dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reap.KillGroup(cmd); cmd.Wait() })
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && !strings.HasPrefix(sc.Text(), "testhost: listening on") {
	}
	go func() {
		for sc.Scan() {
		}
	}()
	r := psmuxRun(t, nil, "invoke", "-F", filepath.Join(dir, "ssh_config"), "psmux-test", "--", "$x = 6 * 7; $x")
	if r.code != 0 || r.stdout != "42\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []string{"go run ./testenv/cmd/testhost --dir", "invoke -F /tmp/th/ssh_config psmux-test -- '$x = 6 * 7; $x'"} {
		if !strings.Contains(string(readme), step) {
			t.Fatalf("the README no longer shows %q; keep this test and the README in step", step)
		}
	}
}

// TestNoiseBeforeFirstPacket: a login banner or rc-file output before
// the first packet is shown as remote noise and the session still works.
func TestNoiseBeforeFirstPacket(t *testing.T) {
	opensshd.Require(t)
	sshd := startSshd(t, "echo 'Welcome to the host'; exec "+subsystemCommand(t))
	r := psmuxRun(t, nil, "invoke", "-F", sshd.SSHConfig, sshd.Alias, "--", "$x = 6 * 7; $x")
	if r.code != 0 || r.stdout != "42\n" || !strings.Contains(r.stderr, "remote noise: Welcome to the host") {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}
