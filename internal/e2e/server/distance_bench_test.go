package server_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/psmux/psmux/internal/e2e"
	"github.com/psmux/psmux/sessions"
	"github.com/psmux/psmux/sessions/psrp"
	"github.com/psmux/psmux/ssh"
	"github.com/psmux/psmux/testenv/faultproxy"
	"github.com/psmux/psmux/testenv/opensshd"
	req "github.com/psmux/psmux/testenv/require"
)

// BenchmarkCommandAtDistance runs a trivial command on a session to real
// pwsh behind sshd through testenv/faultproxy adding 25 ms each way (a
// 50 ms round trip), beside a 1-byte echo on another channel of the same
// SSH connection, and reports the command in round trips of that echo
// (issue 15: at most 1.2).
func BenchmarkCommandAtDistance(b *testing.B) {
	p := e2e.RealPwsh(b)
	if p == "" {
		b.Skip("no real pwsh: see ../shared/pwsh")
	}
	sshd := opensshd.Start(b, opensshd.Options{Subsystems: map[string]string{"powershell": req.SSHS(p), "echo": "/bin/cat"}})
	proxy, err := faultproxy.New(sshd.Addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { proxy.Close() })
	// the proxy is another address of the same host key
	f, err := os.OpenFile(sshd.KnownHosts, os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	fmt.Fprintln(f, knownhosts.Line([]string{knownhosts.Normalize(proxy.Addr())}, sshd.HostKey))
	f.Close()
	cfg, err := ssh.Resolve(sshd.Alias, ssh.Overrides{ConfigFile: sshd.SSHConfig, Port: proxy.Port(), Options: []string{"IdentityAgent none"}})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c, err := ssh.Dial(ctx, cfg, ssh.DialOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	ch, err := c.Open(ctx, ssh.ChannelSpec{Subsystem: "powershell"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	// as the server's sessions are opened
	conn, err := sessions.Open(ctx, ch, sessions.Options{Host: psrp.TerminalHost(120, 50), PrepareNext: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn.Close(ctx)
	})
	echo := rawEcho(b, c.Raw())
	proxy.SetDelay(25 * time.Millisecond)
	run := func() time.Duration {
		start := time.Now()
		if _, err := conn.Invoke(ctx, psrp.ScriptPipeline("1", true), nil, discard{}); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	for range 3 { // the first commands of a runspace cost more
		run()
	}
	var cmds, echoes []time.Duration
	for b.Loop() {
		cmds = append(cmds, run())
		echoes = append(echoes, echoOnce(b, echo))
	}
	cmd, rt := medianMs(cmds), medianMs(echoes)
	b.ReportMetric(cmd, "ms/command")
	b.ReportMetric(rt, "echo-ms")
	b.ReportMetric(cmd/rt, "RT/command")
}

// rawEcho opens a channel to the echo subsystem (cat).
func rawEcho(b *testing.B, c *gossh.Client) gossh.Channel {
	ch, reqs, err := c.OpenChannel("session", nil)
	if err != nil {
		b.Fatal(err)
	}
	go gossh.DiscardRequests(reqs)
	if ok, err := ch.SendRequest("subsystem", true, gossh.Marshal(struct{ Name string }{"echo"})); err != nil || !ok {
		b.Fatalf("echo subsystem: %v %v", ok, err)
	}
	b.Cleanup(func() { ch.Close() })
	return ch
}

// echoOnce writes a byte to the echo channel and reads it back.
func echoOnce(b *testing.B, ch gossh.Channel) time.Duration {
	var buf [1]byte
	start := time.Now()
	if _, err := ch.Write([]byte{'x'}); err != nil {
		b.Fatal(err)
	}
	if _, err := ch.Read(buf[:]); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}
