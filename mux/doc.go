// Package mux is psmux's server: the registry of named PSSessions, each
// owned by one goroutine; the client protocol (PROTOCOL.md) over a unix
// socket or any byte stream (psmux proxy); attach and detach with replay
// from each session's output log (mux/outlog); commands run one at a
// time per session with PowerShell's busy semantics; jobs; prompts
// relayed to one interactive client; idle timeouts; and a registry
// saved atomically (mux/store) so sessions come back after a restart.
package mux
