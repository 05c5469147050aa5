package ssh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// HostKeyChecker checks a server's host key against known_hosts files
// with OpenSSH's StrictHostKeyChecking policies. Nothing is ever
// accepted silently: an unknown key is refused ("yes"), added with a
// warning ("accept-new", and "no", which psmux treats as accept-new),
// or shown to the user through the Prompter ("ask"); a changed or
// revoked key is always refused with both fingerprints.
//
// The files are read again on every check, so a key one connection
// added is known to the next. A HostKeyChecker is safe for concurrent
// use once its fields are set; appends to known_hosts are serialised
// within the process.
//
// A host for which known_hosts holds only keys of another type than
// the one presented is treated as Changed, not Unknown: OpenSSH would
// offer to add the new type, but an attacker who does not have the
// known key can always present a new type, so psmux refuses. Ordering
// ClientConfig.HostKeyAlgorithms with Algorithms first, as OpenSSH
// does, keeps an honest server that has several key types from
// presenting one that is not known.
type HostKeyChecker struct {
	Files    []string     // known_hosts files to read: user files first, then global; missing files (and "none") are skipped
	Write    string       // file that accept-new or an accepted prompt appends to (normally the first user file); created 0600, its directory 0700
	Strict   string       // "yes", "accept-new", "ask" (also ""), "no" (treated as accept-new); anything else as "yes"
	Hash     bool         // write hashed entries (HashKnownHosts)
	Alias    string       // HostKeyAlias: look up and write under this name instead of host:port
	Dest     string       // destination as the user named it, for prompts and messages
	Prompter Prompter     // used by "ask"; nil means non-interactive
	Warn     func(string) // receives "Warning: Permanently added …" notices; may be nil
}

// NewHostKeyChecker builds a checker for a resolved Config: its user
// then global known_hosts files, writing to the first user file.
func NewHostKeyChecker(c *Config, p Prompter, warn func(string)) *HostKeyChecker {
	h := &HostKeyChecker{
		Strict:   c.StrictHostKeyChecking,
		Hash:     c.HashKnownHosts,
		Alias:    c.HostKeyAlias,
		Dest:     c.Dest,
		Prompter: p,
		Warn:     warn,
	}
	for _, f := range c.UserKnownHostsFiles {
		if usableFile(f) {
			if h.Write == "" {
				h.Write = f
			}
			h.Files = append(h.Files, f)
		}
	}
	for _, f := range c.GlobalKnownHostsFiles {
		if usableFile(f) {
			h.Files = append(h.Files, f)
		}
	}
	return h
}

func usableFile(f string) bool { return f != "" && !strings.EqualFold(f, "none") }

// HostKeyErrorKind says why a host key was refused.
type HostKeyErrorKind int

// Host key refusals.
const (
	HostKeyUnknown HostKeyErrorKind = iota + 1 // no key is known for the host, and it was not added
	HostKeyChanged                             // known_hosts has other keys for the host
	HostKeyRevoked                             // the key is marked @revoked
)

func (k HostKeyErrorKind) String() string {
	switch k {
	case HostKeyUnknown:
		return "unknown"
	case HostKeyChanged:
		return "changed"
	case HostKeyRevoked:
		return "revoked"
	}
	return "HostKeyErrorKind(" + strconv.Itoa(int(k)) + ")"
}

// KnownKey is a known_hosts entry, as a HostKeyError shows it.
type KnownKey struct {
	File        string
	Line        int
	KeyType     string // e.g. "ED25519"
	Fingerprint string // "SHA256:…"
}

// HostKeyError is a refused host key. The host key callback returns it
// and x/crypto's handshake error wraps it, so errors.As finds it.
type HostKeyError struct {
	Kind        HostKeyErrorKind
	Dest        string     // the destination as named, may be empty
	Host        string     // as looked up, e.g. "[127.0.0.1]:2222" (or the HostKeyAlias)
	KeyType     string     // of the presented key, e.g. "ED25519"
	Fingerprint string     // of the presented key, "SHA256:…"
	Known       []KnownKey // Changed: what known_hosts has for the host; Revoked: the @revoked entry
	Hint        string     // Unknown: how to trust the key
	Declined    bool       // Unknown: the user was asked and did not accept
}

