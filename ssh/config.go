package ssh

import (
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net"
	"net/url"
	"os"
	osuser "os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kevinburke/ssh_config"
)

// Overrides are the command-line flags that take precedence over
// ssh_config, as ssh's own -l -p -i -J -o -F do.
//
// ssh lets whichever of -l/-o User (or -p/-o Port, -J/-o ProxyJump)
// comes first on its command line win; psmux keeps no order between
// flags, so the dedicated flags (User, Port, Jump) win over Options,
// and both win over a user or port in the destination.
type Overrides struct {
	ConfigFile     string        // -F FILE; "" reads ~/.ssh/config then /etc/ssh/ssh_config; "none" reads nothing
	User           string        // -l USER
	Port           int           // -p PORT; 0 = unset
	Identities     []string      // -i KEY, in order
	Jump           string        // -J [user@]host[:port][,…]; "none" disables ProxyJump
	Options        []string      // -o Key=Value (or "Key Value"), first wins as in ssh
	ConnectTimeout time.Duration // --connect-timeout; 0 = from config or the default
}

// Config is everything psmux needs to reach one destination, resolved
// the way `ssh -G DEST` resolves it (first value wins; IdentityFile
// accumulates; ~, ${VAR} and %-tokens expanded).
type Config struct {
	Dest     string // the destination as given
	Host     string // the host part as typed: the name matched against Host patterns, case kept
	HostName string // what is dialled (HostName with %h expanded, else Host), lower-cased unless it contains a ':' as ssh does
	User     string // -l, else -o User, else user@ in Dest, else User, else the local user
	Port     int    // -p, else -o Port, else :port in Dest, else Port, else 22

	IdentityFiles  []string // -i first, then IdentityFile lines; default ~/.ssh/id_{rsa,ecdsa,ecdsa_sk,ed25519,ed25519_sk} when none is given
	IdentitiesOnly bool
	IdentityAgent  string // socket path; "" = $SSH_AUTH_SOCK; "none" disables the agent

	ProxyJump []string // hops in order, each as written ("[user@]host[:port]" or "ssh://…", a destination Resolve accepts); nil = direct
	// ProxyCommand is set when ssh_config names a ProxyCommand (and no
	// ProxyJump came first). The in-process client cannot run it; a
	// caller should refuse the destination and point at
	// --ssh-client=system rather than dial the host directly.
	ProxyCommand string

	UserKnownHostsFiles   []string // the first UserKnownHostsFile line; default ~/.ssh/known_hosts ~/.ssh/known_hosts2
	GlobalKnownHostsFiles []string // the first GlobalKnownHostsFile line; default /etc/ssh/ssh_known_hosts /etc/ssh/ssh_known_hosts2
	StrictHostKeyChecking string   // "yes", "accept-new", "ask" (default), "no"
	HashKnownHosts        bool
	HostKeyAlias          string // lower-cased, as ssh does

	PubkeyAuthentication         bool // default true ("unbound" and "host-bound" count as yes)
	PasswordAuthentication       bool // default true
	KbdInteractiveAuthentication bool // default true; ChallengeResponseAuthentication is the same option
	NumberOfPasswordPrompts      int  // default 3

	ServerAliveInterval time.Duration // psmux default 15 s when unset (ssh's is 0 = off); 0 after "ServerAliveInterval 0"
	ServerAliveCountMax int           // default 3
	ConnectTimeout      time.Duration // psmux default 30 s when unset; 0 after "ConnectTimeout 0": no limit but the caller's context
	RekeyLimit          int64         // bytes; 0 = x/crypto's default

	hops Overrides // how Resolve reads this destination's ProxyJump hops
}

// Addr is HostName:Port in a form net.Dial accepts.
func (c *Config) Addr() string { return joinHostPort(c.HostName, c.Port) }

