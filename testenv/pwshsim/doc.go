// Package pwshsim is a stand-in PowerShell OutOfProc server for tests:
// it speaks the wire protocol on its own code (never psmux's encoders),
// runs a small subset of the PowerShell language, formats output as
// pwsh does for the cases the tests use, and injects the faults a real
// pwsh seldom shows on demand. Claims about pwsh rest on real pwsh, not
// on this double.
package pwshsim
