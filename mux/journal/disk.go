package journal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
	var old [][]file // each journal's segments but its newest, oldest first
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
			old = append(old, segs[:len(segs)-1])
		}
	}
	// Only ever a journal's oldest segment goes (a gap in the middle
	// would read as damage): of those, the one written to last longest
	// ago, by name when two are as old.
	for total > d.Limit {
		best := -1
		for i, segs := range old {
			if len(segs) == 0 {
				continue
			}
			if b := old[max(best, 0)]; best < 0 || segs[0].mod.Before(b[0].mod) ||
				segs[0].mod.Equal(b[0].mod) && segs[0].path < b[0].path {
				best = i
			}
		}
		if best < 0 {
			return nil // only the segments being written are left
		}
		f := old[best][0]
		old[best] = old[best][1:]
		if err := os.Remove(f.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("journal: %w", err)
		}
		total -= f.size
	}
	return nil
}
