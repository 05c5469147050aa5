// Package repl is psmux's interactive client: the PS psmux> prompt and
// the session prompt of an attached client. It reads lines with a line
// editor (history, Tab completion local and remote, bracketed paste),
// gathers them into complete statements, runs PowerShell's session and
// job cmdlets itself (one command table serves parsing, Get-Help and
// completion; $variables that hold sessions, ( … ) arguments, session
// pipelines), sends everything else to the entered session in the order
// it was typed, and renders the session's events as pwsh's console
// would (formatting, colours, progress, prompts for host input).
package repl
