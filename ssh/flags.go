package ssh

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// FlagsUsage lists the SSH flags (SPEC S8's SSHFLAGS).
const FlagsUsage = "-l USER -p PORT -i KEY -J JUMP -o Key=Value -F CONFIG --subsystem NAME --exec CMD --ssh-client=go|system --connect-timeout D"

// Flags are the SSH flags every command that reaches a host takes. The
// server keeps them as Args and parses them again when it reopens a
// session.
type Flags struct {
	User, Jump, Config string
	Port               int
	Identities         listFlag
	Options            listFlag
	Subsystem, Exec    string
	Client             string // "go" or "system"
	ConnectTimeout     time.Duration
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// Register adds the flags to fs.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.User, "l", "", "remote user (like ssh -l)")
	fs.IntVar(&f.Port, "p", 0, "remote port (like ssh -p)")
	fs.Var(&f.Identities, "i", "identity file (like ssh -i; repeatable)")
	fs.StringVar(&f.Jump, "J", "", "jump hosts, comma-separated (like ssh -J)")
	fs.Var(&f.Options, "o", "ssh_config option Key=Value (like ssh -o; repeatable)")
	fs.StringVar(&f.Config, "F", "", "ssh_config file (like ssh -F)")
	fs.StringVar(&f.Subsystem, "subsystem", DefaultSubsystem, "the SSH subsystem that runs PowerShell")
	fs.StringVar(&f.Exec, "exec", "", "run this command instead of a subsystem, e.g. 'pwsh -sshs -NoLogo -NoProfile'")
	fs.StringVar(&f.Client, "ssh-client", "go", "go (built in) or system (the ssh program)")
	fs.DurationVar(&f.ConnectTimeout, "connect-timeout", 0, "give up connecting after this long (default ConnectTimeout from ssh_config, else 30s)")
}

// Check validates what flag parsing cannot.
func (f *Flags) Check() error {
	if f.Client != "go" && f.Client != "system" && f.Client != "" {
		return fmt.Errorf("ssh: --ssh-client: want go or system, got %q", f.Client)
	}
	return nil
}

// Overrides are the flags that override ssh_config.
func (f *Flags) Overrides() Overrides {
	return Overrides{ConfigFile: f.Config, User: f.User, Port: f.Port, Identities: f.Identities,
		Jump: f.Jump, Options: f.Options, ConnectTimeout: f.ConnectTimeout}
}

// Spec is what runs at the far end.
func (f *Flags) Spec() ChannelSpec { return ChannelSpec{Subsystem: f.Subsystem, Exec: f.Exec} }

// System reports whether the system ssh program is to be used.
func (f *Flags) System() bool { return f.Client == "system" }

// Args turns the flags back into arguments ParseFlags accepts.
func (f *Flags) Args() []string {
	var a []string
	add := func(k, v string) {
		if v != "" {
			a = append(a, k, v)
		}
	}
	add("-l", f.User)
	if f.Port != 0 {
		add("-p", strconv.Itoa(f.Port))
	}
	for _, i := range f.Identities {
		add("-i", i)
	}
	add("-J", f.Jump)
	for _, o := range f.Options {
		add("-o", o)
	}
	add("-F", f.Config)
	if f.Subsystem != DefaultSubsystem {
		add("--subsystem", f.Subsystem)
	}
	add("--exec", f.Exec)
	if f.Client == "system" {
		add("--ssh-client", f.Client)
	}
	if f.ConnectTimeout > 0 {
		add("--connect-timeout", f.ConnectTimeout.String())
	}
	return a
}

// ParseFlags parses args made by Args.
func ParseFlags(args []string) (*Flags, error) {
	fs := flag.NewFlagSet("ssh", flag.ContinueOnError)
	fs.SetOutput(discard{})
	f := new(Flags)
	f.Register(fs)
	if err := fs.Parse(args); err != nil {
		return nil, fmt.Errorf("ssh: flags %q: %w", args, err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("ssh: flags %q: unexpected %q", args, fs.Arg(0))
	}
	return f, f.Check()
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
