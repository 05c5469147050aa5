// Package mux is psmux's server: the registry of named PSSessions (each
// session's life owned by one goroutine, Session.run, which opens,
// reopens, sees the link break and heals it, and which close ends and
// waits for; its state changed only through one transition table; a
// goroutine per running command); the client protocol
// (PROTOCOL.md) over a unix socket or any byte stream (psmux proxy);
// attach and detach with replay from each session's output log
// (mux/outlog) and a cursor per client; commands run with PowerShell's
// busy semantics; the server's jobs (a parent job with a child per
// session, Ids never reused); prompts relayed to one interactive client;
// idle timeouts; a registry saved atomically (mux/store) so sessions
// come back after a restart, with their logs kept on disk (mux/journal)
// and read back; sessions created with --reconnect reopened by the
// server when their link breaks (heal.go); Start-Job's local processes.
// Clients reach it with Connect, which starts
// the server on demand as tmux's client_connect does; FanOut is the one
// throttled fan-out of exec, invoke and Invoke-Command.
package mux
