package ssh

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"sync"

	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// AuthError is returned when the server accepted none of the methods
// tried. Its text reads like ssh's "Permission denied (publickey,password)."
type AuthError struct {
	Dest    string   // destination as named
	User    string   // the remote user
	Allowed []string // what the server would accept
	Tried   []string // what psmux tried
	Err     error    // the last method's error, if any (a prompt that failed, a wrong passphrase)
}

func (e *AuthError) Error() string {
	s := fmt.Sprintf("ssh: %s@%s: Permission denied (%s).", e.User, e.Dest, strings.Join(e.Allowed, ","))
	if e.Err != nil {
		s += " " + e.Err.Error()
	}
	return s
}

func (e *AuthError) Unwrap() error { return e.Err }

// auth builds the authentication methods for one hop, in OpenSSH's
// order (publickey, keyboard-interactive, password), and records which
// one succeeded.
type auth struct {
	cfg    *Config
	dest   string
	ask    func(ctx context.Context, req PromptRequest) ([]string, error) // nil: nobody to ask
	ctx    context.Context
	closer []io.Closer

	mu      sync.Mutex
	used    string   // the method of the last attempt; after success, the one that worked
	allowed []string // the server's allowed methods after the last failure
	tried   []string
	lastErr error
	hostKey gossh.PublicKey // set by the host key callback
	pwAsked int             // password prompts so far: a later one follows a refusal
}

// methods returns the AuthMethods to offer.
func (a *auth) methods() []gossh.AuthMethod {
	var ms []gossh.AuthMethod
	if a.cfg.PubkeyAuthentication {
		ms = append(ms, gossh.PublicKeysCallback(a.signers))
	}
	tries := max(a.cfg.NumberOfPasswordPrompts, 1)
	if a.ask != nil && a.cfg.KbdInteractiveAuthentication {
		ms = append(ms, gossh.RetryableAuthMethod(gossh.KeyboardInteractive(a.keyboard), tries))
	}
	if a.ask != nil && a.cfg.PasswordAuthentication {
		ms = append(ms, gossh.RetryableAuthMethod(gossh.PasswordCallback(a.password), tries))
	}
	return ms
}

// callback observes each step of the exchange: what the server allows
// and what was tried, for the error text.
func (a *auth) callback(c *gossh.ClientAuthContext) (gossh.AuthMethod, error) {
	a.mu.Lock()
	a.allowed = c.AllowedMethods
	a.tried = c.TriedMethods
	a.mu.Unlock()
	return nil, nil
}

func (a *auth) note(method string, err error) {
	a.mu.Lock()
	a.used = method
	if err != nil {
		a.lastErr = err
	}
	a.mu.Unlock()
}

// method says which method authenticated the connection.
func (a *auth) method() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.used
}

// failure turns x/crypto's "unable to authenticate" into an AuthError.
func (a *auth) failure(err error) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.lastErr == nil && !strings.Contains(err.Error(), "unable to authenticate") && !strings.Contains(err.Error(), "no supported methods remain") &&
		!strings.Contains(err.Error(), "too many authentication attempts") {
		return nil
	}
	allowed := slices.DeleteFunc(slices.Clone(a.allowed), func(m string) bool { return m == "none" })
	return &AuthError{Dest: a.dest, User: a.cfg.User, Allowed: allowed, Tried: a.tried, Err: a.lastErr}
}

// signers lists the agent's keys (only those of the identity files
// when IdentitiesOnly) and then the identity files' keys. Encrypted
// files become signers that ask for the passphrase only when the server
// has accepted the public key.
func (a *auth) signers() ([]gossh.Signer, error) {
	a.note("publickey", nil)
	var files []gossh.Signer
	for _, path := range a.cfg.IdentityFiles {
		s, err := loadIdentity(path, a)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return nil, err
		}
		files = append(files, s)
	}
	var out []gossh.Signer
	for _, s := range a.agentSigners() {
		if a.cfg.IdentitiesOnly && !slices.ContainsFunc(files, func(f gossh.Signer) bool { return sameKey(f.PublicKey(), s.PublicKey()) }) {
			continue
		}
		out = append(out, s)
	}
	for _, f := range files {
		if !slices.ContainsFunc(out, func(s gossh.Signer) bool { return sameKey(f.PublicKey(), s.PublicKey()) }) {
			out = append(out, f)
		}
	}
	return out, nil
}

func (a *auth) agentSigners() []gossh.Signer {
	sock := a.cfg.IdentityAgent
	if sock == "" {
		sock = os.Getenv("SSH_AUTH_SOCK")
	}
	if sock == "" || sock == "none" {
		return nil
	}
	var d net.Dialer
	c, err := d.DialContext(a.ctx, "unix", sock)
	if err != nil {
		return nil // ssh also carries on without an agent it cannot reach
	}
	a.closer = append(a.closer, c)
	signers, err := agent.NewClient(c).Signers()
	if err != nil {
		return nil
	}
	return signers
}

func sameKey(a, b gossh.PublicKey) bool {
	return a.Type() == b.Type() && string(a.Marshal()) == string(b.Marshal())
}

