package clixml

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	req "github.com/psmux/psmux/testenv/require"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
)

// corpusDir is shared/corpus relative to this package's directory.
var corpusDir = filepath.Join("..", "..", "..", "shared", "corpus")

// corpusMsg is one complete PSRP message found in the corpus.
type corpusMsg struct {
	file        string
	objectID    int64
	destination uint32 // 1 = client (sent by a PowerShell server), 2 = server
	msgType     uint32
	body        []byte // CLIXML, BOM included when it was sent
}

var (
	corpusOnce sync.Once
	corpusMsgs []corpusMsg
)

var b64Run = regexp.MustCompile(`[A-Za-z0-9+/]{40,}={0,2}`)

// loadCorpus extracts every PSRP message body from the corpus: each
// base64 run in the data files (OutOfProc <Data> lines, WSMan
// creationXml / rsp:Stream / rsp:Arguments in the pypsrp and ironposh
// recordings, one-blob-per-line files) is decoded and parsed as PSRP
// fragments (psrp-brief §2–3); fragments are reassembled per file and
// ObjectId. Runs that are not fragment streams (WinRS cmd.exe output, …)
// fail the fragment checks and are skipped.
func loadCorpus() []corpusMsg {
	corpusOnce.Do(func() {
		var files []string
		for _, pat := range []string{"*/*.txt", "*/*.yml", "*/*.b64", "*/*.xml"} {
			m, _ := filepath.Glob(filepath.Join(corpusDir, pat))
			files = append(files, m...)
		}
		sort.Strings(files)
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			pending := map[int64][]byte{}
			for _, run := range b64Run.FindAll(data, -1) {
				raw, err := base64.StdEncoding.DecodeString(string(run))
				if err != nil {
					continue
				}
				for len(raw) >= 21 {
					oid := int64(binary.BigEndian.Uint64(raw[0:8]))
					flags := raw[16]
					n := int(int32(binary.BigEndian.Uint32(raw[17:21])))
					if oid <= 0 || flags&^3 != 0 || n < 0 || 21+n > len(raw) {
						break
					}
					blob := raw[21 : 21+n]
					raw = raw[21+n:]
					switch {
					case flags&1 != 0:
						pending[oid] = append([]byte(nil), blob...)
					case pending[oid] != nil:
						pending[oid] = append(pending[oid], blob...)
					default:
						continue
					}
					if flags&2 == 0 {
						continue
					}
					msg := pending[oid]
					delete(pending, oid)
					if len(msg) <= 40 {
						continue // no body (END_OF_PIPELINE_INPUT and the like)
					}
					corpusMsgs = append(corpusMsgs, corpusMsg{
						file:        filepath.Base(filepath.Dir(f)) + "/" + filepath.Base(f),
						objectID:    oid,
						destination: binary.LittleEndian.Uint32(msg[0:4]),
						msgType:     binary.LittleEndian.Uint32(msg[4:8]),
						body:        msg[40:],
					})
				}
			}
		}
	})
	return corpusMsgs
}

func needCorpus(t testing.TB) []corpusMsg {
	t.Helper()
	if _, err := os.Stat(corpusDir); err != nil {
		req.Missing(t, req.Corpus, "%s not found (%v)", corpusDir, err)
	}
	msgs := loadCorpus()
	if len(msgs) == 0 {
		req.Missing(t, req.Corpus, "no PSRP messages found under %s", corpusDir)
	}
	return msgs
}

// TestCorpusIronposhDirectoryInfo decodes the bare (not <Objs>-rooted)
// DirectoryInfo body from ironPosh, checks fields, and re-encodes it
// byte for byte.
func TestCorpusIronposhDirectoryInfo(t *testing.T) {
	path := filepath.Join(corpusDir, "ironposh", "parse_real_pipeline_output.clixml")
	data, err := os.ReadFile(path)
	if err != nil {
		req.Missing(t, req.Corpus, "%v", err)
	}
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("<Objs")) {
		t.Fatalf("expected a bare <Obj> body, found an <Objs> document")
	}
	v, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	o := v.Obj
	if v.Kind != Object || o == nil {
		t.Fatalf("expected an object, got %v", v.Kind)
	}
	if !o.IsA("System.IO.DirectoryInfo") || o.ToString != "ADMF" {
		t.Errorf("TypeNames %v ToString %q", o.TypeNames, o.ToString)
	}
	if fn, _ := o.Get("fullname"); fn.Str() != `C:\Users\Administrator\Documents\ADMF` {
		t.Errorf("FullName = %q", fn.Str())
	}
	ct, _ := o.Get("CreationTime")
	tm, err := ct.Time()
	if err != nil || tm.UTC().Format("2006-01-02T15:04:05.0000000Z") != "2023-08-31T18:40:37.0592148Z" {
		t.Errorf("CreationTime = %v, %v", tm, err)
	}
	if ex, _ := o.Get("Exists"); func() bool { b, err := ex.Bool(); return err != nil || !b }() {
		t.Errorf("Exists = %+v", ex)
	}
	drive, _ := o.Member("PSDrive")
	used, _ := drive.Get("Used")
	if n, err := used.Int(); err != nil || n != 66251223040 {
		t.Errorf("PSDrive.Used = %d, %v", n, err)
	}
	// The provider's Drives list holds the same drive again, written in
	// full (pwsh's depth-limited serializer), with TNRefs to earlier lists.
	prov, _ := o.Member("PSProvider")
	drives, _ := prov.Get("Drives")
	if drives.Obj == nil || drives.Obj.Container != List || len(drives.Obj.Items) != 3 {
		t.Fatalf("Drives = %+v", drives)
	}
	if &drives.Obj.Items[0].Obj.TypeNames[0] != &drive.Obj.TypeNames[0] {
		t.Errorf("TNRef did not resolve to the earlier TypeNames slice")
	}
	out := Encode(nil, v)
	want := bytes.TrimRight(data, "\r\n")
	if !bytes.Equal(out, want) {
		t.Errorf("re-encoding differs:\n got %s\nwant %s", out, want)
	}
}

