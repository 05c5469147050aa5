package ssh

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	req "github.com/psmux/psmux/testenv/require"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// requireOpenSSH returns the path of the system ssh. Without it the
// test is skipped, unless PSMUX_REQUIRE lists openssh (CI sets it),
// which makes its absence a failure.
func requireOpenSSH(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("ssh")
	if err == nil {
		if out, verr := exec.Command(path, "-G", "-F", os.DevNull, "probe.invalid").Output(); verr != nil || !strings.Contains(string(out), "\nhostname ") {
			err = fmt.Errorf("%s -G does not work (%v): not OpenSSH?", path, verr)
		}
	}
	if err != nil {
		req.Missing(t, req.OpenSSH, "the OpenSSH client is needed as the reference (apt-get install openssh-client): %v", err)
	}
	return path
}

// sshG runs `ssh -G args…` and returns what it prints, key → values in
// order (identityfile repeats).
func sshG(t *testing.T, ssh string, args ...string) map[string][]string {
	t.Helper()
	cmd := exec.Command(ssh, append([]string{"-G"}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ssh -G %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	m := map[string][]string{}
	for _, line := range strings.Split(string(out), "\n") {
		k, v, _ := strings.Cut(strings.TrimRight(line, "\r"), " ")
		if k != "" {
			m[k] = append(m[k], v)
		}
	}
	return m
}

// sshHomeDir is the home directory ssh expands ~ to in what it prints:
// the password-file entry, not $HOME.
func sshHomeDir(t *testing.T, ssh string) string {
	t.Helper()
	m := sshG(t, ssh, "-F", os.DevNull, "probe.invalid")
	first, _, _ := strings.Cut(strings.Join(m["userknownhostsfile"], " "), " ")
	home, ok := strings.CutSuffix(first, "/.ssh/known_hosts")
	if !ok {
		t.Fatalf("cannot tell ssh's home directory from userknownhostsfile %q", m["userknownhostsfile"])
	}
	return home
}

// gView is what `ssh -G` would print for c, in psmux's terms.
func gView(c *Config) map[string]string {
	yn := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	return map[string]string{
		"hostname":                     c.HostName,
		"user":                         c.User,
		"port":                         strconv.Itoa(c.Port),
		"identityfile":                 strings.Join(c.IdentityFiles, "\n"),
		"identitiesonly":               yn(c.IdentitiesOnly),
		"identityagent":                c.IdentityAgent,
		"proxyjump":                    strings.Join(c.ProxyJump, ","),
		"proxycommand":                 c.ProxyCommand,
		"userknownhostsfile":           strings.Join(c.UserKnownHostsFiles, " "),
		"globalknownhostsfile":         strings.Join(c.GlobalKnownHostsFiles, " "),
		"stricthostkeychecking":        c.StrictHostKeyChecking,
		"hashknownhosts":               yn(c.HashKnownHosts),
		"hostkeyalias":                 c.HostKeyAlias,
		"pubkeyauthentication":         yn(c.PubkeyAuthentication),
		"passwordauthentication":       yn(c.PasswordAuthentication),
		"kbdinteractiveauthentication": yn(c.KbdInteractiveAuthentication),
		"numberofpasswordprompts":      strconv.Itoa(c.NumberOfPasswordPrompts),
		"serveraliveinterval":          strconv.Itoa(int(c.ServerAliveInterval / time.Second)),
		"serveralivecountmax":          strconv.Itoa(c.ServerAliveCountMax),
		"connecttimeout":               strconv.Itoa(int(c.ConnectTimeout / time.Second)),
		"rekeylimit":                   strconv.FormatInt(c.RekeyLimit, 10),
	}
}

// sshView normalises ssh -G's output to gView's terms:
//   - ssh prints IdentityFile unexpanded, and ~ in the other paths
//     expanded to its own home (sshHome); psmux expands all to $HOME;
//   - psmux does not look for the default id_xmss and id_dsa;
//   - ssh prints true/false for StrictHostKeyChecking yes/no and for
//     PubkeyAuthentication, which may also be unbound or host-bound;
//   - psmux's defaults: ServerAliveInterval 15 s when the config does not
//     set it (ssh prints 0), ConnectTimeout 30 s when unset (ssh: none);
//   - RekeyLimit: psmux keeps the byte amount only.
func sshView(m map[string][]string, sshHome, home string, aliveSet bool) map[string]string {
	one := func(k string) string { return strings.Join(m[k], " ") }
	rehome := func(p string) string {
		if rest, ok := strings.CutPrefix(p, sshHome+"/"); ok {
			return home + "/" + rest
		}
		return p
	}
	var ids []string
	for _, p := range m["identityfile"] {
		if p == "~/.ssh/id_xmss" || p == "~/.ssh/id_dsa" {
			continue
		}
		if rest, ok := strings.CutPrefix(p, "~/"); ok {
			p = home + "/" + rest
		}
		ids = append(ids, p)
	}
	var known []string
	for _, p := range strings.Fields(one("userknownhostsfile")) {
		known = append(known, rehome(p))
	}
	v := map[string]string{}
	for _, k := range []string{"hostname", "user", "port", "identitiesonly", "proxyjump", "proxycommand",
		"globalknownhostsfile", "hashknownhosts", "hostkeyalias", "passwordauthentication",
		"kbdinteractiveauthentication", "numberofpasswordprompts", "serveraliveinterval",
		"serveralivecountmax", "connecttimeout"} {
		v[k] = one(k)
	}
	v["identityfile"] = strings.Join(ids, "\n")
	v["userknownhostsfile"] = strings.Join(known, " ")
	v["identityagent"] = rehome(one("identityagent"))
	if v["identityagent"] == "SSH_AUTH_SOCK" {
		v["identityagent"] = ""
	}
	v["stricthostkeychecking"] = map[string]string{"true": "yes", "false": "no"}[one("stricthostkeychecking")]
	if v["stricthostkeychecking"] == "" {
		v["stricthostkeychecking"] = one("stricthostkeychecking")
	}
	v["pubkeyauthentication"] = "yes"
	if one("pubkeyauthentication") == "false" {
		v["pubkeyauthentication"] = "no"
	}
	if v["serveraliveinterval"] == "0" && !aliveSet {
		v["serveraliveinterval"] = "15"
	}
	if v["connecttimeout"] == "none" {
		v["connecttimeout"] = "30"
	}
	v["rekeylimit"], _, _ = strings.Cut(one("rekeylimit"), " ")
	return v
}

// sshArgs is the ssh command line equivalent to Resolve(dest, o). ssh
// has no user@host:port form: a port in dest becomes an ssh:// URI, or
// -p for an IPv6 literal, which OpenSSH 9's URI parser rejects.
func sshArgs(t *testing.T, dest string, o Overrides) []string {
	t.Helper()
	args := []string{"-F", o.ConfigFile}
	if o.User != "" {
		args = append(args, "-l", o.User)
	}
	if o.Port != 0 {
		args = append(args, "-p", strconv.Itoa(o.Port))
	}
	for _, i := range o.Identities {
		args = append(args, "-i", i)
	}
	if o.Jump != "" {
		args = append(args, "-J", o.Jump)
	}
	for _, opt := range o.Options {
		args = append(args, "-o", opt)
	}
	d, err := parseDest(dest)
	if err != nil {
		t.Fatal(err)
	}
	if d.port == 0 || strings.HasPrefix(dest, "ssh://") {
		return append(args, dest)
	}
	user := ""
	if d.user != "" {
		user = d.user + "@"
	}
	if strings.Contains(d.host, ":") {
		if o.Port != 0 || slices.ContainsFunc(o.Options, func(s string) bool { return strings.HasPrefix(strings.ToLower(s), "port") }) {
			t.Fatalf("%s: a port in an IPv6 destination cannot be given to ssh as -p when -p or -o Port is also given", dest)
		}
		return append(args, "-p", strconv.Itoa(d.port), user+d.host)
	}
	return append(args, fmt.Sprintf("ssh://%s%s:%d", user, d.host, d.port))
}

func writeFile(t *testing.T, path, text string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestResolveMatchesSSHG resolves destinations through a config with
// the hard parts (alias case, '?', negation, Include, Match host,
// first-value-wins, option aliases, ProxyJump/ProxyCommand, overrides)
// and compares every key psmux honours with what the real `ssh -G`
// prints for the same files and flags.
func TestResolveMatchesSSHG(t *testing.T) {
	ssh := requireOpenSSH(t)
	if runtime.GOOS == "windows" {
		t.Skip("the expected paths below are POSIX paths")
	}
	sshHome := sshHomeDir(t, ssh)
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	t.Setenv("HOME", home) // ssh's Include uses $HOME for ~ too
	keys := filepath.Join(dir, "keys")
	// ssh drops an -i file that does not exist.
	k1 := writeFile(t, filepath.Join(keys, "k1"), "")
	k2 := writeFile(t, filepath.Join(keys, "k2"), "")
	second := writeFile(t, filepath.Join(keys, "second"), "")

	writeFile(t, filepath.Join(dir, "inc", "inc.conf"), `
Port 2022
Host inc1
  User inc1user
  IdentityFile ~/.ssh/id_inc
Host *
  ServerAliveInterval 45
`)
	writeFile(t, filepath.Join(home, "inc_home.conf"), `
Host inc2
  User fromhome
  Port 9999
`)
	cfg := writeFile(t, filepath.Join(dir, "config"), strings.NewReplacer("KEYS", keys, "INCDIR", filepath.Join(dir, "inc")).Replace(`
# A lower-cased alias would get "lower" and 2201; a last-value-wins
# reader would get the second IdentityFile once and port 22.
Host MyBox
  HostName %h.Example.COM
  User alice
  Port 2200
  IdentityFile ~/.ssh/id_mybox
  IdentityFile KEYS/second
  IdentityFile ~/.ssh/id_mybox
Host mybox
  User lower
  Port 2201
Host web? !web9
  User webuser
  ProxyJump jump1,bob@jump2:2022
Host *.Corp.example
  IdentitiesOnly yes
  UserKnownHostsFile ~/.ssh/kh_corp /srv/kh/%h-%p
  UserKnownHostsFile /ignored/second/line
  HostKeyAlias CorpAlias
  IdentityAgent ~/agent.%r.sock
Host inc*
  Include INCDIR/inc.conf
  Include ~/inc_home.conf
  User after-include
Host strict-off
  StrictHostKeyChecking off
Host strict-*
  StrictHostKeyChecking accept-new
  HashKnownHosts yes
  KbdInteractiveAuthentication no
  ChallengeResponseAuthentication yes
  NumberOfPasswordPrompts 1
  RekeyLimit 64K 1h
Host strict-yes
  StrictHostKeyChecking yes
  PasswordAuthentication no
  PubkeyAuthentication no
Host pc
  ProxyCommand nc %h %p
  ProxyJump ignored-jump
Host nojump
  ProxyJump none
  ProxyJump never
Host alias-to-target
  HostName Target.Example
Match host target.example,*.match
  User matched
  ConnectTimeout 0
Host *.match
  User not-reached
Host fe80::*
  User v6
Host keepalive
  ServerAliveInterval 1m30s
  ServerAliveCountMax 5
  ConnectTimeout 7
  RekeyLimit 1.5G
Host * !plain
  IdentityFile ~/.ssh/id_all
  User star
  GlobalKnownHostsFile /etc/g1 /etc/g2
  ConnectTimeout 1m
`))

	cases := []struct {
		name     string
		dest     string
		o        Overrides
		aliveSet bool // the config or -o sets ServerAliveInterval
	}{
		{name: "alias case kept", dest: "MyBox"},
		{name: "lower-case alias is another host", dest: "mybox"},
		{name: "question mark is one character", dest: "web1"},
		{name: "question mark is not zero characters", dest: "web"},
		{name: "negated pattern", dest: "web9"},
		{name: "wildcard with case", dest: "db.Corp.example"},
		{name: "wildcard case-sensitive", dest: "db.corp.example"},
		{name: "include by absolute path", dest: "inc1", aliveSet: true},
		{name: "include under home", dest: "inc2", aliveSet: true},
		{name: "line after include", dest: "inc3", aliveSet: true},
		{name: "strict off", dest: "strict-off"},
		{name: "option alias first wins", dest: "strict-a"},
		{name: "first strict wins", dest: "strict-yes"},
		{name: "proxy command before jump", dest: "pc"},
		{name: "jump none", dest: "nojump"},
		{name: "match host sees HostName", dest: "alias-to-target"},
		{name: "match host pattern list", dest: "x.match"},
		{name: "times and sizes", dest: "keepalive", aliveSet: true},
		{name: "defaults", dest: "plain"},
		{name: "ipv6 with port", dest: "[fe80::1]:2222"},
		{name: "user and port in dest", dest: "carol@MyBox:2300"},
		{name: "ssh uri", dest: "ssh://dave@web1:2400"},
		{name: "flags beat everything", dest: "b@MyBox", aliveSet: true, o: Overrides{
			User: "flaguser", Port: 2022, Identities: []string{k1, k2}, Jump: "hopA,hopB:2200",
			Options: []string{"User=ouser", "Port 99", "IdentityFile=" + keys + "/k3", "StrictHostKeyChecking=no", "ServerAliveInterval=0"},
		}},
		{name: "options beat user in dest", dest: "b@MyBox", o: Overrides{Options: []string{"user ouser", "PORT=7"}}},
		{name: "jump none flag", dest: "web1", o: Overrides{Jump: "none"}},
		{name: "jump option beats proxy command", dest: "pc", o: Overrides{Options: []string{"ProxyJump=x,y"}}},
		{name: "options for files", dest: "web1", o: Overrides{Options: []string{
			"IdentitiesOnly=yes", "HostKeyAlias=Foo", "IdentityAgent=none",
			"UserKnownHostsFile ~/kh1 ~/kh2", "GlobalKnownHostsFile=/g", "ChallengeResponseAuthentication=no",
		}}},
		{name: "-i and IdentityFile duplicates are not merged", dest: "MyBox", o: Overrides{Identities: []string{second, k1, second}}},
		{name: "option alias beats file", dest: "strict-b", o: Overrides{Options: []string{"ChallengeResponseAuthentication yes"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.o
			o.ConfigFile = cfg
			c, err := Resolve(tc.dest, o)
			if err != nil {
				t.Fatal(err)
			}
			args := sshArgs(t, tc.dest, o)
			want := sshView(sshG(t, ssh, args...), sshHome, home, tc.aliveSet)
			got := gView(c)
			for _, k := range slices.Sorted(maps.Keys(want)) {
				if got[k] != want[k] {
					t.Errorf("%s: psmux %q, ssh -G %s: %q", k, got[k], strings.Join(args, " "), want[k])
				}
			}
			if len(got) != len(want) {
				t.Errorf("compared %d keys, psmux has %d", len(want), len(got))
			}
		})
	}
}

// TestResolveTokensMatchSSHG checks the %-tokens and ${VAR} against
// ssh, which prints UserKnownHostsFile and IdentityAgent expanded.
func TestResolveTokensMatchSSHG(t *testing.T) {
	ssh := requireOpenSSH(t)
	if runtime.GOOS == "windows" {
		t.Skip("POSIX paths")
	}
	// %d is the home directory: give psmux the one ssh uses. Nothing
	// is written there.
	sshHome := sshHomeDir(t, ssh)
	t.Setenv("HOME", sshHome)
	t.Setenv("PSMUX_TEST_VAR", "var-value")
	cfg := writeFile(t, filepath.Join(t.TempDir(), "config"), `
Host TokBox
  HostName Real.%h.Example
  User bob
  Port 2200
  UserKnownHostsFile /kh/%%-%C-%L-%d-%h-%i-%k-%l-%n-%p-%r-%u ~/kh/${PSMUX_TEST_VAR}
  IdentityAgent ~/agent/%r@%h:%p
Host Aliased
  HostKeyAlias KeyAlias
  UserKnownHostsFile /kh/%k/%n
`)
	for _, dest := range []string{"TokBox", "Aliased", "eve@Other:2022"} {
		t.Run(dest, func(t *testing.T) {
			o := Overrides{ConfigFile: cfg}
			c, err := Resolve(dest, o)
			if err != nil {
				t.Fatal(err)
			}
			m := sshG(t, ssh, sshArgs(t, dest, o)...)
			if got, want := strings.Join(c.UserKnownHostsFiles, " "), strings.Join(m["userknownhostsfile"], " "); got != want {
				t.Errorf("UserKnownHostsFile: psmux %q, ssh -G %q", got, want)
			}
			want := strings.Join(m["identityagent"], " ")
			if want == "SSH_AUTH_SOCK" {
				want = ""
			}
			if c.IdentityAgent != want {
				t.Errorf("IdentityAgent: psmux %q, ssh -G %q", c.IdentityAgent, want)
			}
		})
	}
}

// TestResolveRejectsLikeSSH checks that what ssh refuses, Resolve
// refuses, with an error that names the place.
func TestResolveRejectsLikeSSH(t *testing.T) {
	ssh := requireOpenSSH(t)
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	cases := []struct {
		name   string
		config string
		o      Overrides
		want   string // in Resolve's error
	}{
		{"bad port in a block that does not apply", "Host other\n  Port 0\n", Overrides{}, "line 2: Port: bad port"},
		{"bad strict value", "Host *\n  StrictHostKeyChecking maybe\n", Overrides{}, `unsupported option "maybe"`},
		{"extra arguments", "Host *\n  User a b\n", Overrides{}, "line 2: User: extra arguments"},
		{"no argument", "Host *\n  IdentityFile\n", Overrides{}, "no argument"},
		{"bad time", "Host *\n  ServerAliveInterval 5x\n", Overrides{}, `invalid time value "5x"`},
		{"rekey too small", "Host *\n  RekeyLimit 10\n", Overrides{}, "too small"},
		{"unknown option", "", Overrides{Options: []string{"foo=bar"}}, `ssh: -o foo=bar: unknown option "foo"`},
		{"bad option value", "", Overrides{Options: []string{"Port=x"}}, `ssh: -o Port=x: bad port "x"`},
		{"bad jump", "", Overrides{Jump: "u@"}, "-J u@"},
		{"unknown token", "Host *\n  UserKnownHostsFile /kh/%z\n", Overrides{}, "unknown token %z"},
		{"unset variable", "Host *\n  UserKnownHostsFile /kh/${PSMUX_UNSET_VAR_X}\n", Overrides{}, "PSMUX_UNSET_VAR_X"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.o
			o.ConfigFile = writeFile(t, filepath.Join(dir, fmt.Sprintf("config%d", i)), tc.config)
			_, err := Resolve("host", o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Resolve: %v, want an error containing %q", err, tc.want)
			}
			if strings.Contains(tc.want, "line") && !strings.Contains(err.Error(), o.ConfigFile) {
				t.Errorf("error %q does not name %s", err, o.ConfigFile)
			}
			cmd := exec.Command(ssh, append([]string{"-G"}, sshArgs(t, "host", o)...)...)
			if out, err := cmd.CombinedOutput(); err == nil {
				t.Errorf("ssh -G accepted what Resolve refused:\n%s", out)
			}
		})
	}
}

func TestResolveDestinationForms(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	cases := []struct {
		dest       string
		host, user string
		port       int
		hostName   string
	}{
		{"Host.Example", "Host.Example", "", 22, "host.example"},
		{"al@box", "box", "al", 22, "box"},
		{"al@box:2222", "box", "al", 2222, "box"},
		{"a@b@box", "box", "a@b", 22, "box"},
		{"box:ssh", "box", "", 22, "box"},
		{"[::1]:2222", "::1", "", 2222, "::1"},
		{"al@[FE80::1]:2222", "FE80::1", "al", 2222, "FE80::1"},
		{"[::1]", "::1", "", 22, "::1"},
		{"fe80::1", "fe80::1", "", 22, "fe80::1"},
		{"ssh://box", "box", "", 22, "box"},
		{"ssh://al@Box:2200/", "Box", "al", 2200, "box"},
		{"ssh://a%40b@box", "box", "a@b", 22, "box"},
		{"ssh://al@[::1]:2201", "::1", "al", 2201, "::1"},
	}
	for _, tc := range cases {
		c, err := Resolve(tc.dest, Overrides{ConfigFile: os.DevNull})
		if err != nil {
			t.Errorf("%s: %v", tc.dest, err)
			continue
		}
		user := tc.user
		if user == "" {
			user = localUser()
		}
		if c.Dest != tc.dest || c.Host != tc.host || c.User != user || c.Port != tc.port || c.HostName != tc.hostName {
			t.Errorf("%s: got Dest %q Host %q User %q Port %d HostName %q, want %q %q %q %d %q",
				tc.dest, c.Dest, c.Host, c.User, c.Port, c.HostName, tc.dest, tc.host, user, tc.port, tc.hostName)
		}
	}
	for _, bad := range []string{"", "@box", "al@", "box:0", "box:65536", "box:12ab", "[::1", "[::1]x", "ssh://box/path", "ssh://al;fp=x@box"} {
		if _, err := Resolve(bad, Overrides{ConfigFile: os.DevNull}); err == nil || !strings.HasPrefix(err.Error(), "ssh: ") {
			t.Errorf("%q: got %v, want an ssh: error", bad, err)
		}
	}
}

func TestResolveAddrBracketsIPv6(t *testing.T) {
	for dest, want := range map[string]string{"[::1]:2222": "[::1]:2222", "box": "box:22", "10.0.0.1:23": "10.0.0.1:23"} {
		c, err := Resolve(dest, Overrides{ConfigFile: os.DevNull})
		if err != nil {
			t.Fatal(err)
		}
		if c.Addr() != want {
			t.Errorf("%s: Addr %q, want %q", dest, c.Addr(), want)
		}
	}
}

// TestResolveConfigDefaults checks psmux's own defaults and the
// ConnectTimeout override.
func TestResolveConfigDefaults(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	cfg := writeFile(t, filepath.Join(home, "cfg"), "Host zero\n  ServerAliveInterval 0\n  ConnectTimeout 0\n")
	c, err := Resolve("box", Overrides{ConfigFile: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if c.ServerAliveInterval != 15*time.Second || c.ConnectTimeout != 30*time.Second || c.ServerAliveCountMax != 3 ||
		c.NumberOfPasswordPrompts != 3 || c.StrictHostKeyChecking != "ask" || !c.PubkeyAuthentication ||
		!c.PasswordAuthentication || !c.KbdInteractiveAuthentication || c.IdentityAgent != "" || c.ProxyJump != nil {
		t.Errorf("defaults: %+v", c)
	}
	wantIDs := []string{home + "/.ssh/id_rsa", home + "/.ssh/id_ecdsa", home + "/.ssh/id_ecdsa_sk", home + "/.ssh/id_ed25519", home + "/.ssh/id_ed25519_sk"}
	if runtime.GOOS != "windows" && !slices.Equal(c.IdentityFiles, wantIDs) {
		t.Errorf("default identities %q, want %q", c.IdentityFiles, wantIDs)
	}
	c, err = Resolve("zero", Overrides{ConfigFile: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if c.ServerAliveInterval != 0 || c.ConnectTimeout != 0 {
		t.Errorf("explicit 0: ServerAliveInterval %v ConnectTimeout %v, want 0 0", c.ServerAliveInterval, c.ConnectTimeout)
	}
	c, err = Resolve("zero", Overrides{ConfigFile: cfg, ConnectTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if c.ConnectTimeout != 300*time.Millisecond {
		t.Errorf("--connect-timeout: ConnectTimeout %v, want 300ms", c.ConnectTimeout)
	}
}

// TestResolveConfigDefaultFiles reads ~/.ssh/config ($HOME) when no -F
// is given, and refuses one that others can write to.
func TestResolveConfigDefaultFiles(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	c, err := Resolve("Plain", Overrides{})
	if err != nil {
		t.Fatalf("no ~/.ssh/config: %v", err)
	}
	if c.HostName != "plain" {
		t.Errorf("HostName %q", c.HostName)
	}
	userCfg := writeFile(t, filepath.Join(home, ".ssh", "config"), "Host Aliased\n  HostName 192.0.2.7\n  User fromhome\n  Port 2202\n  Include sub.conf\n")
	writeFile(t, filepath.Join(home, ".ssh", "sub.conf"), "IdentityFile ~/sub_key\n")
	c, err = Resolve("Aliased", Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	if c.HostName != "192.0.2.7" || c.User != "fromhome" || c.Port != 2202 || c.IdentityFiles[0] != filepath.Join(home, "sub_key") {
		t.Errorf("from ~/.ssh/config: HostName %q User %q Port %d IdentityFiles %q", c.HostName, c.User, c.Port, c.IdentityFiles)
	}
	if runtime.GOOS == "windows" {
		return
	}
	if err := os.Chmod(userCfg, 0o666); err != nil {
		t.Fatal(err)
	}
	if _, err := Resolve("Aliased", Overrides{}); err == nil || !strings.Contains(err.Error(), "bad permissions on "+userCfg) {
		t.Errorf("world-writable ~/.ssh/config: got %v, want a permissions error naming it", err)
	}
}

func TestResolveConfigErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	unsupported := writeFile(t, filepath.Join(dir, "match_exec"), "Match exec true\n  User x\n")
	if _, err := Resolve("box", Overrides{ConfigFile: unsupported}); err == nil || !strings.Contains(err.Error(), unsupported) || !strings.HasPrefix(err.Error(), "ssh: ") {
		t.Errorf("unsupported Match: got %v, want an error naming %s", err, unsupported)
	}
	if c, err := Resolve("box", Overrides{ConfigFile: "none"}); err != nil || c.User != localUser() {
		t.Errorf("-F none: %v", err)
	}
	missing := filepath.Join(dir, "missing")
	if _, err := Resolve("box", Overrides{ConfigFile: missing}); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing -F file: got %v", err)
	}
	loop := filepath.Join(dir, "loop")
	writeFile(t, loop, "Include "+loop+"\n")
	if _, err := Resolve("box", Overrides{ConfigFile: loop}); err == nil {
		t.Error("an Include loop was accepted")
	}
	if _, err := Resolve("box", Overrides{ConfigFile: os.DevNull, Options: []string{"Host=x"}}); err == nil || !strings.Contains(err.Error(), "not supported as a command-line option") {
		t.Errorf("-o Host: got %v", err)
	}
}

// TestResolveConfigTokens checks the %-tokens without ssh.
func TestResolveConfigTokens(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	cfg := writeFile(t, filepath.Join(home, "cfg"), `
Host Tok
  HostName %h.Example
  User rem
  Port 2022
  IdentityFile ~/%%/%h/%r/%p/%n/%u/%d/%l/%L/%C/%k/%j
  ProxyJump hop1
`)
	c, err := Resolve("Tok", Overrides{ConfigFile: cfg})
	if err != nil {
		t.Fatal(err)
	}
	local, _ := os.Hostname()
	short, _, _ := strings.Cut(local, ".")
	sum := sha1.Sum([]byte(local + "tok.example" + "2022" + "rem"))
	want := strings.Join([]string{home, "%", "tok.example", "rem", "2022", "Tok", localUser(), home, local, short, hex.EncodeToString(sum[:]), "Tok", "hop1"}, "/")
	if len(c.IdentityFiles) != 1 || c.IdentityFiles[0] != want {
		t.Errorf("IdentityFiles %q, want [%q]", c.IdentityFiles, want)
	}
}

func TestResolveConfigValueParsers(t *testing.T) {
	times := map[string]time.Duration{"90": 90 * time.Second, "1h30m": 90 * time.Minute, "1M": time.Minute, "10s5": 15 * time.Second, "2w": 14 * 24 * time.Hour}
	for in, want := range times {
		if got, err := parseTime(in); err != nil || got != want {
			t.Errorf("parseTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-1", "5x", "1.5m", "m"} {
		if _, err := parseTime(bad); err == nil {
			t.Errorf("parseTime(%q) accepted", bad)
		}
	}
	sizes := map[string]int64{"default": 0, "64K": 65536, "1G": 1 << 30, "1.5G": 3 << 29, "1.5k": 1536, "2048B": 2048, "0": 0}
	for in, want := range sizes {
		if got, err := parseRekey([]string{in}); err != nil || got != want {
			t.Errorf("parseRekey(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range [][]string{{"10"}, {"1.5"}, {"x"}, {"1G", "5x"}, {"1G", "1h", "x"}} {
		if _, err := parseRekey(bad); err == nil {
			t.Errorf("parseRekey(%q) accepted", bad)
		}
	}
	splits := map[string][]string{
		`a b`:            {"a", "b"},
		`"a b" c`:        {"a b", "c"},
		`'a "b' c`:       {`a "b`, "c"},
		`a\ b`:           {"a b"},
		`a # comment`:    {"a"},
		`a#b`:            {"a#b"},
		`"" x`:           {"", "x"},
		"\ta\t\tb  ":     {"a", "b"},
		`C:\\keys\\id`:   {`C:\keys\id`},
		`path\with\xesc`: {`path\with\xesc`},
	}
	for in, want := range splits {
		if got, err := splitArgs(in); err != nil || !slices.Equal(got, want) {
			t.Errorf("splitArgs(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := splitArgs(`"open`); err == nil {
		t.Error("splitArgs accepted an unterminated quote")
	}
	globs := []struct {
		pat, s string
		want   bool
	}{
		{"web?", "web1", true}, {"web?", "web", false}, {"*.corp", "a.corp", true}, {"*.corp", "a.Corp", false},
		{"a*b*c", "aXbYc", true}, {"a*b*c", "aXbY", false}, {"*", "", true}, {"?", "", false},
	}
	for _, g := range globs {
		if globMatch(g.pat, g.s) != g.want {
			t.Errorf("globMatch(%q, %q) != %v", g.pat, g.s, g.want)
		}
	}
}
