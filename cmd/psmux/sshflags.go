package main

import (
	"context"
	"io"
	"os"

	"github.com/psmux/psmux/mux"
	"github.com/psmux/psmux/repl"
	"github.com/psmux/psmux/sessions"
	"github.com/psmux/psmux/ssh"
)

const sshFlagsUsage = ssh.FlagsUsage

// dialer opens transports to destinations for the commands that run
// without the server (invoke, doctor, cp), sharing connections.
type dialer struct {
	flags  *ssh.Flags
	pool   *ssh.Pool
	opener *mux.Opener
}

func newDialer(f *ssh.Flags, stdin *os.File, stderr io.Writer, label bool, warn func(msg string)) *dialer {
	pool := &ssh.Pool{Options: ssh.DialOptions{Prompter: repl.SSHPrompter(stdin, stderr, label), Warn: warn}}
	return &dialer{flags: f, pool: pool, opener: &mux.Opener{Pool: pool}}
}

// resolve resolves a destination with the flags.
func (d *dialer) resolve(dest string) (*ssh.Config, error) {
	return ssh.Resolve(dest, d.flags.Overrides())
}

// open starts the PowerShell end for dest and returns it as a
// transport and the computer's name as given (an ssh_config alias stays
// one, as PSComputerName keeps -HostName's value and as a server
// session's ComputerName does); ctx bounds the connecting, life a
// system ssh process.
func (d *dialer) open(ctx, life context.Context, dest string, diag func(sessions.DiagKind, string)) (sessions.Transport, string, error) {
	t, w, err := d.opener.Open(ctx, life, mux.Target{Dest: dest, Flags: d.flags}, diag)
	return t, w.Computer, err
}

func (d *dialer) close() { _ = d.pool.Close() }
