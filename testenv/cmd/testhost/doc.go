// Command testhost is an SSH server for trying psmux without a Windows
// host (SPEC S11). It serves the "powershell" subsystem (the built-in pwsh
// simulator, or a command given with --pwsh) and "sftp", on loopback.
//
// Usage:
//
//	testhost [--listen ADDR] [--dir DIR] [--pwsh CMD]
//
// DIR (default ./psmux-testhost) holds what a client needs, created on the
// first run and reused later: host_key (the server's ed25519 key),
// id_ed25519 and id_ed25519.pub (a client key), known_hosts (the host key
// as [127.0.0.1]:PORT, rewritten when the port changes) and ssh_config
// (a "Host psmux-test" block), so that
//
//	psmux invoke -F DIR/ssh_config psmux-test -- '$PSVersionTable'
//	ssh -F DIR/ssh_config -s psmux-test powershell
//
// work without questions. Being a test host, it has no accounts: any user
// name is accepted with the client key, or with the password "psmux" (to
// try password prompts). It runs until SIGINT or SIGTERM.
package main
