package repl

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// New-PSSession's SSH parameters become the server's ssh flags: a list
// written "a, b" is one argument, -Options' hashtable becomes -o
// Key=value (sorted), paths are made absolute, and $env:PSMUX_SSH_CONFIG
// is the -F default that -ConfigFile overrides.
func TestNewPSSessionArguments(t *testing.T) {
	t.Setenv("PSMUX_SSH_CONFIG", "/from/env/ssh_config")
	c := lookup(commandTable(), "nsn")
	line := `-HostName web1, web2 -Name a,b -UserName ops -Port 2222 -IdentityFilePath k.pem -Subsystem pwsh ` +
		`-Options @{ StrictHostKeyChecking = 'yes'; "ConnectTimeout"=5 }`
	a, help, err := (&repl{}).parse(c, tokenize(line))
	if err != nil || help {
		t.Fatal(err, help)
	}
	if got := a.list("HostName"); !reflect.DeepEqual(got, []string{"web1", "web2"}) {
		t.Fatalf("HostName %q", got)
	}
	na, err := newArgs("web2", "b", a)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := filepath.Abs("k.pem")
	want := []string{"-l", "ops", "-p", "2222", "-i", key, "--subsystem", "pwsh", "-F", "/from/env/ssh_config",
		"-o", "ConnectTimeout=5", "-o", "StrictHostKeyChecking=yes"}
	if na.Dest != "web2" || na.Name != "b" || !reflect.DeepEqual(na.SSH, want) {
		t.Fatalf("newArgs: %+v\nwant SSH %q", na, want)
	}
	a["ConfigFile"] = "/named/config"
	na, _ = newArgs("web2", "", a)
	if !strings.Contains(strings.Join(na.SSH, " "), "-F /named/config") {
		t.Fatalf("-ConfigFile did not override the environment's: %q", na.SSH)
	}
	for _, bad := range []string{`-Port x`, `-Options @{ novalue }`} {
		a, _, err := (&repl{}).parse(c, tokenize("-HostName h "+bad))
		if err == nil {
			_, err = newArgs("h", "", a)
		}
		if err == nil || !strings.Contains(err.Error(), "cannot bind parameter") {
			t.Errorf("%s: %v; want PowerShell's binding error", bad, err)
		}
	}
}

// -ArgumentList values reach the script block as PowerShell literals.
func TestInvokeScriptArguments(t *testing.T) {
	s, err := invokeScript(args{"ScriptBlock": "param($a,$b,$c) $a", "ArgumentList": "7,it's,$true"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "& {\nparam($a,$b,$c) $a\n} 7 'it''s' $true"; s != want {
		t.Fatalf("%q, want %q", s, want)
	}
}

// The forms PowerShell binds that a naive split gets wrong: a comma
// inside quotes is part of one value, a value joined by a colon
// (-Session:$s, -AsJob:$false), and an assignment without spaces.
func TestParameterForms(t *testing.T) {
	icm := lookup(commandTable(), "icm")
	for _, c := range []struct {
		line string
		args []string // the ArgumentList values
		sess string
		job  bool
	}{
		{`{ $args } -ArgumentList 'a,b','c'`, []string{"a,b", "c"}, "", false},
		{`{ $args } -ArgumentList "x, y"`, []string{"x, y"}, "", false},
		{`{ $args } -ArgumentList a,b`, []string{"a", "b"}, "", false},
		{`{ 1 } -Session:w2 -AsJob:$false`, nil, "w2", false},
		{`{ 1 } -Session:w1 -AsJob:$true`, nil, "w1", true},
		{`{ 1 } -Session w1 -AsJob`, nil, "w1", true},
	} {
		a, _, err := (&repl{}).parse(icm, tokenize(c.line))
		if err != nil {
			t.Fatalf("%s: %v", c.line, err)
		}
		if got := a.list("ArgumentList"); !reflect.DeepEqual(got, c.args) {
			t.Errorf("%s: ArgumentList %q, want %q", c.line, got, c.args)
		}
		if a.get("Session") != c.sess || a.has("AsJob") != c.job {
			t.Errorf("%s: Session %q AsJob %v, want %q %v", c.line, a.get("Session"), a.has("AsJob"), c.sess, c.job)
		}
	}
	s, err := invokeScript(args{"ScriptBlock": "$args", "ArgumentList": tokenize(`'a,b'`)[0].text})
	if want := "& {\n$args\n} 'a,b'"; err != nil || s != want {
		t.Fatalf("a quoted comma in -ArgumentList: %q %v, want %q", s, err, want)
	}
	if toks := tokenize(`-Session:$s`); len(toks) != 2 || !toks[0].param || toks[0].text != "Session" || toks[1].text != "$s" || !toks[1].colon {
		t.Errorf("-Session:$s: tokens %+v; want the parameter, then $s joined to it", toks)
	}
	for _, line := range []string{`$s=New-PSSession -HostName h`, `$s = New-PSSession -HostName h`, `$s =New-PSSession -HostName h`} {
		toks := tokenize(line)
		if len(toks) < 3 || toks[0].text != "$s" || toks[1].text != "=" || toks[2].text != "New-PSSession" {
			t.Errorf("%s: tokens %+v; want $s, =, New-PSSession, …", line, toks)
		}
	}
}
