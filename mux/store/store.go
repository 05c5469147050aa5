package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// FormatVersion is the registry format this package writes and reads.
const FormatVersion = 1

// FileName is the registry's file name inside its state directory.
const FileName = "sessions.json"

// maxFileSize caps what Load reads; a real registry of 1000 sessions is
// well under 1 MiB.
const maxFileSize = 64 << 20

// Record is one session as the server remembers it across restarts. No
// passwords, passphrases or answers to prompts ever go here: only what is
// needed to open the session again.
type Record struct {
	ID                int               `json:"id"`
	Name              string            `json:"name"`
	InstanceID        string            `json:"instance_id"`
	ComputerName      string            `json:"computer_name"`
	UserName          string            `json:"user_name"`
	Transport         string            `json:"transport"`          // "SSH" or "Local"
	ConfigurationName string            `json:"configuration_name"` // the SSH subsystem ("powershell"), "" for local
	Dest              string            `json:"dest,omitempty"`     // as the user typed it
	SSH               []string          `json:"ssh,omitempty"`      // the SSHFLAGS as given (-F, -l, -p, -i, -J, -o …), reused on reopen
	Pwsh              string            `json:"pwsh,omitempty"`     // local: the command
	InitScript        string            `json:"init_script,omitempty"`
	Options           map[string]string `json:"options,omitempty"` // idle timeout, budget, policy, max runspaces …
	Created           time.Time         `json:"created"`
}

// Registry is the whole saved state: the sessions and the next id to hand
// out, so ids stay unique across restarts.
type Registry struct {
	Version  int      `json:"version"` // FormatVersion
	NextID   int      `json:"next_id"`
	Sessions []Record `json:"sessions"`
}

// CorruptError says the file at Path is not a registry this package can
// read. The caller should move it aside with Quarantine and start empty.
type CorruptError struct {
	Path   string
	Reason string
	Err    error // the decoding error, if any
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf(`store: %s is not a valid session registry: %s (expected JSON {"version":%d,"next_id":N,"sessions":[...]})`,
		e.Path, e.Reason, FormatVersion)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// VersionError says the file was written in a newer format by a newer
// psmux. It is not corrupt; the caller should leave it alone (and not
// overwrite it) rather than quarantine it.
type VersionError struct {
	Path    string
	Version int
}

func (e *VersionError) Error() string {
	return fmt.Sprintf("store: %s has registry version %d; this psmux reads version %d (was it written by a newer psmux?)",
		e.Path, e.Version, FormatVersion)
}

// Dir returns the state directory of the server listening on socket (the
// registry, FileName, and the server's log live there):
// $XDG_STATE_HOME/psmux/<key>, with $HOME/.local/state when XDG_STATE_HOME
// is unset or not absolute (as the XDG base directory spec says). key is
// the socket's file name (its -L name) when the socket is in a psmux
// directory; a socket given as a path ($PSMUX_SOCKET, or a -S path outside
// a psmux directory) gets its whole path with '/' as '_', so two servers
// on different paths keep apart.
func Dir(socket string) (string, error) {
	if !filepath.IsAbs(socket) {
		return "", fmt.Errorf("store: socket path %q is not absolute", socket)
	}
	base := os.Getenv("XDG_STATE_HOME")
	if !filepath.IsAbs(base) {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("store: find the state directory: %w", err)
		}
		base = filepath.Join(home, ".local", "state")
	}
	key := filepath.Base(socket)
	if os.Getenv("PSMUX_SOCKET") != "" || !strings.Contains(socket, "psmux") {
		key = strings.ReplaceAll(strings.TrimPrefix(socket, "/"), "/", "_")
	}
	return filepath.Join(base, "psmux", key), nil
}

// Load reads the registry at path. A missing file is an empty registry
// (Version 1, NextID 1) and no error. A file that is not a valid registry
// gives a *CorruptError naming the file and what was expected; one from a
// newer format a *VersionError. A NextID not above every saved id is raised
// so ids are never reused.
func Load(path string) (Registry, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Registry{Version: FormatVersion, NextID: 1, Sessions: []Record{}}, nil
	}
	if err != nil {
		return Registry{}, fmt.Errorf("store: read %s: %w", path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return Registry{}, fmt.Errorf("store: read %s: %w", path, err)
	}
	if len(data) > maxFileSize {
		return Registry{}, &CorruptError{Path: path, Reason: fmt.Sprintf("larger than %d MiB", maxFileSize>>20)}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return Registry{}, &CorruptError{Path: path, Reason: "the file is empty"}
	}
	var reg Registry
	if err := json.Unmarshal(data, &reg); err != nil {
		return Registry{}, &CorruptError{Path: path, Reason: err.Error(), Err: err}
	}
	if reg.Version > FormatVersion {
		return Registry{}, &VersionError{Path: path, Version: reg.Version}
	}
	if reg.Version != FormatVersion {
		return Registry{}, &CorruptError{Path: path, Reason: fmt.Sprintf("version is %d", reg.Version)}
	}
	if reason := validate(&reg); reason != "" {
		return Registry{}, &CorruptError{Path: path, Reason: reason}
	}
	return reg, nil
}

