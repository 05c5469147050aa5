package ssh

import (
	"strconv"
	"time"
)

// SystemArgs is the argv that runs the system OpenSSH client for dest
// (`--ssh-client=system`): the same overrides as flags, agent and X11
// forwarding off, no tty, and the subsystem or command of spec. The
// system client reads ssh_config itself and asks its own questions on
// the terminal.
func SystemArgs(program, dest string, o Overrides, spec ChannelSpec) []string {
	if program == "" {
		program = "ssh"
	}
	argv := []string{program, "-a", "-x", "-T"}
	if o.ConfigFile != "" {
		argv = append(argv, "-F", o.ConfigFile)
	}
	if o.User != "" {
		argv = append(argv, "-l", o.User)
	}
	if o.Port != 0 {
		argv = append(argv, "-p", strconv.Itoa(o.Port))
	}
	for _, i := range o.Identities {
		argv = append(argv, "-i", i)
	}
	if o.Jump != "" {
		argv = append(argv, "-J", o.Jump)
	}
	for _, opt := range o.Options {
		argv = append(argv, "-o", opt)
	}
	if o.ConnectTimeout > 0 {
		argv = append(argv, "-o", "ConnectTimeout="+strconv.Itoa(int((o.ConnectTimeout+time.Second-1)/time.Second)))
	}
	if spec.Exec != "" {
		return append(argv, "--", dest, spec.Exec)
	}
	return append(argv, "-s", "--", dest, spec.subsystem())
}
