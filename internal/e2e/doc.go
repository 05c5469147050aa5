// Package e2e is the harness of psmux's end-to-end tests: it builds the
// psmux binary and pwshsim (Main), starts what the tests talk to (sshd on
// loopback with pwshsim or real pwsh behind it, a psmux server on its own
// socket, tmux for the REPL, psrpcore's independent peers) and runs psmux
// as a user does. The tests themselves live in the packages below it, one
// per topic (invoke, failures, server, cli, repl, ssh, parity), so that each test binary
// stays well inside go test's default timeout on a loaded 2-core machine.
//
// Everything a test starts is reaped when the test binary dies
// (testenv/reap), and every dependency is gated by testenv/require
// (PSMUX_REQUIRE turns a missing one into a failure).
package e2e
