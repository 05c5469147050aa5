// Package sock owns the server's unix socket: where it lives, who may
// create it, who may connect to it, and how clients find it (SPEC S6, S8
// -L NAME | -S PATH; bench-reliability R11).
//
// The rules follow tmux and OpenSSH's ControlMaster:
//
//   - Path: -S PATH wins, then $PSMUX_SOCKET without -L; otherwise
//     $XDG_RUNTIME_DIR/psmux/<name> (else $TMPDIR/psmux-<uid>/<name>),
//     name from -L (default "default").
//   - The socket's directory is created 0700 and must be a real directory
//     (not a symlink), owned by the current uid and closed to group and
//     others; CheckDir refuses anything else with an *UnsafeError that says
//     why and how to fix it.
//   - The socket itself is 0600. A socket file nobody answers on is stale
//     and replaced; one a live server answers on makes Listen fail with
//     ErrRunning.
//   - Every accepted connection's peer uid is read from the kernel
//     (SO_PEERCRED on Linux, LOCAL_PEERCRED on macOS and FreeBSD). A peer
//     that is not the owner (and not granted by Accepter.Allowed) gets one
//     line starting with DeniedPrefix and is closed before the server reads
//     a byte from it.
//   - Dial reports "no server running on <path>" as *NoServerError, and
//     StartLock (flock(2) on <path>.lock) lets racing clients start exactly
//     one server on demand.
//
// The file modes are not the only guard: the peer-uid check holds even when
// an administrator loosens them, and a platform without a peer-credential
// call refuses every connection rather than trusting the modes alone.
//
// Supported platforms: Linux, macOS and FreeBSD. Elsewhere Path and Dial
// work and the rest returns an error wrapping errors.ErrUnsupported.
package sock
