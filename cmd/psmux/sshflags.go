package main

import (
	"context"
	"flag"
	"io"
	"os"

	"github.com/psmux/psmux/repl"
	"github.com/psmux/psmux/sessions"
	"github.com/psmux/psmux/ssh"
)

// sshFlags are SPEC S8's SSHFLAGS, shared by invoke, doctor, cp and new.
type sshFlags struct{ ssh.Flags }

const sshFlagsUsage = ssh.FlagsUsage

func (f *sshFlags) register(fs *flag.FlagSet) { f.Register(fs) }
func (f *sshFlags) overrides() ssh.Overrides  { return f.Overrides() }
func (f *sshFlags) spec() ssh.ChannelSpec     { return f.Spec() }
func (f *sshFlags) check() error              { return f.Check() }

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
	if d.flags.System() {
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