func (e *HostKeyError) Error() string {
	host := e.label()
	switch e.Kind {
	case HostKeyChanged:
		var had []string
		for _, k := range e.Known {
			had = append(had, fmt.Sprintf("%s:%d has %s %s", displayPath(k.File), k.Line, k.KeyType, k.Fingerprint))
		}
		s := fmt.Sprintf("ssh: host key for %s has changed (%s key %s; %s): someone could be eavesdropping, or the host key was replaced",
			host, e.KeyType, e.Fingerprint, strings.Join(had, ", "))
		if len(e.Known) > 0 {
			s += fmt.Sprintf("; remove the old key with: ssh-keygen -R %s -f %s", shellQuote(e.Host), shellQuote(displayPath(e.Known[0].File)))
		}
		return s
	case HostKeyRevoked:
		s := fmt.Sprintf("ssh: host key for %s is revoked: %s key %s", host, e.KeyType, e.Fingerprint)
		if len(e.Known) > 0 {
			s += fmt.Sprintf(" is marked @revoked in %s:%d", displayPath(e.Known[0].File), e.Known[0].Line)
		}
		return s
	}
	if e.Declined {
		return fmt.Sprintf("ssh: Host key verification failed: %s key %s for %s was not accepted", e.KeyType, e.Fingerprint, host)
	}
	s := fmt.Sprintf("ssh: host key for %s is not known: %s key %s", host, e.KeyType, e.Fingerprint)
	if e.Hint != "" {
		s += "; " + e.Hint
	}
	return s
}

// label is "DEST (HOST)", or HOST when the two are the same.
func (e *HostKeyError) label() string {
	if e.Dest == "" || e.Dest == e.Host {
		return e.Host
	}
	return e.Dest + " (" + e.Host + ")"
}

// Callback returns the HostKeyCallback for one connection; ctx bounds
// the "ask" prompt. hostname is what x/crypto passes: "host:port" as
// dialled.
func (h *HostKeyChecker) Callback(ctx context.Context) gossh.HostKeyCallback {
	return func(hostname string, remote net.Addr, key gossh.PublicKey) error {
		return h.check(ctx, hostname, remote, key)
	}
}

// Algorithms lists the host key algorithms of the keys known_hosts has
// for hostport (or the Alias), in OpenSSH's order of preference, to put
// first in ClientConfig.HostKeyAlgorithms. An ssh-rsa key stands for
// rsa-sha2-512, rsa-sha2-256 and ssh-rsa. It returns nil when nothing
// is known, or the files cannot be read (Callback then reports that).
// A @cert-authority line counts as a key of its own type.
func (h *HostKeyChecker) Algorithms(hostport string) []string {
	addr, _ := h.lookup(hostport)
	db, err := h.db()
	if err != nil {
		return nil
	}
	// A key no file can hold makes the database list every key it
	// has for the host.
	var ke *knownhosts.KeyError
	if err := db(addr, placeholderRemote, probeKey{}); !errors.As(err, &ke) || len(ke.Want) == 0 {
		return nil
	}
	var types []string
	for _, w := range ke.Want {
		if t := w.Key.Type(); !slices.Contains(types, t) {
			types = append(types, t)
		}
	}
	var algs []string
	for _, p := range hostKeyPreference {
		if slices.Contains(types, p.keyType) {
			algs = append(algs, p.alg)
		}
	}
	for _, t := range types {
		if !slices.ContainsFunc(hostKeyPreference, func(p keyAlg) bool { return p.keyType == t }) {
			algs = append(algs, t)
		}
	}
	return algs
}

type keyAlg struct{ keyType, alg string }

// hostKeyPreference is OpenSSH's default HostKeyAlgorithms order, by
// the key type each algorithm verifies.
var hostKeyPreference = []keyAlg{
	{gossh.KeyAlgoED25519, gossh.KeyAlgoED25519},
	{gossh.KeyAlgoECDSA256, gossh.KeyAlgoECDSA256},
	{gossh.KeyAlgoECDSA384, gossh.KeyAlgoECDSA384},
	{gossh.KeyAlgoECDSA521, gossh.KeyAlgoECDSA521},
	{gossh.KeyAlgoSKED25519, gossh.KeyAlgoSKED25519},
	{gossh.KeyAlgoSKECDSA256, gossh.KeyAlgoSKECDSA256},
	{gossh.KeyAlgoRSA, gossh.KeyAlgoRSASHA512},
	{gossh.KeyAlgoRSA, gossh.KeyAlgoRSASHA256},
	{gossh.KeyAlgoRSA, gossh.KeyAlgoRSA},
}

