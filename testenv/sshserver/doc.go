// Package sshserver is an in-process SSH server for tests and for
// testenv/cmd/testhost (SPEC S11). It is built on the server side of
// golang.org/x/crypto/ssh (RFC 4252 authentication, RFC 4254 connection
// protocol) and listens on loopback.
//
// It accepts "session" channels, several per connection, and serves the
// channel requests psmux uses: "subsystem" and "exec" run a [Handler] with
// the channel as its stdio, "env" is accepted, "pty-req", "shell",
// "auth-agent-req@openssh.com" and everything else are refused. After the
// handler returns the server sends EOF, "exit-status" and closes the
// channel, as sshd does. Global requests (such as keepalive@openssh.com) get
// a failure reply, which is what OpenSSH's sshd answers and what keepalive
// senders treat as proof of life.
//
// Every request type the server sees is recorded ([Server.Requests]) so a
// test can assert that a client never asked for agent forwarding, and every
// authentication attempt is logged ([Server.AuthLog]).
//
// By default the "powershell" subsystem runs the in-process pwsh simulator
// (testenv/pwshsim, in -sshs mode) and "sftp" runs github.com/pkg/sftp.
//
// Goroutine ownership: every goroutine the server starts, including the
// goroutines running handlers, is owned by the [Server], and [Server.Close]
// waits for all of them.
package sshserver
