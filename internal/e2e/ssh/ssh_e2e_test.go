package ssh_test

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/psmux/psmux/internal/e2e"
	"github.com/psmux/psmux/testenv/faultproxy"
	"github.com/psmux/psmux/testenv/opensshd"
	"github.com/psmux/psmux/testenv/reap"
	"github.com/psmux/psmux/testenv/sshserver"
	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func TestInvokeOverOpenSSH(t *testing.T) {
	opensshd.Require(t)
	servers := e2e.Subsystems(t)
	if src := e2e.PsrpcoreSrc(t, false); src != "" {
		servers["psrpcore"] = e2e.PeerServer(src)
	}
	for name, sub := range servers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sshd := e2e.StartSshd(t, sub)
			script := "$x = 6 * 7; $x"
			want := "42\n"
			if name == "psrpcore" { // it has no variables or arithmetic
				script, want = "42", "42\n"
			}
			r := e2e.PsmuxRun(t, nil, "invoke", "-F", sshd.SSHConfig, sshd.Alias, "--", script)
			if r.Code != 0 || r.Stdout != want {
				t.Fatalf("subsystem: exit %d, stdout %q, stderr %q\n%s", r.Code, r.Stdout, r.Stderr, sshd.Log())
			}
			r = e2e.PsmuxRun(t, nil, "invoke", "-F", sshd.SSHConfig, "--exec", sub, sshd.Alias, "--", script)
			if r.Code != 0 || r.Stdout != want {
				t.Fatalf("--exec: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
			}
			opensshd.RequireClient(t)
			r = e2e.PsmuxRun(t, nil, "invoke", "-F", sshd.SSHConfig, "--ssh-client=system", sshd.Alias, "--", script)
			if r.Code != 0 || r.Stdout != want {
				t.Fatalf("--ssh-client=system: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
			}
		})
	}
}