// probeKey is a key that matches no known_hosts entry.
type probeKey struct{}

func (probeKey) Type() string                          { return "psmux-probe" }
func (probeKey) Marshal() []byte                       { return []byte("\x00\x00\x00\x0bpsmux-probe") }
func (probeKey) Verify([]byte, *gossh.Signature) error { return errors.New("probe key") }

// placeholderRemote stands for the server's address, which knownhosts
// insists on parsing but does not use when given a host name.
var placeholderRemote = &net.TCPAddr{IP: net.IPv4zero}

// lookup gives the address to check ("host:port") and the name known_hosts
// files use for it ("host" or "[host]:port", or the alias).
func (h *HostKeyChecker) lookup(hostname string) (addr, name string) {
	if h.Alias != "" {
		a := strings.ToLower(h.Alias)
		return net.JoinHostPort(a, "22"), a
	}
	host, port, err := net.SplitHostPort(hostname)
	if err != nil {
		host, port = strings.TrimSuffix(strings.TrimPrefix(hostname, "["), "]"), "22"
	}
	// OpenSSH compares host names in known_hosts without case.
	addr = net.JoinHostPort(strings.ToLower(host), port)
	return addr, knownhosts.Normalize(addr)
}

// db reads the known_hosts files that exist.
func (h *HostKeyChecker) db() (gossh.HostKeyCallback, error) {
	var files []string
	for _, f := range h.Files {
		if !usableFile(f) {
			continue
		}
		if _, err := os.Stat(f); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("ssh: known hosts: %w", err)
		}
		files = append(files, f)
	}
	cb, err := knownhosts.New(files...)
	if err != nil {
		return nil, fmt.Errorf("ssh: known hosts: %w", err)
	}
	return cb, nil
}

// verdict is what the known_hosts files say about a key.
type verdict struct {
	ok      bool
	known   []knownhosts.KnownKey // !ok: the host's keys; empty when the host is unknown
	revoked *knownhosts.KnownKey
}

// find looks key up for addr. A certificate nobody vouches for is
// looked up as its plain key, as OpenSSH falls back to doing.
func (h *HostKeyChecker) find(addr string, key gossh.PublicKey) (verdict, gossh.PublicKey, error) {
	db, err := h.db()
	if err != nil {
		return verdict{}, key, err
	}
	err = db(addr, placeholderRemote, key)
	var re *knownhosts.RevokedError
	if cert, ok := key.(*gossh.Certificate); ok && err != nil && !errors.As(err, &re) {
		key = cert.Key
		err = db(addr, placeholderRemote, key)
	}
	var ke *knownhosts.KeyError
	switch {
	case err == nil:
		return verdict{ok: true}, key, nil
	case errors.As(err, &re):
		return verdict{revoked: &re.Revoked}, key, nil
	case errors.As(err, &ke):
		return verdict{known: ke.Want}, key, nil
	}
	return verdict{}, key, fmt.Errorf("ssh: host key for %s: %w", addr, err)
}

func (h *HostKeyChecker) check(ctx context.Context, hostname string, remote net.Addr, key gossh.PublicKey) error {
	addr, name := h.lookup(hostname)
	v, key, err := h.find(addr, key)
	if err != nil {
		return err
	}
	if v.ok {
		return nil
	}
	if e := h.refusal(v, name, key); e != nil {
		return e
	}
	switch h.Strict {
	case "accept-new", "no":
		return h.add(addr, name, key, false)
	case "ask", "":
		if h.Prompter != nil {
			return h.ask(ctx, addr, name, remote, key)
		}
	}
	e := h.keyError(HostKeyUnknown, name, key)
	e.Hint = h.hint(addr)
	return e
}

// refusal is the error for a changed or revoked key, nil otherwise.
func (h *HostKeyChecker) refusal(v verdict, name string, key gossh.PublicKey) *HostKeyError {
	switch {
	case v.revoked != nil:
		e := h.keyError(HostKeyRevoked, name, key)
		e.Known = []KnownKey{knownKey(*v.revoked)}
		return e
	case len(v.known) > 0:
		e := h.keyError(HostKeyChanged, name, key)
		for _, k := range v.known {
			e.Known = append(e.Known, knownKey(k))
		}
		return e
	}
	return nil
}

