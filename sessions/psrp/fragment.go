package psrp

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// FragmentHeaderLen is the size of a fragment header (psrp-brief §2).
const FragmentHeaderLen = 21

// DefaultFragmentSize is pwsh's fragment size including the header.
const DefaultFragmentSize = 32 << 10

// MaxMessageDefault caps one reassembled message (SPEC S4): PowerShell's
// MaximumReceivedObjectSize default, 200 MB (200 << 20 bytes).
const MaxMessageDefault = 200 << 20

// Fragment is one PSRP fragment.
type Fragment struct {
	ObjectID   uint64
	FragmentID uint64
	Start, End bool
	Blob       []byte
}

// AppendFragment appends the wire form of f.
func AppendFragment(dst []byte, f Fragment) []byte {
	var h [FragmentHeaderLen]byte
	binary.BigEndian.PutUint64(h[0:], f.ObjectID)
	binary.BigEndian.PutUint64(h[8:], f.FragmentID)
	if f.Start {
		h[16] |= 1
	}
	if f.End {
		h[16] |= 2
	}
	binary.BigEndian.PutUint32(h[17:], uint32(len(f.Blob)))
	dst = append(dst, h[:]...)
	return append(dst, f.Blob...)
}

// FragmentError reports a fragment stream that breaks the rules of §2.
type FragmentError struct {
	Reason string
	Size   uint64 // for a message over the cap: its size so far
	Limit  int    // for a message over the cap: the cap
}

func (e *FragmentError) Error() string {
	if e.Limit > 0 {
		return "psrp: " + e.Reason
	}
	return "psrp: bad fragment: " + e.Reason
}

// sizeError is a message over the cap: Size is what was known when it
// was refused, the bytes so far with the next fragment.
func sizeError(size uint64, limit int) *FragmentError {
	return &FragmentError{Size: size, Limit: limit, Reason: fmt.Sprintf(
		"the object received (%d bytes so far) exceeds the maximum received object size, %d bytes (%d MB)",
		size, limit, limit>>20)}
}

// Fragmenter cuts messages into fragments with increasing object ids.
type Fragmenter struct {
	NextObjectID uint64 // the id of the next message; 0 means start at 1
	Size         int    // fragment size including the header; 0 = DefaultFragmentSize
}

// Fragment appends the fragments of msg to dst, as one byte stream.
func (f *Fragmenter) Fragment(dst []byte, msg []byte) []byte {
	_ = f.FragmentEach(msg, nil, func(fr []byte) error {
		dst = append(dst, fr...)
		return nil
	})
	return dst
}

// FragmentEach calls fn with each fragment of msg (whole fragments, one per
// call), as pwsh's server writes one fragment per Data packet.
func (f *Fragmenter) FragmentEach(msg []byte, scratch []byte, fn func(frag []byte) error) error {
	if f.NextObjectID == 0 {
		f.NextObjectID = 1
	}
	size := f.Size
	if size <= FragmentHeaderLen {
		size = DefaultFragmentSize
	}
	maxBlob := size - FragmentHeaderLen
	id := f.NextObjectID
	f.NextObjectID++
	var fid uint64
	for first := true; first || len(msg) > 0; first = false {
		n := min(len(msg), maxBlob)
		scratch = AppendFragment(scratch[:0], Fragment{ObjectID: id, FragmentID: fid, Start: first, End: n == len(msg), Blob: msg[:n]})
		if err := fn(scratch); err != nil {
			return err
		}
		msg = msg[n:]
		fid++
	}
	return nil
}

// Assembled is one reassembled message with where it came from.
type Assembled struct {
	ObjectID    uint64
	FragmentIDs []uint64 // filled only when the Defragmenter records them
	Message     []byte
	// Owned says Message is in no buffer anyone reuses: it was put
	// together from several fragments, or kept as it came (Keep).
	Owned bool
}

// Defragmenter reassembles one (PSGuid, Stream) byte stream of fragments.
// Payloads may hold several fragments or part of one.
type Defragmenter struct {
	MaxMessage int  // 0 = MaxMessageDefault
	RecordIDs  bool // keep FragmentIDs in results (debug decode)
	// Keep says Write's payloads are never reused by the caller: the
	// fragments of a message are kept as they came, not copied, until
	// the message is put together.
	Keep        bool
	pending     []byte
	chunks      [][]byte // blobs of the message being assembled
	size        int      // their total length
	inMessage   bool
	objectID    uint64
	nextFrag    uint64
	fragmentIDs []uint64
	err         error // a broken stream stays broken
}

