package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

func sample(id int) Record {
	return Record{
		ID:                id,
		Name:              fmt.Sprintf("Runspace%d", id),
		InstanceID:        fmt.Sprintf("6f2c1c9e-0000-4000-8000-%012d", id),
		ComputerName:      "web1.example.org",
		UserName:          "admin",
		Transport:         "SSH",
		ConfigurationName: "powershell",
		Dest:              "admin@web1",
		SSH:               []string{"-p", "2222", "-i", "~/.ssh/id_ed25519", "-o", "ServerAliveInterval=30"},
		InitScript:        "Import-Module Az",
		Options:           map[string]string{"idle_timeout": "2h", "policy": "Block"},
		Created:           time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC),
	}
}

// files lists the names in dir, sorted.
func files(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "psmux", "default", FileName)
	local := Record{ID: 3, Name: "here", InstanceID: "x", ComputerName: "localhost", UserName: "me",
		Transport: "Local", Pwsh: "pwsh -NoProfile", Created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	want := Registry{Version: FormatVersion, NextID: 7, Sessions: []Record{sample(1), local}}
	if err := Save(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
	}
}

func TestLoadMissingIsEmpty(t *testing.T) {
	got, err := Load(filepath.Join(t.TempDir(), FileName))
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 1 || got.NextID != 1 || len(got.Sessions) != 0 {
		t.Errorf("Load(missing) = %+v, want an empty version 1 registry with NextID 1", got)
	}
}

func TestSaveFileMode0600(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no unix file modes")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	// A previous file with a loose mode is replaced, not rewritten in place.
	if err := os.WriteFile(path, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Save(path, Registry{Sessions: []Record{sample(1)}}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", fi.Mode())
	}
	sub := filepath.Join(dir, "new")
	if err := Save(filepath.Join(sub, FileName), Registry{}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(sub); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("created directory: %v %v, want 0700", fi, err)
	}
}

func TestCrashBeforeRenameKeepsPreviousFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	old := Registry{Sessions: []Record{sample(1)}}
	if err := Save(path, old); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	crash := errors.New("simulated crash")
	var sawTemp bool
	testHookBeforeRename = func(tmp string) error {
		// The new registry is complete on disk, next to the old one.
		_, err := os.Stat(tmp)
		sawTemp = err == nil && filepath.Dir(tmp) == dir
		return crash
	}
	defer func() { testHookBeforeRename = nil }()

	err = Save(path, Registry{Sessions: []Record{sample(1), sample(2)}})
	if !errors.Is(err, crash) || !strings.HasPrefix(err.Error(), "store: ") {
		t.Fatalf("Save = %v, want the simulated crash, wrapped", err)
	}
	if !sawTemp {
		t.Error("the temporary file was not in the registry's directory")
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(after) != string(before) {
		t.Errorf("the previous file changed:\n%s\nwant\n%s", after, before)
	}
	if got := files(t, dir); !reflect.DeepEqual(got, []string{FileName}) {
		t.Errorf("directory holds %v, want only %s", got, FileName)
	}
}

func TestRenameFailureLeavesNoTemp(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	// A non-empty directory where the file should be: the rename fails.
	if err := os.MkdirAll(filepath.Join(path, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := Save(path, Registry{Sessions: []Record{sample(1)}}); err == nil {
		t.Fatal("Save over a directory succeeded")
	}
	if got := files(t, dir); !reflect.DeepEqual(got, []string{FileName}) {
		t.Errorf("directory holds %v, want only the blocking directory", got)
	}
	if fi, err := os.Stat(path); err != nil || !fi.IsDir() {
		t.Errorf("the blocking directory was touched: %v %v", fi, err)
	}
}

func TestLeftoverTempFromKilledSaveIsSwept(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	leftover := filepath.Join(dir, "."+FileName+".tmp-123")
	if err := os.WriteFile(leftover, []byte(`{"version":1,"ses`), 0o600); err != nil {
		t.Fatal(err)
	}
	// A leftover is not the registry: Load ignores it.
	if reg, err := Load(path); err != nil || len(reg.Sessions) != 0 {
		t.Fatalf("Load = %+v, %v", reg, err)
	}
	if err := Save(path, Registry{}); err != nil {
		t.Fatal(err)
	}
	if got := files(t, dir); !reflect.DeepEqual(got, []string{FileName}) {
		t.Errorf("directory holds %v, want only %s", got, FileName)
	}
}

func TestCorruptFileErrorsAndQuarantine(t *testing.T) {
	cases := map[string]string{
		"truncated JSON": `{"version":1,"next_id":2,"sessions":[{"id":1,"na`,
		"not JSON":       "hello\n",
		"empty":          "",
		"wrong shape":    `{"version":1,"sessions":{"id":1}}`,
		"no version":     `{"next_id":1,"sessions":[]}`,
		"duplicate ids":  `{"version":1,"next_id":3,"sessions":[{"id":1,"name":"a"},{"id":1,"name":"b"}]}`,
		"duplicate name": `{"version":1,"next_id":3,"sessions":[{"id":1,"name":"a"},{"id":2,"name":"a"}]}`,
		"trailing data":  `{"version":1,"next_id":1,"sessions":[]} {}`,
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, FileName)
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			var ce *CorruptError
			if !errors.As(err, &ce) || ce.Path != path {
				t.Fatalf("Load = %v, want *CorruptError for %s", err, path)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "store: "+path) || !strings.Contains(msg, `expected JSON {"version":1`) {
				t.Errorf("error %q should name the file and what was expected", msg)
			}

			moved, err := Quarantine(path)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(moved, path+".corrupt-") {
				t.Errorf("quarantined as %s", moved)
			}
			if b, err := os.ReadFile(moved); err != nil || string(b) != content {
				t.Errorf("quarantined file: %q, %v; want the original content", b, err)
			}
			if reg, err := Load(path); err != nil || reg.NextID != 1 {
				t.Errorf("after quarantine Load = %+v, %v; want empty", reg, err)
			}
			// A second quarantine in the same instant does not overwrite
			// the first.
			if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
			moved2, err := Quarantine(path)
			if err != nil || moved2 == moved {
				t.Errorf("second quarantine: %s, %v", moved2, err)
			}
		})
	}
}

