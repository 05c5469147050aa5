// Package ssh holds end-to-end tests of psmux (built once per package
// by internal/e2e): SSH through Debian's sshd: host keys, authentication, jumps, fan-out, Ctrl-C.
package ssh
