// Package server holds end-to-end tests of psmux (built once per package
// by internal/e2e): the server through its socket: sessions, clients, cursors, idle closes, tracing.
package server
