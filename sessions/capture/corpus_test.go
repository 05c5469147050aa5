package capture

// Conformance against ../shared/corpus (SPEC S12): every line of
// expect.jsonl names one PSRP message in a captured file and what it must
// decode to. The input goes through Decode, the code path of
// `psmux debug decode`, and each record's JSON line (AppendJSON) is parsed
// back, so the faithful JSON is checked along with the decoded value.
//
// How a locator selects a record (worked out from INDEX.md §4 and the
// data):
//
//   - wsman-yaml: the YAML's messages[i].request / .response strings are
//     fed, in document order (request before response, entries in order),
//     as one WSMan input, so reassembly runs across envelopes as INDEX.md
//     asks ("reassemble per direction … across envelopes"). Envelope k of
//     that input is the k-th envelope string; (entry, side) therefore
//     names one Position.Envelope. The record is the one whose
//     Pos.Envelope, Pos.Element ("creationXml", "rsp:Stream", …),
//     Pos.ElementIndex (0-based among same-named elements of that
//     envelope) and Pos.Fragment (0-based index, among the fragments that
//     end in that element's bytes, of the fragment that ends the message)
//     equal the locator's; exactly one must match. direction_ordinal is
//     then cross-checked: it is the record's 0-based index among all
//     records of its direction in emission order (non-PowerShell
//     envelopes produce none: the decoder skips them, as INDEX.md says
//     to). stream_name and CommandId, when given, must equal
//     Pos.Stream/Pos.CommandID, and side must agree with the direction.
//   - outofproc-lines: line is 1-based (E097/E098 are the two messages of
//     line 2 of PSRPPacket.Tests.packets.txt). Files whose lines INDEX.md
//     calls independent captures are decoded one line at a time with
//     fresh state (the line alone is the input); other files (the
//     3-line large-psrp-packet.txt, one message over three Data lines)
//     are decoded whole. The record is the one whose Pos.Line and
//     Pos.Fragment (index of the final fragment among the fragments ending
//     in that line's Data) equal the locator's; PSGuid and Stream must
//     match too.
//   - base64-lines: the whole file in the Fragments format (one stream);
//     Pos.Line and Pos.Fragment as above.
//
// Then the header fields are compared, and every key of `checked` is
// interpreted by checkKey (its table is documented there). A key the
// table cannot interpret fails the test, naming the key.

import (
	"bytes"
	"encoding/json"
	"fmt"
	req "github.com/psmux/psmux/testenv/require"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"crypto/sha256"
	"encoding/hex"

	"gopkg.in/yaml.v3"

	"github.com/psmux/psmux/sessions/clixml"
	"github.com/psmux/psmux/sessions/psrp"
)

// independentLines lists the outofproc-lines files whose lines come from
// independent captures (INDEX.md §3: "decode each line with fresh
// reassembly state").
var independentLines = map[string]bool{
	"ansible-debugger-oop/PSRPPacket.Tests.packets.txt": true,
}

// corpusDir returns the corpus directory or skips the test.
func corpusDir(t testing.TB) string {
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

type expectation struct {
	ID               string          `json:"id"`
	File             string          `json:"file"`
	Framing          string          `json:"framing"`
	Locator          locator         `json:"locator"`
	Destination      string          `json:"destination"`
	MessageType      string          `json:"message_type"`
	MessageTypeValue string          `json:"message_type_value"`
	RPID             string          `json:"rpid"`
	PID              string          `json:"pid"`
	ObjectID         uint64          `json:"object_id"`
	FragmentIDs      []uint64        `json:"fragment_ids"`
	BOM              bool            `json:"data_has_utf8_bom"`
	DataLength       int             `json:"data_length_bytes"`
	Checked          json.RawMessage `json:"checked"`
}

type locator struct {
	Entry            *int   `json:"entry"`
	Side             string `json:"side"`
	Element          string `json:"element"`
	ElementIndex     *int   `json:"element_index"`
	FragmentIndex    int    `json:"fragment_index"`
	DirectionOrdinal *int   `json:"direction_ordinal"`
	StreamName       string `json:"stream_name"`
	CommandID        string `json:"CommandId"`
	Line             int    `json:"line"`
	PSGuid           string `json:"PSGuid"`
	Stream           string `json:"Stream"`
}

func readExpectations(t *testing.T, dir string) []expectation {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "expect.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var out []expectation
	for i, line := range bytes.Split(data, []byte{'\n'}) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var e expectation
		if err := json.Unmarshal(line, &e); err != nil {
			t.Fatalf("expect.jsonl line %d: %v", i+1, err)
		}
		out = append(out, e)
	}
	return out
}

// decoded is one decoded input: its records in emission order, their JSON
// lines parsed back, the warnings, and for WSMan which (entry, side) each
// envelope came from.
type decoded struct {
	recs      []Record
	json      []map[string]any
	warnings  []string
	envelopes []string // "entry/side" per envelope ordinal
}

type corpusCache struct {
	mu sync.Mutex
	m  map[string]*decoded
}

func (c *corpusCache) get(key string, make func() *decoded) *decoded {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d, ok := c.m[key]; ok {
		return d
	}
	d := make()
	c.m[key] = d
	return d
}

