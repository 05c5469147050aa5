//go:build linux || darwin || freebsd

package sock

import (
	"context"
	"fmt"
	req "github.com/psmux/psmux/testenv/require"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// helperEnv tells a re-executed test binary to act as a socket client: dial
// the path in the variable, print what the server sends, and exit.
const helperEnv = "PSMUX_SOCK_TEST_CLIENT"

const nobody = 65534

// helperClient is the client half of TestForeignUIDRefused, run in a
// copy of the test binary as another uid: it dials path, prints what the
// server sends and exits.
func helperClient(path string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, path)
	if err != nil {
		fmt.Printf("DIAL-ERROR: %v\n", err)
		os.Exit(1)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c)
	fmt.Printf("READ: %s", b)
	if err != nil {
		fmt.Printf("\nREAD-ERROR: %v\n", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// everyoneCanReach reports the first ancestor of dir that others cannot
// search, or "".
func everyoneCanReach(dir string) string {
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return d
		}
		if d == filepath.Dir(d) {
			return ""
		}
	}
}

func TestForeignUIDRefused(t *testing.T) {
	if path := os.Getenv(helperEnv); path != "" { // the copy run as another uid
		helperClient(path)
	}
	req.Rooted(t, "run a client as another uid")
	base := shortTemp(t)
	if d := everyoneCanReach(base); d != "" {
		t.Fatalf("uid %d cannot reach the test socket: %s is not searchable by others (set TMPDIR to a directory that is)", nobody, d)
	}
	dir := filepath.Join(base, "s")
	path := filepath.Join(dir, "default")
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })

	// Open the file modes on purpose, in this test only, so the connect
	// succeeds and only the peer-uid check stands between uid 65534 and the
	// server.
	for p, m := range map[string]os.FileMode{base: 0o711, dir: 0o711, path: 0o666} {
		if err := os.Chmod(p, m); err != nil {
			t.Fatal(err)
		}
	}
	// The test binary sits in a private build directory; give the child a
	// copy it can execute.
	bin := filepath.Join(base, "client.test")
	copyExecutable(t, bin)

	type result struct {
		c   *net.UnixConn
		err error
	}
	logs := make(chan string, 8)
	accepted := make(chan result, 1)
	a := &Accepter{L: l, Log: func(s string) { logs <- s }}
	go func() {
		c, err := a.Accept()
		accepted <- result{c, err}
	}()

	out := runClientAs(t, bin, base, path, nobody)
	want := fmt.Sprintf("READ: psmux: access denied: uid %d is not the server's owner (uid 0)\n", nobody)
	if out != want {
		t.Errorf("child output = %q, want %q", out, want)
	}
	select {
	case line := <-logs:
		if !strings.Contains(line, fmt.Sprintf("uid %d", nobody)) {
			t.Errorf("log line %q does not name uid %d", line, nobody)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no refusal was logged")
	}

	// Accept skipped the refused peer: the next connection it returns is
	// ours, which we prove by sending a byte through it.
	mine, err := Dial(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer mine.Close()
	if _, err := mine.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	r := <-accepted
	if r.err != nil {
		t.Fatal(r.err)
	}
	defer r.c.Close()
	if uid, err := PeerUID(r.c); err != nil || uid != 0 {
		t.Errorf("accepted peer uid = %d, %v; want 0", uid, err)
	}
	buf := make([]byte, 1)
	if _, err := io.ReadFull(r.c, buf); err != nil || buf[0] != 'x' {
		t.Errorf("the accepted connection is not ours: read %q, %v", buf, err)
	}

	t.Run("granted uid is let through", func(t *testing.T) {
		a := &Accepter{L: l, Allowed: func(uid int) bool { return uid == nobody },
			Log: func(s string) { t.Errorf("unexpected refusal: %s", s) }}
		go func() {
			c, err := a.Accept()
			if err == nil {
				c.Write([]byte("welcome\n"))
				c.Close()
			}
			accepted <- result{c, err}
		}()
		out := runClientAs(t, bin, base, path, nobody)
		if out != "READ: welcome\n" {
			t.Errorf("child output = %q, want the server's greeting", out)
		}
		if r := <-accepted; r.err != nil {
			t.Fatal(r.err)
		}
	})
}

func copyExecutable(t *testing.T, dst string) {
	t.Helper()
	src, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dst, 0o755); err != nil { // whatever the umask
		t.Fatal(err)
	}
}

// runClientAs runs the helper client as uid:uid and returns its stdout.
func runClientAs(t *testing.T, bin, dir, path string, uid uint32) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-test.run=^TestForeignUIDRefused$")
	cmd.Dir = dir
	cmd.Env = []string{helperEnv + "=" + path, "PATH=" + os.Getenv("PATH")}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("client as uid %d: %v\nstdout: %s\nstderr: %s", uid, err, out, stderr.String())
	}
	return string(out)
}
