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
