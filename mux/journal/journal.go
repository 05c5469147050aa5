package journal

import (
	"bufio"
	"cmp"
	"context"
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

	"github.com/psmux/psmux/mux/outlog"
)

const (
	headerSize = 16
	// MaxRecord caps one record's data; a header claiming more is corrupt.
	MaxRecord = 256 << 20
	suffix    = ".seg"
	// markEvery is how many records apart the index marks a segment's
	// offsets.
	markEvery = 1024
	// batch is how many events the writer takes from the log at once.
	batch = 4096
	// due is how many events waiting for the writer end its Linger
	// (outlog.Log.KeepWanted): memory then holds about the tail and a
	// quarter batch, not the thousands of events a Linger gathers while
	// output streams.
	due = 1024
)

// Linger is how long the writer, woken by a first event, lets more
// gather before it writes them, unless a batch is there or a client
// waits to be shown them (outlog.Log.WaitKept): a bound on how long an
// event stays in memory only, and on the writer's wake-ups (a variable
// for tests).
var Linger = 5 * time.Millisecond

// SegmentSize is where a segment file is rotated (a variable for tests).
var SegmentSize int64 = 16 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

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
	count int    // records in it
	marks []mark // every markEvery-th record's place, from the first
}

// mark is where a record starts in its segment file.
type mark struct {
	seq uint64
	off int64
}

// hint is where a record starts in the segment whose first record is seg.
type hint struct {
	mark
	seg uint64
}

// Journal is one session's log on disk. Its methods are safe for
// concurrent use. It follows the session's output log (Follow) with a
// goroutine of its own, which takes the events appended since it last
// looked, writes them in one write(2), and tells the log they are kept
// (outlog.Log.Keep); the log then lets them leave memory and reads them
// back through Load. An appender never waits for the disk, unless the
// disk falls outlog.MaxBehind behind.
type Journal struct {
	dir   string
	limit int64

	mu   sync.Mutex // guards what follows (the writer changes it; Load reads it)
	segs []segment  // oldest first; the last is being written
	next uint64     // the sequence number the next record has (0: none yet)
	err  error      // the first write error; the journal stops then
	hint hint       // where the last Load stopped, to go on from there

	stop context.CancelFunc // ends the writer, nil until Follow
	done chan struct{}      // closed when the writer has ended
	once sync.Once

	// the writer's own
	f       *os.File
	buf     []byte
	syncer  sync.WaitGroup // the rotated segments' fsyncs, in the background
	syncing chan struct{}  // one token per fsync under way, at most MaxSyncing
	syncMu  sync.Mutex     // guards syncErr (the fsyncs run while the writer holds mu)
	syncErr error          // the first fsync's error, until waitSync returns it
	disk    *Disk          // nil, or the budget this journal shares with others
	rotated bool           // a segment was started since the last Trim
}

// SetDisk makes the journal share d with the other journals under
// d.Root: after starting a segment, its writer trims them all to d's
// limit. Call it before Follow.
func (j *Journal) SetDisk(d *Disk) { j.disk = d }

