package journal

import (
	"bufio"
	"cmp"
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
// concurrent use. Append only queues a record; a writer goroutine of
// the journal's own writes the queue in batches, one write(2) each, when
// 1024 records are queued, when a Sync waits, or FlushDelay after the
// first record was queued, so an appender never waits for the disk.
type Journal struct {
	dir   string
	limit int64

	mu      sync.Mutex
	cond    sync.Cond         // broadcast when the queue, flushed, err or closed change
	next    uint64            // the sequence number the next queued record has
	pending map[uint64][]byte // records that came before the ones ahead of them
	queue   []Record          // in order, for the writer
	queued  int64             // the queue's bytes
	flushed uint64            // every record up to it is in the file
	want    uint64            // what a Sync waits for
	err     error             // the first write error; the journal stops then
	closed  bool
	done    chan struct{} // closed when the writer has ended
	timer   *time.Timer   // FlushDelay after the first record queued

	// the writer's own
	segs  []segment // oldest first; the last is being written
	f     *os.File
	buf   []byte // a batch's bytes; dropped when idle
	spare []Record
}

// Open opens the journal in dir (made owner-only if missing), keeping
// at most limit bytes of segments (0: no limit). It returns the records
// already there whose data together fit in keep bytes (the newest; 0:
// all), and where a torn or corrupt tail was cut, if it was.
func Open(dir string, limit, keep int64) (*Journal, []Record, *Cut, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, nil, fmt.Errorf("journal: %w", err)
	}
	j := &Journal{dir: dir, limit: limit, pending: map[uint64][]byte{}, done: make(chan struct{})}
	j.cond.L = &j.mu
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
	j.flushed = max(j.next, 1) - 1
	go j.writer()
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
	slices.SortFunc(segs, func(a, b segment) int { return cmp.Compare(a.first, b.first) })
	return segs, nil
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

// Append queues the record with sequence number seq. Records may arrive
// out of order (several goroutines append to one log); each is queued
// once all before it are. A record at or before one already queued is
// ignored. After a write error or Close, Append returns the error.
func (j *Journal) Append(seq uint64, data []byte) error { return j.append(seq, data, true) }

// AppendNoWait is Append for a caller that must never wait (a session's
// stderr reader): past the queue's bound it queues anyway.
func (j *Journal) AppendNoWait(seq uint64, data []byte) error { return j.append(seq, data, false) }

func (j *Journal) append(seq uint64, data []byte, wait bool) error {
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
		j.flushed = seq - 1
	}
	switch {
	case seq < j.next:
		return nil
	case seq > j.next:
		j.pending[seq] = data
		return nil
	}
	// a disk slower than the session holds the session back, rather
	// than the queue growing without bound
	for wait && j.queued > maxQueued && !j.closed && j.err == nil {
		j.cond.Broadcast() // the writer takes the queue now, not at its timer
		j.cond.Wait()
	}
	before, from := len(j.queue), j.next
	j.queue = append(j.queue, Record{Seq: seq, Data: data})
	j.queued += int64(len(data))
	j.next++
	for len(j.pending) > 0 {
		d, ok := j.pending[j.next]
		if !ok {
			break
		}
		delete(j.pending, j.next)
		j.queue = append(j.queue, Record{Seq: j.next, Data: d})
		j.queued += int64(len(d))
		j.next++
	}
	// the writer is woken for a batch, for a Sync waiting on this
	// record, or at the latest FlushDelay after a record is queued;
	// never for each record
	if before < batchSize && len(j.queue) >= batchSize || j.want >= from && j.want < j.next {
		j.cond.Broadcast()
	}
	if before == 0 {
		if j.timer == nil {
			j.timer = time.AfterFunc(FlushDelay, j.flushSoon)
		} else {
			j.timer.Reset(FlushDelay)
		}
	}
	return nil
}

// FlushDelay bounds how long a record waits in memory for the file when
// nobody asks for it (a variable for tests).
var FlushDelay = 100 * time.Millisecond

func (j *Journal) flushSoon() {
	j.mu.Lock()
	j.want = max(j.want, j.next-1)
	j.cond.Broadcast()
	j.mu.Unlock()
}

// batchSize is how many queued records wake the writer; maxQueued is
// how many bytes may wait for it before Append does.
const (
	batchSize = 1024
	maxQueued = 8 << 20
)

