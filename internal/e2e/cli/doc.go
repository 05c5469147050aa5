// Package cli holds end-to-end tests of psmux (built once per package
// by internal/e2e): the command line as tmux users type it: exec, attach, capture, jobs, hostile servers, budgets, restarts.
package cli
