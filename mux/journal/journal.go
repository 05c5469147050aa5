package journal

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	headerSize = 16
	// MaxRecord caps one record's data; a header claiming more is corrupt.
	MaxRecord = 256 << 20
	suffix    = ".seg"
)

// SegmentSize is where a segment file is rotated (a variable for tests).
var SegmentSize int64 = 16 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Record is one event of the log: its sequence number and data.
type Record struct {
	Seq  uint64
	Data []byte
}

// Cut says where Open stopped trusting the journal.
type Cut struct {
	File   string // the segment file cut
	Offset int64  // where: the records before it are kept
	Bytes  int64  // how much was cut, later segments included
	Reason string
}

func (c *Cut) String() string {
	return fmt.Sprintf("%s at byte %d: %s (%d bytes cut)", c.File, c.Offset, c.Reason, c.Bytes)
}

type segment struct {
	first uint64
	path  string
	size  int64
}

// Journal is one session's log on disk. Its methods are safe for
// concurrent use.
type Journal struct {
	dir   string
	limit int64

	mu      sync.Mutex
	written sync.Cond // broadcast when next advances
	segs    []segment // oldest first; the last is being written
	f       *os.File
	w       *bufio.Writer
	next    uint64            // the sequence number the next record written has
	pending map[uint64][]byte // records that came before the ones ahead of them
	err     error             // the first write error; the journal stops then
	closed  bool
}

// Open opens the journal in dir (made owner-only if missing), keeping
// at most limit bytes of segments (0: no limit). It returns the records
// already there whose data together fit in keep bytes (the newest; 0:
// all), and where a torn or corrupt tail was cut, if it was.
func Open(dir string, limit, keep int64) (*Journal, []Record, *Cut, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, nil, fmt.Errorf("journal: %w", err)
	}
	j := &Journal{dir: dir, limit: limit, pending: map[uint64][]byte{}}
	j.written.L = &j.mu
	segs, err := j.list()
	if err != nil {
		return nil, nil, nil, err
	}
	var recs []Record
	var kept int64
	var cut *Cut
	for i, s := range segs {
		end, got, c, err := read(s.path, max(j.next, 1)-1)
		if err != nil {
			return nil, nil, nil, err
		}
		for _, r := range got {
			recs = append(recs, r)
			kept += int64(len(r.Data))
			for keep > 0 && kept > keep && len(recs) > 0 {
				kept -= int64(len(recs[0].Data))
				recs = recs[1:]
			}
			j.next = r.Seq + 1
		}
		s.size = end
		j.segs = append(j.segs, s)
		if c != nil {
			cut = c
			if err := os.Truncate(s.path, end); err != nil {
				return nil, nil, nil, fmt.Errorf("journal: cutting %s: %w", s.path, err)
			}
			for _, later := range segs[i+1:] {
				if st, err := os.Stat(later.path); err == nil {
					cut.Bytes += st.Size()
				}
				if err := os.Remove(later.path); err != nil {
					return nil, nil, nil, fmt.Errorf("journal: %w", err)
				}
			}
			break
		}
	}
	recs = slices.Clip(recs)
	return j, recs, cut, nil
}

// Next is the sequence number the next record is expected to have (1
// for an empty journal).
func (j *Journal) Next() uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return max(j.next, 1)
}

func (j *Journal) list() ([]segment, error) {
	ents, err := os.ReadDir(j.dir)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	var segs []segment
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, suffix) {
			continue
		}
		first, err := strconv.ParseUint(strings.TrimSuffix(name, suffix), 10, 64)
		if err != nil {
			continue
		}
		segs = append(segs, segment{first: first, path: filepath.Join(j.dir, name)})
	}
	slices.SortFunc(segs, func(a, b segment) int { return cmpU64(a.first, b.first) })
	return segs, nil
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// read reads one segment's records, each after prev (0: any first
// record), up to the first bad one, and returns where the good ones
// end and, if it stopped early, why.
func read(path string, prev uint64) (int64, []Record, *Cut, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, nil, nil, fmt.Errorf("journal: %w", err)
	}
	br := bufio.NewReaderSize(f, 256<<10)
	var off int64
	var recs []Record
	bad := func(reason string) (int64, []Record, *Cut, error) {
		return off, recs, &Cut{File: path, Offset: off, Bytes: st.Size() - off, Reason: reason}, nil
	}
	var h [headerSize]byte
	for {
		if _, err := io.ReadFull(br, h[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return off, recs, nil, nil
			}
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return bad("a torn record header")
			}
			return 0, nil, nil, fmt.Errorf("journal: %w", err)
		}
		n := binary.BigEndian.Uint32(h[0:4])
		sum := binary.BigEndian.Uint32(h[4:8])
		seq := binary.BigEndian.Uint64(h[8:16])
		if n > MaxRecord || int64(n) > st.Size()-off-headerSize {
			if int64(n) <= MaxRecord {
				return bad("a torn record")
			}
			return bad(fmt.Sprintf("a record length of %d bytes, past the cap of %d", n, MaxRecord))
		}
		data := make([]byte, n)
		if _, err := io.ReadFull(br, data); err != nil {
			return bad("a torn record")
		}
		if checksum(h[8:16], data) != sum {
			return bad("a checksum mismatch")
		}
		last := prev
		if len(recs) > 0 {
			last = recs[len(recs)-1].Seq
		}
		if last != 0 && seq != last+1 {
			return bad(fmt.Sprintf("sequence number %d after %d", seq, last))
		}
		recs = append(recs, Record{Seq: seq, Data: data})
		off += headerSize + int64(n)
	}
}