// Open opens the journal in dir (made owner-only if missing), keeping
// at most limit bytes of segments (0: no limit). It reads every record
// once to check it, shows each good one to visit (if not nil; the data
// is only valid during the call), and returns the history it holds, as
// spans of records for the log (outlog.Log.UseStore), and where a torn
// or corrupt tail was cut, if it was.
func Open(dir string, limit int64, visit func(seq uint64, data []byte)) (*Journal, []outlog.Span, *Cut, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, nil, fmt.Errorf("journal: %w", err)
	}
	j := &Journal{dir: dir, limit: limit, done: make(chan struct{}), syncing: make(chan struct{}, MaxSyncing)}
	segs, err := j.list()
	if err != nil {
		return nil, nil, nil, err
	}
	var spans []outlog.Span
	var cut *Cut
	for i, s := range segs {
		end, c, err := scan(s.path, max(j.next, 1)-1, func(seq uint64, off int64, data []byte) {
			if visit != nil {
				visit(seq, data)
			}
			if s.count%markEvery == 0 {
				s.marks = append(s.marks, mark{seq, off})
			}
			s.count++
			spans = outlog.AppendSpan(spans, seq, int64(len(data))+outlog.EventOverhead, 0)
			j.next = seq + 1
		})
		if errors.Is(err, os.ErrNotExist) && len(j.segs) == 0 {
			continue // the oldest, removed meanwhile for the disk budget
		}
		if err != nil {
			return nil, nil, nil, err
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
	if j.next == 0 && len(j.segs) > 0 {
		// no record is left (a cut took the first): the numbering goes
		// on from where the last segment began, never from 1 again
		j.next = j.segs[len(j.segs)-1].first
	}
	return j, slices.Clip(spans), cut, nil
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

// scan reads one segment's records, each after prev (0: any first
// record), up to the first bad one, calls each with every good record's
// place, and returns where the good ones end and, if it stopped early,
// why.
func scan(path string, prev uint64, each func(seq uint64, off int64, data []byte)) (int64, *Cut, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, nil, fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, nil, fmt.Errorf("journal: %w", err)
	}
	r := reader{br: bufio.NewReaderSize(f, 256<<10), size: st.Size()}
	for {
		seq, data, reason, err := r.next()
		if err != nil {
			return 0, nil, err
		}
		if reason == "" && data != nil && prev != 0 && seq != prev+1 {
			reason = fmt.Sprintf("sequence number %d after %d", seq, prev)
		}
		if reason != "" {
			return r.off, &Cut{File: path, Offset: r.off, Bytes: st.Size() - r.off, Reason: reason}, nil
		}
		if data == nil {
			return r.off, nil, nil // the end
		}
		each(seq, r.off, data)
		r.off += headerSize + int64(len(data))
		prev = seq
	}
}

// reader reads records from a segment file from off on.
type reader struct {
	br   *bufio.Reader
	off  int64 // where the next record starts
	size int64 // the file's size: no record claims past it
	data []byte
}

// next reads the record at r.off without moving past it: its sequence
// number and data (nil at a clean end), or why it cannot be trusted.
// The data is only valid until the next call.
func (r *reader) next() (uint64, []byte, string, error) {
	var h [headerSize]byte
	if _, err := io.ReadFull(r.br, h[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return 0, nil, "", nil
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, nil, "a torn record header", nil
		}
		return 0, nil, "", fmt.Errorf("journal: %w", err)
	}
	n := binary.BigEndian.Uint32(h[0:4])
	sum := binary.BigEndian.Uint32(h[4:8])
	seq := binary.BigEndian.Uint64(h[8:16])
	if n > MaxRecord {
		return 0, nil, fmt.Sprintf("a record length of %d bytes, past the cap of %d", n, MaxRecord), nil
	}
	if int64(n) > r.size-r.off-headerSize {
		return 0, nil, "a torn record", nil
	}
	if cap(r.data) < int(n) {
		r.data = make([]byte, n)
	}
	data := r.data[:n]
	if _, err := io.ReadFull(r.br, data); err != nil {
		return 0, nil, "a torn record", nil
	}
	if checksum(h[8:16], data) != sum {
		return 0, nil, "a checksum mismatch", nil
	}
	return seq, data, "", nil
}

func checksum(seq, data []byte) uint32 {
	return crc32.Update(crc32.Checksum(seq, castagnoli), castagnoli, data)
}

// Load reads up to max records from seq from on (outlog.Store): from
// the place the last Load stopped, or the nearest index mark before
// from. Records the journal no longer has (its oldest segments removed
// for its limit) are absent; a record that fails its checksum is an
// error.
func (j *Journal) Load(from uint64, limit int, dst []outlog.Event) ([]outlog.Event, error) {
	evs := dst[:0]
	j.mu.Lock()
	i, _ := slices.BinarySearchFunc(j.segs, from, func(s segment, seq uint64) int { return cmp.Compare(s.first, seq) })
	if i == len(j.segs) || j.segs[i].first != from {
		i = max(i-1, 0)
	}
	segs := slices.Clone(j.segs[min(i, len(j.segs)):])
	start := mark{}
	if len(segs) > 0 {
		if j.hint.seq == from && j.hint.seg == segs[0].first {
			start = j.hint.mark
		} else if k, ok := slices.BinarySearchFunc(segs[0].marks, from, func(m mark, seq uint64) int { return cmp.Compare(m.seq, seq) }); ok {
			start = segs[0].marks[k]
		} else if k > 0 {
			start = segs[0].marks[k-1]
		}
	}
	j.mu.Unlock()
	for si, s := range segs {
		if limit > 0 && len(evs) >= limit {
			break
		}
		off := int64(0)
		if si == 0 {
			off = start.off
		}
		var err error
		evs, off, err = loadSegment(s.path, off, from, limit, evs)
		if err != nil {
			return evs, err
		}
		if limit > 0 && len(evs) >= limit {
			j.mu.Lock()
			j.hint = hint{mark{evs[len(evs)-1].Seq + 1, off}, s.first}
			j.mu.Unlock()
		}
	}
	return evs, nil
}

// loadSegment appends to evs the records of one segment file from off
// on whose seq is at least from, until evs holds max; it returns where
// it stopped. A file gone (removed for the limit) holds nothing.
func loadSegment(path string, off int64, from uint64, limit int, evs []outlog.Event) ([]outlog.Event, int64, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return evs, 0, nil
	}
	if err != nil {
		return evs, 0, fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return evs, 0, fmt.Errorf("journal: %w", err)
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return evs, 0, fmt.Errorf("journal: %w", err)
	}
	r := reader{br: bufio.NewReaderSize(f, 32<<10), off: off, size: st.Size()}
	for limit <= 0 || len(evs) < limit {
		seq, data, reason, err := r.next()
		if err != nil {
			return evs, r.off, err
		}
		if reason != "" {
			if reason == "a torn record" || reason == "a torn record header" {
				break // a record being written: what comes after is not asked for yet
			}
			return evs, r.off, fmt.Errorf("journal: %s at byte %d: %s", path, r.off, reason)
		}
		if data == nil {
			break
		}
		r.off += headerSize + int64(len(data))
		if seq >= from {
			evs = append(evs, outlog.Event{Seq: seq, Data: slices.Clone(data)})
		}
	}
	return evs, r.off, nil
}

