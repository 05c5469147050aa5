// Package trace records a session's raw OutOfProc traffic for
// `psmux server --trace DIR` (SPEC S10): one line per packet, prefixed
// "C> " (psmux to PowerShell) or "S> " (PowerShell to psmux), in the form
// `psmux debug decode` reads.
//
// Secrets are masked before anything is written: the contents of every
// SecureString (<SS>, which carries Read-Host -AsSecureString answers,
// the password of a Get-Credential / PromptForCredential answer, and any
// SecureString the server sends), the session key of
// ENCRYPTED_SESSION_KEY, and the quoted literals of a pipeline's script
// text when it mentions -AsPlainText (ConvertTo-SecureString 'pw'
// -AsPlainText). Passwords psmux relays for SSH prompts never travel in
// OutOfProc traffic, so they cannot reach a trace.
//
// A Data packet whose payload is one whole fragment of a message that
// needs no masking is written as it came; a message spread over several
// fragments (or packets) is written once complete, as one packet holding
// one fragment with the message's object id, so the masked message is
// never split around a secret.
package trace
