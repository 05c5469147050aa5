// Package require decides what a test does when something it needs from the
// machine is missing: real pwsh, OpenSSH, tmux, the shared corpus, the
// psrpcore peers, root.
//
// One variable, PSMUX_REQUIRE, lists what must be present (a comma list such
// as "corpus,openssh,tmux,root,pwsh", or "all"). A test that needs a listed
// thing and does not find it fails; otherwise it is skipped with a message
// that says how to provide it. CI sets PSMUX_REQUIRE, so missing evidence is
// a failure there and never a silent skip.
//
// PSMUX_PWSH_LAUNCHER=child puts pwsh behind a launcher that runs it as a
// child (no exec), as the dotnet global tool's pwsh does.
//
// [PwshServer] finds a real PowerShell: $PSMUX_PWSH (a full OutOfProc command
// line, "pwsh -s -NoLogo -NoProfile"), else `pwsh` on PATH, else
// $PSMUX_PWSH_BIN (set by ../shared/pwsh/env.sh).
package require