// Follow starts the journal's writer on l, from l's next event on (the
// journal, if it holds records, must end just before it), and hands l
// the journal as its store, keeping tail bytes of l in memory; history
// is what Open returned. Close stops the writer.
func (j *Journal) Follow(l *outlog.Log, tail int64, history []outlog.Span) error {
	st := l.Stats()
	j.mu.Lock()
	if j.stop != nil {
		j.mu.Unlock()
		return errors.New("journal: Follow called twice")
	}
	if j.next != 0 && j.next != st.Last+1 {
		j.mu.Unlock()
		return fmt.Errorf("journal: the journal ends at %d and the log at %d", j.next-1, st.Last)
	}
	ctx, stop := context.WithCancel(context.Background())
	j.stop = stop
	j.mu.Unlock()
	if err := l.UseStore(j, tail, history); err != nil {
		stop()
		close(j.done)
		return fmt.Errorf("journal: %w", err)
	}
	go j.follow(ctx, l, st.Last+1)
	return nil
}

// follow writes l's events from next on until ctx ends, then what the
// log still has, and closes the file.
func (j *Journal) follow(ctx context.Context, l *outlog.Log, next uint64) {
	defer close(j.done)
	// The writer takes the log's lock as seldom as it can (a Read and a
	// Keep a batch while output streams): an appender that finds it taken
	// sleeps, and the two would take turns instead of running side by side.
	var bs *buffers // from the pool while it writes, back in it when caught up
	var evs []outlog.Event
	draining, full := false, false
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	for {
		if !draining && !full { // caught up: wait for the next event
			if err := l.Wait(ctx, next); err != nil {
				if errors.Is(err, outlog.ErrClosed) {
					break
				}
				draining = true // Close: what the log has now, then stop
			}
		}
		if !draining && !full {
			// let a batch gather, unless a client waits to be shown it
			linger.Reset(Linger)
			select {
			case <-linger.C:
			case <-l.KeepWanted(next, due):
				linger.Stop()
			case <-ctx.Done():
				linger.Stop()
				draining = true
			}
		}
		if bs == nil {
			bs = writeBufs.Get().(*buffers)
			evs, j.buf = bs.evs, bs.out
		}
		var lost uint64
		evs, _, lost = l.Read(next, batch, evs[:0])
		full = len(evs) == batch
		if lost > 0 {
			j.fail(fmt.Errorf("journal: %d events left the log before they were written", lost), l)
			break
		}
		if len(evs) == 0 {
			if draining {
				break
			}
			continue
		}
		if err := j.write(evs); err != nil {
			j.fail(err, l)
			break
		}
		if j.rotated { // before Keep: what a client was shown fits the budget
			j.rotated = false
			if err := j.disk.Trim(); err != nil {
				j.fail(err, l)
				break
			}
		}
		l.Keep(evs[len(evs)-1].Seq)
		next = evs[len(evs)-1].Seq + 1
		clear(evs)
		if !full { // caught up: it holds no buffer while it waits
			bs.evs, bs.out = evs[:0], j.buf[:0]
			writeBufs.Put(bs)
			bs, evs, j.buf = nil, nil, nil
		}
	}
	if err := j.finish(); err != nil {
		j.fail(err, l)
	}
}

// buffers are a writer's: the events it took from the log and the
// records it writes.
type buffers struct {
	evs []outlog.Event
	out []byte
}

// writeBufs holds the buffers of the writers that are caught up: one
// whose session streams output takes the same ones back a batch after
// the other instead of making garbage, and an idle session holds none.
var writeBufs = sync.Pool{New: func() any {
	// at their full size at once: grown by append, each new pair would
	// leave half a megabyte of garbage behind
	return &buffers{evs: make([]outlog.Event, 0, batch), out: make([]byte, 0, maxWriteBuf+64<<10)}
}}

