//go:build linux || darwin || freebsd

package sock

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// A server that stops listening after a newer one took over its path (the
// old one was shutting down when a client started the next) must not
// unlink the newer server's socket: that server would keep running where
// no client reaches it, and the next client would start a second one.
func TestCloseLeavesANewerServersSocket(t *testing.T) {
	path := filepath.Join(shortTemp(t), "s", "default")
	old, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil { // the old server's window: its file is gone
		t.Fatal(err)
	}
	newer, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer newer.Close()
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	c, err := Dial(t.Context(), path)
	if err != nil {
		t.Fatalf("after the old server closed, the newer one is unreachable: %v", err)
	}
	c.Close()

	// Its own socket a listener does remove.
	if err := newer.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the socket file is left after its listener closed: %v", err)
	}
}