func (h *HostKeyChecker) keyError(kind HostKeyErrorKind, name string, key gossh.PublicKey) *HostKeyError {
	return &HostKeyError{Kind: kind, Dest: h.Dest, Host: name, KeyType: keyTypeName(key), Fingerprint: gossh.FingerprintSHA256(key)}
}

func knownKey(k knownhosts.KnownKey) KnownKey {
	return KnownKey{File: k.Filename, Line: k.Line, KeyType: keyTypeName(k.Key), Fingerprint: gossh.FingerprintSHA256(k.Key)}
}

// hint says how to trust an unknown key; addr is "host:port".
func (h *HostKeyChecker) hint(addr string) string {
	s := "to trust it, check the fingerprint and run again with -o StrictHostKeyChecking=accept-new"
	if h.Alias != "" || h.Write == "" {
		// ssh-keyscan would write the key under the real host name.
		return s
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		host, port = addr, "22"
	}
	cmd := "ssh-keyscan"
	if h.Hash {
		cmd += " -H"
	}
	if port != "22" {
		cmd += " -p " + port
	}
	return s + ", or add it with: " + cmd + " " + shellQuote(host) + " >> " + shellQuote(displayPath(h.Write))
}

// otherNames lists the known_hosts entries that hold key under other
// names, "FILE:LINE: NAMES" as ssh shows them (a file that cannot be
// read lists nothing: the prompt is only advice).
func (h *HostKeyChecker) otherNames(key gossh.PublicKey) []string {
	want := key.Marshal()
	var out []string
	for _, f := range h.Files {
		b, err := os.ReadFile(f)
		if err != nil || len(b) > maxKnownHostsFile {
			continue
		}
		for i, line := range strings.Split(string(b), "\n") {
			marker, hosts, k, _, _, err := gossh.ParseKnownHosts([]byte(line))
			if err != nil || marker != "" || !bytes.Equal(k.Marshal(), want) {
				continue
			}
			out = append(out, fmt.Sprintf("%s:%d: %s", displayPath(f), i+1, strings.Join(hosts, ",")))
		}
	}
	return out
}

// maxKnownHostsFile bounds what otherNames reads of one file.
const maxKnownHostsFile = 16 << 20

// maxReasks is how many times an answer that is neither yes, no nor the
// fingerprint is asked again.
const maxReasks = 3

// ask shows the key and asks, in OpenSSH's words: the host as
// known_hosts names it, the address it answered on, and the other names
// known_hosts has for the same key.
func (h *HostKeyChecker) ask(ctx context.Context, addr, name string, remote net.Addr, key gossh.PublicKey) error {
	fp := gossh.FingerprintSHA256(key)
	ip := "<no hostip for proxy command>" // as ssh says when it cannot know
	if ta, ok := remote.(*net.TCPAddr); ok && !ta.IP.IsUnspecified() {
		ip = knownhosts.Normalize(ta.String())
	}
	others := "This key is not known by any other names."
	if names := h.otherNames(key); len(names) > 0 {
		others = "This host key is known by the following other names/addresses:\n    " + strings.Join(names, "\n    ")
	}
	req := PromptRequest{
		Dest: h.Dest,
		Kind: PromptHostKey,
		Instruction: fmt.Sprintf("The authenticity of host '%s (%s)' can't be established.\n%s key fingerprint is %s.\n%s",
			name, ip, keyTypeName(key), fp, others),
		Questions: []Question{{Text: "Are you sure you want to continue connecting (yes/no/[fingerprint])? ", Echo: true}},
	}
	for try := 0; ; try++ {
		answers, err := h.Prompter.Prompt(ctx, req)
		if err != nil {
			e := h.keyError(HostKeyUnknown, name, key)
			e.Hint = h.hint(addr)
			return fmt.Errorf("%w (asking failed: %w)", e, err)
		}
		a := ""
		if len(answers) > 0 {
			a = strings.TrimSpace(answers[0])
		}
		switch {
		case strings.EqualFold(a, "yes") || a == fp:
			return h.add(addr, name, key, true)
		case strings.EqualFold(a, "no") || try == maxReasks:
			e := h.keyError(HostKeyUnknown, name, key)
			e.Declined = true
			return e
		}
		req = PromptRequest{
			Dest:      h.Dest,
			Kind:      PromptHostKey,
			Questions: []Question{{Text: "Please type 'yes', 'no' or the fingerprint: ", Echo: true}},
		}
	}
}

