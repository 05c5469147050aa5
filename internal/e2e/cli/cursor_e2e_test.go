package cli_test

import (
	"slices"
	"testing"

	"github.com/psmux/psmux/internal/e2e"
)

// Each client keeps its own place in a session, as tmux keeps a
// client's: one that detaches and comes back resumes after the last
// event it showed itself, even when another client showed more since.
// ($PSMUX_CLIENT names a client; a terminal is named by its tty.)
func TestReattachResumesAtItsOwnCursor(t *testing.T) {
	m := e2e.NewMuxEnv(t)
	m.Must("new", "-n", "s", "--local", "--pwsh", e2e.PwshsimBin()+" -s")
	base := m.Env
	attachAs := func(id string) *e2e.Attacher {
		m.Env = append(slices.Clip(base), "PSMUX_CLIENT="+id)
		defer func() { m.Env = base }()
		return m.Attach("-t", "s")
	}
	is := func(want string) func(string) bool { return func(l string) bool { return l == want } }
	a, b := attachAs("a"), attachAs("b")
	m.WaitAttached("s", 2)
	m.Must("exec", "-t", "s", "--", "'one'")
	a.Until(t, "one", is("one"))
	b.Until(t, "one", is("one"))
	b.Stdin.Close() // b leaves, having shown "one"
	if err := b.Wait(); err != nil {
		t.Fatalf("b: %v %s", err, b.Errb.String())
	}
	m.Must("exec", "-t", "s", "--", "'two'")
	a.Until(t, "two", is("two"))
	b = attachAs("b")
	m.WaitAttached("s", 2)
	m.Must("exec", "-t", "s", "--", "'three'")
	var shown []string
	b.Until(t, "three", func(l string) bool {
		shown = append(shown, l)
		return l == "three"
	})
	if !slices.Contains(shown, "two") || slices.Contains(shown, "one") {
		t.Fatalf("b re-attached and showed %q; want what it had not shown (two), not what it had (one)", shown)
	}
	a.Stdin.Close()
	a.Wait()
	b.Stdin.Close()
	b.Wait()
}
