//go:build linux || darwin || freebsd

package sock

import (
	"context"
	"errors"
	req "github.com/psmux/psmux/testenv/require"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// shortTemp is a temporary directory with a short path: t.TempDir's names
// can push a socket path past sun_path (notably on macOS).
func shortTemp(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "psk")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func TestPath(t *testing.T) {
	tmp := t.TempDir()
	uid := strconv.Itoa(os.Getuid())
	run := filepath.Join(tmp, "run")
	t.Setenv("XDG_RUNTIME_DIR", run)
	t.Setenv("PSMUX_SOCKET", "")
	t.Setenv("TMPDIR", filepath.Join(tmp, "tmp"))

	cases := []struct {
		name, label, explicit, want string
	}{
		{"default name", "", "", filepath.Join(run, "psmux", "default")},
		{"-L label", "work", "", filepath.Join(run, "psmux", "work")},
		{"-S wins over -L", "work", filepath.Join(tmp, "x", "my.sock"), filepath.Join(tmp, "x", "my.sock")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Path(c.label, c.explicit)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("Path(%q, %q) = %q, want %q", c.label, c.explicit, got, c.want)
			}
		})
	}

	t.Run("TMPDIR when XDG_RUNTIME_DIR is unset", func(t *testing.T) {
		t.Setenv("XDG_RUNTIME_DIR", "")
		got, err := Path("", "")
		if err != nil {
			t.Fatal(err)
		}
		if want := filepath.Join(tmp, "tmp", "psmux-"+uid, "default"); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})
	t.Run("PSMUX_SOCKET without -L", func(t *testing.T) {
		t.Setenv("PSMUX_SOCKET", "env.sock")
		wd, _ := os.Getwd()
		for _, c := range []struct{ label, explicit, want string }{
			{"", "", filepath.Join(wd, "env.sock")},
			{"work", "", filepath.Join(run, "psmux", "work")},
			{"", filepath.Join(tmp, "s"), filepath.Join(tmp, "s")},
		} {
			if got, err := Path(c.label, c.explicit); err != nil || got != c.want {
				t.Errorf("Path(%q, %q) = %q, %v; want %q", c.label, c.explicit, got, err, c.want)
			}
		}
	})
	t.Run("relative -S is made absolute", func(t *testing.T) {
		got, err := Path("", "rel.sock")
		if err != nil {
			t.Fatal(err)
		}
		wd, _ := os.Getwd()
		if want := filepath.Join(wd, "rel.sock"); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})
	t.Run("label with a slash is refused", func(t *testing.T) {
		for _, l := range []string{"a/b", "..", "."} {
			if _, err := Path(l, ""); err == nil || !strings.HasPrefix(err.Error(), "sock: ") {
				t.Errorf("Path(%q) error = %v, want a sock: error", l, err)
			}
		}
	})
	t.Run("too long for sun_path", func(t *testing.T) {
		_, err := Path(strings.Repeat("n", 200), "")
		if err == nil || !strings.Contains(err.Error(), "longer than") {
			t.Errorf("error = %v, want a length error", err)
		}
	})
}

func TestListenCreatesDir0700AndSocket0600(t *testing.T) {
	base := shortTemp(t)
	dir := filepath.Join(base, "a", "psmux-x")
	path := filepath.Join(dir, "default")
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	di, err := os.Lstat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !di.IsDir() || di.Mode().Perm() != 0o700 {
		t.Errorf("dir mode = %v, want a 0700 directory", di.Mode())
	}
	si, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if si.Mode()&fs.ModeSocket == 0 || si.Mode().Perm() != 0o600 {
		t.Errorf("socket mode = %v, want a 0600 socket", si.Mode())
	}
}

func TestListenSecondOnLivePathIsErrRunning(t *testing.T) {
	path := filepath.Join(shortTemp(t), "s", "default")
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l2, err := Listen(path)
	if !errors.Is(err, ErrRunning) {
		if l2 != nil {
			l2.Close()
		}
		t.Fatalf("second Listen error = %v, want ErrRunning", err)
	}
	// The live server's socket is still there and still answers.
	c, err := Dial(t.Context(), path)
	if err != nil {
		t.Fatalf("the first server no longer answers: %v", err)
	}
	c.Close()
}

func TestListenReplacesStaleSocket(t *testing.T) {
	path := filepath.Join(shortTemp(t), "s", "default")
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	l.UnixListener.Close() // the file stays, as a crashed server leaves it
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("the stale socket file should remain: %v", err)
	}

	l2, err := Listen(path)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	defer l2.Close()
	go func() {
		if c, err := l2.Accept(); err == nil {
			c.Close()
		}
	}()
	c, err := Dial(t.Context(), path)
	if err != nil {
		t.Fatalf("the new listener does not answer: %v", err)
	}
	c.Close()
	si, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if si.Mode().Perm() != 0o600 {
		t.Errorf("socket mode = %v, want 0600", si.Mode())
	}
}

