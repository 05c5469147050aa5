package opensshd_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	gossh "golang.org/x/crypto/ssh"

	"github.com/psmux/psmux/sessions"
	"github.com/psmux/psmux/sessions/clixml"
	"github.com/psmux/psmux/sessions/psrp"
	"github.com/psmux/psmux/testenv/opensshd"
)

func startPowershell(t *testing.T) *opensshd.Sshd {
	t.Helper()
	return opensshd.Start(t, opensshd.Options{
		Subsystems: map[string]string{"powershell": opensshd.BuildPwshsim(t) + " -sshs -NoLogo -NoProfile"},
	})
}

// subsystem opens a session channel and requests a subsystem on it. The
// returned channel yields the exit status (or -1) once the server closed
// the channel.
func subsystem(t *testing.T, c *gossh.Client, name string) (gossh.Channel, <-chan int) {
	t.Helper()
	ch, reqs, err := c.OpenChannel("session", nil)
	if err != nil {
		t.Fatal(err)
	}
	exit := make(chan int, 1)
	go func() {
		status := -1
		for req := range reqs {
			if req.Type == "exit-status" && len(req.Payload) == 4 {
				status = int(binary.BigEndian.Uint32(req.Payload))
			}
			if req.WantReply {
				req.Reply(false, nil)
			}
		}
		exit <- status
	}()
	ok, err := ch.SendRequest("subsystem", true, gossh.Marshal(struct{ Name string }{name}))
	if err != nil || !ok {
		t.Fatalf("subsystem %s: ok=%v err=%v", name, ok, err)
	}
	return ch, exit
}

func TestSubsystemExitsWhenStdinCloses(t *testing.T) {
	sshd := startPowershell(t)
	c := sshd.Dial(t) // key auth, host key checked against sshd.KnownHosts
	ch, exit := subsystem(t, c, "powershell")
	if err := ch.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(ch)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "__NamedPipeError__:") {
		t.Errorf("stdout %q, want pwsh -sshs's error line", out)
	}
	// pwsh exits 4000; as a process exit status that is 160.
	if status := <-exit; status != 4000&0xff {
		t.Fatalf("exit status %d, want %d", status, 4000&0xff)
	}
	if !strings.Contains(sshd.Log(), "subsystem 'powershell'") {
		t.Errorf("sshd log does not show the subsystem:\n%s", sshd.Log())
	}
}

type outputs struct {
	mu  sync.Mutex
	out []string
}

func (o *outputs) Message(t psrp.MessageType, v clixml.Value) {
	if t == psrp.PipelineOutput {
		o.mu.Lock()
		o.out = append(o.out, v.Str())
		o.mu.Unlock()
	}
}

func (o *outputs) HostCall(context.Context, psrp.HostCallMsg) (clixml.Value, *clixml.Value) {
	return clixml.Value{}, nil
}

func TestPowerShellThroughRealSshd(t *testing.T) {
	sshd := startPowershell(t)
	c := sshd.Dial(t)
	ch, _ := subsystem(t, c, "powershell")
	ctx := context.Background()
	conn, err := sessions.Open(ctx, ch, sessions.Options{})
	if err != nil {
		t.Fatalf("open runspace pool: %v", err)
	}
	h := &outputs{}
	res, err := conn.Invoke(ctx, psrp.ScriptPipeline(`"via sshd: " + (40 + 2)`, false), nil, h)
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.Close(ctx); err != nil {
		t.Errorf("close: %v", err)
	}
	if res.State != psrp.Completed || len(h.out) != 1 || h.out[0] != "via sshd: 42" {
		t.Fatalf("state %v output %q", res.State, h.out)
	}
}

func TestOpenSSHClientUsesWrittenConfig(t *testing.T) {
	ssh := opensshd.RequireClient(t)
	sshd := startPowershell(t)
	// BatchMode turns any question (an unknown host key, a password) into
	// a failure with exit status 255 instead of a prompt.
	cmd := exec.Command(ssh, "-F", sshd.SSHConfig, "-o", "BatchMode=yes", "-s", sshd.Alias, "powershell")
	cmd.Stdin = nil // /dev/null
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	if code := cmd.ProcessState.ExitCode(); code == 255 {
		t.Fatalf("ssh failed (255): %s", stderr.String())
	}
	if !strings.Contains(stdout.String(), "__NamedPipeError__:") {
		t.Errorf("stdout %q, want pwshsim's line", stdout.String())
	}
}

func TestKeepaliveGetsFailureReply(t *testing.T) {
	sshd := opensshd.Start(t, opensshd.Options{})
	c := sshd.Dial(t)
	ok, _, err := c.SendRequest("keepalive@openssh.com", true, nil)
	if err != nil {
		t.Fatalf("keepalive: %v", err)
	}
	if ok {
		t.Fatal("sshd answered keepalive@openssh.com with success; testenv/sshserver mimics a failure reply")
	}
}

func TestExtraConfigApplies(t *testing.T) {
	sshd := opensshd.Start(t, opensshd.Options{Extra: []string{"Banner " + writeFile(t, "psmux banner\n")}})
	var banner string
	cfg := sshd.ClientConfig(t)
	cfg.BannerCallback = func(msg string) error { banner = msg; return nil }
	c, err := gossh.Dial("tcp", sshd.Addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if banner != "psmux banner\n" {
		t.Fatalf("banner %q", banner)
	}
}

func TestUnknownHostKeyRefused(t *testing.T) {
	a := opensshd.Start(t, opensshd.Options{})
	b := opensshd.Start(t, opensshd.Options{})
	// b's known_hosts names b's port, so a's key is unknown to it.
	cfg := b.ClientConfig(t)
	cfg.User = a.User
	if c, err := gossh.Dial("tcp", a.Addr, cfg); err == nil {
		c.Close()
		t.Fatal("connected although the host key is not in known_hosts")
	}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "banner")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(content); err != nil {
		t.Fatal(err)
	}
	return f.Name()
}
