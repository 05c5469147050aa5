// Package store keeps the server's session registry on disk so sessions
// come back after a server restart (SPEC S5 and S6, bench-reliability R6).
//
// The registry holds what is needed to reopen a session — its id and name,
// where it went (destination, SSH flags, or the local pwsh command), its
// init script and options — and never a secret: no password, passphrase or
// answer to a prompt: a Record has no field for one, and the server fills
// it only from what a session was created with (mux's
// TestRegistryAndLogKeepNoRelayedSecret relays real secrets and reads the
// saved file).
//
// Save is atomic: the registry is written to a temporary file in the same
// directory (mode 0600), synced, renamed over the old file, and the
// directory is synced, so a crash at any moment leaves either the old file
// or the new one, never a mix. Load treats a missing file as an empty
// registry; a file it cannot understand is a *CorruptError, and Quarantine
// moves it aside so the server can start afresh without losing it.
//
// The file is JSON (Registry, FormatVersion 1), indented, so a person can
// read it. Its place is FileName in the server's Dir.
package store
