package main

import (
	"bytes"
	"encoding/json"
	req "github.com/psmux/psmux/testenv/require"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// debugCorpus returns ../shared/corpus (or $PSMUX_CORPUS) or skips.
func debugCorpus(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("PSMUX_CORPUS")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "corpus")
	}
	if _, err := os.Stat(filepath.Join(dir, "expect.jsonl")); err != nil {
		req.Missing(t, req.Corpus, "shared/corpus not found beside the project: %v", err)
	}
	return dir
}

// debugKeys are the keys of a `psmux debug decode` line, in order (SPEC S10).
var debugKeys = []string{"direction", "destination", "type", "type_value", "rpid", "pid", "object_id", "fragments", "bom", "data"}

func TestDebugDecodeCorpus(t *testing.T) {
	dir := debugCorpus(t)
	cases := []struct {
		args  []string
		file  string
		types []string // the type of each line, in order
		check func(t *testing.T, lines []map[string]any)
	}{
		{
			args:  []string{"decode"}, // outofproc is the default
			file:  "ansible-debugger-oop/large-psrp-packet.txt",
			types: []string{"PIPELINE_OUTPUT"},
			check: func(t *testing.T, lines []map[string]any) {
				l := lines[0]
				if l["direction"] != "ServerToClient" || l["pid"] != "c8cf479a-daf8-4b7c-872c-95a22e6d344f" ||
					l["object_id"] != json.Number("327") || l["bom"] != true {
					t.Errorf("line %v", l)
				}
				if fs, _ := l["fragments"].([]any); len(fs) != 3 {
					t.Errorf("fragments %v, want [0,1,2]", l["fragments"])
				}
				if s, _ := l["data"].(string); len(s) != 66560 || strings.Trim(s, "a") != "" {
					t.Errorf("data is not 66560 a's (%d bytes)", len(s))
				}
			},
		},
		{
			args:  []string{"decode", "--format", "fragments"},
			file:  "ironposh/defragment_multiple.streams.b64",
			types: []string{"SESSION_CAPABILITY", "APPLICATION_PRIVATE_DATA", "SESSION_CAPABILITY", "APPLICATION_PRIVATE_DATA"},
			check: func(t *testing.T, lines []map[string]any) {
				l := lines[0]
				if l["rpid"] != "00000000-0000-0000-0000-000000000000" || l["type_value"] != "0x00010002" || l["destination"] != "Client" {
					t.Errorf("line %v", l)
				}
				ms, _ := l["data"].(map[string]any)["MS"].(map[string]any)
				if ms["protocolversion"] != "2.3" || ms["SerializationVersion"] != "1.1.0.1" {
					t.Errorf("data %v", l["data"])
				}
			},
		},
		{
			args:  []string{"decode", "--format=wsman"},
			file:  "ironposh/receive_response.xml",
			types: []string{"RUNSPACEPOOL_STATE"},
			check: func(t *testing.T, lines []map[string]any) {
				l := lines[0]
				ms, _ := l["data"].(map[string]any)["MS"].(map[string]any)
				if l["direction"] != "ServerToClient" || ms["RunspaceState"] != json.Number("2") {
					t.Errorf("line %v", l)
				}
			},
		},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			in, err := os.ReadFile(filepath.Join(dir, c.file))
			if err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			if code := runDebug(c.args, bytes.NewReader(in), &stdout, &stderr); code != 0 {
				t.Fatalf("exit %d, stderr %q", code, stderr.String())
			}
			if stderr.Len() > 0 {
				t.Errorf("stderr %q", stderr.String())
			}
			var lines []map[string]any
			for _, raw := range strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n") {
				d := json.NewDecoder(strings.NewReader(raw))
				d.UseNumber()
				var m map[string]any
				if err := d.Decode(&m); err != nil {
					t.Fatalf("line %q: %v", raw, err)
				}
				checkKeyOrder(t, raw)
				lines = append(lines, m)
			}
			if len(lines) != len(c.types) {
				t.Fatalf("%d lines, want %d:\n%s", len(lines), len(c.types), stdout.String())
			}
			for i, typ := range c.types {
				if lines[i]["type"] != typ {
					t.Errorf("line %d type %v, want %s", i+1, lines[i]["type"], typ)
				}
			}
			c.check(t, lines)
		})
	}
}

// checkKeyOrder checks the top-level keys of one output line.
func checkKeyOrder(t *testing.T, raw string) {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(raw))
	var keys []string
	depth := 0
	for {
		tok, err := d.Token()
		if err != nil {
			break
		}
		switch v := tok.(type) {
		case json.Delim:
			if v == '{' || v == '[' {
				depth++
			} else {
				depth--
			}
		case string:
			if depth == 1 {
				keys = append(keys, v)
				// skip the value
				var skip json.RawMessage
				if err := d.Decode(&skip); err != nil {
					t.Fatalf("line %q: %v", raw, err)
				}
			}
		}
	}
	if strings.Join(keys, ",") != strings.Join(debugKeys, ",") {
		t.Errorf("keys %v, want %v", keys, debugKeys)
	}
}

func TestDebugDecodeProblems(t *testing.T) {
	in := "S> <Data Stream='Default' PSGuid='00000000-0000-0000-0000-000000000000'>AAAA\n" +
		"S> <Data Stream='Default' PSGuid='00000000-0000-0000-0000-000000000000'>AAAAAAAAAAcAAAAAAAAAAAMAAABnAQAAAAUQAgAfCpuaRS9sTJ6fPB0uT1prAAAAAAAAAAAAAAAAAAAAAO+7vzxPYmogUmVmSWQ9IjAiPjxNUz48STMyIE49IlJ1bnNwYWNlU3RhdGUiPjI8L0kzMj48L01TPjwvT2JqPg==</Data>\n"
	var stdout, stderr bytes.Buffer
	code := runDebug([]string{"decode"}, strings.NewReader(in), &stdout, &stderr)
	if code != 1 || !strings.HasPrefix(stderr.String(), "psmux: line 1: ") {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), `"type":"RUNSPACEPOOL_STATE"`) || !strings.Contains(stdout.String(), `"data":{"MS":{"RunspaceState":2}}`) {
		t.Errorf("stdout %q", stdout.String())
	}
}

func TestDebugUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		err  string
	}{
		{nil, 2, "usage: psmux debug decode"},
		{[]string{"nope"}, 2, "psmux: unknown debug command: nope"},
		{[]string{"decode", "--format"}, 2, "psmux: --format needs an argument"},
		{[]string{"decode", "--format", "pcap"}, 2, "psmux: unknown format: pcap"},
		{[]string{"decode", "--bogus"}, 2, "psmux: unknown flag: --bogus"},
		{[]string{"decode", "extra"}, 2, "psmux: unexpected argument: extra"},
		{[]string{"decode", "--help"}, 0, ""},
	} {
		var stdout, stderr bytes.Buffer
		code := runDebug(c.args, strings.NewReader(""), &stdout, &stderr)
		if code != c.code || !strings.HasPrefix(stderr.String(), c.err) {
			t.Errorf("%q: exit %d, stderr %q", c.args, code, stderr.String())
		}
		if code == 0 && !strings.HasPrefix(stdout.String(), "usage: psmux debug decode") {
			t.Errorf("%q: stdout %q", c.args, stdout.String())
		}
	}
}