// knownHostsMu serialises appends to known_hosts within the process,
// so two connections to one new host do not both add it.
var knownHostsMu sync.Mutex

// add appends key for name to h.Write and warns. The files are read
// again first: another connection may have added the host meanwhile.
// When the file cannot be written, a key the user accepted at the
// prompt is still used (with a warning), as ssh does; accept-new
// refuses it, since it would be trusted without being remembered.
func (h *HostKeyChecker) add(addr, name string, key gossh.PublicKey, confirmed bool) error {
	knownHostsMu.Lock()
	defer knownHostsMu.Unlock()
	v, key, err := h.find(addr, key)
	if err != nil {
		return err
	}
	if v.ok {
		return nil
	}
	if e := h.refusal(v, name, key); e != nil {
		return e
	}
	if err := h.appendLine(name, key); err != nil {
		if !confirmed {
			return fmt.Errorf("ssh: cannot add the host key for %s: %w", name, err)
		}
		h.warn(fmt.Sprintf("Warning: Failed to add the host key for '%s' to the list of known hosts: %v", name, err))
		return nil
	}
	h.warn(fmt.Sprintf("Warning: Permanently added '%s' (%s) to the list of known hosts.", name, keyTypeName(key)))
	return nil
}

func (h *HostKeyChecker) warn(s string) {
	if h.Warn != nil {
		h.Warn(s)
	}
}

// appendLine adds one known_hosts line, after a newline if the file
// does not end with one.
func (h *HostKeyChecker) appendLine(name string, key gossh.PublicKey) error {
	if h.Write == "" {
		return errors.New("no known_hosts file to write to")
	}
	host := name
	if h.Hash {
		host = knownhosts.HashHostname(name)
	}
	line := host + " " + strings.TrimSpace(string(gossh.MarshalAuthorizedKey(key))) + "\n"
	if err := os.MkdirAll(filepath.Dir(h.Write), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(h.Write, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err == nil && fi.Size() > 0 {
		last := make([]byte, 1)
		if _, err = f.ReadAt(last, fi.Size()-1); err == nil && last[0] != '\n' {
			line = "\n" + line
		}
	}
	if err == nil {
		_, err = f.WriteString(line)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// keyTypeName is OpenSSH's name for a key's type: ED25519, ECDSA, RSA…
func keyTypeName(k gossh.PublicKey) string {
	suffix := ""
	if c, ok := k.(*gossh.Certificate); ok {
		k, suffix = c.Key, "-CERT"
	}
	var s string
	switch t := k.Type(); {
	case t == gossh.KeyAlgoED25519:
		s = "ED25519"
	case t == gossh.KeyAlgoSKED25519:
		s = "ED25519-SK"
	case t == gossh.KeyAlgoSKECDSA256:
		s = "ECDSA-SK"
	case strings.HasPrefix(t, "ecdsa-"):
		s = "ECDSA"
	case t == gossh.KeyAlgoRSA:
		s = "RSA"
	case t == "ssh-dss": // OpenSSH still names these DSA
		s = "DSA"
	default:
		s = strings.ToUpper(strings.TrimPrefix(t, "ssh-"))
	}
	return s + suffix
}

// displayPath shortens a path under the home directory to ~/….
func displayPath(p string) string {
	home, err := os.UserHomeDir()
	if err != nil || home == "" || home == string(filepath.Separator) {
		return p
	}
	if rel, ok := strings.CutPrefix(p, home+string(filepath.Separator)); ok {
		return "~" + string(filepath.Separator) + rel
	}
	return p
}

// shellQuote quotes s for a POSIX shell when it needs it; a leading
// "~/" is left outside the quotes so that the shell expands it.
func shellQuote(s string) string {
	body := strings.TrimPrefix(s, "~/")
	unsafe := func(r rune) bool {
		return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("-_.,:/@%+=", r))
	}
	if body != "" && strings.IndexFunc(body, unsafe) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
