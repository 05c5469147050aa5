package ssh

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

const testAddr = "127.0.0.1:2222" // as x/crypto passes it to the callback

func ed25519Key(t *testing.T) gossh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func ecdsaKey(t *testing.T) gossh.Signer {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// plainLine and hashedLine are known_hosts lines for addr ("host:port").
func plainLine(addr string, k gossh.PublicKey) string {
	return knownhosts.Line([]string{addr}, k)
}

func hashedLine(addr string, k gossh.PublicKey) string {
	return knownhosts.HashHostname(knownhosts.Normalize(addr)) + " " + strings.TrimSpace(string(gossh.MarshalAuthorizedKey(k)))
}

func writeLines(t *testing.T, path string, lines ...string) string {
	t.Helper()
	return writeFile(t, path, strings.Join(lines, "\n")+"\n")
}

func readFileString(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return string(b)
}

// warnings collects what a checker warns about.
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) add(s string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, s)
}

func (w *warnings) list() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.msgs)
}

func checkKey(h *HostKeyChecker, addr string, k gossh.PublicKey) error {
	return h.Callback(context.Background())(addr, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2222}, k)
}

func hostKeyError(t *testing.T, err error, kind HostKeyErrorKind) *HostKeyError {
	t.Helper()
	var hk *HostKeyError
	if !errors.As(err, &hk) || hk.Kind != kind {
		t.Fatalf("got %v, want a %v host key error", err, kind)
	}
	return hk
}

func TestHostKeyKnownAccepted(t *testing.T) {
	dir := t.TempDir()
	key, other := ed25519Key(t).PublicKey(), ecdsaKey(t).PublicKey()
	cases := []struct {
		name  string
		files func() []string
		alias string
		addr  string
	}{
		{"plain", func() []string {
			return []string{writeLines(t, filepath.Join(dir, "plain"), "# comment", plainLine("other.example:22", other), plainLine(testAddr, key))}
		}, "", testAddr},
		{"hashed", func() []string {
			return []string{writeLines(t, filepath.Join(dir, "hashed"), hashedLine(testAddr, key))}
		}, "", testAddr},
		{"second file after a missing one", func() []string {
			first := writeLines(t, filepath.Join(dir, "first"), plainLine("other.example:22", other))
			return []string{filepath.Join(dir, "missing"), first, writeLines(t, filepath.Join(dir, "second"), hashedLine(testAddr, key))}
		}, "", testAddr},
		{"port 22 is written without brackets", func() []string {
			return []string{writeLines(t, filepath.Join(dir, "p22"), "box.example "+strings.TrimSpace(string(gossh.MarshalAuthorizedKey(key))))}
		}, "", "Box.Example:22"},
		{"alias", func() []string {
			return []string{writeLines(t, filepath.Join(dir, "alias"), plainLine("myalias", key))}
		}, "MyAlias", testAddr},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			files := tc.files()
			before := readFileString(t, files[len(files)-1])
			var w warnings
			h := &HostKeyChecker{Files: files, Write: files[0], Strict: "yes", Alias: tc.alias, Warn: w.add}
			if err := checkKey(h, tc.addr, key); err != nil {
				t.Fatalf("known key refused: %v", err)
			}
			if len(w.list()) != 0 || readFileString(t, files[len(files)-1]) != before {
				t.Errorf("accepting a known key warned %q or changed the file", w.list())
			}
		})
	}
}

