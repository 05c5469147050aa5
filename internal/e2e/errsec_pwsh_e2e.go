package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

// What pwsh 7.6.9's Enter-PSSession prints for a failed command: its
// console sends the failure's error record to the server's Out-Default
// (ConsoleHost.ReportException), which finds a deserialized record and
// writes "Error: " and the exception's message.
const (
	MidScript = `"before"; throw "mid"; "after"`
	MidError  = "Error: mid\n"
)

var PwshFailures = []struct{ Script, Stderr, Reason string }{
	{`throw "bad"`, "Error: bad\n", "bad"},
	{`Get-Item /nope -ErrorAction Stop`, "Error: Cannot find path '/nope' because it does not exist.\n",
		"Cannot find path '/nope' because it does not exist."},
	{`1 +* 2`, "Error: At line:1 char:4\n+ 1 +* 2\n+    ~\nYou must provide a value expression following the '+' operator.\n",
		"At line:1 char:4\n+ 1 +* 2\n+    ~\nYou must provide a value expression following the '+' operator."},
	{`}`, "Error: At line:1 char:1\n+ }\n+ ~\nUnexpected token '}' in expression or statement.\n",
		"At line:1 char:1\n+ }\n+ ~\nUnexpected token '}' in expression or statement."},
}

// ErrServers are pwshsim and real pwsh (psrpcore's peer has no throw).
func ErrServers(t *testing.T) map[string]string {
	out := Servers(t)
	delete(out, "psrpcore")
	return out
}

// JsonLines decodes NDJSON output.
func JsonLines(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not JSON: %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

// StateLines are the NDJSON lines that close a command.
func StateLines(t *testing.T, s string) []map[string]any {
	var out []map[string]any
	for _, m := range JsonLines(t, s) {
		if _, ok := m["state"]; ok {
			out = append(out, m)
		}
	}
	return out
}

func WantFailedState(t *testing.T, what, out, reason string) {
	t.Helper()
	st := StateLines(t, out)
	if len(st) == 0 {
		t.Fatalf("%s: no state line in %q", what, out)
	}
	last := st[len(st)-1]
	if last["state"] != "Failed" || last["had_errors"] != true || last["reason"] != reason {
		t.Fatalf("%s: state line %v; want Failed with reason %q", what, last, reason)
	}
}

// SecretOut makes SecureStrings: alone, in a hashtable, in a property
// and, with real pwsh, in a PSCredential.
const SecretOut = `ConvertTo-SecureString "abc" -AsPlainText; @{s = ConvertTo-SecureString "abc" -AsPlainText}; [pscustomobject]@{s = ConvertTo-SecureString "abc" -AsPlainText; n = 1}`

// SecretB64 is "abc" as pwsh sends a SecureString without a session key
// (UTF-16LE, base64).
const SecretB64 = "YQBiAGMA"

func CheckSecretJSON(t *testing.T, what, out string, pscred bool) {
	t.Helper()
	const ss = "System.Security.SecureString"
	if strings.Contains(out, SecretB64) || strings.Contains(out, `"SecureString"`) {
		t.Fatalf("%s shows the SecureString's contents:\n%s", what, out)
	}
	var vals []any
	for _, m := range JsonLines(t, out) {
		if v, ok := m["value"]; ok && m["stream"] == "Output" {
			vals = append(vals, v)
		}
	}
	want := []any{ss, map[string]any{"s": ss}, map[string]any{"s": ss, "n": float64(1)}}
	if pscred {
		want = append(want, map[string]any{"UserName": "u", "Password": ss})
	}
	got, _ := json.Marshal(vals)
	exp, _ := json.Marshal(want)
	if string(got) != string(exp) {
		t.Fatalf("%s values %s; want %s\n%s", what, got, exp, out)
	}
}