// Buffered returns the bytes held for messages not yet complete.
func (d *Defragmenter) Buffered() int { return len(d.pending) + d.size }

// Pending reports whether a message or fragment is incomplete.
func (d *Defragmenter) Pending() bool { return d.inMessage || len(d.pending) > 0 }

// Write feeds payload bytes and calls fn for each message completed by
// them. The message slice passed to fn is only valid during the call.
func (d *Defragmenter) Write(payload []byte, fn func(Assembled) error) error {
	if d.err != nil {
		return d.err
	}
	if err := d.write(payload, fn); err != nil {
		d.err = err
		return err
	}
	return nil
}

func (d *Defragmenter) write(payload []byte, fn func(Assembled) error) error {
	max := d.MaxMessage
	if max <= 0 {
		max = MaxMessageDefault
	}
	buf := payload
	fromPending := len(d.pending) > 0
	if fromPending {
		d.pending = append(d.pending, payload...)
		buf = d.pending
	}
	avail := len(buf)
	for len(buf) >= FragmentHeaderLen {
		oid := binary.BigEndian.Uint64(buf[0:])
		fid := binary.BigEndian.Uint64(buf[8:])
		flags := buf[16]
		blen := binary.BigEndian.Uint32(buf[17:])
		if oid == 0 || oid > 1<<63-1 {
			return &FragmentError{Reason: fmt.Sprintf("object id %d: expected a positive id", int64(oid))}
		}
		if uint64(blen) > uint64(max) {
			return sizeError(uint64(blen), max)
		}
		if flags&^3 != 0 {
			return &FragmentError{Reason: fmt.Sprintf("unknown flags 0x%02x: expected start (1) and end (2) bits only", flags)}
		}
		if len(buf) < FragmentHeaderLen+int(blen) {
			break
		}
		blob := buf[FragmentHeaderLen : FragmentHeaderLen+int(blen)]
		start, end := flags&1 != 0, flags&2 != 0
		if start {
			if d.inMessage {
				return &FragmentError{Reason: fmt.Sprintf("start of object %d while object %d is incomplete (its end fragment never came)", oid, d.objectID)}
			}
			d.chunks, d.size = d.chunks[:0], 0
			d.inMessage = true
			d.objectID = oid
			d.fragmentIDs = d.fragmentIDs[:0]
			if fid != 0 {
				// WinRb's real-life fragment has FragmentId 1 with Start+End
				// (corpus E108): tolerated, not imitated.
				if !end {
					return &FragmentError{Reason: fmt.Sprintf("start fragment with fragment id %d: expected 0", fid)}
				}
			}
		} else {
			if !d.inMessage {
				return &FragmentError{Reason: fmt.Sprintf("object %d fragment %d without a start fragment", oid, fid)}
			}
			if oid != d.objectID {
				return &FragmentError{Reason: fmt.Sprintf("object id %d: expected %d (fragments of two messages interleaved)", oid, d.objectID)}
			}
			if fid != d.nextFrag {
				return &FragmentError{Reason: fmt.Sprintf("object %d fragment id %d: expected %d", oid, fid, d.nextFrag)}
			}
		}
		if d.size+len(blob) > max {
			return sizeError(uint64(d.size+len(blob)), max)
		}
		d.nextFrag = fid + 1
		if d.RecordIDs {
			d.fragmentIDs = append(d.fragmentIDs, fid)
		}
		buf = buf[FragmentHeaderLen+int(blen):]
		if end {
			d.inMessage = false
			a := Assembled{ObjectID: oid}
			if d.RecordIDs {
				a.FragmentIDs = append([]uint64(nil), d.fragmentIDs...)
			}
			if d.size == 0 {
				a.Message = blob // no copy for single-fragment messages
				a.Owned = d.Keep && !fromPending
			} else {
				// Assemble at exact size; nothing large outlives the message.
				m := make([]byte, 0, d.size+len(blob))
				for _, c := range d.chunks {
					m = append(m, c...)
				}
				a.Message, a.Owned = append(m, blob...), true
				clear(d.chunks)
				d.chunks, d.size = d.chunks[:0], 0
			}
			if err := fn(a); err != nil {
				return err
			}
		} else {
			if !d.Keep || fromPending {
				blob = bytes.Clone(blob) // the buffer it is in is reused
			}
			d.chunks = append(d.chunks, blob)
			d.size += len(blob)
		}
	}
	// Keep the leftover bytes for the next payload; when nothing was
	// consumed from pending it already holds them (no quadratic copying).
	if !(fromPending && len(buf) == avail) {
		d.pending = append(d.pending[:0], buf...) // copy handles the overlap
	}
	return nil
}