func TestHostKeyUnknownRefusedUnderYes(t *testing.T) {
	dir := t.TempDir()
	key := ed25519Key(t).PublicKey()
	write := filepath.Join(dir, "known_hosts")
	fp := gossh.FingerprintSHA256(key)
	for _, strict := range []string{"yes", "ask"} { // ask with nobody to ask
		t.Run(strict, func(t *testing.T) {
			h := &HostKeyChecker{Files: []string{write}, Write: write, Strict: strict, Dest: "box"}
			hk := hostKeyError(t, checkKey(h, testAddr, key), HostKeyUnknown)
			if hk.Host != "[127.0.0.1]:2222" || hk.KeyType != "ED25519" || hk.Fingerprint != fp || hk.Declined {
				t.Errorf("error fields %+v", hk)
			}
			msg := hk.Error()
			for _, want := range []string{"ssh: host key for box ([127.0.0.1]:2222) is not known", "ED25519 key " + fp,
				"-o StrictHostKeyChecking=accept-new", "ssh-keyscan -p 2222 127.0.0.1 >> " + shellQuote(displayPath(write))} {
				if !strings.Contains(msg, want) {
					t.Errorf("message %q lacks %q", msg, want)
				}
			}
			if _, err := os.Stat(write); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a refused key was written (%v)", err)
			}
		})
	}
}

func TestHostKeyAcceptNewWritesLineThenAccepted(t *testing.T) {
	key := ed25519Key(t).PublicKey()
	authorized := strings.TrimSpace(string(gossh.MarshalAuthorizedKey(key)))
	for _, tc := range []struct {
		strict string
		hash   bool
	}{{"accept-new", false}, {"accept-new", true}, {"no", false}} {
		name := tc.strict
		if tc.hash {
			name += " hashed"
		}
		t.Run(name, func(t *testing.T) {
			write := filepath.Join(t.TempDir(), "new", ".ssh", "known_hosts")
			var w warnings
			h := &HostKeyChecker{Files: []string{write}, Write: write, Strict: tc.strict, Hash: tc.hash, Warn: w.add}
			if err := checkKey(h, testAddr, key); err != nil {
				t.Fatalf("accept-new refused a new key: %v", err)
			}
			lines := strings.Split(strings.TrimSuffix(readFileString(t, write), "\n"), "\n")
			if len(lines) != 1 {
				t.Fatalf("known_hosts has %q, want one line", lines)
			}
			host, rest, _ := strings.Cut(lines[0], " ")
			if rest != authorized {
				t.Errorf("line %q does not end with the key %q", lines[0], authorized)
			}
			if tc.hash != strings.HasPrefix(host, "|1|") || !tc.hash && host != "[127.0.0.1]:2222" {
				t.Errorf("host field %q (hash %v)", host, tc.hash)
			}
			want := "Warning: Permanently added '[127.0.0.1]:2222' (ED25519) to the list of known hosts."
			if got := w.list(); len(got) != 1 || got[0] != want {
				t.Errorf("warnings %q, want [%q]", got, want)
			}
			if runtime.GOOS != "windows" {
				fi, err := os.Stat(write)
				di, derr := os.Stat(filepath.Dir(write))
				if err != nil || derr != nil || fi.Mode().Perm() != 0o600 || di.Mode().Perm()&0o077 != 0 {
					t.Errorf("modes: file %v %v, dir %v %v", fi.Mode(), err, di.Mode(), derr)
				}
			}
			strict := &HostKeyChecker{Files: []string{write}, Strict: "yes"}
			if err := checkKey(strict, testAddr, key); err != nil {
				t.Fatalf("the added key is not accepted by the next check: %v", err)
			}
		})
	}
}

func TestHostKeyAcceptNewAddsNewlineBeforeEntry(t *testing.T) {
	dir := t.TempDir()
	old, key := ecdsaKey(t).PublicKey(), ed25519Key(t).PublicKey()
	write := filepath.Join(dir, "known_hosts")
	oldLine := plainLine("old.example:22", old)
	if err := os.WriteFile(write, []byte(oldLine), 0o600); err != nil { // no final newline
		t.Fatal(err)
	}
	h := &HostKeyChecker{Files: []string{write}, Write: write, Strict: "accept-new"}
	if err := checkKey(h, testAddr, key); err != nil {
		t.Fatal(err)
	}
	if got, want := readFileString(t, write), oldLine+"\n"+plainLine(testAddr, key)+"\n"; got != want {
		t.Errorf("known_hosts %q, want %q", got, want)
	}
	h.Strict = "yes"
	if err := checkKey(h, "old.example:22", old); err != nil {
		t.Errorf("the old entry broke: %v", err)
	}
}