// validate checks what the server relies on — ids >= 1, ids and names
// unique, names not empty — and raises NextID above every id. It returns
// what is wrong, or "".
func validate(reg *Registry) string {
	ids := make(map[int]bool, len(reg.Sessions))
	names := make(map[string]bool, len(reg.Sessions))
	maxID := 0
	for i, r := range reg.Sessions {
		switch {
		case r.ID < 1:
			return fmt.Sprintf("session %d has id %d; ids start at 1", i, r.ID)
		case ids[r.ID]:
			return fmt.Sprintf("session id %d appears twice", r.ID)
		case r.Name == "":
			return fmt.Sprintf("session id %d has no name", r.ID)
		case names[r.Name]:
			return fmt.Sprintf("session name %q appears twice", r.Name)
		}
		ids[r.ID], names[r.Name] = true, true
		maxID = max(maxID, r.ID)
	}
	reg.NextID = max(reg.NextID, maxID+1, 1)
	if reg.Sessions == nil {
		reg.Sessions = []Record{}
	}
	return ""
}

// saveMu serialises saves in this process: the sweep of temporary files
// left by a crashed save must not remove another save's file in flight.
// One server owns a registry file, so other processes do not write it.
var saveMu sync.Mutex

// testHookBeforeRename, when set, runs after the temporary file is written
// and synced and before the rename; an error aborts the save there.
var testHookBeforeRename func(tmp string) error

// Save writes reg to path atomically: a temporary file in the same
// directory (created 0600, the directory created 0700 if missing), written,
// fsynced, renamed over path, and the directory fsynced. On any failure the
// temporary file is removed and the previous file at path is untouched.
// Temporary files left by a save that was killed are removed after the
// next successful one.
//
// reg.Version 0 means FormatVersion; NextID is raised above every id. A
// registry Load would reject (duplicate ids or names, an id below 1, an
// empty name) is refused too.
func Save(path string, reg Registry) error {
	if reg.Version == 0 {
		reg.Version = FormatVersion
	}
	if reg.Version != FormatVersion {
		return fmt.Errorf("store: cannot save registry version %d; this psmux writes version %d", reg.Version, FormatVersion)
	}
	if reason := validate(&reg); reason != "" {
		return fmt.Errorf("store: refusing to save an invalid registry: %s", reason)
	}
	data, err := json.MarshalIndent(reg, "", "  ")
	if err != nil {
		return fmt.Errorf("store: encode registry: %w", err)
	}
	data = append(data, '\n')

	saveMu.Lock()
	defer saveMu.Unlock()
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("store: create %s: %w", dir, err)
	}
	prefix := "." + base + ".tmp-"
	f, err := os.CreateTemp(dir, prefix+"*")
	if err != nil {
		return fmt.Errorf("store: save %s: %w", path, err)
	}
	tmp := f.Name()
	fail := func(what string, err error) error {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("store: save %s: %s: %w", path, what, err)
	}
	if err := f.Chmod(0o600); err != nil {
		return fail("set mode", err)
	}
	if _, err := f.Write(data); err != nil {
		return fail("write", err)
	}
	if err := f.Sync(); err != nil {
		return fail("sync", err)
	}
	if err := f.Close(); err != nil {
		return fail("close", err)
	}
	if testHookBeforeRename != nil {
		if err := testHookBeforeRename(tmp); err != nil {
			return fail("before rename", err)
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail("rename", err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("store: saved %s but could not sync its directory: %w", path, err)
	}
	sweepTemps(dir, prefix)
	return nil
}

// sweepTemps removes temporary files a killed save left behind. Best
// effort: a leftover is harmless, only untidy.
func sweepTemps(dir, prefix string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasPrefix(e.Name(), prefix) {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// Quarantine moves a file Load could not read out of the way, to
// path+".corrupt-<UTC timestamp>", and returns the new name. The server
// then starts with an empty registry without losing the old file.
func Quarantine(path string) (string, error) {
	stamp := time.Now().UTC().Format("20060102T150405.000000000Z")
	dst := path + ".corrupt-" + stamp
	for n := 1; ; n++ {
		if _, err := os.Lstat(dst); errors.Is(err, fs.ErrNotExist) {
			break
		}
		dst = path + ".corrupt-" + stamp + "-" + strconv.Itoa(n)
	}
	if err := os.Rename(path, dst); err != nil {
		return "", fmt.Errorf("store: quarantine %s: %w", path, err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return dst, fmt.Errorf("store: quarantined %s as %s but could not sync the directory: %w", path, dst, err)
	}
	return dst, nil
}