func TestNewerVersionIsNotCorrupt(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	if err := os.WriteFile(path, []byte(`{"version":2,"next_id":1,"sessions":[]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	var ve *VersionError
	var ce *CorruptError
	if !errors.As(err, &ve) || ve.Version != 2 || errors.As(err, &ce) {
		t.Fatalf("Load = %v, want *VersionError only", err)
	}
}

func TestNextIDNeverReusesAnID(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	if err := Save(path, Registry{NextID: 2, Sessions: []Record{sample(5)}}); err != nil {
		t.Fatal(err)
	}
	reg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if reg.NextID != 6 {
		t.Errorf("NextID = %d, want 6", reg.NextID)
	}
}

func TestBigRegistry(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	want := Registry{Version: FormatVersion, NextID: 1001}
	for i := 1; i <= 1000; i++ {
		want.Sessions = append(want.Sessions, sample(i))
	}
	if err := Save(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("1000-record round trip differs (got %d records)", len(got.Sessions))
	}
}

func TestSaveRefusesInvalidRegistry(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	a, b := sample(1), sample(1)
	b.Name = "other"
	for name, reg := range map[string]Registry{
		"duplicate id": {Sessions: []Record{a, b}},
		"zero id":      {Sessions: []Record{sample(0)}},
		"version 9":    {Version: 9},
	} {
		if err := Save(path, reg); err == nil || !strings.HasPrefix(err.Error(), "store: ") {
			t.Errorf("%s: Save = %v, want a store: error", name, err)
		}
	}
	if got := files(t, dir); len(got) != 0 {
		t.Errorf("something was written: %v", got)
	}
}

func TestDir(t *testing.T) {
	state := t.TempDir()
	t.Setenv("XDG_STATE_HOME", state)
	t.Setenv("PSMUX_SOCKET", "")
	for _, c := range []struct{ socket, want string }{
		{"/run/user/1000/psmux/work", filepath.Join(state, "psmux", "work")},
		{"/tmp/psmux-1000/default", filepath.Join(state, "psmux", "default")},
		{"/srv/x/my.sock", filepath.Join(state, "psmux", "srv_x_my.sock")},
	} {
		if got, err := Dir(c.socket); err != nil || got != c.want {
			t.Errorf("Dir(%s) = %s, %v; want %s", c.socket, got, err, c.want)
		}
	}
	t.Setenv("PSMUX_SOCKET", "/run/user/1000/psmux/env")
	if got, want := must(Dir("/run/user/1000/psmux/env")), filepath.Join(state, "psmux", "run_user_1000_psmux_env"); got != want {
		t.Errorf("Dir under $PSMUX_SOCKET = %s, want %s", got, want)
	}
	t.Setenv("PSMUX_SOCKET", "")

	home := t.TempDir()
	t.Setenv("XDG_STATE_HOME", "relative/is/ignored")
	t.Setenv("HOME", home)
	if runtime.GOOS == "windows" {
		t.Setenv("USERPROFILE", home)
	}
	if got, want := must(Dir("/tmp/psmux-1000/default")), filepath.Join(home, ".local", "state", "psmux", "default"); got != want {
		t.Errorf("Dir = %s, want %s", got, want)
	}
	if _, err := Dir("relative/sock"); err == nil {
		t.Error("Dir accepted a relative socket path")
	}
}

func must(s string, err error) string {
	if err != nil {
		panic(err)
	}
	return s
}
