package main

import (
	"bytes"
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// xCounter counts the 'x' bytes written to it without keeping them.
type xCounter struct{ n int }

func (c *xCounter) Write(p []byte) (int, error) {
	c.n += bytes.Count(p, []byte{'x'})
	return len(p), nil
}

// An object of 70 MB comes through, as it does for pwsh's client
// (PowerShell's MaximumReceivedObjectSize is 200 MB); one over
// --max-received-object-size fails with an error that names the limit.
func TestInvokeLargeObject(t *testing.T) {
	server := realPwsh(t)
	if server == "" {
		t.Skip("no pwsh (PSMUX_REQUIRE=pwsh makes this a failure)")
	}
	const script = `'x' * 70MB`
	run := func(extra ...string) (int, int, string) {
		cmd := exec.Command(psmuxBin(), append(append([]string{"invoke", "--local", "--pwsh", server, "--json"}, extra...), "--", script)...)
		var out xCounter
		var errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		return cmd.ProcessState.ExitCode(), out.n, errb.String()
	}
	code, xs, stderr := run()
	if code != exitOK || xs != 70<<20 {
		t.Fatalf("%s: exit %d, %d x's in the output (want %d); stderr %q", script, code, xs, 70<<20, stderr)
	}
	code, _, stderr = run("--max-received-object-size", "50")
	if code != exitConnect || !strings.Contains(stderr, "maximum received object size") || !strings.Contains(stderr, "(50 MB)") {
		t.Fatalf("over the limit: exit %d (want %d), stderr %q: want the limit named", code, exitConnect, stderr)
	}
}
