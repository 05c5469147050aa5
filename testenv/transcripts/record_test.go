//go:build record

package transcripts_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/psmux/psmux/sessions"
	req "github.com/psmux/psmux/testenv/require"
	"github.com/psmux/psmux/testenv/transcripts"
	"github.com/psmux/psmux/testenv/transcripts/record"
)

// RecordDir etc. come from the package under test.
var (
	RecordDir  = transcripts.RecordDir
	Scenarios  = transcripts.Scenarios
	Transcript = transcripts.Transcript
)

var recordFlag = flag.Bool("record", false, "re-record testdata/*.oop from real pwsh")

// TestRecord re-records every scenario from real pwsh:
//
//	go test -tags record -run TestRecord ./testenv/transcripts -record
//
// (the build tag keeps it out of the suite, where it would only skip).
func TestRecord(t *testing.T) {
	if !*recordFlag {
		t.Fatal("run with -record to re-record the transcripts from real pwsh")
	}
	server := req.PwshServer(t)
	prepareRecordDir(t)
	t.Chdir(RecordDir)
	t.Setenv("HOME", RecordDir) // pwsh -s starts in its home
	out := filepath.Join(srcDir, "testdata")
	for _, sc := range Scenarios {
		t.Run(sc.Name, func(t *testing.T) { recordScenario(t, server, sc, out) })
	}
}

var srcDir, _ = os.Getwd()

func prepareRecordDir(t *testing.T) {
	t.Helper()
	if err := os.RemoveAll(RecordDir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(RecordDir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(RecordDir, "a.txt"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	when := time.Date(2024, 5, 1, 13, 45, 10, 0, time.UTC)
	for _, p := range []string{"a.txt", "sub", "."} {
		if err := os.Chtimes(filepath.Join(RecordDir, p), when, when); err != nil {
			t.Fatal(err)
		}
	}
}

func recordScenario(t *testing.T, server string, sc transcripts.Scenario, dir string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tr, err := sessions.StartProcess(ctx, strings.Fields(server), nil)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := record.Run(ctx, tr, sc, &buf, t.Logf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, sc.Name+".oop"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestTranscriptsAreRecorded: every scenario has its transcript, and
// each transcript holds a whole session (negotiated, closed).
func TestTranscriptsAreRecorded(t *testing.T) {
	names := map[string]bool{}
	ents, err := os.ReadDir(filepath.Join(srcDir, "testdata"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		names[strings.TrimSuffix(e.Name(), ".oop")] = true
	}
	if len(ents) != len(Scenarios) {
		t.Errorf("%d files in testdata for %d scenarios", len(ents), len(Scenarios))
	}
	for _, sc := range Scenarios {
		data, err := Transcript(sc.Name)
		if err != nil || !names[sc.Name] {
			t.Fatalf("no transcript for %s (run go test ./testenv/transcripts -run TestRecord -record): %v", sc.Name, err)
		}
		s := string(data)
		if !strings.Contains(s, "S> <CloseAck") && !strings.Contains(s, "C> <Close ") {
			t.Errorf("%s: the session was not closed", sc.Name)
		}
		if strings.Contains(s, srcDir) {
			t.Errorf("%s: holds this machine's path %s", sc.Name, srcDir)
		}
	}
}