func TestListenRefusesSymlinkAndNonSocket(t *testing.T) {
	dir := filepath.Join(shortTemp(t), "s")
	if err := CheckDir(dir); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	for path, reason := range map[string]string{link: "symlink", target: "not a socket"} {
		l, err := Listen(path)
		var ue *UnsafeError
		if !errors.As(err, &ue) {
			if l != nil {
				l.Close()
			}
			t.Fatalf("Listen(%s) error = %v, want *UnsafeError", path, err)
		}
		if ue.Path != path || !strings.Contains(ue.Reason, reason) {
			t.Errorf("Listen(%s): %v, want the path and %q", path, err, reason)
		}
	}
	// Nothing was removed or replaced.
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("the symlink was touched: %v %v", fi, err)
	}
}

func TestCheckDirRefusesUnsafe(t *testing.T) {
	base := shortTemp(t)
	mk := func(name string, mode fs.FileMode) string {
		p := filepath.Join(base, name)
		if err := os.Mkdir(p, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	real := mk("real", 0o700)
	link := filepath.Join(base, "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name, dir, reason string
	}{
		{"symlink", link, "symlink"},
		{"world-writable 0777", mk("world", 0o777), "mode 0777"},
		{"group-readable 0750", mk("group", 0o750), "mode 0750"},
		{"regular file", file, "not a directory"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := CheckDir(c.dir)
			var ue *UnsafeError
			if !errors.As(err, &ue) {
				t.Fatalf("CheckDir error = %v, want *UnsafeError", err)
			}
			if ue.Path != c.dir || !strings.Contains(ue.Reason, c.reason) || ue.Fix == "" {
				t.Errorf("got %+v, want path %s, a reason with %q and a fix", ue, c.dir, c.reason)
			}
			if !strings.HasPrefix(err.Error(), "sock: ") {
				t.Errorf("error text %q lacks the package prefix", err)
			}
		})
	}
	t.Run("foreign owner", func(t *testing.T) {
		req.Rooted(t, "chown a directory to another uid")
		d := mk("foreign", 0o700)
		if err := os.Chown(d, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		var ue *UnsafeError
		if err := CheckDir(d); !errors.As(err, &ue) || !strings.Contains(ue.Reason, "uid 65534") {
			t.Errorf("CheckDir = %v, want an *UnsafeError naming uid 65534", err)
		}
	})
	t.Run("safe dir passes", func(t *testing.T) {
		if err := CheckDir(real); err != nil {
			t.Errorf("CheckDir(0700 dir) = %v", err)
		}
	})
}

func TestDialNothingListening(t *testing.T) {
	dir := filepath.Join(shortTemp(t), "s")
	missing := filepath.Join(dir, "default")
	_, err := Dial(t.Context(), missing)
	var ns *NoServerError
	if !errors.As(err, &ns) || ns.Path != missing || !strings.Contains(err.Error(), "no server running on "+missing) {
		t.Fatalf("Dial(missing) = %v, want NoServerError for %s", err, missing)
	}

	// A stale socket file (its listener gone) is also "no server".
	l, err := Listen(missing)
	if err != nil {
		t.Fatal(err)
	}
	l.UnixListener.Close() // the file stays, as a crashed server leaves it
	_, err = Dial(t.Context(), missing)
	if !errors.As(err, &ns) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("Dial(stale) = %v, want NoServerError wrapping ECONNREFUSED", err)
	}
}

func TestStartLockSecondWaitsForFirst(t *testing.T) {
	path := filepath.Join(shortTemp(t), "s", "default")
	unlock1, err := StartLock(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(path + ".lock")
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("lock file: %v %v, want mode 0600", fi, err)
	}

	// While held, a waiter with a deadline gives up with the context's error.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Millisecond)
	_, err = StartLock(ctx, path)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("StartLock while held = %v, want DeadlineExceeded", err)
	}

	// The second caller's context tells the test when StartLock first
	// waits on it: that happens only after its flock found the lock held.
	var released atomic.Bool
	wctx := &waitWatch{Context: t.Context(), waiting: make(chan struct{})}
	got := make(chan bool, 1)
	errc := make(chan error, 1)
	go func() {
		unlock2, err := StartLock(wctx, path)
		if err != nil {
			errc <- err
			return
		}
		got <- released.Load()
		unlock2()
	}()

	deadline := time.After(time.Minute)
	select {
	case <-wctx.waiting:
	case <-got:
		t.Fatal("the second StartLock returned while the first held the lock")
	case err := <-errc:
		t.Fatal(err)
	case <-deadline:
		t.Fatal("the second StartLock neither waited nor returned within a minute")
	}
	released.Store(true)
	unlock1()
	unlock1() // idempotent
	select {
	case afterRelease := <-got:
		if !afterRelease {
			t.Fatal("the second StartLock got the lock before the first released it")
		}
	case err := <-errc:
		t.Fatal(err)
	case <-deadline:
		t.Fatal("the second StartLock did not get the lock within a minute of its release")
	}
}

// waitWatch closes waiting the first time its Done channel is asked for.
type waitWatch struct {
	context.Context
	once    sync.Once
	waiting chan struct{}
}

func (w *waitWatch) Done() <-chan struct{} {
	w.once.Do(func() { close(w.waiting) })
	return w.Context.Done()
}