// joinHostPort gives "host:port", bracketing an IPv6 host.
func joinHostPort(host string, port int) string {
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// psmux's defaults where they differ from ssh's.
const (
	defaultServerAliveInterval = 15 * time.Second
	defaultConnectTimeout      = 30 * time.Second
)

// maxIncludeDepth is OpenSSH's READCONF_MAX_DEPTH.
const maxIncludeDepth = 16

// Resolve turns a destination as a user types it, plus command-line
// overrides, into a Config, reading ssh_config the way ssh does.
//
// dest is one of host, user@host, user@host:port, [v6addr]:port,
// user@[v6addr]:port or ssh://[user@]host[:port]. The host part, case
// kept, is what Host patterns are matched against (PowerShell's
// lower-casing of aliases, PowerShell/PowerShell#20954, is a bug not
// to repeat).
//
// Precedence follows ssh with its flags before the destination:
// -l/-p/-i/-J, then -o options in order, then a user or port in dest,
// then the config files (with o.ConfigFile only that file, as ssh -F;
// otherwise ~/.ssh/config then /etc/ssh/ssh_config, either may be
// missing). The first value obtained for a keyword wins; IdentityFile
// accumulates. As with ssh, every line of every file read is checked,
// whether its block applies or not, and a bad value is an error naming
// the file and line; keywords psmux does not know are ignored in files
// but an error in -o, as ssh reports them.
//
// Host blocks and "Match host"/"Match all" are evaluated by psmux on
// the blocks github.com/kevinburke/ssh_config parses: Host patterns are
// case-sensitive globs where '?' is exactly one character, "Match host"
// compares the HostName known so far, case-insensitively, as ssh does.
// Includes are followed by psmux too, so that "~" is $HOME and relative
// paths are under ~/.ssh (or /etc/ssh for the system file), and files
// are read in order. Other Match criteria (exec, user, …) are not
// supported by the parser and make Resolve fail naming the file.
//
// Paths in IdentityFile, UserKnownHostsFile and IdentityAgent get ~,
// ${VAR} and ssh's %-tokens expanded: %% %C %L %d %h %i %j %k %l %n %p
// %r %u (%C is the SHA-1 of %l%h%p%r, as OpenSSH 9.2 computes it).
// HostName gets %h (the host as typed) and %%.
func Resolve(dest string, o Overrides) (*Config, error) {
	d, err := parseDest(dest)
	if err != nil {
		return nil, err
	}
	home, err := homeDir()
	if err != nil {
		return nil, fmt.Errorf("ssh: %w", err)
	}
	r := &resolver{host: d.host, home: home, set: map[string][]string{}}

	// Command-line flags, then -o, then the destination: the first
	// value obtained wins, so this order is the precedence.
	cmd := source{name: "command-line"}
	if o.User != "" {
		if err := r.apply("user", []string{o.User}, "", true, cmd); err != nil {
			return nil, fmt.Errorf("ssh: -l %s: %w", o.User, err)
		}
	}
	if o.Port != 0 {
		if o.Port < 1 || o.Port > 65535 {
			return nil, fmt.Errorf("ssh: -p %d: %w", o.Port, errBadPort)
		}
		r.setFirst("port", []string{strconv.Itoa(o.Port)})
	}
	for _, id := range o.Identities {
		// ssh expands ~ in -i at once, so "-i ~/k" and "IdentityFile
		// ~/k" are different strings when it removes duplicates.
		p, err := expandTilde(id, home)
		if err != nil {
			return nil, fmt.Errorf("ssh: -i %s: %w", id, err)
		}
		r.addIdentity(p, fromFlag)
	}
	if o.Jump != "" {
		if err := r.apply("proxyjump", []string{o.Jump}, o.Jump, true, cmd); err != nil {
			return nil, fmt.Errorf("ssh: -J %s: %w", o.Jump, err)
		}
	}
	for _, opt := range o.Options {
		if err := r.option(opt); err != nil {
			return nil, err
		}
	}
	if d.user != "" {
		r.setFirst("user", []string{d.user})
	}
	if d.port != 0 {
		r.setFirst("port", []string{strconv.Itoa(d.port)})
	}

	switch {
	case strings.EqualFold(o.ConfigFile, "none"):
		// ssh -F none: no config files at all
	case o.ConfigFile != "":
		if err := r.readFile(o.ConfigFile, false, false, true, 0, true); err != nil {
			return nil, err
		}
	default:
		// ~/.ssh/config must not be writable by others; the system
		// file is root's business.
		if err := r.readFile(filepath.Join(home, ".ssh", "config"), false, true, false, 0, true); err != nil {
			return nil, err
		}
		if sys := systemConfigFile(); sys != "" {
			if err := r.readFile(sys, true, false, false, 0, true); err != nil {
				return nil, err
			}
		}
	}

	c, err := r.build(dest)
	if err != nil {
		return nil, err
	}
	if o.ConnectTimeout > 0 {
		c.ConnectTimeout = o.ConnectTimeout
	}
	// ProxyJump hops are read from the same files with the same -o
	// options; -l -p -i belong to the destination alone, as with ssh.
	c.hops = Overrides{ConfigFile: o.ConfigFile, Options: o.Options, ConnectTimeout: o.ConnectTimeout}
	return c, nil
}

// destination is a parsed dest argument.
type destination struct {
	user string
	host string
	port int // 0 = not given
}

// parseDest splits host, user@host, user@host:port, [v6]:port and
// ssh://[user@]host[:port][/]. As ssh does, the user is everything
// before the last '@'.
func parseDest(s string) (destination, error) {
	var d destination
	if s == "" {
		return d, errors.New("ssh: empty destination")
	}
	rest := s
	uri := false
	if len(s) >= 6 && strings.EqualFold(s[:6], "ssh://") {
		uri = true
		rest = s[6:]
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			if rest[i:] != "/" {
				return d, fmt.Errorf("ssh: destination %q: a path is not allowed in an ssh:// URI", s)
			}
			rest = rest[:i]
		}
	}
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		d.user = rest[:at]
		rest = rest[at+1:]
		if d.user == "" {
			return d, fmt.Errorf("ssh: destination %q: empty user name", s)
		}
		if uri {
			if strings.ContainsRune(d.user, ';') {
				return d, fmt.Errorf("ssh: destination %q: connection parameters are not supported", s)
			}
			u, err := url.PathUnescape(d.user)
			if err != nil {
				return d, fmt.Errorf("ssh: destination %q: %w", s, err)
			}
			d.user = u
		}
	}
	host, port, err := splitHostPort(rest)
	if err != nil {
		return d, fmt.Errorf("ssh: destination %q: %w", s, err)
	}
	if host == "" {
		return d, fmt.Errorf("ssh: destination %q: empty host name", s)
	}
	d.host, d.port = host, port
	return d, nil
}

var errBadPort = errors.New("bad port")

