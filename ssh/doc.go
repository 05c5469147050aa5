// Package ssh is psmux's SSH client: it turns a destination as a user
// types it (an ssh_config alias, user@host:port, flags) into channels
// that carry the PowerShell remoting subsystem.
//
// It implements, on golang.org/x/crypto/ssh:
//   - ssh_config resolution (github.com/kevinburke/ssh_config) for the
//     keys psmux honours, matching what `ssh -G` prints, with -l -p -i -J
//     -o -F overrides (Resolve);
//   - host key checking against known_hosts files, hashed or not, with
//     StrictHostKeyChecking yes, accept-new and ask; a changed key is
//     always refused with both fingerprints (HostKeyChecker);
//   - authentication by ssh-agent, identity files (passphrases asked
//     through a Prompter only when the server would accept the key),
//     password and keyboard-interactive through the same Prompter;
//   - dialing that honours a context for the TCP connect and the
//     handshake, ProxyJump chains, and keepalive@openssh.com probes that
//     mark a connection broken after ServerAliveCountMax misses;
//   - reads that gather while a connection streams: once reads come in
//     quick succession, at most one every few milliseconds, with the
//     socket's low-water mark raised meanwhile so the packets do not
//     wake the process one by one (gatherConn);
//   - connection sharing: a Pool hands out one connection per
//     destination and opens one channel per session on it (Channel);
//   - the `--ssh-client=system` escape hatch, which only builds the argv
//     of the system ssh (SystemArgs).
//
// Agent forwarding is never requested.
package ssh