// writer writes the queue until Close, then fsyncs and closes the file.
func (j *Journal) writer() {
	defer close(j.done)
	for {
		j.mu.Lock()
		for (len(j.queue) == 0 || len(j.queue) < batchSize && j.want < j.queue[len(j.queue)-1].Seq && j.want <= j.flushed) && !j.closed {
			if len(j.queue) == 0 {
				j.buf = nil // an idle session holds no buffer
			}
			j.cond.Wait()
		}
		batch := j.queue
		j.queue, j.spare, j.queued = j.spare[:0], nil, 0
		closing := j.closed && len(batch) == 0
		failed := j.err != nil
		j.mu.Unlock()
		if closing {
			err := j.finish()
			j.mu.Lock()
			if err != nil && j.err == nil {
				j.err = err
			}
			j.cond.Broadcast()
			j.mu.Unlock()
			return
		}
		var err error
		if !failed {
			err = j.writeBatch(batch)
		}
		j.mu.Lock()
		if err == nil && !failed {
			j.flushed = batch[len(batch)-1].Seq
		}
		if err != nil && j.err == nil {
			j.err = err
		}
		clear(batch)
		j.spare = batch[:0]
		j.cond.Broadcast()
		j.mu.Unlock()
	}
}

// writeBatch writes records to the segment files, one write(2) per
// segment touched: in the page cache, which a killed process cannot
// lose.
func (j *Journal) writeBatch(batch []Record) error {
	buf := j.buf[:0]
	for _, r := range batch {
		if j.f == nil || j.segs[len(j.segs)-1].size >= SegmentSize {
			if err := j.put(buf); err != nil {
				return err
			}
			buf = buf[:0]
			if err := j.rotate(r.Seq); err != nil {
				return err
			}
		}
		var h [headerSize]byte
		binary.BigEndian.PutUint32(h[0:4], uint32(len(r.Data)))
		binary.BigEndian.PutUint64(h[8:16], r.Seq)
		binary.BigEndian.PutUint32(h[4:8], checksum(h[8:16], r.Data))
		buf = append(append(buf, h[:]...), r.Data...)
		j.segs[len(j.segs)-1].size += headerSize + int64(len(r.Data))
	}
	j.buf = buf
	return j.put(buf)
}

func (j *Journal) put(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	if _, err := j.f.Write(b); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return nil
}

// rotate closes the segment being written (fsynced) and starts one
// whose first record is seq; or, just opened, goes on writing the last
// segment if it has room.
func (j *Journal) rotate(seq uint64) error {
	if j.f != nil {
		if err := j.finish(); err != nil {
			return err
		}
	}
	if n := len(j.segs); n > 0 && j.segs[n-1].size < SegmentSize {
		f, err := os.OpenFile(j.segs[n-1].path, os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		j.f = f
		return nil
	}
	path := filepath.Join(j.dir, fmt.Sprintf("%020d%s", seq, suffix))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	j.f = f
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

// finish fsyncs and closes the segment file.
func (j *Journal) finish() error {
	if j.f == nil {
		return nil
	}
	err := j.f.Sync()
	if cerr := j.f.Close(); err == nil {
		err = cerr
	}
	j.f = nil
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return nil
}

// Sync waits, at most wait, until every record up to seq is in the
// file (records before it still on their way from another goroutine
// included). With wait 0 it does not wait.
func (j *Journal) Sync(seq uint64, wait time.Duration) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.flushed >= seq || j.err != nil {
		return j.err
	}
	j.want = max(j.want, seq)
	j.cond.Broadcast()
	if wait <= 0 {
		return nil
	}
	expired := false
	t := time.AfterFunc(wait, func() {
		j.mu.Lock()
		expired = true
		j.cond.Broadcast()
		j.mu.Unlock()
	})
	defer t.Stop()
	for j.flushed < seq && j.err == nil && !expired {
		select {
		case <-j.done:
			return j.err
		default:
		}
		j.cond.Wait()
	}
	return j.err
}

// Close writes what is queued, fsyncs and closes the file, and returns
// the first write error.
func (j *Journal) Close() error {
	j.mu.Lock()
	if j.timer != nil {
		j.timer.Stop()
	}
	j.closed = true
	j.cond.Broadcast()
	j.mu.Unlock()
	<-j.done
	j.mu.Lock()
	defer j.mu.Unlock()
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
