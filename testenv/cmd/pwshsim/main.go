// Command pwshsim is a pwsh stand-in for tests: it speaks the OutOfProc
// protocol on stdin/stdout like `pwsh -s` / `pwsh -sshs` and runs a small
// subset of PowerShell (see testenv/pwshsim).
package main

import (
	"flag"
	"os"

	"github.com/psmux/psmux/testenv/pwshsim"
)

func main() {
	fs := flag.NewFlagSet("pwshsim", flag.ExitOnError)
	s := fs.Bool("s", false, "server mode (pwsh -s): error lines on stderr")
	sshs := fs.Bool("sshs", false, "SSH server mode (pwsh -sshs ≥ 7.3): error lines on stdout as __NamedPipeError__:")
	fs.Bool("NoLogo", false, "accepted and ignored")
	fs.Bool("NoProfile", false, "accepted and ignored")
	protocol := fs.String("protocol", "2.3", "protocol version to offer: 2.3 (pwsh ≤ 7.5) or 2.4 (pwsh ≥ 7.6)")
	psver := fs.String("psversion", "7.4.6", "PSVersion to report")
	fragment := fs.Int("fragment-size", 32768, "fragment size in bytes including the 21-byte header")
	_ = fs.Parse(os.Args[1:])
	_ = s
	srv := pwshsim.NewServer(os.Stdin, os.Stdout, os.Stderr, pwshsim.ServerOptions{
		SSHS: *sshs, Protocol: *protocol, FragmentSize: *fragment,
		Runspace: pwshsim.RunspaceOptions{PSVersion: *psver},
	})
	os.Exit(srv.Serve())
}