// splitHostPort splits "host", "host:port", "[v6]" and "[v6]:port"; a
// bare address with several colons is an IPv6 literal without a port.
func splitHostPort(s string) (string, int, error) {
	host, p := s, ""
	switch {
	case strings.HasPrefix(s, "["):
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", 0, errors.New("missing ']'")
		}
		host = s[1:end]
		if rest := s[end+1:]; rest != "" {
			if rest[0] != ':' {
				return "", 0, fmt.Errorf("unexpected %q after ']'", rest)
			}
			p = rest[1:]
		}
	case strings.Count(s, ":") == 1:
		host, p, _ = strings.Cut(s, ":")
	}
	if p == "" {
		return host, 0, nil
	}
	n, err := parsePort(p)
	if err != nil {
		return "", 0, err
	}
	return host, n, nil
}

// parsePort accepts 1-65535 or a service name, as ssh's a2port does.
func parsePort(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		if strings.TrimLeft(s, "0123456789") == "" {
			return 0, fmt.Errorf("%w %q", errBadPort, s)
		}
		if n, err = net.LookupPort("tcp", s); err != nil {
			return 0, fmt.Errorf("%w %q", errBadPort, s)
		}
	}
	if n < 1 || n > 65535 {
		return 0, fmt.Errorf("%w %q", errBadPort, s)
	}
	return n, nil
}

// source says where a keyword came from, for error messages.
type source struct {
	name   string // a file, or "command-line"
	line   int
	system bool // the system-wide file, or one it includes
}

func (s source) String() string {
	if s.line == 0 {
		return s.name
	}
	return fmt.Sprintf("%s line %d", s.name, s.line)
}

// resolver accumulates, keyword by keyword, the first value obtained.
type resolver struct {
	host       string              // as typed
	home       string              // for ~
	set        map[string][]string // canonical keyword → the arguments of its first value
	identities []identity          // IdentityFile values in order, without duplicates
}

// identity is one IdentityFile value. As ssh does, a duplicate is only
// dropped when it comes from the same place: -i, a user file or -o,
// or the system file.
type identity struct {
	path string
	from identityOrigin
}

type identityOrigin int

const (
	fromUserConfig identityOrigin = iota // a user file, or -o
	fromFlag                             // -i
	fromSystemConfig
)

func (r *resolver) setFirst(key string, args []string) {
	if _, ok := r.set[key]; !ok {
		r.set[key] = args
	}
}

func (r *resolver) first(key string) (string, bool) {
	v, ok := r.set[key]
	if !ok || len(v) == 0 {
		return "", false
	}
	return v[0], true
}

func (r *resolver) addIdentity(p string, from identityOrigin) {
	for _, id := range r.identities {
		if id.from == from && id.path == p {
			return
		}
	}
	r.identities = append(r.identities, identity{path: p, from: from})
}

// option applies one -o value, "Key=Value" or "Key Value".
func (r *resolver) option(opt string) error {
	s := strings.TrimLeft(opt, " \t")
	key, rest := s, ""
	if i := strings.IndexAny(s, " \t="); i >= 0 {
		key, rest = s[:i], strings.TrimLeft(s[i:], " \t")
		if strings.HasPrefix(rest, "=") {
			rest = strings.TrimLeft(rest[1:], " \t")
		}
	}
	k := strings.ToLower(key)
	switch k {
	case "host", "match", "include":
		return fmt.Errorf("ssh: -o %s: %s is not supported as a command-line option", opt, key)
	}
	if !knownKeywords[k] {
		return fmt.Errorf("ssh: -o %s: unknown option %q", opt, key)
	}
	rest = strings.TrimRight(rest, " \t")
	args, err := splitArgs(rest)
	if err != nil {
		return fmt.Errorf("ssh: -o %s: %w", opt, err)
	}
	if err := r.apply(k, args, rest, true, source{name: "command-line"}); err != nil {
		return fmt.Errorf("ssh: -o %s: %w", opt, err)
	}
	return nil
}

// keywordAliases maps old names to the keyword they stand for.
var keywordAliases = map[string]string{
	"challengeresponseauthentication": "kbdinteractiveauthentication",
	"skeyauthentication":              "kbdinteractiveauthentication",
	"tisauthentication":               "kbdinteractiveauthentication",
}

// apply checks one keyword's arguments and, when its block applies and
// no value was obtained before, records it. raw is the value as
// written, for ProxyCommand, which takes the rest of the line.
func (r *resolver) apply(key string, args []string, raw string, active bool, src source) error {
	if a, ok := keywordAliases[key]; ok {
		key = a
	}
	check, ok := keywordChecks[key]
	if !ok {
		return nil // a keyword psmux does not use
	}
	if err := check(args); err != nil {
		return err
	}
	if !active {
		return nil
	}
	switch key {
	case "identityfile":
		from := fromUserConfig
		if src.system {
			from = fromSystemConfig
		}
		r.addIdentity(args[0], from)
	case "proxyjump":
		// ProxyJump and ProxyCommand exclude each other: the first
		// one obtained wins.
		if _, ok := r.set["proxycommand"]; !ok {
			r.setFirst(key, args)
		}
	case "proxycommand":
		// "ProxyJump none" does not stop a later ProxyCommand; a real
		// jump does.
		if j, ok := r.first("proxyjump"); ok && !strings.EqualFold(j, "none") {
			return nil
		}
		r.setFirst(key, []string{raw})
	default:
		r.setFirst(key, args)
	}
	return nil
}