func (a *auth) password() (string, error) {
	a.note("password", nil)
	req := PromptRequest{Dest: a.dest, Kind: PromptPassword,
		Questions: []Question{{Text: fmt.Sprintf("%s@%s's password: ", a.cfg.User, a.cfg.HostName)}}}
	a.mu.Lock()
	if a.pwAsked > 0 {
		req.Instruction = "Permission denied, please try again." // as ssh says before asking again
	}
	a.pwAsked++
	a.mu.Unlock()
	ans, err := a.ask(a.ctx, req)
	if err != nil {
		a.note("password", err)
		return "", err
	}
	if len(ans) != 1 {
		return "", errors.New("ssh: the prompt gave no password")
	}
	return ans[0], nil
}

func (a *auth) keyboard(name, instruction string, questions []string, echos []bool) ([]string, error) {
	a.note("keyboard-interactive", nil)
	if len(questions) == 0 {
		return nil, nil // an empty round (info only) needs no answer
	}
	req := PromptRequest{Dest: a.dest, Kind: PromptKeyboard, Name: name, Instruction: instruction}
	for i, q := range questions {
		req.Questions = append(req.Questions, Question{Text: q, Echo: i < len(echos) && echos[i]})
	}
	ans, err := a.ask(a.ctx, req)
	if err != nil {
		a.note("keyboard-interactive", err)
		return nil, err
	}
	if len(ans) != len(questions) {
		return nil, fmt.Errorf("ssh: the prompt gave %d answers to %d questions", len(ans), len(questions))
	}
	return ans, nil
}

// loadIdentity reads a private key file. A passphrase-protected key
// needs its public half (in the file itself for the OpenSSH format, or
// in PATH.pub) and is decrypted on first use.
func loadIdentity(path string, a *auth) (gossh.Signer, error) {
	pem, err := readCapped(path, 1<<20)
	if err != nil {
		return nil, err
	}
	s, err := gossh.ParsePrivateKey(pem)
	if err == nil {
		return s, nil
	}
	var missing *gossh.PassphraseMissingError
	if !errors.As(err, &missing) {
		return nil, fmt.Errorf("ssh: identity file %s: %w", path, err)
	}
	pub := missing.PublicKey
	if pub == nil {
		b, err := readCapped(path+".pub", 64<<10)
		if err != nil {
			return nil, fmt.Errorf("ssh: identity file %s is encrypted and %s.pub cannot be read: %w", path, path, err)
		}
		if pub, _, _, _, err = gossh.ParseAuthorizedKey(b); err != nil {
			return nil, fmt.Errorf("ssh: %s.pub: %w", path, err)
		}
	}
	return &lazySigner{path: path, pub: pub, pem: pem, a: a}, nil
}

func readCapped(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("ssh: %s: %w", path, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("ssh: %s: larger than %d bytes, not a key file", path, limit)
	}
	return b, nil
}

// lazySigner asks for an identity file's passphrase when it is first
// asked to sign, which x/crypto does only after the server accepted the
// public key.
type lazySigner struct {
	path string
	pub  gossh.PublicKey
	pem  []byte
	a    *auth

	mu     sync.Mutex
	signer gossh.Signer
}

func (l *lazySigner) PublicKey() gossh.PublicKey { return l.pub }

func (l *lazySigner) Algorithms() []string {
	if l.pub.Type() == gossh.KeyAlgoRSA {
		return []string{gossh.KeyAlgoRSASHA512, gossh.KeyAlgoRSASHA256, gossh.KeyAlgoRSA}
	}
	return []string{l.pub.Type()}
}

func (l *lazySigner) Sign(rand io.Reader, data []byte) (*gossh.Signature, error) {
	s, err := l.unlock()
	if err != nil {
		return nil, err
	}
	return s.Sign(rand, data)
}

func (l *lazySigner) SignWithAlgorithm(rand io.Reader, data []byte, algorithm string) (*gossh.Signature, error) {
	s, err := l.unlock()
	if err != nil {
		return nil, err
	}
	if as, ok := s.(gossh.AlgorithmSigner); ok {
		return as.SignWithAlgorithm(rand, data, algorithm)
	}
	return s.Sign(rand, data)
}

func (l *lazySigner) unlock() (gossh.Signer, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.signer != nil {
		return l.signer, nil
	}
	if l.a.ask == nil {
		err := fmt.Errorf("ssh: identity file %s needs a passphrase and there is no terminal to ask on (load it into ssh-agent)", l.path)
		l.a.note("publickey", err)
		return nil, err
	}
	tries := max(l.a.cfg.NumberOfPasswordPrompts, 1)
	for range tries {
		ans, err := l.a.ask(l.a.ctx, PromptRequest{Dest: l.a.dest, Kind: PromptPassphrase,
			Questions: []Question{{Text: fmt.Sprintf("Enter passphrase for key '%s': ", l.path)}}})
		if err != nil {
			l.a.note("publickey", err)
			return nil, err
		}
		if len(ans) != 1 {
			return nil, errors.New("ssh: the prompt gave no passphrase")
		}
		s, err := gossh.ParsePrivateKeyWithPassphrase(l.pem, []byte(ans[0]))
		if err == nil {
			l.signer = s
			return s, nil
		}
		if !errors.Is(err, x509.IncorrectPasswordError) {
			err = fmt.Errorf("ssh: identity file %s: %w", l.path, err)
			l.a.note("publickey", err)
			return nil, err
		}
	}
	err := fmt.Errorf("ssh: identity file %s: wrong passphrase (%d tries)", l.path, tries)
	l.a.note("publickey", err)
	return nil, err
}
