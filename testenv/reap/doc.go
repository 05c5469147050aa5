// Package reap makes sure nothing a test starts outlives the test binary,
// however the binary ends: a t.Cleanup, SIGKILL, a `go test -timeout`
// panic.
//
// [Main], called first in a TestMain, marks the test binary's environment
// with a run id ($PSMUX_TEST_RUN; one already set by a harness becomes its
// prefix) that every process the tests start inherits: sshd and what it
// runs (testenv/opensshd passes the mark on with SetEnv), psmux servers
// started on demand, tmux servers, local pwsh and pwshsim. It then starts a
// watchdog, a copy of the test binary in a session of its own, that waits
// for the test binary's end (EOF on a pipe only the test binary holds) and
// kills every process carrying the mark.
//
// [Attr] is the SysProcAttr for the processes a test starts itself: on
// Linux they die with the test binary (Pdeathsig) and lead their own
// process group, which [KillGroup] kills in cleanup.
package reap