func TestInvokeThroughProxyJump(t *testing.T) {
	opensshd.Require(t)
	jump := e2e.StartSshd(t, e2e.SubsystemCommand(t), "LogLevel DEBUG1")
	target := e2e.StartSshd(t, e2e.SubsystemCommand(t))
	e2e.Authorize(t, target, jump.ClientKey)
	cfg := e2e.JumpConfig(t, jump, target)
	r := e2e.PsmuxRun(t, nil, "invoke", "-F", cfg, "target", "--", "$x = 6 * 7; $x")
	if r.Code != 0 || r.Stdout != "42\n" {
		t.Fatalf("ProxyJump: exit %d, stdout %q, stderr %q\njump log:\n%s", r.Code, r.Stdout, r.Stderr, jump.Log())
	}
	if fwd := fmt.Sprintf("target 127.0.0.1 port %d", target.Port); !strings.Contains(jump.Log(), fwd) {
		t.Fatalf("the jump host did not forward to the target (%q not in its log)", fwd)
	}
	// -J on the command line does the same
	r = e2e.PsmuxRun(t, nil, "invoke", "-F", cfg, "-J", "jumpbox", fmt.Sprintf("127.0.0.1:%d", target.Port), "--", "'via -J'")
	if r.Code != 0 || r.Stdout != "via -J\n" {
		t.Fatalf("-J: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}
}

func TestHostKeyPolicyOverOpenSSH(t *testing.T) {
	opensshd.Require(t)
	sshd := e2e.StartSshd(t, e2e.SubsystemCommand(t))
	kh := filepath.Join(t.TempDir(), "known_hosts")
	fp := gossh.FingerprintSHA256(sshd.HostKey)

	r := e2e.PsmuxRun(t, nil, "invoke", "-F", sshd.SSHConfig, "-o", "UserKnownHostsFile="+kh, sshd.Alias, "--", "1")
	if r.Code != e2e.ExitConnect || !strings.Contains(r.Stderr, fp) || !strings.Contains(r.Stderr, "StrictHostKeyChecking=accept-new") {
		t.Fatalf("unknown key, non-interactive: exit %d, stderr %q; want exit 3 naming %s and how to trust it", r.Code, r.Stderr, fp)
	}
	if _, err := os.Stat(kh); err == nil {
		t.Fatal("a refused key was written")
	}

	r = e2e.PsmuxRun(t, nil, "invoke", "-F", sshd.SSHConfig, "-o", "UserKnownHostsFile="+kh, "-o", "StrictHostKeyChecking=accept-new", sshd.Alias, "--", "'added'")
	if r.Code != 0 || r.Stdout != "added\n" || !strings.Contains(r.Stderr, "Permanently added") {
		t.Fatalf("accept-new: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}
	b, _ := os.ReadFile(kh)
	if !strings.Contains(string(b), strings.TrimSpace(string(gossh.MarshalAuthorizedKey(sshd.HostKey)))) {
		t.Fatalf("accept-new wrote %q", b)
	}

	// The same name now answers with another key.
	other := e2e.StartSshd(t, e2e.SubsystemCommand(t))
	line := knownhosts.Line([]string{knownhosts.Normalize(other.Addr)}, sshd.HostKey)
	os.WriteFile(kh, []byte(line+"\n"), 0o600)
	r = e2e.PsmuxRun(t, nil, "invoke", "-F", other.SSHConfig, "-o", "UserKnownHostsFile="+kh, "-o", "StrictHostKeyChecking=accept-new", other.Alias, "--", "1")
	if r.Code != e2e.ExitConnect || !strings.Contains(r.Stderr, fp) || !strings.Contains(r.Stderr, gossh.FingerprintSHA256(other.HostKey)) {
		t.Fatalf("changed key: exit %d, stderr %q; want a refusal with both fingerprints", r.Code, r.Stderr)
	}
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
	right, rightLog := e2e.Askpass(t, "hunter2")
	r := e2e.PsmuxRun(t, []string{"SSH_ASKPASS=" + right, "SSH_ASKPASS_REQUIRE=force"}, args("'in'")...)
	if r.Code != 0 || r.Stdout != "in\n" {
		t.Fatalf("right password: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}
	if b, _ := os.ReadFile(rightLog); !strings.Contains(string(b), "bob@127.0.0.1's password") {
		t.Fatalf("asked %q", b)
	}
	wrong, _ := e2e.Askpass(t, "nope")
	r = e2e.PsmuxRun(t, []string{"SSH_ASKPASS=" + wrong, "SSH_ASKPASS_REQUIRE=force"}, args("'in'")...)
	if r.Code != e2e.ExitConnect || !strings.Contains(r.Stderr, "Permission denied") {
		t.Fatalf("wrong password: exit %d, stderr %q; want exit 3 and Permission denied", r.Code, r.Stderr)
	}
	// No way to ask: fails at once, never hangs.
	r = e2e.PsmuxRun(t, []string{"SSH_ASKPASS="}, args("'in'")...)
	if r.Code != e2e.ExitConnect || !strings.Contains(r.Stderr, "Permission denied") {
		t.Fatalf("no prompter: exit %d, stderr %q", r.Code, r.Stderr)
	}
}

func TestFanOutWithBlackholedHost(t *testing.T) {
	opensshd.Require(t)
	var hosts [3]*opensshd.Sshd
	for i := range hosts {
		hosts[i] = e2e.StartSshd(t, e2e.SubsystemCommand(t))
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
	// The timeout is long enough for h1 and h2 to connect on a loaded
	// machine (2 s was not: their authentication was cut off).
	release := filepath.Join(t.TempDir(), "release")
	held := fmt.Sprintf("while (-not (Test-Path '%s')) { Start-Sleep -Milliseconds 50 }; 'hello'", release)
	cmd := e2e.Command(e2e.PsmuxBin(), "invoke", "-F", p, "--connect-timeout", "10s", "h1,h2,h3", "--", held)
	stdout := &e2e.LockedBuffer{} // read while the command still writes
	cmd.Stdout = stdout
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
	if strings.Contains(errb.String(), "Completed") || stdout.String() != "" {
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
	if !errors.As(werr, &ee) || ee.ExitCode() != e2e.ExitConnect {
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
	sshd := e2e.StartSshd(t, e2e.SubsystemCommand(t))
	proxy, kh := e2e.Proxied(t, sshd)
	proxy.ResetAfter(1 << 20)
	r := e2e.PsmuxRun(t, nil, "invoke", "-F", sshd.SSHConfig, "-p", fmt.Sprint(proxy.Port()), "-o", "UserKnownHostsFile="+kh,
		sshd.Alias, "--", "1..200000 | % { 'x' * 100 }")
	if r.Code != e2e.ExitConnect || !strings.Contains(r.Stderr, "connection lost") {
		t.Fatalf("exit %d, stderr %q; want 3 and connection lost", r.Code, r.Stderr)
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
	sshd := e2e.StartSshd(t, e2e.SubsystemCommand(t), "RekeyLimit 64K", "LogLevel DEBUG1")
	n := 10000 // lines of ~1 KB
	if e2e.Long() {
		n = 100000
	}
	script := fmt.Sprintf("1..%d | %% { \"$_ \" + ('x' * 1000) }", n)
	cmd := e2e.Command(e2e.PsmuxBin(), "invoke", "-F", sshd.SSHConfig, "-o", "RekeyLimit=64K", sshd.Alias, "--", script)
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
	sshd := e2e.StartSshd(t, e2e.SubsystemCommand(t))
	dir := t.TempDir()
	src := filepath.Join(dir, "blob")
	size := 32 << 20
	if e2e.Long() {
		size = 100 << 20
	}
	data := make([]byte, size)
	rand.Read(data)
	os.WriteFile(src, data, 0o600)
	remote := filepath.Join(t.TempDir(), "uploaded")
	r := e2e.PsmuxRun(t, nil, "cp", "-F", sshd.SSHConfig, src, sshd.Alias+":"+remote)
	if r.Code != 0 {
		t.Fatalf("upload: exit %d, stderr %q", r.Code, r.Stderr)
	}
	back := filepath.Join(dir, "back")
	r = e2e.PsmuxRun(t, nil, "cp", "-F", sshd.SSHConfig, sshd.Alias+":"+remote, back)
	if r.Code != 0 {
		t.Fatalf("download: exit %d, stderr %q", r.Code, r.Stderr)
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
	sshd := e2e.StartSshd(t, e2e.SubsystemCommand(t))
	r := e2e.PsmuxRun(t, nil, "doctor", "-F", sshd.SSHConfig, sshd.Alias)
	if r.Code != 0 || !strings.Contains(r.Stdout, "publickey") || !strings.Contains(r.Stdout, "PowerShell 7.") ||
		!strings.Contains(r.Stdout, gossh.FingerprintSHA256(sshd.HostKey)) {
		t.Fatalf("doctor: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	r = e2e.PsmuxRun(t, nil, "doctor", "-F", sshd.SSHConfig, "--subsystem", "nosuch", sshd.Alias)
	if r.Code != e2e.ExitConnect || !strings.Contains(r.Stdout, "subsystem request failed") {
		t.Fatalf("doctor, missing subsystem: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	r = e2e.PsmuxRun(t, nil, "doctor", "--json", "-F", sshd.SSHConfig, "--subsystem", "nosuch", sshd.Alias)
	if !strings.HasPrefix(r.Stdout, `{"dest":`) || !strings.Contains(r.Stdout, `"ok":false`) {
		t.Fatalf("doctor --json: %q", r.Stdout)
	}
}

// TestReadmeTesthostWalkthrough follows the README: start testhost with
// a --dir, then psmux invoke with the ssh_config it wrote.
func TestReadmeTesthostWalkthrough(t *testing.T) {
	dir := startTesthost(t)
	r := e2e.PsmuxRun(t, nil, "invoke", "-F", filepath.Join(dir, "ssh_config"), "psmux-test", "--", "$x = 6 * 7; $x")
	if r.Code != 0 || r.Stdout != "42\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}
	for _, step := range []string{"go run ./testenv/cmd/testhost --dir", "invoke -F /tmp/th/ssh_config psmux-test -- '$x = 6 * 7; $x'"} {
		if !strings.Contains(readme(t), step) {
			t.Fatalf("the README no longer shows %q; keep this test and the README in step", step)
		}
	}
}

// startTesthost builds and starts the README's testhost and returns its
// --dir, which holds the ssh_config it wrote.
func startTesthost(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "testhost")
	if out, err := exec.Command("go", "build", "-o", bin, filepath.Join(e2e.Root(), "testenv", "cmd", "testhost")).CombinedOutput(); err != nil {
		t.Fatalf("build testhost: %v\n%s", err, out)
	}
	dir := t.TempDir()
	cmd := e2e.Command(bin, "--listen", "127.0.0.1:0", "--dir", dir)
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
	return dir
}

// TestNoiseBeforeFirstPacket: a login banner or rc-file output before
// the first packet is shown as remote noise and the session still works.
func TestNoiseBeforeFirstPacket(t *testing.T) {
	opensshd.Require(t)
	sshd := e2e.StartSshd(t, "echo 'Welcome to the host'; exec "+e2e.SubsystemCommand(t))
	r := e2e.PsmuxRun(t, nil, "invoke", "-F", sshd.SSHConfig, sshd.Alias, "--", "$x = 6 * 7; $x")
	if r.Code != 0 || r.Stdout != "42\n" || !strings.Contains(r.Stderr, "remote noise: Welcome to the host") {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}
}

// Ctrl-C (SIGINT to the process group, as a terminal sends it) during
// invoke --ssh-client=system reaches psmux alone, not the ssh child in
// a group of its own, and becomes a PSRP stop: exit 4, no error text.
func TestInvokeSystemSSHCtrlCStops(t *testing.T) {
	opensshd.Require(t)
	e2e.EachSubsystem(t, func(t *testing.T, server, sub string) {
		sshd := e2e.StartSshd(t, sub)
		e2e.InvokeInterrupted(t, "-F", sshd.SSHConfig, "--ssh-client=system", sshd.Alias)
	})
}