// readFile reads one config file and applies what it says. A missing
// file is an error only when mustExist.
func (r *resolver) readFile(path string, system, checkPerm, mustExist bool, depth int, active bool) error {
	f, err := os.Open(path)
	if err != nil {
		if !mustExist && errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("ssh: read config: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("ssh: read config: %w", err)
	}
	if fi.IsDir() {
		return nil
	}
	// ssh refuses a user config others could write to: it decides
	// where connections go and which keys are trusted.
	if checkPerm && runtime.GOOS != "windows" && fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("ssh: bad permissions on %s: it must not be writable by group or others", path)
	}
	cfg, err := decodeConfig(f)
	if err != nil {
		return fmt.Errorf("ssh: %s: %w", path, err)
	}
	return r.walk(cfg, path, system, depth, active)
}

// decodeConfig parses one file, turning a parser panic into an error.
func decodeConfig(f *os.File) (cfg *ssh_config.Config, err error) {
	defer func() {
		if p := recover(); p != nil {
			cfg, err = nil, fmt.Errorf("cannot parse: %v", p)
		}
	}()
	return ssh_config.Decode(f)
}

// walk applies a parsed file's blocks in order. Every line is checked,
// but only lines in blocks that apply (within an Include that applies)
// set values.
func (r *resolver) walk(cfg *ssh_config.Config, file string, system bool, depth int, active bool) error {
	for _, h := range cfg.Hosts {
		on := active && r.blockApplies(h)
		for _, n := range h.Nodes {
			switch n := n.(type) {
			case *ssh_config.KV:
				src := source{name: file, line: n.Pos().Line, system: system}
				raw := kvValue(n)
				args, err := splitArgs(raw)
				if err != nil {
					return fmt.Errorf("ssh: %s: %s: %w", src, n.Key, err)
				}
				if err := r.apply(strings.ToLower(n.Key), args, raw, on, src); err != nil {
					return fmt.Errorf("ssh: %s: %s: %w", src, n.Key, err)
				}
			case *ssh_config.Include:
				if err := r.include(n, file, system, depth, on); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// include reads the files an Include names, in order. The parser has
// already read them, but it resolves "~" and relative paths against the
// password-file home rather than $HOME, and it cannot tell which of two
// keywords in an included file came first; psmux reads them itself.
func (r *resolver) include(inc *ssh_config.Include, file string, system bool, depth int, active bool) error {
	src := source{name: file, line: inc.Pos().Line}
	if depth+1 > maxIncludeDepth {
		return fmt.Errorf("ssh: %s: too many nested Includes", src)
	}
	s := strings.TrimSpace(inc.String())
	if inc.Comment != "" {
		s = strings.TrimSuffix(s, "#"+inc.Comment)
	}
	if len(s) >= len("Include") && strings.EqualFold(s[:len("Include")], "Include") {
		s = strings.TrimSpace(s[len("Include"):])
	}
	s = strings.TrimSpace(strings.TrimPrefix(s, "="))
	args, err := splitArgs(s)
	if err != nil {
		return fmt.Errorf("ssh: %s: Include: %w", src, err)
	}
	if len(args) == 0 {
		return fmt.Errorf("ssh: %s: Include: %w", src, errNoArgument)
	}
	for _, a := range args {
		p := a
		switch {
		case strings.HasPrefix(a, "~"):
			if system {
				return fmt.Errorf("ssh: %s: Include: bad include path %q (a system file cannot use ~)", src, a)
			}
			if p, err = expandTilde(a, r.home); err != nil {
				return fmt.Errorf("ssh: %s: Include: %w", src, err)
			}
		case !filepath.IsAbs(a) && !strings.HasPrefix(a, "/"):
			if system {
				p = filepath.Join(filepath.Dir(systemConfigFile()), a)
			} else {
				p = filepath.Join(r.home, ".ssh", a)
			}
		}
		matches, err := filepath.Glob(p)
		if err != nil {
			return fmt.Errorf("ssh: %s: Include %s: %w", src, a, err)
		}
		for _, m := range matches {
			if err := r.readFile(m, system, true, false, depth+1, active); err != nil {
				return err
			}
		}
	}
	return nil
}

// blockApplies says whether a Host or Match block applies now.
func (r *resolver) blockApplies(h *ssh_config.Host) bool {
	first, _, _ := strings.Cut(h.String(), "\n")
	f := strings.Fields(first)
	if len(f) == 0 {
		return true // the implicit block at the top of a file
	}
	var pats []string
	for _, p := range h.Patterns {
		pats = append(pats, strings.Fields(p.String())...)
	}
	switch {
	case strings.EqualFold(f[0], "host"):
		// Host patterns see the host as typed, case-sensitively.
		return matchList(pats, r.host, false)
	case strings.EqualFold(f[0], "match"):
		crit := f[1:]
		if len(crit) > 0 && crit[0] == "=" {
			crit = crit[1:]
		}
		if len(crit) > 0 && strings.EqualFold(crit[0], "all") {
			return true
		}
		// Match host sees the HostName obtained so far (or the host
		// as typed), case-insensitively, with comma-separated lists.
		name := r.host
		if v, ok := r.first("hostname"); ok {
			if hn, err := expandHostName(v, r.host); err == nil {
				name = hn
			}
		}
		return matchList(strings.Split(strings.Join(pats, ","), ","), name, true)
	default:
		return true
	}
}

// matchList matches s against patterns, any of which may be negated
// with '!': a negated match rejects, otherwise any match accepts.
func matchList(pats []string, s string, fold bool) bool {
	if fold {
		s = strings.ToLower(s)
	}
	matched := false
	for _, p := range pats {
		neg := strings.HasPrefix(p, "!")
		if neg {
			p = p[1:]
		}
		if fold {
			p = strings.ToLower(p)
		}
		if p == "" || !globMatch(p, s) {
			continue
		}
		if neg {
			return false
		}
		matched = true
	}
	return matched
}

// globMatch is ssh's match_pattern: '*' is any run of bytes, '?' is
// exactly one byte.
func globMatch(p, s string) bool {
	for p != "" {
		switch p[0] {
		case '*':
			p = strings.TrimLeft(p, "*")
			if p == "" {
				return true
			}
			for i := 0; i <= len(s); i++ {
				if globMatch(p, s[i:]) {
					return true
				}
			}
			return false
		case '?':
			if s == "" {
				return false
			}
		default:
			if s == "" || s[0] != p[0] {
				return false
			}
		}
		p, s = p[1:], s[1:]
	}
	return s == ""
}

// kvValue is a line's value as written (quotes kept, comment dropped):
// the parser only gives it unquoted when the whole value is quoted.
func kvValue(kv *ssh_config.KV) string {
	s := strings.TrimLeft(kv.String(), " \t")
	if !strings.HasPrefix(s, kv.Key) {
		return kv.Value
	}
	s = strings.TrimLeft(s[len(kv.Key):], " \t")
	s = strings.TrimPrefix(s, "=")
	if kv.Comment != "" {
		s = strings.TrimSuffix(s, "#"+kv.Comment)
	}
	return strings.TrimSpace(s)
}

// splitArgs splits a value into arguments as ssh's argv_split does:
// blanks separate, double or single quotes group, a backslash escapes
// a quote, a backslash or (outside quotes) a space, and a '#' starting
// an argument begins a comment.
func splitArgs(s string) ([]string, error) {
	var (
		args  []string
		cur   strings.Builder
		inArg bool
		quote byte
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote == 0 && (c == ' ' || c == '\t'):
			if inArg {
				args = append(args, cur.String())
				cur.Reset()
				inArg = false
			}
		case c == '\\' && i+1 < len(s) && (s[i+1] == '\'' || s[i+1] == '"' || s[i+1] == '\\' || (quote == 0 && s[i+1] == ' ')):
			i++
			cur.WriteByte(s[i])
			inArg = true
		case quote == 0 && (c == '"' || c == '\''):
			quote = c
			inArg = true
		case quote != 0 && c == quote:
			quote = 0
		case quote == 0 && c == '#' && !inArg:
			i = len(s)
		default:
			cur.WriteByte(c)
			inArg = true
		}
	}
	if quote != 0 {
		return nil, errors.New("unterminated quote")
	}
	if inArg {
		args = append(args, cur.String())
	}
	return args, nil
}

var (
	errNoArgument = errors.New("no argument")
	errExtraArgs  = errors.New("extra arguments at end of line")
)

// keywordChecks are the keywords psmux uses, with their argument checks.
var keywordChecks = map[string]func([]string) error{
	"hostname":                     one(nil),
	"user":                         one(nil),
	"port":                         one(func(s string) error { _, err := parsePort(s); return err }),
	"identityfile":                 one(nil),
	"identitiesonly":               one(checkFlag),
	"identityagent":                one(nil),
	"proxyjump":                    one(checkJump),
	"proxycommand":                 atLeastOne,
	"userknownhostsfile":           atLeastOne,
	"globalknownhostsfile":         atLeastOne,
	"stricthostkeychecking":        one(func(s string) error { _, err := parseStrict(s); return err }),
	"hashknownhosts":               one(checkFlag),
	"hostkeyalias":                 one(nil),
	"pubkeyauthentication":         one(func(s string) error { _, err := parsePubkey(s); return err }),
	"passwordauthentication":       one(checkFlag),
	"kbdinteractiveauthentication": one(checkFlag),
	"numberofpasswordprompts":      one(func(s string) error { _, err := parseCount(s); return err }),
	"serveraliveinterval":          one(func(s string) error { _, err := parseTime(s); return err }),
	"serveralivecountmax":          one(func(s string) error { _, err := parseCount(s); return err }),
	"connecttimeout":               one(func(s string) error { _, err := parseTime(s); return err }),
	"rekeylimit":                   func(a []string) error { _, err := parseRekey(a); return err },
}

// one accepts exactly one argument that passes check (if any).
func one(check func(string) error) func([]string) error {
	return func(a []string) error {
		switch {
		case len(a) == 0:
			return errNoArgument
		case len(a) > 1:
			return errExtraArgs
		case check != nil:
			return check(a[0])
		}
		return nil
	}
}

func atLeastOne(a []string) error {
	if len(a) == 0 {
		return errNoArgument
	}
	return nil
}

func checkFlag(s string) error { _, err := parseFlag(s); return err }

func parseFlag(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "yes", "true":
		return true, nil
	case "no", "false":
		return false, nil
	}
	return false, fmt.Errorf("unsupported option %q", s)
}

// parseStrict gives psmux's spelling of a StrictHostKeyChecking value.
func parseStrict(s string) (string, error) {
	switch strings.ToLower(s) {
	case "yes", "true":
		return "yes", nil
	case "no", "false", "off":
		return "no", nil
	case "ask":
		return "ask", nil
	case "accept-new":
		return "accept-new", nil
	}
	return "", fmt.Errorf("unsupported option %q", s)
}

func parsePubkey(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "unbound", "host-bound":
		return true, nil
	}
	return parseFlag(s)
}

func parseCount(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad number %q", s)
	}
	return n, nil
}