func decodeInput(t *testing.T, input []byte, f Format) *decoded {
	t.Helper()
	out := &decoded{}
	d := Decoder{Format: f, Warn: func(err error) { out.warnings = append(out.warnings, err.Error()) }}
	err := d.Decode(bytes.NewReader(input), func(r Record) error {
		line := AppendJSON(nil, r)
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			return fmt.Errorf("AppendJSON wrote invalid JSON %q: %v", line, err)
		}
		out.recs = append(out.recs, r)
		out.json = append(out.json, m)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var envelopeStart = regexp.MustCompile(`<([A-Za-z_][\w.-]*:)?Envelope[\s>/]`)

// yamlInput builds the WSMan input of a pypsrp YAML recording.
func yamlInput(t testing.TB, path string) ([]byte, []string) {
	t.Helper()
	input, envs, err := yamlEnvelopes(path)
	if err != nil {
		t.Fatal(err)
	}
	return input, envs
}

// yamlEnvelopes concatenates the request and response envelopes of a
// pypsrp YAML recording in document order, one per line, and says which
// messages[i].side each envelope came from ("i/side").
func yamlEnvelopes(path string) ([]byte, []string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	var doc struct {
		Messages []struct {
			Request  *string `yaml:"request"`
			Response *string `yaml:"response"`
		} `yaml:"messages"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	var input []byte
	var envs []string
	for i, m := range doc.Messages {
		for _, side := range []struct {
			name string
			s    *string
		}{{"request", m.Request}, {"response", m.Response}} {
			if side.s == nil {
				continue
			}
			for range envelopeStart.FindAllStringIndex(*side.s, -1) {
				envs = append(envs, fmt.Sprintf("%d/%s", i, side.name))
			}
			input = append(input, *side.s...)
			input = append(input, '\n')
		}
	}
	return input, envs, nil
}

func TestCorpus(t *testing.T) {
	dir := corpusDir(t)
	exps := readExpectations(t, dir)
	if len(exps) == 0 {
		t.Fatal("expect.jsonl holds no expectations")
	}
	cache := &corpusCache{m: make(map[string]*decoded)}
	passed := 0
	for _, e := range exps {
		ok := t.Run(e.ID, func(t *testing.T) {
			dec, idx := locate(t, dir, cache, e)
			rec, js := dec.recs[idx], dec.json[idx]
			checkLocator(t, e, dec, idx)
			checkHeader(t, e, rec, js)
			if rec.Err != nil {
				t.Fatalf("body did not decode: %v", rec.Err)
			}
			checked := parseChecked(t, e)
			c := &checker{t: t, rec: rec}
			root := node{v: rec.Value, j: js["data"], path: "data"}
			for _, k := range sortedKeys(checked) {
				c.key(root, k, checked[k])
			}
		})
		if ok {
			passed++
		}
	}
	t.Logf("corpus: %d of %d expectations pass", passed, len(exps))
}

func parseChecked(t *testing.T, e expectation) map[string]any {
	t.Helper()
	var checked map[string]any
	d := json.NewDecoder(bytes.NewReader(e.Checked))
	d.UseNumber()
	if err := d.Decode(&checked); err != nil {
		t.Fatalf("checked: %v", err)
	}
	return checked
}

// locate decodes the input an expectation names (cached per input) and
// returns the index of the record it describes, as the comment at the top
// of this file explains.
func locate(t *testing.T, dir string, cache *corpusCache, e expectation) (*decoded, int) {
	t.Helper()
	rel := strings.TrimPrefix(e.File, "shared/corpus/")
	path := filepath.Join(dir, filepath.FromSlash(rel))
	var dec *decoded
	var want func(r Record) bool
	var where string
	switch e.Framing {
	case "wsman-yaml":
		loc := e.Locator
		if loc.Entry == nil || loc.ElementIndex == nil || loc.Side == "" || loc.Element == "" {
			t.Fatalf("wsman-yaml locator incomplete: %+v", loc)
		}
		dec = cache.get(rel, func() *decoded {
			input, envs := yamlInput(t, path)
			d := decodeInput(t, input, WSMan)
			d.envelopes = envs
			return d
		})
		envKey := fmt.Sprintf("%d/%s", *loc.Entry, loc.Side)
		env := -1
		for i, k := range dec.envelopes {
			if k == envKey {
				if env >= 0 {
					t.Fatalf("messages[%d].%s holds more than one envelope", *loc.Entry, loc.Side)
				}
				env = i
			}
		}
		if env < 0 {
			t.Fatalf("messages[%d].%s: no envelope there", *loc.Entry, loc.Side)
		}
		where = fmt.Sprintf("messages[%d].%s %s[%d] frag#%d", *loc.Entry, loc.Side, loc.Element, *loc.ElementIndex, loc.FragmentIndex)
		want = func(r Record) bool {
			return r.Pos.Envelope == env && r.Pos.Element == loc.Element &&
				r.Pos.ElementIndex == *loc.ElementIndex && r.Pos.Fragment == loc.FragmentIndex
		}
	case "outofproc-lines", "base64-lines":
		loc := e.Locator
		if loc.Line <= 0 {
			t.Fatalf("locator without a 1-based line: %+v", loc)
		}
		format, lineWant := Fragments, loc.Line
		key := rel
		if e.Framing == "outofproc-lines" {
			format = OutOfProc
			if independentLines[rel] {
				key, lineWant = fmt.Sprintf("%s#%d", rel, loc.Line), 1
			}
		}
		dec = cache.get(key, func() *decoded {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if key != rel {
				lines := strings.SplitAfter(string(data), "\n")
				if loc.Line > len(lines) {
					t.Fatalf("%s has %d lines, locator names line %d", rel, len(lines), loc.Line)
				}
				data = []byte(lines[loc.Line-1])
			}
			return decodeInput(t, data, format)
		})
		where = fmt.Sprintf("line %d frag#%d", loc.Line, loc.FragmentIndex)
		want = func(r Record) bool { return r.Pos.Line == lineWant && r.Pos.Fragment == loc.FragmentIndex }
	default:
		t.Fatalf("unknown framing %q", e.Framing)
	}

	idx := -1
	for i, r := range dec.recs {
		if want(r) {
			if idx >= 0 {
				t.Fatalf("%s: two records there (%v and %v)", where, dec.recs[idx].Type, r.Type)
			}
			idx = i
		}
	}
	if idx < 0 {
		t.Fatalf("%s: no record decoded there; %d records, warnings: %q", where, len(dec.recs), dec.warnings)
	}
	return dec, idx
}

// checkLocator checks the parts of the locator that were not used to find
// the record.
func checkLocator(t *testing.T, e expectation, dec *decoded, idx int) {
	t.Helper()
	rec, loc := dec.recs[idx], e.Locator
	switch e.Framing {
	case "wsman-yaml":
		wantDir := ServerToClient
		if loc.Side == "request" {
			wantDir = ClientToServer
		}
		if rec.Direction != wantDir {
			t.Errorf("direction %v, want %v (%s side)", rec.Direction, wantDir, loc.Side)
		}
		if loc.DirectionOrdinal != nil {
			ord := 0
			for _, r := range dec.recs[:idx] {
				if r.Direction == rec.Direction {
					ord++
				}
			}
			if ord != *loc.DirectionOrdinal {
				t.Errorf("direction ordinal %d, want %d", ord, *loc.DirectionOrdinal)
			}
		}
		if loc.StreamName != "" && rec.Pos.Stream != loc.StreamName {
			t.Errorf("stream name %q, want %q", rec.Pos.Stream, loc.StreamName)
		}
		if loc.CommandID != "" && !strings.EqualFold(rec.Pos.CommandID, loc.CommandID) {
			t.Errorf("CommandId %q, want %q", rec.Pos.CommandID, loc.CommandID)
		}
	case "outofproc-lines":
		if loc.PSGuid != "" && rec.Pos.GUID.String() != loc.PSGuid {
			t.Errorf("PSGuid %v, want %s", rec.Pos.GUID, loc.PSGuid)
		}
		if loc.Stream != "" && rec.Pos.Stream != loc.Stream {
			t.Errorf("Stream %q, want %q", rec.Pos.Stream, loc.Stream)
		}
	}
}

// checkHeader compares the header fields, on the Record and on its JSON
// line.
func checkHeader(t *testing.T, e expectation, rec Record, js map[string]any) {
	t.Helper()
	eq := func(field string, got, want any) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: got %v, want %v", field, got, want)
		}
	}
	eq("destination", rec.Destination.String(), e.Destination)
	eq("message_type", rec.Type.String(), e.MessageType)
	eq("message_type_value", fmt.Sprintf("0x%08X", uint32(rec.Type)), e.MessageTypeValue)
	eq("rpid", rec.RPID.String(), e.RPID)
	eq("pid", rec.PID.String(), e.PID)
	eq("object_id", rec.ObjectID, e.ObjectID)
	eq("fragment_ids", rec.FragmentIDs, e.FragmentIDs)
	eq("data_has_utf8_bom", rec.BOM(), e.BOM)
	eq("data_length_bytes", len(rec.Data), e.DataLength)

	// The JSON line carries the same header.
	eq("json destination", js["destination"], e.Destination)
	eq("json type", js["type"], e.MessageType)
	eq("json type_value", js["type_value"], e.MessageTypeValue)
	eq("json rpid", js["rpid"], e.RPID)
	eq("json pid", js["pid"], e.PID)
	eq("json object_id", js["object_id"], e.ObjectID)
	var frags []string
	if fs, ok := js["fragments"].([]any); ok {
		for _, f := range fs {
			frags = append(frags, fmt.Sprint(f))
		}
	}
	var wantFrags []string
	for _, f := range e.FragmentIDs {
		wantFrags = append(wantFrags, strconv.FormatUint(f, 10))
	}
	eq("json fragments", frags, wantFrags)
	eq("json bom", js["bom"], e.BOM)
	wantDir := "ServerToClient"
	if e.Destination == "Server" {
		wantDir = "ClientToServer"
	}
	eq("json direction", js["direction"], wantDir)
	if _, ok := js["error"]; ok {
		t.Errorf("json error: %v", js["error"])
	}
}

// node is a decoded value and, side by side, its faithful JSON.
type node struct {
	v    clixml.Value
	j    any
	path string
	// absent marks a property that does not exist (only null and has_
	// checks accept it).
	absent bool
}

// reporter is the part of testing.T the checker uses, so that
// TestCorpusCheckerBites can count its complaints.
type reporter interface {
	Helper()
	Errorf(format string, args ...any)
}

type checker struct {
	t   reporter
	rec Record
}

func (c *checker) errorf(key string, format string, args ...any) {
	c.t.Helper()
	c.t.Errorf("checked %q: "+format, append([]any{key}, args...)...)
}

// aliases rewrite checked keys that name a path in a way of their own
// (the first that resolves wins; the key itself is tried first).
var aliases = []struct{ prefix, to string }{
	{"PSVersionTable.", "ApplicationPrivateData.PSVersionTable."}, // APPLICATION_PRIVATE_DATA
	{"IsNested_PowerShell", "PowerShell.IsNested"},                // CREATE_PIPELINE
	{"Cmds", "PowerShell.Cmds"},                                   // CREATE_PIPELINE
}

// stateNames gives the names of the state enums for "X_name" keys.
var stateNames = map[string]func(int64) string{
	"RunspaceState": func(n int64) string { return psrp.RunspacePoolStateValue(n).String() },
	"PipelineState": func(n int64) string { return psrp.PSInvocationState(n).String() },
}

// key interprets one checked key against n (the body, or a nested object
// for a nested checked dictionary such as ExceptionAsErrorRecord):
//
//	root                  summary of the body value (see summary)
//	type_names            the object's TypeNames
//	first_properties      the first six <Props> then <MS> members, as [name, summary]
//	data                  the raw body text (after the BOM)      (body only)
//	data_is_empty         whether the body is empty               (body only)
//	ToString              the object's <ToString>
//	NAME                  the property NAME (Props, then MS; case-insensitive
//	                      fallback, as PowerShell looks members up), compared by value
//	A.B.C                 a path: each step a property, else a DCT key; a final
//	                      "type" step is the object's first type name
//	has_X                 whether property X exists
//	X_is_null             whether property X is <Nil>
//	X_count               the number of items of property X's container
//	X_property_name       the exact spelling of property X (found case-insensitively)
//	X_name                the enum name of the state property X (RunspaceState, PipelineState)
//	aliases               PSVersionTable.X → ApplicationPrivateData.PSVersionTable.X,
//	                      IsNested_PowerShell → PowerShell.IsNested, Cmds → PowerShell.Cmds
//
// and compares values by the expectation's shape (see value). Anything
// else fails, naming the key.
func (c *checker) key(n node, key string, want any) {
	c.t.Helper()
	switch key {
	case "root":
		c.summary(key, n, want)
		return
	case "type_names":
		c.typeNames(key, n, want)
		return
	case "first_properties":
		c.firstProperties(key, n, want)
		return
	case "data":
		if n.path != "data" {
			break
		}
		s, ok := want.(string)
		if !ok || string(c.rec.Body()) != s {
			c.errorf(key, "body %q, want %v", c.rec.Body(), want)
		}
		return
	case "data_is_empty":
		if n.path != "data" {
			break
		}
		if fmt.Sprint(len(c.rec.Body()) == 0) != fmt.Sprint(want) {
			c.errorf(key, "body %q, want empty=%v", c.rec.Body(), want)
		}
		if c.rec.Value.Kind != clixml.Nil || n.j != nil {
			c.errorf(key, "empty body decoded to %v / JSON %v", c.rec.Value.Kind.Tag(), n.j)
		}
		return
	case "ToString":
		o := n.v.Obj
		if n.v.Kind != clixml.Object || o == nil || !o.HasToString {
			c.errorf(key, "%s has no ToString", n.path)
			return
		}
		c.scalar(key, o.ToString, jsonField(n.j, "ToString"), want, false)
		return
	}
	if p, ok := c.path(n, key); ok {
		c.value(key, p, want)
		return
	}
	for _, a := range aliases {
		if rest, ok := strings.CutPrefix(key, a.prefix); ok {
			if p, ok := c.path(n, a.to+rest); ok {
				c.value(key, p, want)
				return
			}
		}
	}
	if x, ok := strings.CutPrefix(key, "has_"); ok {
		_, found := prop(n, x)
		if fmt.Sprint(found) != fmt.Sprint(want) {
			c.errorf(key, "property %s exists: %v, want %v", x, found, want)
		}
		return
	}
	if x, ok := strings.CutSuffix(key, "_is_null"); ok {
		p, found := prop(n, x)
		if !found {
			c.errorf(key, "no property %s in %s", x, n.path)
			return
		}
		isNull := p.v.Kind == clixml.Nil && p.j == nil
		if fmt.Sprint(isNull) != fmt.Sprint(want) {
			c.errorf(key, "%s is <%s> (JSON %v), want null=%v", p.path, p.v.Kind.Tag(), p.j, want)
		}
		return
	}
	if x, ok := strings.CutSuffix(key, "_count"); ok {
		p, found := prop(n, x)
		if !found {
			c.errorf(key, "no property %s in %s", x, n.path)
			return
		}
		cnt, jcnt, ok := count(p)
		if !ok {
			c.errorf(key, "%s is no container", p.path)
			return
		}
		c.scalar(key, strconv.Itoa(cnt), json.Number(strconv.Itoa(jcnt)), want, false)
		return
	}
	if x, ok := strings.CutSuffix(key, "_property_name"); ok {
		name, found := propName(n, x)
		if !found || fmt.Sprint(want) != name {
			c.errorf(key, "property spelled %q (found %v), want %v", name, found, want)
		}
		return
	}
	if x, ok := strings.CutSuffix(key, "_name"); ok {
		if names, ok := stateNames[x]; ok {
			p, found := prop(n, x)
			if !found {
				c.errorf(key, "no property %s in %s", x, n.path)
				return
			}
			v, err := p.v.Int()
			if err != nil {
				c.errorf(key, "%s: %v", p.path, err)
				return
			}
			if names(v) != fmt.Sprint(want) {
				c.errorf(key, "%s = %d (%s), want %v", p.path, v, names(v), want)
			}
			return
		}
	}
	if want == nil {
		// null: the property is absent (or <Nil>, found above).
		return
	}
	c.errorf(key, "unrecognised checked key: no property, path or rule gives it a meaning in %s", n.path)
}

// value compares a property against an expectation, by the
// expectation's shape:
//
//	null                    the property is <Nil> or absent
//	"text", 12, true        its primitive text (an enum's underlying value)
//	{"tag": …}              a summary (see summary)
//	{"name", "value"}       an enum: ToString and underlying value
//	{"length", "prefix"[, "sha256"]}  a long string (also BA/SS text)
//	[scalars]               a list container's items, in order
//	[{"tag": …}, …]         a list container's items as summaries
//	[{other keys}, …]       a list container's items as nested checked dictionaries
//	{other keys}            a nested checked dictionary (e.g. ExceptionAsErrorRecord)
func (c *checker) value(key string, n node, want any) {
	c.t.Helper()
	if n.absent {
		if want != nil {
			c.errorf(key, "no property at %s", n.path)
		}
		return
	}
	switch w := want.(type) {
	case nil:
		if n.v.Kind != clixml.Nil || n.j != nil {
			c.errorf(key, "%s is <%s> (JSON %v), want null", n.path, n.v.Kind.Tag(), n.j)
		}
	case string, json.Number, bool:
		text, jt, ok := primitive(n)
		if !ok {
			c.errorf(key, "%s is <%s>, want the primitive %v", n.path, n.v.Kind.Tag(), want)
			return
		}
		c.scalar(key, text.Text, jt, want, text.Kind == clixml.Char)
	case map[string]any:
		switch {
		case w["tag"] != nil:
			c.summary(key, n, want)
		case len(w) == 2 && w["name"] != nil && hasKey(w, "value"):
			o := n.v.Obj
			if n.v.Kind != clixml.Object || o == nil || !o.HasToString || o.Primitive == nil {
				c.errorf(key, "%s is not an enum object", n.path)
				return
			}
			c.scalar(key+".name", o.ToString, jsonField(n.j, "ToString"), w["name"], false)
			c.scalar(key+".value", o.Primitive.Text, jsonField(n.j, "Value"), w["value"], false)
		case hasKey(w, "length") && hasKey(w, "prefix") && (len(w) == 2 || len(w) == 3 && hasKey(w, "sha256")):
			p, jt, ok := primitive(n)
			if !ok {
				c.errorf(key, "%s is <%s>, want a string", n.path, n.v.Kind.Tag())
				return
			}
			c.longString(key, p.Text, jt, w)
		default:
			for _, k := range sortedKeys(w) {
				c.key(n, k, w[k])
			}
		}
	case []any:
		items, jitems, ok := list(n)
		if !ok {
			c.errorf(key, "%s is not a list container", n.path)
			return
		}
		if len(items) != len(w) {
			c.errorf(key, "%s holds %d items, want %d", n.path, len(items), len(w))
			return
		}
		for i, wi := range w {
			item := node{v: items[i], j: index(jitems, i), path: fmt.Sprintf("%s[%d]", n.path, i)}
			if m, ok := wi.(map[string]any); ok && m["tag"] == nil {
				for _, k := range sortedKeys(m) {
					c.key(item, k, m[k])
				}
				continue
			}
			c.value(fmt.Sprintf("%s[%d]", key, i), item, wi)
		}
	default:
		c.errorf(key, "unrecognised expectation shape %T", want)
	}
}

// summary compares a value with {"tag", "value", "type", "ToString",
// "container", "count"}: the CLIXML tag; a primitive's text (or, for an
// object, the summary of its wrapped primitive); the first type name; the
// ToString; the container tag (LST IE STK QUE DCT) and its item count.
func (c *checker) summary(key string, n node, want any) {
	c.t.Helper()
	w, ok := want.(map[string]any)
	if !ok {
		c.errorf(key, "summary expectation is %T, want an object", want)
		return
	}
	if n.absent {
		c.errorf(key, "no value at %s", n.path)
		return
	}
	for _, k := range sortedKeys(w) {
		wv := w[k]
		switch k {
		case "tag":
			if n.v.Kind.Tag() != fmt.Sprint(wv) {
				c.errorf(key, "%s is <%s>, want <%v>", n.path, n.v.Kind.Tag(), wv)
			}
			if n.v.Kind == clixml.Nil && n.j != nil {
				c.errorf(key, "%s: <Nil> rendered as %v", n.path, n.j)
			}
		case "value":
			if n.v.Kind == clixml.Object {
				o := n.v.Obj
				if o == nil || o.Primitive == nil {
					c.errorf(key, "%s wraps no primitive", n.path)
					continue
				}
				c.summary(key+".value", node{v: *o.Primitive, j: jsonField(n.j, "Value"), path: n.path + ".Value"}, wv)
				continue
			}
			if m, ok := wv.(map[string]any); ok {
				_, jt, _ := primitive(n)
				c.longString(key, n.v.Text, jt, m)
				continue
			}
			_, jt, _ := primitive(n)
			c.scalar(key, n.v.Text, jt, wv, n.v.Kind == clixml.Char)
		case "type":
			o := n.v.Obj
			if n.v.Kind != clixml.Object || o == nil || len(o.TypeNames) == 0 {
				c.errorf(key, "%s has no type names", n.path)
				continue
			}
			c.scalar(key+".type", o.TypeNames[0], index(jsonField(n.j, "TypeNames"), 0), wv, false)
		case "ToString":
			o := n.v.Obj
			if n.v.Kind != clixml.Object || o == nil || !o.HasToString {
				c.errorf(key, "%s has no ToString", n.path)
				continue
			}
			c.scalar(key+".ToString", o.ToString, jsonField(n.j, "ToString"), wv, false)
		case "container":
			o := n.v.Obj
			got := ""
			if n.v.Kind == clixml.Object && o != nil {
				got = containerTags[o.Container]
			}
			if got != fmt.Sprint(wv) {
				c.errorf(key, "%s container %q, want %v", n.path, got, wv)
			}
			jk := "List"
			if got == "DCT" {
				jk = "Dict"
			}
			if jsonField(n.j, jk) == nil {
				c.errorf(key, "%s: JSON has no %s", n.path, jk)
			}
		case "count":
			cnt, jcnt, ok := count(n)
			if !ok {
				c.errorf(key, "%s is no container", n.path)
				continue
			}
			c.scalar(key+".count", strconv.Itoa(cnt), json.Number(strconv.Itoa(jcnt)), wv, false)
		default:
			c.errorf(key, "unrecognised summary field %q", k)
		}
	}
}

var containerTags = map[clixml.Container]string{
	clixml.NoContainer: "", clixml.List: "LST", clixml.Enumerable: "IE",
	clixml.Stack: "STK", clixml.Queue: "QUE", clixml.Dictionary: "DCT",
}

func (c *checker) typeNames(key string, n node, want any) {
	c.t.Helper()
	var got []string
	if n.v.Kind == clixml.Object && n.v.Obj != nil {
		got = n.v.Obj.TypeNames
	}
	var jgot []string
	if js, ok := jsonField(n.j, "TypeNames").([]any); ok {
		for _, x := range js {
			jgot = append(jgot, fmt.Sprint(x))
		}
	}
	var w []string
	if ws, ok := want.([]any); ok {
		for _, x := range ws {
			w = append(w, fmt.Sprint(x))
		}
	} else {
		c.errorf(key, "expectation is %T, want a list", want)
		return
	}
	if strings.Join(got, "\n") != strings.Join(w, "\n") {
		c.errorf(key, "TypeNames %q, want %q", got, w)
	}
	if strings.Join(jgot, "\n") != strings.Join(w, "\n") {
		c.errorf(key, "JSON TypeNames %q, want %q", jgot, w)
	}
}

func (c *checker) firstProperties(key string, n node, want any) {
	c.t.Helper()
	w, ok := want.([]any)
	if !ok {
		c.errorf(key, "expectation is %T, want a list", want)
		return
	}
	var all []clixml.Property
	var where []string
	if n.v.Kind == clixml.Object && n.v.Obj != nil {
		for _, p := range n.v.Obj.Props {
			all, where = append(all, p), append(where, "Props")
		}
		for _, p := range n.v.Obj.Members {
			all, where = append(all, p), append(where, "MS")
		}
	}
	if len(all) > 6 {
		all = all[:6]
	}
	if len(all) != len(w) {
		c.errorf(key, "%d properties, want %d", len(all), len(w))
		return
	}
	for i, wi := range w {
		pair, ok := wi.([]any)
		if !ok || len(pair) != 2 {
			c.errorf(key, "item %d is %v, want [name, summary]", i, wi)
			continue
		}
		if all[i].Name != fmt.Sprint(pair[0]) {
			c.errorf(key, "property %d is %q, want %v", i, all[i].Name, pair[0])
			continue
		}
		p := node{v: all[i].Value, j: jsonField(jsonField(n.j, where[i]), all[i].Name), path: n.path + "." + all[i].Name}
		c.summary(fmt.Sprintf("%s[%d]", key, i), p, pair[1])
	}
}

// scalar compares the wire text of a primitive (and its JSON rendering)
// with an expected scalar, by canonical text: strings as themselves,
// numbers as written, booleans as true/false. A <C> compares its decimal
// code unit on the wire and the character itself in JSON.
func (c *checker) scalar(key, text string, j any, want any, isChar bool) {
	c.t.Helper()
	w, ok := canon(want)
	if !ok {
		c.errorf(key, "expectation %v is not a scalar", want)
		return
	}
	if text != w {
		c.errorf(key, "wire text %q, want %q", text, w)
	}
	jt, ok := canon(j)
	if isChar {
		if n, err := strconv.Atoi(w); err == nil {
			w = string(rune(n))
		}
	}
	if !ok || jt != w {
		c.errorf(key, "JSON %v, want %q", j, w)
	}
}

func (c *checker) longString(key, text string, j any, w map[string]any) {
	c.t.Helper()
	for k := range w {
		if k != "length" && k != "prefix" && k != "sha256" {
			c.errorf(key, "unrecognised long-string field %q", k)
		}
	}
	if !hasKey(w, "length") || !hasKey(w, "prefix") {
		c.errorf(key, "long-string expectation without length and prefix: %v", w)
	}
	check := func(s, what string) {
		if n := utf8.RuneCountInString(s); fmt.Sprint(n) != fmt.Sprint(w["length"]) {
			c.errorf(key, "%s length %d, want %v", what, n, w["length"])
		}
		if p := fmt.Sprint(w["prefix"]); !strings.HasPrefix(s, p) {
			c.errorf(key, "%s starts %q, want prefix %q", what, s[:min(len(s), len(p))], p)
		}
		if h, ok := w["sha256"]; ok {
			sum := sha256.Sum256([]byte(s))
			if hex.EncodeToString(sum[:]) != fmt.Sprint(h) {
				c.errorf(key, "%s sha256 %x, want %v", what, sum, h)
			}
		}
	}
	check(text, "wire text")
	jt, ok := canon(j)
	if !ok {
		c.errorf(key, "JSON %T is no string", j)
		return
	}
	check(jt, "JSON")
}

// canon gives a scalar's canonical text. JSON wrappers of primitives
// ({"SecureString": …}, {"ScriptBlock": …}, an object's "Value") are
// looked through.
func canon(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		return strconv.FormatBool(x), true
	case map[string]any:
		for _, k := range []string{"SecureString", "ScriptBlock", "Value"} {
			if in, ok := x[k]; ok {
				return canon(in)
			}
		}
	}
	return "", false
}

// primitive returns the primitive n is or wraps (an enum's value), with
// its JSON rendering.
func primitive(n node) (clixml.Value, any, bool) {
	v, j := n.v, n.j
	for i := 0; i < 4 && v.Kind == clixml.Object && v.Obj != nil && v.Obj.Primitive != nil; i++ {
		v, j = *v.Obj.Primitive, jsonField(j, "Value")
	}
	switch v.Kind {
	case clixml.Object, clixml.MemberSet, clixml.ProgressRecord, clixml.Nil:
		return v, j, false
	}
	return v, j, true
}

// prop finds property name of n: <Props> then <MS>, exact spelling first,
// then case-insensitively.
func prop(n node, name string) (node, bool) {
	o := n.v.Obj
	if o == nil || (n.v.Kind != clixml.Object && n.v.Kind != clixml.MemberSet) {
		return node{}, false
	}
	for _, fold := range []bool{false, true} {
		for _, set := range []struct {
			ps []clixml.Property
			j  string
		}{{o.Props, "Props"}, {o.Members, "MS"}} {
			for _, p := range set.ps {
				if p.Name == name || fold && strings.EqualFold(p.Name, name) {
					return node{v: p.Value, j: jsonField(jsonField(n.j, set.j), p.Name), path: n.path + "." + p.Name}, true
				}
			}
		}
	}
	return node{}, false
}

func propName(n node, name string) (string, bool) {
	p, ok := prop(n, name)
	if !ok {
		return "", false
	}
	return p.path[strings.LastIndexByte(p.path, '.')+1:], true
}

// dictEntry finds the DCT entry of n whose key's text is key.
func dictEntry(n node, key string) (node, bool) {
	o := n.v.Obj
	if n.v.Kind != clixml.Object || o == nil || o.Container != clixml.Dictionary {
		return node{}, false
	}
	jd, _ := jsonField(n.j, "Dict").([]any)
	for i, e := range o.Dict {
		if e.Key.Str() == key {
			return node{v: e.Value, j: jsonField(index(jd, i), "Value"), path: n.path + "[" + key + "]"}, true
		}
	}
	return node{}, false
}

// path resolves a dotted path from n.
func (c *checker) path(n node, path string) (node, bool) {
	steps := strings.Split(path, ".")
	for i, s := range steps {
		if p, ok := prop(n, s); ok {
			n = p
			continue
		}
		if p, ok := dictEntry(n, s); ok {
			n = p
			continue
		}
		if s == "type" && i == len(steps)-1 && i > 0 && n.v.Kind == clixml.Object && n.v.Obj != nil && len(n.v.Obj.TypeNames) > 0 {
			return node{v: clixml.Str(n.v.Obj.TypeNames[0]), j: index(jsonField(n.j, "TypeNames"), 0), path: n.path + ".TypeNames[0]"}, true
		}
		return node{}, false
	}
	return n, true
}

// count returns the number of items of n's container, on the value and
// in JSON.
func count(n node) (int, int, bool) {
	o := n.v.Obj
	if n.v.Kind != clixml.Object || o == nil || o.Container == clixml.NoContainer {
		return 0, 0, false
	}
	if o.Container == clixml.Dictionary {
		jd, _ := jsonField(n.j, "Dict").([]any)
		return len(o.Dict), len(jd), true
	}
	jl, _ := jsonField(n.j, "List").([]any)
	return len(o.Items), len(jl), true
}

func list(n node) ([]clixml.Value, []any, bool) {
	o := n.v.Obj
	if n.v.Kind != clixml.Object || o == nil {
		return nil, nil, false
	}
	switch o.Container {
	case clixml.List, clixml.Enumerable, clixml.Stack, clixml.Queue:
		jl, _ := jsonField(n.j, "List").([]any)
		return o.Items, jl, true
	}
	return nil, nil, false
}

func jsonField(j any, name string) any {
	if m, ok := j.(map[string]any); ok {
		return m[name]
	}
	return nil
}

func index(j any, i int) any {
	if a, ok := j.([]any); ok && i < len(a) {
		return a[i]
	}
	return nil
}

func hasKey(m map[string]any, k string) bool {
	_, ok := m[k]
	return ok
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// TestCorpusCensus decodes every capture in the corpus and compares the
// message counts per direction and type with INDEX.md §1 (716 messages:
// 482 server→client, 234 client→server). Every body must decode, and no
// input may draw a warning.
func TestCorpusCensus(t *testing.T) {
	dir := corpusDir(t)
	want := map[string]int{
		"ServerToClient PIPELINE_OUTPUT": 151, "ServerToClient SESSION_CAPABILITY": 59,
		"ServerToClient APPLICATION_PRIVATE_DATA": 57, "ServerToClient RUNSPACEPOOL_STATE": 57,
		"ServerToClient PIPELINE_STATE": 52, "ServerToClient PROGRESS_RECORD": 33,
		"ServerToClient PIPELINE_HOST_CALL": 31, "ServerToClient DEBUG_RECORD": 12,
		"ServerToClient VERBOSE_RECORD": 4, "ServerToClient WARNING_RECORD": 5,
		"ServerToClient ERROR_RECORD": 4, "ServerToClient INFORMATION_RECORD": 3,
		"ServerToClient RUNSPACE_AVAILABILITY": 8, "ServerToClient RUNSPACEPOOL_INIT_DATA": 4,
		"ServerToClient ENCRYPTED_SESSION_KEY": 2,
		"ClientToServer SESSION_CAPABILITY":    59, "ClientToServer INIT_RUNSPACEPOOL": 55,
		"ClientToServer CREATE_PIPELINE": 47, "ClientToServer PIPELINE_INPUT": 36,
		"ClientToServer END_OF_PIPELINE_INPUT": 13, "ClientToServer PIPELINE_HOST_RESPONSE": 6,
		"ClientToServer CONNECT_RUNSPACEPOOL": 4, "ClientToServer PUBLIC_KEY": 3,
		"ClientToServer GET_COMMAND_METADATA": 3, "ClientToServer SET_MAX_RUNSPACES": 2,
		"ClientToServer SET_MIN_RUNSPACES": 2, "ClientToServer GET_AVAILABLE_RUNSPACES": 2,
		"ClientToServer RESET_RUNSPACE_STATE": 2,
	}
	got := map[string]int{}
	dirs := map[Direction]int{}
	add := func(name string, d *decoded) {
		for _, w := range d.warnings {
			t.Errorf("%s: warning: %s", name, w)
		}
		for _, r := range d.recs {
			got[r.Direction.String()+" "+r.Type.String()]++
			dirs[r.Direction]++
			if r.Err != nil {
				t.Errorf("%s: %v object %d: body does not decode: %v", name, r.Type, r.ObjectID, r.Err)
			}
		}
	}
	files, err := filepath.Glob(filepath.Join(dir, "*", "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range files {
		rel, _ := filepath.Rel(dir, path)
		rel = filepath.ToSlash(rel)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case strings.HasSuffix(rel, ".yml"):
			input, _ := yamlInput(t, path)
			add(rel, decodeInput(t, input, WSMan))
		case independentLines[rel]:
			for i, line := range strings.SplitAfter(string(data), "\n") {
				add(fmt.Sprintf("%s line %d", rel, i+1), decodeInput(t, []byte(line), OutOfProc))
			}
		case strings.HasSuffix(rel, ".txt"):
			add(rel, decodeInput(t, data, OutOfProc))
		case strings.HasSuffix(rel, ".b64"):
			add(rel, decodeInput(t, data, Fragments))
		case strings.HasSuffix(rel, ".xml"):
			add(rel, decodeInput(t, data, WSMan))
		case strings.HasSuffix(rel, ".clixml"):
			// a bare CLIXML object, not framed PSRP (INDEX.md §3)
		default:
			t.Errorf("%s: no framing known for this file", rel)
		}
	}
	for _, k := range sortedKeys(anyMap(want, got)) {
		if got[k] != want[k] {
			t.Errorf("%s: %d messages, INDEX.md says %d", k, got[k], want[k])
		}
	}
	if dirs[ServerToClient] != 482 || dirs[ClientToServer] != 234 || dirs[UnknownDirection] != 0 {
		t.Errorf("directions %v, want 482 server→client and 234 client→server", dirs)
	}
}

func anyMap(ms ...map[string]int) map[string]any {
	out := map[string]any{}
	for _, m := range ms {
		for k := range m {
			out[k] = nil
		}
	}
	return out
}

// countingReporter counts the complaints of a checker.
type countingReporter struct {
	n     int
	first string
}

func (r *countingReporter) Helper() {}

func (r *countingReporter) Errorf(format string, args ...any) {
	if r.n == 0 {
		r.first = fmt.Sprintf(format, args...)
	}
	r.n++
}

// TestCorpusCheckerBites proves the checker is not vacuous: for every
// expectation, every leaf of every checked value is altered in turn (a
// string gains a character, a number grows by one, a boolean flips, null
// becomes a string, a list gains an item, an object gains an unknown
// key), and each alteration must draw at least one complaint; so must an
// unknown checked key.
func TestCorpusCheckerBites(t *testing.T) {
	dir := corpusDir(t)
	cache := &corpusCache{m: make(map[string]*decoded)}
	total := 0
	for _, e := range readExpectations(t, dir) {
		t.Run(e.ID, func(t *testing.T) {
			dec, idx := locate(t, dir, cache, e)
			rec, js := dec.recs[idx], dec.json[idx]
			root := node{v: rec.Value, j: js["data"], path: "data"}
			checked := parseChecked(t, e)
			try := func(key string, want any) {
				t.Helper()
				total++
				var r countingReporter
				c := &checker{t: &r, rec: rec}
				c.key(root, key, want)
				if r.n == 0 {
					w, _ := json.Marshal(want)
					t.Errorf("checked %q altered to %s: no complaint", key, w)
				}
			}
			try("zz_unknown_key", json.Number("1"))
			for _, k := range sortedKeys(checked) {
				for _, m := range mutations(checked[k]) {
					try(k, m)
				}
			}
		})
	}
	t.Logf("%d altered expectations, all caught", total)
}

// mutations returns variants of v that each differ from it in one place.
func mutations(v any) []any {
	switch x := v.(type) {
	case nil:
		return []any{"mutated"}
	case string:
		return []any{x + "~"}
	case bool:
		return []any{!x}
	case json.Number:
		if n, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return []any{json.Number(strconv.FormatInt(n+1, 10))}
		}
		return []any{json.Number(string(x) + "1")}
	case []any:
		out := []any{append(slices.Clone(x), "mutated")}
		for i := range x {
			for _, m := range mutations(x[i]) {
				c := slices.Clone(x)
				c[i] = m
				out = append(out, c)
			}
		}
		return out
	case map[string]any:
		c := maps.Clone(x)
		c["zz_unknown"] = json.Number("1")
		out := []any{c}
		for _, k := range sortedKeys(x) {
			for _, m := range mutations(x[k]) {
				c := maps.Clone(x)
				c[k] = m
				out = append(out, c)
			}
		}
		return out
	}
	return nil
}
