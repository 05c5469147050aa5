package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/psmux/psmux/repl"
	"github.com/psmux/psmux/sessions"
	"github.com/psmux/psmux/ssh"
)

// listFlag collects a repeatable flag (-i, -o).
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// sshFlags are SPEC S8's SSHFLAGS, shared by invoke, doctor and cp.
type sshFlags struct {
	user, jump, config    string
	port                  int
	identities, options   listFlag
	subsystem, exec, kind string
	connectTimeout        time.Duration
}

const sshFlagsUsage = "-l USER -p PORT -i KEY -J JUMP -o Key=Value -F CONFIG --subsystem NAME --exec CMD --ssh-client=go|system --connect-timeout D"

func (f *sshFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.user, "l", "", "remote user (like ssh -l)")
	fs.IntVar(&f.port, "p", 0, "remote port (like ssh -p)")
	fs.Var(&f.identities, "i", "identity file (like ssh -i; repeatable)")
	fs.StringVar(&f.jump, "J", "", "jump hosts, comma-separated (like ssh -J)")
	fs.Var(&f.options, "o", "ssh_config option Key=Value (like ssh -o; repeatable)")
	fs.StringVar(&f.config, "F", "", "ssh_config file (like ssh -F)")
	fs.StringVar(&f.subsystem, "subsystem", ssh.DefaultSubsystem, "the SSH subsystem that runs PowerShell")
	fs.StringVar(&f.exec, "exec", "", "run this command instead of a subsystem, e.g. 'pwsh -sshs -NoLogo -NoProfile'")
	fs.StringVar(&f.kind, "ssh-client", "go", "go (built in) or system (the ssh program)")
	fs.DurationVar(&f.connectTimeout, "connect-timeout", 0, "give up connecting after this long (default ConnectTimeout from ssh_config, else 30s)")
}

func (f *sshFlags) overrides() ssh.Overrides {
	return ssh.Overrides{ConfigFile: f.config, User: f.user, Port: f.port, Identities: f.identities,
		Jump: f.jump, Options: f.options, ConnectTimeout: f.connectTimeout}
}

func (f *sshFlags) spec() ssh.ChannelSpec {
	return ssh.ChannelSpec{Subsystem: f.subsystem, Exec: f.exec}
}

func (f *sshFlags) check() error {
	if f.kind != "go" && f.kind != "system" {
		return fmt.Errorf("--ssh-client: want go or system, got %q", f.kind)
	}
	return nil
}

// dialer opens transports to destinations, sharing connections.
type dialer struct {
	flags  *sshFlags
	pool   *ssh.Pool
	warn   func(dest, msg string)
	diag   func(dest string, k sessions.DiagKind, text string)
	system string // the system ssh program
}

func newDialer(f *sshFlags, stdin *os.File, stderr io.Writer, label bool, warn func(dest, msg string)) *dialer {
	d := &dialer{flags: f, warn: warn, system: "ssh"}
	o := f.overrides()
	d.pool = &ssh.Pool{Options: ssh.DialOptions{
		Prompter: repl.SSHPrompter(stdin, stderr, label),
		Warn:     func(msg string) { warn("", msg) },
		ResolveHop: func(hop string) (*ssh.Config, error) {
			return ssh.Resolve(hop, ssh.Overrides{ConfigFile: o.ConfigFile, Options: o.Options, ConnectTimeout: o.ConnectTimeout})
		},
	}}
	return d
}

// resolve resolves a destination with the flags.
func (d *dialer) resolve(dest string) (*ssh.Config, error) {
	return ssh.Resolve(dest, d.flags.overrides())
}

// open starts the PowerShell end for dest and returns it as a
// transport; ctx bounds the connecting, life a system ssh process.
func (d *dialer) open(ctx, life context.Context, dest string, diag func(sessions.DiagKind, string)) (sessions.Transport, string, error) {
	cfg, err := d.resolve(dest)
	if err != nil {
		return nil, "", err
	}
	if d.flags.kind == "system" {
		argv := ssh.SystemArgs(d.system, dest, d.flags.overrides(), d.flags.spec())
		t, err := sessions.StartProcess(life, argv, diag)
		return t, cfg.HostName, err
	}
	ch, err := d.pool.Open(ctx, cfg, d.flags.spec(), func(line string) { diag(sessions.DiagStderr, line) })
	if err != nil {
		return nil, cfg.HostName, err
	}
	return ch, cfg.HostName, nil
}

func (d *dialer) close() { _ = d.pool.Close() }