// checkJump checks a ProxyJump value: "none", or comma-separated hops
// that are each a destination.
func checkJump(s string) error {
	if strings.EqualFold(s, "none") {
		return nil
	}
	for _, hop := range strings.Split(s, ",") {
		if _, err := parseDest(hop); err != nil {
			return fmt.Errorf("invalid ProxyJump %q: %w", s, err)
		}
	}
	return nil
}

// parseTime reads ssh's time format: one or more numbers, each with an
// optional unit (s, m, h, d, w; seconds when none), added up.
func parseTime(s string) (time.Duration, error) {
	bad := fmt.Errorf("invalid time value %q", s)
	if s == "" {
		return 0, bad
	}
	var total int64
	for rest := s; rest != ""; {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 {
			return 0, bad
		}
		n, err := strconv.ParseInt(rest[:i], 10, 64)
		if err != nil {
			return 0, bad
		}
		rest = rest[i:]
		mult := int64(1)
		if rest != "" {
			switch rest[0] {
			case 's', 'S':
			case 'm', 'M':
				mult = 60
			case 'h', 'H':
				mult = 60 * 60
			case 'd', 'D':
				mult = 24 * 60 * 60
			case 'w', 'W':
				mult = 7 * 24 * 60 * 60
			default:
				return 0, bad
			}
			rest = rest[1:]
		}
		if n > (math.MaxInt32-total)/mult {
			return 0, bad
		}
		total += n * mult
	}
	return time.Duration(total) * time.Second, nil
}

