// Package repl holds end-to-end tests of psmux (built once per package
// by internal/e2e): the REPL in a real tmux: typed and pasted input, cmdlets, jobs, prompts, detach and attach.
package repl