// TestCorpusMessages decodes every message body in the corpus. Bodies
// written by real PowerShell (everything sent by a server, Destination 1,
// and the pwsh client messages outside pypsrp-winrm/) must re-encode byte
// for byte; the pypsrp client messages (which order attributes
// differently and write <S />) must re-encode to something that decodes
// to the same value.
func TestCorpusMessages(t *testing.T) {
	msgs := needCorpus(t)
	if len(msgs) < 100 {
		t.Fatalf("expected hundreds of messages in the corpus, found %d", len(msgs))
	}
	exact := 0
	for _, m := range msgs {
		v, err := Decode(m.body)
		if err != nil {
			t.Errorf("%s obj %d type %#x: %v", m.file, m.objectID, m.msgType, err)
			continue
		}
		out := Encode(nil, v)
		if m.destination == 1 || !strings.HasPrefix(m.file, "pypsrp-winrm/") {
			if want := bytes.TrimPrefix(m.body, []byte("\xef\xbb\xbf")); !bytes.Equal(out, want) {
				t.Errorf("%s obj %d: re-encoding differs from what PowerShell sent:\n got %.300s\nwant %.300s", m.file, m.objectID, out, want)
				continue
			}
			exact++
		}
		v2, err := Decode(out)
		if err != nil {
			t.Errorf("%s obj %d: re-decoding: %v", m.file, m.objectID, err)
			continue
		}
		if !equalValues(v, v2) {
			t.Errorf("%s obj %d: value changed by a round trip", m.file, m.objectID)
		}
		if j := AppendFaithfulJSON(nil, v); !json.Valid(j) {
			t.Errorf("%s obj %d: invalid faithful JSON %.200s", m.file, m.objectID, j)
		}
		if j := AppendPlainJSON(nil, v); !json.Valid(j) {
			t.Errorf("%s obj %d: invalid plain JSON %.200s", m.file, m.objectID, j)
		}
	}
	if exact < 400 {
		t.Errorf("expected 400+ PowerShell-written messages re-encoded exactly, got %d", exact)
	}
	t.Logf("%d messages decoded, %d PowerShell-written bodies re-encoded byte for byte", len(msgs), exact)
}

// TestCorpusKnownValues checks a few messages against the values in
// shared/corpus/INDEX.md (E099, E100, E101, E102).
func TestCorpusKnownValues(t *testing.T) {
	msgs := needCorpus(t)
	find := func(file string, oid int64) Value {
		t.Helper()
		for _, m := range msgs {
			if m.file == file && m.objectID == oid {
				v, err := Decode(m.body)
				if err != nil {
					t.Fatal(err)
				}
				return v
			}
		}
		t.Fatalf("message %s obj %d not in corpus", file, oid)
		return Value{}
	}
	const pk = "ansible-debugger-oop/PSRPPacket.Tests.packets.txt"
	if n, ok := find(pk, 343).Obj.Get("RunspaceState"); !ok || n.Text != "3" {
		t.Errorf("E099 RunspaceState = %+v", n)
	}
	st := find(pk, 329)
	if n, _ := st.Get("PipelineState"); n.Text != "4" {
		t.Errorf("E100 PipelineState = %+v", n)
	}
	if x, _ := st.Get("ExceptionAsErrorRecord"); !x.IsNil() {
		t.Errorf("E100 ExceptionAsErrorRecord = %+v", x)
	}
	er, _ := find(pk, 339).Get("ExceptionAsErrorRecord")
	if er.Str() != "The pipeline has been stopped." {
		t.Errorf("E101 ToString = %q", er.Str())
	}
	ex, _ := er.Get("Exception")
	if !ex.Obj.IsA("System.Management.Automation.PipelineStoppedException") {
		t.Errorf("E101 exception types %v", ex.Obj.TypeNames)
	}
	big := find("ansible-debugger-oop/large-psrp-packet.txt", 327)
	if big.Kind != String || len(big.Text) != 66560 || big.Text[:3] != "aaa" {
		t.Errorf("E102: kind %v len %d", big.Kind, len(big.Text))
	}
}