// parseRekey reads RekeyLimit's byte amount ("default" or a number with
// an optional B K M G T unit, fractions allowed with a unit) and checks
// the optional time limit, which psmux does not use.
func parseRekey(a []string) (int64, error) {
	switch {
	case len(a) == 0:
		return 0, errNoArgument
	case len(a) > 2:
		return 0, errExtraArgs
	}
	if len(a) == 2 && !strings.EqualFold(a[1], "none") && !strings.EqualFold(a[1], "default") {
		if _, err := parseTime(a[1]); err != nil {
			return 0, err
		}
	}
	if strings.EqualFold(a[0], "default") {
		return 0, nil
	}
	n, err := parseScaled(a[0])
	if err != nil {
		return 0, err
	}
	if n != 0 && n < 16 {
		return 0, fmt.Errorf("RekeyLimit %q too small", a[0])
	}
	return n, nil
}

// parseScaled reads "64K", "1.5G", "1024": binary units, as ssh's
// scan_scaled.
func parseScaled(s string) (int64, error) {
	bad := fmt.Errorf("invalid size %q", s)
	num, mult := s, int64(1)
	if s != "" {
		c := s[len(s)-1]
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		if i := strings.IndexByte("BKMGTPE", c); i >= 0 {
			num, mult = s[:len(s)-1], int64(1)<<(10*i)
		}
	}
	whole, frac, hasFrac := strings.Cut(num, ".")
	if whole == "" || strings.TrimLeft(whole, "0123456789") != "" || strings.TrimLeft(frac, "0123456789") != "" ||
		(hasFrac && (frac == "" || mult == 1)) {
		return 0, bad
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w > math.MaxInt64/mult-1 {
		return 0, bad
	}
	n := w * mult
	if hasFrac {
		f, err := strconv.ParseFloat("0."+frac, 64)
		if err != nil {
			return 0, bad
		}
		n += int64(f * float64(mult))
	}
	return n, nil
}

// build turns what was obtained into a Config: defaults for what was
// not, then expansions.
func (r *resolver) build(dest string) (*Config, error) {
	c := &Config{
		Dest:                         dest,
		Host:                         r.host,
		HostName:                     r.host,
		Port:                         22,
		StrictHostKeyChecking:        "ask",
		PubkeyAuthentication:         true,
		PasswordAuthentication:       true,
		KbdInteractiveAuthentication: true,
		NumberOfPasswordPrompts:      3,
		ServerAliveInterval:          defaultServerAliveInterval,
		ServerAliveCountMax:          3,
		ConnectTimeout:               defaultConnectTimeout,
	}
	// The values below were checked when they were obtained, so the
	// parse errors ignored here cannot happen.
	if v, ok := r.first("hostname"); ok {
		hn, err := expandHostName(v, r.host)
		if err != nil {
			return nil, fmt.Errorf("ssh: HostName %s: %w", v, err)
		}
		c.HostName = hn
	}
	// ssh lower-cases the name it dials, but not what looks like an
	// IPv6 address.
	if !strings.Contains(c.HostName, ":") {
		c.HostName = strings.ToLower(c.HostName)
	}
	c.User = localUser()
	if v, ok := r.first("user"); ok {
		c.User = v
	}
	if v, ok := r.first("port"); ok {
		c.Port, _ = parsePort(v)
	}
	if v, ok := r.first("identitiesonly"); ok {
		c.IdentitiesOnly, _ = parseFlag(v)
	}
	if v, ok := r.first("stricthostkeychecking"); ok {
		c.StrictHostKeyChecking, _ = parseStrict(v)
	}
	if v, ok := r.first("hashknownhosts"); ok {
		c.HashKnownHosts, _ = parseFlag(v)
	}
	if v, ok := r.first("hostkeyalias"); ok {
		c.HostKeyAlias = strings.ToLower(v)
	}
	if v, ok := r.first("pubkeyauthentication"); ok {
		c.PubkeyAuthentication, _ = parsePubkey(v)
	}
	if v, ok := r.first("passwordauthentication"); ok {
		c.PasswordAuthentication, _ = parseFlag(v)
	}
	if v, ok := r.first("kbdinteractiveauthentication"); ok {
		c.KbdInteractiveAuthentication, _ = parseFlag(v)
	}
	if v, ok := r.first("numberofpasswordprompts"); ok {
		c.NumberOfPasswordPrompts, _ = parseCount(v)
	}
	if v, ok := r.first("serveraliveinterval"); ok {
		c.ServerAliveInterval, _ = parseTime(v)
	}
	if v, ok := r.first("serveralivecountmax"); ok {
		c.ServerAliveCountMax, _ = parseCount(v)
	}
	if v, ok := r.first("connecttimeout"); ok {
		c.ConnectTimeout, _ = parseTime(v)
	}
	if v, ok := r.set["rekeylimit"]; ok {
		c.RekeyLimit, _ = parseRekey(v)
	}
	jump := ""
	if v, ok := r.first("proxyjump"); ok && !strings.EqualFold(v, "none") {
		jump = v
		c.ProxyJump = strings.Split(v, ",")
	}
	if v, ok := r.first("proxycommand"); ok && !strings.EqualFold(v, "none") {
		c.ProxyCommand = v
	}

	tok, err := r.tokens(c, jump)
	if err != nil {
		return nil, err
	}
	ids := r.identities
	if len(ids) == 0 {
		// OpenSSH also tries id_xmss and id_dsa; x/crypto can use
		// neither, so psmux does not look for them.
		for _, n := range []string{"id_rsa", "id_ecdsa", "id_ecdsa_sk", "id_ed25519", "id_ed25519_sk"} {
			ids = append(ids, identity{path: "~/.ssh/" + n})
		}
	}
	for _, id := range ids {
		p, err := r.expandPath(id.path, tok)
		if err != nil {
			return nil, fmt.Errorf("ssh: IdentityFile %s: %w", id.path, err)
		}
		c.IdentityFiles = append(c.IdentityFiles, p)
	}
	user, ok := r.set["userknownhostsfile"]
	if !ok {
		user = []string{"~/.ssh/known_hosts", "~/.ssh/known_hosts2"}
	}
	for _, f := range user {
		p, err := r.expandPath(f, tok)
		if err != nil {
			return nil, fmt.Errorf("ssh: UserKnownHostsFile %s: %w", f, err)
		}
		c.UserKnownHostsFiles = append(c.UserKnownHostsFiles, p)
	}
	// ssh expands nothing in GlobalKnownHostsFile.
	if global, ok := r.set["globalknownhostsfile"]; ok {
		c.GlobalKnownHostsFiles = slices.Clone(global)
	} else {
		c.GlobalKnownHostsFiles = defaultGlobalKnownHosts()
	}
	if v, ok := r.first("identityagent"); ok {
		switch {
		case strings.EqualFold(v, "none"):
			c.IdentityAgent = "none"
		case v == "SSH_AUTH_SOCK":
			// the default: the environment variable
		case strings.HasPrefix(v, "$") && !strings.HasPrefix(v, "${"):
			// "$NAME": the socket path is in that variable. ssh only
			// finds out at connect time; psmux says so now.
			c.IdentityAgent = os.Getenv(v[1:])
			if c.IdentityAgent == "" {
				return nil, fmt.Errorf("ssh: IdentityAgent %s: the environment variable %s is not set", v, v[1:])
			}
		default:
			p, err := r.expandPath(v, tok)
			if err != nil {
				return nil, fmt.Errorf("ssh: IdentityAgent %s: %w", v, err)
			}
			c.IdentityAgent = p
		}
	}
	return c, nil
}

// tokens are the values of ssh's %-tokens for paths.
func (r *resolver) tokens(c *Config, jump string) (map[byte]string, error) {
	local, err := os.Hostname()
	if err != nil {
		return nil, fmt.Errorf("ssh: local host name: %w", err)
	}
	short, _, _ := strings.Cut(local, ".")
	port := strconv.Itoa(c.Port)
	alias := r.host
	if c.HostKeyAlias != "" {
		alias = c.HostKeyAlias
	}
	sum := sha1.Sum([]byte(local + c.HostName + port + c.User))
	return map[byte]string{
		'C': hex.EncodeToString(sum[:]),
		'L': short,
		'd': r.home,
		'h': c.HostName,
		'i': strconv.Itoa(os.Getuid()),
		'j': jump,
		'k': alias,
		'l': local,
		'n': r.host,
		'p': port,
		'r': c.User,
		'u': localUser(),
	}, nil
}

// expandPath expands ~, then %-tokens and ${VAR}, as ssh does for
// IdentityFile, UserKnownHostsFile and IdentityAgent.
func (r *resolver) expandPath(p string, tok map[byte]string) (string, error) {
	p, err := expandTilde(p, r.home)
	if err != nil {
		return "", err
	}
	return expandTokens(p, tok, true)
}

// expandHostName expands HostName's only tokens, %h (the host as
// typed) and %%.
func expandHostName(v, host string) (string, error) {
	return expandTokens(v, map[byte]string{'h': host}, false)
}

// expandTokens replaces %X from tok, %% with %, and (when env) ${VAR}
// with the environment variable, which must be set.
func expandTokens(s string, tok map[byte]string, env bool) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '%':
			if i+1 == len(s) {
				return "", errors.New("'%' at the end")
			}
			i++
			if s[i] == '%' {
				b.WriteByte('%')
				continue
			}
			v, ok := tok[s[i]]
			if !ok {
				return "", fmt.Errorf("unknown token %%%c", s[i])
			}
			b.WriteString(v)
		case env && c == '$' && strings.HasPrefix(s[i+1:], "{"):
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return "", errors.New("'${' without '}'")
			}
			name := s[i+2 : i+end]
			v, ok := os.LookupEnv(name)
			if !ok || name == "" {
				return "", fmt.Errorf("environment variable ${%s} has no value", name)
			}
			b.WriteString(v)
			i += end
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// expandTilde expands a leading ~ (home) or ~user.
func expandTilde(p, home string) (string, error) {
	if !strings.HasPrefix(p, "~") {
		return p, nil
	}
	name, rest := p[1:], ""
	if i := strings.IndexAny(name, `/\`); i >= 0 && (name[i] == '/' || runtime.GOOS == "windows") {
		name, rest = name[:i], name[i:]
	}
	if name == "" {
		return home + rest, nil
	}
	u, err := osuser.Lookup(name)
	if err != nil {
		return "", fmt.Errorf("expand %s: %w", p, err)
	}
	return u.HomeDir + rest, nil
}

// homeDir is $HOME (%USERPROFILE% on Windows), else the account's home.
func homeDir() (string, error) {
	if h, err := os.UserHomeDir(); err == nil && h != "" {
		return h, nil
	}
	if u, err := osuser.Current(); err == nil && u.HomeDir != "" {
		return u.HomeDir, nil
	}
	return "", errors.New("cannot find the home directory")
}

// localUser is the local account name, without a Windows domain.
func localUser() string {
	if u, err := osuser.Current(); err == nil && u.Username != "" {
		name := u.Username
		if runtime.GOOS == "windows" {
			if i := strings.LastIndexByte(name, '\\'); i >= 0 {
				name = name[i+1:]
			}
		}
		return name
	}
	if v := os.Getenv("USER"); v != "" {
		return v
	}
	return os.Getenv("USERNAME")
}

// systemConfigFile is where the system-wide ssh_config lives.
func systemConfigFile() string {
	if runtime.GOOS == "windows" {
		if pd := os.Getenv("ProgramData"); pd != "" {
			return filepath.Join(pd, "ssh", "ssh_config")
		}
		return ""
	}
	return "/etc/ssh/ssh_config"
}

func defaultGlobalKnownHosts() []string {
	dir := "/etc/ssh"
	if runtime.GOOS == "windows" {
		dir = filepath.Join(os.Getenv("ProgramData"), "ssh")
	}
	return []string{filepath.Join(dir, "ssh_known_hosts"), filepath.Join(dir, "ssh_known_hosts2")}
}

// knownKeywords are the ssh_config keywords of OpenSSH's client (up to
// 10.x, with Debian's GSSAPI additions and the deprecated ones ssh
// still accepts). A -o with any other keyword is an error, as in ssh.
var knownKeywords = func() map[string]bool {
	m := map[string]bool{}
	for _, k := range strings.Fields(`
		addkeystoagent addressfamily batchmode bindaddress bindinterface
		canonicaldomains canonicalizefallbacklocal canonicalizehostname
		canonicalizemaxdots canonicalizepermittedcnames casignaturealgorithms
		certificatefile challengeresponseauthentication channeltimeout
		checkhostip cipher ciphers clearallforwardings compression
		compressionlevel connectionattempts connecttimeout controlmaster
		controlpath controlpersist dynamicforward enableescapecommandline
		enablesshkeysign escapechar exitonforwardfailure fallbacktorsh
		fingerprinthash forkafterauthentication forwardagent forwardx11
		forwardx11timeout forwardx11trusted gatewayports
		globalknownhostsfile globalknownhostsfile2 gssapiauthentication
		gssapiclientidentity gssapidelegatecredentials gssapikeyexchange
		gssapikexalgorithms gssapirenewalforcesrekey gssapiserveridentity
		gssapitrustdns hashknownhosts hostbasedacceptedalgorithms
		hostbasedauthentication hostbasedkeytypes hostkeyalgorithms
		hostkeyalias hostname identitiesonly identityagent identityfile
		ignoreunknown ipqos kbdinteractiveauthentication
		kbdinteractivedevices kerberosauthentication kerberostgtpassing
		kexalgorithms knownhostscommand localcommand localforward loglevel
		logverbose macs nohostauthenticationforlocalhost
		numberofpasswordprompts obscurekeystroketiming
		passwordauthentication permitlocalcommand permitremoteopen
		pkcs11provider port preferredauthentications protocol proxycommand
		proxyjump proxyusefdpass pubkeyacceptedalgorithms
		pubkeyacceptedkeytypes pubkeyauthentication refuseconnection
		rekeylimit remotecommand remoteforward requesttty requiredrsasize
		revokedhostkeys rhostsauthentication rhostsrsaauthentication
		rsaauthentication securitykeyprovider sendenv serveralivecountmax
		serveraliveinterval sessiontype setenv skeyauthentication
		smartcarddevice stdinnull streamlocalbindmask streamlocalbindunlink
		stricthostkeychecking syslogfacility tag tcpkeepalive
		tisauthentication tunnel tunneldevice updatehostkeys
		useblacklistedkeys user userknownhostsfile userknownhostsfile2
		useprivilegedport useroaming usersh verifyhostkeydns versionaddendum
		visualhostkey warnweakcrypto xauthlocation afstokenpassing
	`) {
		m[k] = true
	}
	return m
}()