func TestHostKeyAcceptNewConcurrentAddsOnce(t *testing.T) {
	write := filepath.Join(t.TempDir(), "known_hosts")
	key := ed25519Key(t).PublicKey()
	var w warnings
	h := &HostKeyChecker{Files: []string{write}, Write: write, Strict: "accept-new", Warn: w.add}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() { errs <- checkKey(h, testAddr, key) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(readFileString(t, write), "\n"); n != 1 || len(w.list()) != 1 {
		t.Errorf("%d lines written and %d warnings, want 1 and 1", n, len(w.list()))
	}
}

func TestHostKeyChangedRefusedUnderEveryStrict(t *testing.T) {
	dir := t.TempDir()
	oldKey, newKey := ed25519Key(t).PublicKey(), ed25519Key(t).PublicKey()
	ecdsaOnly := ecdsaKey(t).PublicKey()
	for _, tc := range []struct {
		name  string
		known gossh.PublicKey
	}{{"same type", oldKey}, {"only another type known", ecdsaOnly}} {
		t.Run(tc.name, func(t *testing.T) {
			file := writeLines(t, filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")), "# one", "# two", hashedLine(testAddr, tc.known))
			before := readFileString(t, file)
			for _, strict := range []string{"yes", "accept-new", "ask", "no", ""} {
				asked := 0
				yes := PromptFunc(func(context.Context, PromptRequest) ([]string, error) { asked++; return []string{"yes"}, nil })
				h := &HostKeyChecker{Files: []string{file}, Write: file, Strict: strict, Prompter: yes, Dest: "box"}
				hk := hostKeyError(t, checkKey(h, testAddr, newKey), HostKeyChanged)
				oldFP, newFP := gossh.FingerprintSHA256(tc.known), gossh.FingerprintSHA256(newKey)
				if len(hk.Known) != 1 || hk.Known[0].Line != 3 || hk.Known[0].File != file || hk.Known[0].Fingerprint != oldFP {
					t.Errorf("Strict %q: Known %+v", strict, hk.Known)
				}
				msg := hk.Error()
				for _, want := range []string{"has changed", "ED25519 key " + newFP, ":3 has " + keyTypeName(tc.known) + " " + oldFP,
					"ssh-keygen -R '[127.0.0.1]:2222' -f " + shellQuote(displayPath(file))} {
					if !strings.Contains(msg, want) {
						t.Errorf("Strict %q: message %q lacks %q", strict, msg, want)
					}
				}
				if asked != 0 {
					t.Errorf("Strict %q: the user was asked about a changed key", strict)
				}
			}
			if readFileString(t, file) != before {
				t.Error("known_hosts changed after refusing a changed key")
			}
		})
	}
}

func TestHostKeyRevokedRefused(t *testing.T) {
	dir := t.TempDir()
	key := ed25519Key(t).PublicKey()
	file := writeLines(t, filepath.Join(dir, "known_hosts"), plainLine(testAddr, key),
		"@revoked * "+strings.TrimSpace(string(gossh.MarshalAuthorizedKey(key))))
	for _, strict := range []string{"yes", "accept-new", "no"} {
		h := &HostKeyChecker{Files: []string{file}, Write: file, Strict: strict}
		hk := hostKeyError(t, checkKey(h, testAddr, key), HostKeyRevoked)
		if len(hk.Known) != 1 || hk.Known[0].Line != 2 || !strings.Contains(hk.Error(), "@revoked in "+displayPath(file)+":2") {
			t.Errorf("Strict %q: %v, Known %+v", strict, hk, hk.Known)
		}
	}
}

func TestHostKeyAskPrompt(t *testing.T) {
	key := ed25519Key(t).PublicKey()
	fp := gossh.FingerprintSHA256(key)
	cases := []struct {
		name     string
		answers  []string
		accepted bool
	}{
		{"yes", []string{"yes"}, true},
		{"YES with blanks", []string{" YES "}, true},
		{"fingerprint", []string{fp}, true},
		{"no", []string{"no"}, false},
		{"garbage then no", []string{"sure", "no"}, false},
		{"garbage then fingerprint", []string{"y", fp}, true},
		{"garbage until it gives up", []string{"a", "b", "c", "d", "yes"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			write := filepath.Join(t.TempDir(), "known_hosts")
			var reqs []PromptRequest
			p := PromptFunc(func(_ context.Context, req PromptRequest) ([]string, error) {
				reqs = append(reqs, req)
				return []string{tc.answers[len(reqs)-1]}, nil
			})
			var w warnings
			h := &HostKeyChecker{Files: []string{write}, Write: write, Strict: "ask", Prompter: p, Dest: "box", Warn: w.add}
			err := checkKey(h, testAddr, key)
			first := reqs[0]
			// OpenSSH's words: the host as known_hosts names it, the address
			wantInstr := "The authenticity of host '[127.0.0.1]:2222 ([127.0.0.1]:2222)' can't be established.\nED25519 key fingerprint is " + fp + ".\nThis key is not known by any other names."
			if first.Kind != PromptHostKey || first.Dest != "box" || first.Instruction != wantInstr || len(first.Questions) != 1 ||
				first.Questions[0].Text != "Are you sure you want to continue connecting (yes/no/[fingerprint])? " || !first.Questions[0].Echo {
				t.Errorf("first prompt %+v", first)
			}
			for _, r := range reqs[1:] {
				if r.Kind != PromptHostKey || len(r.Questions) != 1 || r.Questions[0].Text != "Please type 'yes', 'no' or the fingerprint: " {
					t.Errorf("follow-up prompt %+v", r)
				}
			}
			written := strings.Contains(readFileString(t, write), strings.TrimSpace(string(gossh.MarshalAuthorizedKey(key))))
			if tc.accepted {
				if err != nil || !written || len(w.list()) != 1 {
					t.Fatalf("accepted answer: err %v, written %v, warnings %q", err, written, w.list())
				}
				if len(reqs) != len(tc.answers) {
					t.Errorf("asked %d times, want %d", len(reqs), len(tc.answers))
				}
				return
			}
			hk := hostKeyError(t, err, HostKeyUnknown)
			if !hk.Declined || !strings.Contains(err.Error(), "Host key verification failed") || written {
				t.Errorf("declined: %v (Declined %v), written %v", err, hk.Declined, written)
			}
			if wantAsks := min(len(tc.answers), 1+maxReasks); len(reqs) != wantAsks {
				t.Errorf("asked %d times, want %d", len(reqs), wantAsks)
			}
		})
	}
}

func TestHostKeyAskPromptFailureRefuses(t *testing.T) {
	key := ed25519Key(t).PublicKey()
	write := filepath.Join(t.TempDir(), "known_hosts")
	gone := errors.New("nobody attached")
	p := PromptFunc(func(context.Context, PromptRequest) ([]string, error) { return nil, gone })
	h := &HostKeyChecker{Files: []string{write}, Write: write, Strict: "ask", Prompter: p}
	err := checkKey(h, testAddr, key)
	hk := hostKeyError(t, err, HostKeyUnknown)
	if !errors.Is(err, gone) || hk.Declined || !strings.Contains(err.Error(), gossh.FingerprintSHA256(key)) {
		t.Errorf("got %v", err)
	}
}

func TestHostKeyAlgorithms(t *testing.T) {
	dir := t.TempDir()
	rsaPriv, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	rsaPub, err := gossh.NewPublicKey(&rsaPriv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	ed, ec := ed25519Key(t).PublicKey(), ecdsaKey(t).PublicKey()
	file := writeLines(t, filepath.Join(dir, "known_hosts"),
		plainLine("both.example:22", rsaPub), hashedLine("both.example:22", ed),
		plainLine(testAddr, ec),
		plainLine("aliased", ed))
	h := &HostKeyChecker{Files: []string{filepath.Join(dir, "missing"), file}}
	for addr, want := range map[string][]string{
		"both.example:22": {"ssh-ed25519", "rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"},
		testAddr:          {"ecdsa-sha2-nistp256"},
		"unknown:22":      nil,
	} {
		if got := h.Algorithms(addr); !slices.Equal(got, want) {
			t.Errorf("Algorithms(%q) = %q, want %q", addr, got, want)
		}
	}
	h.Alias = "Aliased"
	if got := h.Algorithms(testAddr); !slices.Equal(got, []string{"ssh-ed25519"}) {
		t.Errorf("with HostKeyAlias: %q", got)
	}
}

// TestHostKeyErrorThroughHandshake runs a real handshake in memory: the
// refusal must come out of gossh.NewClientConn as a *HostKeyError.
func TestHostKeyErrorThroughHandshake(t *testing.T) {
	hostKey := ed25519Key(t)
	srvConf := &gossh.ServerConfig{NoClientAuth: true}
	srvConf.AddHostKey(hostKey)
	// A real socket: the version exchange deadlocks on net.Pipe,
	// where both sides write first.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		if conn, _, _, err := gossh.NewServerConn(c, srvConf); err == nil {
			conn.Close()
		}
	}()
	c1, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { c1.Close(); <-done }()
	h := &HostKeyChecker{Files: []string{filepath.Join(t.TempDir(), "known_hosts")}, Strict: "yes"}
	_, _, _, err = gossh.NewClientConn(c1, testAddr, &gossh.ClientConfig{User: "u", HostKeyCallback: h.Callback(context.Background())})
	hk := hostKeyError(t, err, HostKeyUnknown)
	if hk.Fingerprint != gossh.FingerprintSHA256(hostKey.PublicKey()) {
		t.Errorf("fingerprint %s, want the server's", hk.Fingerprint)
	}
}

func TestNewHostKeyCheckerFromConfig(t *testing.T) {
	c := &Config{
		Dest:                  "box",
		UserKnownHostsFiles:   []string{"none", "/u1", "/u2"},
		GlobalKnownHostsFiles: []string{"/g1", "none"},
		StrictHostKeyChecking: "accept-new",
		HashKnownHosts:        true,
		HostKeyAlias:          "al",
	}
	p := PromptFunc(func(context.Context, PromptRequest) ([]string, error) { return nil, nil })
	h := NewHostKeyChecker(c, p, func(string) {})
	if !slices.Equal(h.Files, []string{"/u1", "/u2", "/g1"}) || h.Write != "/u1" || h.Strict != "accept-new" ||
		!h.Hash || h.Alias != "al" || h.Dest != "box" || h.Prompter == nil || h.Warn == nil {
		t.Errorf("checker %+v", h)
	}
}

// The prompt names, as ssh does, the other known_hosts entries that hold
// the same key, and the host as it is looked up (port 22 bare), with the
// address it answered on.
func TestHostKeyAskNamesOtherNames(t *testing.T) {
	key := ed25519Key(t).PublicKey()
	other := ed25519Key(t).PublicKey()
	file := writeLines(t, filepath.Join(t.TempDir(), "known_hosts"), plainLine("otherhost:22", other), plainLine("127.0.0.1:2223", key), plainLine("alias.example:22", key))
	var got string
	p := PromptFunc(func(_ context.Context, req PromptRequest) ([]string, error) {
		got = req.Instruction
		return []string{"no"}, nil
	})
	h := &HostKeyChecker{Files: []string{file}, Write: file, Strict: "ask", Prompter: p}
	_ = h.Callback(context.Background())("box.example:22", &net.TCPAddr{IP: net.IPv4(10, 0, 0, 7), Port: 22}, key)
	want := "The authenticity of host 'box.example (10.0.0.7)' can't be established.\nED25519 key fingerprint is " + gossh.FingerprintSHA256(key) + ".\n" +
		"This host key is known by the following other names/addresses:\n    " + displayPath(file) + ":2: [127.0.0.1]:2223\n    " + displayPath(file) + ":3: alias.example"
	if got != want {
		t.Fatalf("the prompt:\n%s\nwant:\n%s", got, want)
	}
}