func checksum(seq, data []byte) uint32 {
	return crc32.Update(crc32.Checksum(seq, castagnoli), castagnoli, data)
}

// Append adds the record with sequence number seq. Records may arrive
// out of order (several goroutines append to one log); each is written
// once all before it are. A record at or before one already written is
// ignored. After a write error Append returns it and writes nothing
// more.
func (j *Journal) Append(seq uint64, data []byte) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return errClosed
	}
	if j.err != nil {
		return j.err
	}
	if j.next == 0 {
		j.next = seq // the first record of a new journal
	}
	switch {
	case seq < j.next:
		return nil
	case seq > j.next:
		j.pending[seq] = data
		return nil
	}
	if err := j.writeLocked(seq, data); err != nil {
		return err
	}
	for {
		d, ok := j.pending[j.next]
		if !ok {
			break
		}
		delete(j.pending, j.next)
		if err := j.writeLocked(j.next, d); err != nil {
			return err
		}
	}
	j.written.Broadcast()
	return nil
}

func (j *Journal) writeLocked(seq uint64, data []byte) error {
	if j.f == nil || j.segs[len(j.segs)-1].size >= SegmentSize {
		if err := j.rotateLocked(seq); err != nil {
			j.err = err
			return err
		}
	}
	var h [headerSize]byte
	binary.BigEndian.PutUint32(h[0:4], uint32(len(data)))
	binary.BigEndian.PutUint64(h[8:16], seq)
	binary.BigEndian.PutUint32(h[4:8], checksum(h[8:16], data))
	if _, err := j.w.Write(h[:]); err != nil {
		j.err = fmt.Errorf("journal: %w", err)
		return j.err
	}
	if _, err := j.w.Write(data); err != nil {
		j.err = fmt.Errorf("journal: %w", err)
		return j.err
	}
	j.segs[len(j.segs)-1].size += headerSize + int64(len(data))
	j.next = seq + 1
	return nil
}

// rotateLocked closes the segment being written (fsynced) and starts
// one whose first record is seq; or, just opened, goes on writing the
// last segment if it has room.
func (j *Journal) rotateLocked(seq uint64) error {
	if j.f != nil {
		if err := j.w.Flush(); err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		if err := j.f.Sync(); err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		if err := j.f.Close(); err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		j.f = nil
	}
	if n := len(j.segs); n > 0 && j.segs[n-1].size < SegmentSize {
		f, err := os.OpenFile(j.segs[n-1].path, os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		j.f, j.w = f, bufio.NewWriterSize(f, 64<<10)
		return nil
	}
	path := filepath.Join(j.dir, fmt.Sprintf("%020d%s", seq, suffix))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	j.f, j.w = f, bufio.NewWriterSize(f, 64<<10)
	j.segs = append(j.segs, segment{first: seq, path: path})
	// the oldest segments go when the journal is over its limit
	var total int64
	for _, s := range j.segs {
		total += s.size
	}
	for j.limit > 0 && total > j.limit && len(j.segs) > 1 {
		total -= j.segs[0].size
		if err := os.Remove(j.segs[0].path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("journal: %w", err)
		}
		j.segs = j.segs[1:]
	}
	return nil
}

// Sync writes every record up to seq to the file, waiting at most wait
// for records before it that are still on their way (Append from
// another goroutine).
func (j *Journal) Sync(seq uint64, wait time.Duration) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed { // Close wrote everything
		return j.err
	}
	if j.next <= seq && wait > 0 {
		deadline := time.AfterFunc(wait, func() {
			j.mu.Lock()
			j.written.Broadcast()
			j.mu.Unlock()
		})
		start := time.Now()
		for j.next <= seq && j.err == nil && time.Since(start) < wait {
			j.written.Wait()
		}
		deadline.Stop()
	}
	if j.err != nil {
		return j.err
	}
	if j.w == nil {
		return nil
	}
	if err := j.w.Flush(); err != nil {
		j.err = fmt.Errorf("journal: %w", err)
	}
	return j.err
}

// Close writes what is buffered, fsyncs and closes the file.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.closed = true
	if j.f == nil {
		return j.err
	}
	err := j.w.Flush()
	if serr := j.f.Sync(); err == nil {
		err = serr
	}
	if cerr := j.f.Close(); err == nil {
		err = cerr
	}
	j.f = nil
	if err != nil && j.err == nil {
		j.err = fmt.Errorf("journal: %w", err)
	}
	return j.err
}

var errClosed = errors.New("journal: closed")

// Remove deletes a journal's directory (a session removed for good).
func Remove(dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return nil
}
