// Package opensshd runs the system's real OpenSSH sshd on a loopback port
// for tests (SPEC S11), so psmux is checked against the server it meets in
// production and not only against code written here.
//
// [Start] writes everything into the test's temporary directory: an
// ed25519 host key, an ed25519 client key authorized for the current user,
// an sshd_config, a known_hosts file and an ssh_config with a Host alias.
// sshd runs in the foreground as a child of the test (-D -e), logging to a
// pipe the harness reads; the test is ready when sshd logs "Server
// listening on", and the child is killed and reaped by t.Cleanup.
//
// What running sshd this way needs, found by experiment on Debian 12
// (OpenSSH 9.2):
//
//   - sshd must be started by absolute path (it re-executes itself).
//   - As root it refuses to start without its privilege separation
//     directory ("Missing privilege separation directory: /run/sshd"),
//     which only the openssh-server service normally creates; the harness
//     creates the directory sshd names (mode 0755) and retries. Not as
//     root, sshd does not need it and runs without privilege separation,
//     and can only log in the user it runs as, which is the user the
//     harness logs in as.
//   - UsePAM no (PAM needs root), StrictModes no (temporary directories),
//     PidFile none, PermitRootLogin yes (CI runs as root). A locked
//     password ("!" in /etc/shadow) does not stop public-key logins.
//   - Subsystem commands run through the user's login shell (shell -c
//     CMD). Debian's bash reads ~/.bashrc for commands run by sshd, so rc
//     files can print noise before the first OutOfProc packet; the stock
//     .bashrc returns early for non-interactive shells and prints nothing.
//     A machine's own .bashrc can take long (pyenv's rehash waits 60 s on
//     a stale lock), so the harness sets SHLVL=1 for sessions (SetEnv):
//     bash reads ~/.bashrc for sshd only at shell level 1, and SHLVL=1
//     makes it level 2.
//   - A process exit status is 8 bits: pwsh's and pwshsim's 4000 arrives as
//     exit-status 160.
//   - sshd answers keepalive@openssh.com (and every global request it does
//     not know) with a failure reply.
package opensshd