// fail records the journal's first error and tells the log the store
// takes nothing more.
func (j *Journal) fail(err error, l *outlog.Log) {
	j.mu.Lock()
	if j.err == nil {
		j.err = err
	}
	j.mu.Unlock()
	l.StoreFailed()
}

// write writes records to the segment files, one write(2) per segment
// touched: in the page cache, which a killed process cannot lose.
func (j *Journal) write(evs []outlog.Event) error {
	j.mu.Lock() // held through the writes: a Load waits for them
	defer j.mu.Unlock()
	buf := j.buf[:0]
	for _, e := range evs {
		if j.f == nil || j.last().size >= SegmentSize {
			if err := j.put(buf); err != nil {
				return err
			}
			buf = buf[:0]
			if err := j.rotate(e.Seq); err != nil {
				return err
			}
		}
		// the header, then the data; the checksum covers the sequence
		// number and the data, which follow each other
		at := len(buf)
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(e.Data)))
		buf = binary.BigEndian.AppendUint32(buf, 0)
		buf = binary.BigEndian.AppendUint64(buf, e.Seq)
		buf = append(buf, e.Data...)
		binary.BigEndian.PutUint32(buf[at+4:], crc32.Checksum(buf[at+8:], castagnoli))
		s := j.last()
		if s.count%markEvery == 0 {
			s.marks = append(s.marks, mark{e.Seq, s.size})
		}
		s.count++
		s.size += headerSize + int64(len(e.Data))
		j.next = e.Seq + 1
		if len(buf) >= maxWriteBuf { // large events: written as they come, not gathered
			if err := j.put(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	if cap(buf) <= 2*maxWriteBuf {
		j.buf = buf
	} else {
		j.buf = nil
	}
	return j.put(buf)
}

// maxWriteBuf is the most write gathers before it writes.
const maxWriteBuf = 256 << 10

// last is the segment being written (there is one once rotate ran); j.mu
// is held.
func (j *Journal) last() *segment { return &j.segs[len(j.segs)-1] }

func (j *Journal) put(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	if _, err := j.f.Write(b); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return nil
}

// MaxSyncing is how many rotated segments may be fsynced in the
// background at once: the writer waits for the disk only when that many
// (MaxSyncing × SegmentSize, 64 MiB) are still being synced. A burst of
// output is written at the page cache's pace, sustained output at the
// disk's.
const MaxSyncing = 4

// syncFile fsyncs a rotated segment (a variable for tests).
var syncFile = (*os.File).Sync

// rotate starts a segment whose first record is seq, the one it ends
// fsynced and closed in the background (the writer goes on meanwhile,
// unless MaxSyncing fsyncs are under way); or, just opened, goes on
// writing the last segment if it has room. j.mu is held.
func (j *Journal) rotate(seq uint64) error {
	if err := j.syncFailed(); err != nil {
		return err
	}
	if f := j.f; f != nil {
		j.f = nil
		j.syncing <- struct{}{}
		j.syncer.Go(func() { // it takes no j.mu: rotate may wait for it under j.mu
			defer func() { <-j.syncing }()
			err := syncFile(f)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				j.syncMu.Lock()
				j.syncErr = cmp.Or(j.syncErr, fmt.Errorf("journal: %w", err))
				j.syncMu.Unlock()
			}
		})
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
	j.rotated = true
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

// waitSync waits for the background fsyncs of the rotated segments and
// returns the first one's error.
func (j *Journal) waitSync() error {
	j.syncer.Wait()
	return j.syncFailed()
}

// syncFailed returns, once, the error of a background fsync that failed.
func (j *Journal) syncFailed() error {
	j.syncMu.Lock()
	defer j.syncMu.Unlock()
	err := j.syncErr
	j.syncErr = nil
	return err
}

// finish fsyncs and closes the segment file, once the background
// fsync of the one before is done.
func (j *Journal) finish() error {
	if err := j.waitSync(); err != nil {
		if j.f != nil {
			j.f.Close()
			j.f = nil
		}
		return err
	}
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

// Close stops the writer once it has written what the log holds,
// fsyncs and closes the file, and returns the first write error.
func (j *Journal) Close() error {
	j.mu.Lock()
	stop := j.stop
	j.mu.Unlock()
	j.once.Do(func() {
		if stop == nil {
			close(j.done) // never followed: no writer
			return
		}
		stop()
	})
	<-j.done
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.err
}

// Err returns the error that stopped the journal, if one did.
func (j *Journal) Err() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.err
}

// Remove deletes a journal's directory (a session removed for good).
func Remove(dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return nil
}
