// Package transcripts holds real pwsh 7.6's OutOfProc traffic for a list
// of scenarios (Scenarios), recorded with `psmux server --trace`'s
// recorder (sessions/trace) while psmux's own client drove `pwsh -s`:
// session negotiation, every primitive type, objects, errors, streams,
// host calls and prompts, a stopped pipeline, completion, the prompt
// function, and for objects the text pwsh's own `Out-String -Width 120`
// prints for them.
//
// testdata/<scenario>.oop is one session each ("C> "/"S> " lines, the
// form `psmux debug decode` reads; secrets masked). pwshsim replays them;
// sessions/format's golden test compares its rendering with pwsh's
// Out-String text. Re-record them from real pwsh with
//
//	go test ./testenv/transcripts -run TestRecord -record
//
// (with pwsh on PATH or named by PSMUX_PWSH; `. ../shared/pwsh/env.sh`).
// This package itself imports nothing of psmux, so pwshsim can embed it.
package transcripts
