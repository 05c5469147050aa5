package journal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Disk bounds what the journals in the directories under Root hold
// together (the server's --max-disk): when they hold more than Limit,
// the oldest segment files go first, whichever journal they belong to;
// each journal's newest segment, the one being written, stays. What a
// journal loses this way its log reads as lost ("dropped") events.
type Disk struct {
	Root  string
	Limit int64
	mu    sync.Mutex // one trim at a time
}

// Trim removes the oldest segments until the journals under d.Root
// hold at most d.Limit bytes (or only their newest segments are left).
func (d *Disk) Trim() error {
	if d == nil || d.Limit <= 0 {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	dirs, err := os.ReadDir(d.Root)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("journal: %w", err)
	}
	type file struct {
		path string
		size int64
		mod  time.Time
	}
	var total int64
	var old []file // every segment but each journal's newest
	for _, dir := range dirs {
		if !dir.IsDir() {
			continue
		}
		ents, err := os.ReadDir(filepath.Join(d.Root, dir.Name()))
		if err != nil {
			continue // removed meanwhile
		}
		var segs []file
		for _, e := range ents { // by name: by first sequence number
			if !strings.HasSuffix(e.Name(), suffix) {
				continue
			}
			info, err := e.Info()
			if err != nil {
				continue
			}
			segs = append(segs, file{filepath.Join(d.Root, dir.Name(), e.Name()), info.Size(), info.ModTime()})
			total += info.Size()
		}
		if len(segs) > 1 {
			old = append(old, segs[:len(segs)-1]...)
		}
	}
	slices.SortFunc(old, func(a, b file) int { return a.mod.Compare(b.mod) })
	for _, f := range old {
		if total <= d.Limit {
			break
		}
		if err := os.Remove(f.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("journal: %w", err)
		}
		total -= f.size
	}
	return nil
}
