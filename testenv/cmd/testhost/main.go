package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"

	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/psmux/psmux/sessions"
	"github.com/psmux/psmux/testenv/pwshsim"
	"github.com/psmux/psmux/testenv/sshserver"
)

// Password is accepted for every user name.
const Password = "psmux"

// Alias is the Host alias written into ssh_config.
const Alias = "psmux-test"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fset := flag.NewFlagSet("testhost", flag.ContinueOnError)
	fset.SetOutput(stderr)
	listen := fset.String("listen", "127.0.0.1:2222", "address to listen on; port 0 picks a free port")
	dir := fset.String("dir", "./psmux-testhost", "directory for host_key, id_ed25519, known_hosts and ssh_config (created on first run, reused later)")
	pwsh := fset.String("pwsh", "", "run this command per powershell channel instead of the built-in simulator, e.g. 'pwsh -sshs -NoLogo -NoProfile'")
	fset.Usage = func() {
		fmt.Fprintln(stderr, "usage: testhost [--listen ADDR] [--dir DIR] [--pwsh CMD]")
		fset.PrintDefaults()
	}
	if err := fset.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fset.NArg() > 0 {
		fmt.Fprintf(stderr, "testhost: unexpected argument %q\n", fset.Arg(0))
		return 2
	}
	if err := serve(ctx, *listen, *dir, *pwsh, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}

func serve(ctx context.Context, listen, dir, pwsh string, stdout, stderr io.Writer) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("testhost: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("testhost: %w", err)
	}
	hostKey, err := loadOrCreateKey(filepath.Join(dir, "host_key"))
	if err != nil {
		return err
	}
	clientKey, err := loadOrCreateKey(filepath.Join(dir, "id_ed25519"))
	if err != nil {
		return err
	}

	powershell := sshserver.Pwshsim(pwshsim.ServerOptions{SSHS: true})
	what := "the built-in pwsh simulator (testenv/pwshsim)"
	if pwsh != "" {
		argv, err := sessions.SplitCommand(pwsh)
		if err != nil {
			return err
		}
		powershell = sshserver.Command(argv...)
		what = pwsh
	}
	srv, err := sshserver.Start(sshserver.Options{
		Addr:           listen,
		HostKeys:       []gossh.Signer{hostKey},
		AuthorizedKeys: map[string][]gossh.PublicKey{sshserver.AnyUser: {clientKey.PublicKey()}},
		Passwords:      map[string]string{sshserver.AnyUser: Password},
		Subsystems: map[string]sshserver.Handler{
			"powershell": powershell,
			"sftp":       sshserver.SFTP(""),
		},
		Exec: func(ctx context.Context, cmd string, stdin io.Reader, out, errOut io.Writer) int {
			if strings.Contains(cmd, "pwsh") {
				return powershell(ctx, cmd, stdin, out, errOut)
			}
			fmt.Fprintf(errOut, "testhost: only pwsh runs here, not %q\n", cmd)
			return 127
		},
	})
	if err != nil {
		return fmt.Errorf("testhost: %w", err)
	}
	defer srv.Close()

	addr := srv.Addr()
	host, port := clientHost(addr)
	if err := writeIfChanged(filepath.Join(dir, "known_hosts"),
		knownhosts.Line([]string{knownhosts.Normalize(net.JoinHostPort(host, port))}, hostKey.PublicKey())+"\n"); err != nil {
		return err
	}
	u := "user"
	if cu, err := user.Current(); err == nil {
		u = cu.Username
	}
	block := configBlock(dir, host, port, u)
	if err := writeIfChanged(filepath.Join(dir, "ssh_config"), block); err != nil {
		return err
	}
	if !isLoopback(addr) {
		fmt.Fprintf(stderr, "testhost: warning: %s is reachable from other machines, and anyone with the key in %s or the password %q gets in\n", addr, dir, Password)
	}

	cfg := filepath.Join(dir, "ssh_config")
	fmt.Fprintf(stdout, "testhost: listening on %s\n", addr)
	fmt.Fprintf(stdout, "testhost: powershell subsystem runs %s; sftp is served too\n", what)
	fmt.Fprintf(stdout, "testhost: files in %s\n\n", dir)
	fmt.Fprintf(stdout, "ssh_config (written to %s):\n\n%s\n", cfg, block)
	fmt.Fprintf(stdout, "Try:\n")
	fmt.Fprintf(stdout, "    psmux invoke -F %s %s -- '$PSVersionTable'\n", cfg, Alias)
	fmt.Fprintf(stdout, "    ssh -F %s -s %s powershell\n\n", cfg, Alias)
	fmt.Fprintf(stdout, "Any user name logs in with %s, or with the password %q\n", filepath.Join(dir, "id_ed25519"), Password)
	fmt.Fprintf(stdout, "(to see a password prompt: ssh -F %s -o PubkeyAuthentication=no -s %s powershell).\n", cfg, Alias)
	fmt.Fprintf(stdout, "Stop with Ctrl-C.\n")

	<-ctx.Done()
	if err := srv.Close(); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "testhost: stopped")
	return nil
}

// configBlock is the ssh_config "Host psmux-test" block.
func configBlock(dir, host, port, user string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Host %s\n", Alias)
	for _, kv := range [][2]string{
		{"HostName", host},
		{"Port", port},
		{"User", user},
		{"IdentityFile", quote(filepath.Join(dir, "id_ed25519"))},
		{"IdentitiesOnly", "yes"},
		{"UserKnownHostsFile", quote(filepath.Join(dir, "known_hosts"))},
		{"StrictHostKeyChecking", "yes"},
	} {
		fmt.Fprintf(&b, "    %s %s\n", kv[0], kv[1])
	}
	return b.String()
}

// clientHost is the host and port a client on this machine dials: the
// listening IP, or 127.0.0.1 when listening on every address.
func clientHost(addr string) (host, port string) {
	host, port, _ = net.SplitHostPort(addr)
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return host, port
}

func isLoopback(addr string) bool {
	host, _, _ := net.SplitHostPort(addr)
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func quote(p string) string {
	if strings.ContainsAny(p, " \t") {
		return `"` + p + `"`
	}
	return p
}

// loadOrCreateKey reads an OpenSSH private key, or creates an ed25519 one
// (mode 0600, with a .pub beside it) if the file does not exist.
func loadOrCreateKey(path string) (gossh.Signer, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		s, err := gossh.ParsePrivateKey(b)
		if err != nil {
			return nil, fmt.Errorf("testhost: %s: %w", path, err)
		}
		return s, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("testhost: %w", err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("testhost: generate key: %w", err)
	}
	block, err := gossh.MarshalPrivateKey(priv, "psmux testhost")
	if err != nil {
		return nil, fmt.Errorf("testhost: marshal key: %w", err)
	}
	s, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		return nil, fmt.Errorf("testhost: %w", err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, fmt.Errorf("testhost: %w", err)
	}
	pub := strings.TrimSuffix(string(gossh.MarshalAuthorizedKey(s.PublicKey())), "\n") + " psmux-testhost\n"
	if err := os.WriteFile(path+".pub", []byte(pub), 0o644); err != nil {
		return nil, fmt.Errorf("testhost: %w", err)
	}
	return s, nil
}

// writeIfChanged writes content to path (0600) unless it already holds it.
func writeIfChanged(path, content string) error {
	if old, err := os.ReadFile(path); err == nil && string(old) == content {
		return nil
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		return fmt.Errorf("testhost: %w", err)
	}
	return nil
}
