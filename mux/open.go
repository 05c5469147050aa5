package mux

import (
	"context"

	"github.com/psmux/psmux/sessions"
	"github.com/psmux/psmux/ssh"
)

// Target says where a session's PowerShell runs.
type Target struct {
	Dest  string     // host, for SSH
	Flags *ssh.Flags // SSH flags
	Pwsh  []string   // local: the OutOfProc server's argv
}

// Where describes an opened session's far end, in Get-PSSession terms.
type Where struct {
	Computer      string // the destination as named (an ssh_config alias, say)
	HostName      string // what was dialled
	User          string
	Transport     string // SSH or Process
	Configuration string // DefaultShell for SSH, as PowerShell shows it
}

// Opener starts the PowerShell end of a session; SSH sessions to the
// same destination share one connection through Pool.
type Opener struct {
	Pool      *ssh.Pool
	SystemSSH string // the system ssh program for --ssh-client=system; "" = "ssh"
}

// Open returns a transport to tg's PowerShell. ctx bounds connecting;
// life bounds a child process (local pwsh or the system ssh).
func (o *Opener) Open(ctx, life context.Context, tg Target, diag func(sessions.DiagKind, string)) (sessions.Transport, Where, error) {
	if tg.Dest == "" {
		t, err := sessions.StartProcess(life, tg.Pwsh, diag)
		return t, Where{Computer: "localhost", HostName: "localhost", Transport: "Process"}, err
	}
	f := tg.Flags
	if f == nil {
		f = &ssh.Flags{Subsystem: ssh.DefaultSubsystem}
	}
	cfg, err := ssh.Resolve(tg.Dest, f.Overrides())
	if err != nil {
		return nil, Where{}, err
	}
	w := Where{Computer: cfg.Host, HostName: cfg.HostName, User: cfg.User, Transport: "SSH", Configuration: "DefaultShell"}
	if f.System() {
		t, err := sessions.StartProcess(life, ssh.SystemArgs(o.SystemSSH, tg.Dest, f.Overrides(), f.Spec()), diag)
		return t, w, err
	}
	ch, err := o.Pool.Open(ctx, cfg, f.Spec(), func(line string) { diag(sessions.DiagStderr, line) })
	if err != nil {
		return nil, w, err
	}
	return ch, w, nil
}
