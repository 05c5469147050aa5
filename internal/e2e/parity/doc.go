// Package parity holds end-to-end tests of psmux (built once per package
// by internal/e2e): wire parity: psmux's traffic against pwsh's own client's for the same work.
package parity
