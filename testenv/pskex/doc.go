// Package pskex is the server's half of PSRP 2.3's SecureString key
// exchange (psrp-brief §9), for test peers that play a PowerShell server:
// it wraps a session key for a client's CAPI PUBLICKEYBLOB. It is written
// from the protocol with Go's crypto packages and does not use psmux's
// own implementation (sessions/pscrypto), which is what it checks.
package pskex
