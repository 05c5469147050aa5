// Package pscrypto is the SecureString key exchange of PSRP protocol 2.3
// (psrp-brief §9): the client's RSA key pair as a CAPI PUBLICKEYBLOB, the
// server's AES-256 session key as a SIMPLEBLOB, and SecureStrings as
// AES-256-CBC with a zero IV (or plain UTF-16LE under protocol 2.4).
//
// It is its own package so that sessions/psrp carries no cryptography:
// psrp.ClientPool takes it through the psrp.Crypto interface (sessions
// plugs Client in), and testenv/pwshsim, which imports psrp, computes its
// side of the exchange with Go's crypto packages itself.
package pscrypto
