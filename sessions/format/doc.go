// Package format renders PowerShell objects as text the way pwsh 7's
// default views do (Out-Default / Out-String): primitives one per line,
// tables for up to four properties, lists beyond, hashtables as
// Name/Value, the known views of Get-Service / Get-Process / Get-Location,
// and error records in ConciseView. The psmux client uses it for objects
// that arrive unformatted as PIPELINE_OUTPUT (SPEC S4). pwshsim, the
// stand-in for pwsh, has its own Out-Default and must not use this
// package (testenv/pwshsim TestIndependentOfPsmuxRendering).
package format
