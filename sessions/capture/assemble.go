package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"

	"github.com/google/uuid"

	"github.com/psmux/psmux/sessions/clixml"
	"github.com/psmux/psmux/sessions/psrp"
)

// streamKey names one reassembly stream: a direction (Unknown when the
// input does not say) plus the transport's own stream identity.
type streamKey struct {
	dir  Direction
	guid uuid.UUID // OutOfProc PSGuid
	name string    // OutOfProc Stream, or WSMan "commandid/streamname"
}

func (k streamKey) String() string {
	s := k.dir.String()
	if k.guid != (uuid.UUID{}) {
		s += " " + k.guid.String()
	}
	if k.name != "" {
		s += " " + k.name
	}
	return s
}

// stream is the reassembly state of one streamKey: the Defragmenter does
// the work; the scanner only counts fragment boundaries so that a record
// can say which fragment of its unit completed it.
type stream struct {
	defrag psrp.Defragmenter
	scan   fragScanner
}

type assembler struct {
	d       *Decoder
	emit    func(Record) error
	streams map[streamKey]*stream
	ends    []int
}

func newAssembler(d *Decoder, emit func(Record) error) *assembler {
	return &assembler{d: d, emit: emit, streams: make(map[streamKey]*stream)}
}

// feed hands one unit's fragment bytes to the stream key. pos is the
// position of the unit; Fragment is filled in per message. A broken
// fragment stream is reported and that stream starts afresh; only an
// emit error is returned.
func (a *assembler) feed(key streamKey, payload []byte, pos Position) error {
	st := a.streams[key]
	if st == nil {
		st = &stream{}
		st.defrag.RecordIDs = true
		st.defrag.MaxMessage = a.d.maxMessage()
		a.streams[key] = st
	}
	a.ends = st.scan.scan(payload, a.ends[:0])
	k := 0
	err := st.defrag.Write(payload, func(as psrp.Assembled) error {
		p := pos
		if k < len(a.ends) {
			p.Fragment = a.ends[k]
		}
		k++
		return a.message(key.dir, as, p)
	})
	if err == nil {
		return nil
	}
	var ee *emitError
	if errors.As(err, &ee) {
		return err
	}
	a.d.warn(pos.Line, fmt.Errorf("stream %v: %w", key, err))
	delete(a.streams, key)
	return nil
}

// message turns one reassembled message into a Record and emits it.
func (a *assembler) message(dir Direction, as psrp.Assembled, pos Position) error {
	m, err := psrp.ParseMessage(as.Message)
	if err != nil {
		a.d.warn(pos.Line, fmt.Errorf("object %d: %w", as.ObjectID, err))
		return nil
	}
	if dir == UnknownDirection {
		switch m.Destination {
		case psrp.ToServer:
			dir = ClientToServer
		case psrp.ToClient:
			dir = ServerToClient
		}
	}
	rec := Record{
		Direction:   dir,
		Destination: m.Destination,
		Type:        m.Type,
		RPID:        m.RPID,
		PID:         m.PID,
		ObjectID:    as.ObjectID,
		FragmentIDs: as.FragmentIDs,
		Data:        bytes.Clone(m.Data),
		Pos:         pos,
	}
	if rec.Data == nil {
		rec.Data = []byte{}
	}
	if body := rec.Body(); len(body) > 0 {
		v, err := clixml.Decode(body, clixml.MaxSize(a.d.maxMessage()))
		if err != nil {
			rec.Err = err
		} else {
			rec.Value = v
		}
	}
	if err := a.emit(rec); err != nil {
		return &emitError{err}
	}
	return nil
}

// finish reports the streams that end inside a message or a fragment.
func (a *assembler) finish() {
	keys := make([]streamKey, 0, len(a.streams))
	for k, st := range a.streams {
		if st.defrag.Pending() {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	for _, k := range keys {
		a.d.warn(0, fmt.Errorf("stream %v: input ends inside a message", k))
	}
}

// fragScanner follows fragment boundaries in a byte stream, mirroring
// psrp.Defragmenter's framing, so the assembler can tell which fragment
// of a unit ended each message. It never looks at more than a header.
type fragScanner struct {
	hdr    [psrp.FragmentHeaderLen]byte
	n      int    // header bytes held
	inBlob bool   // header complete, blob bytes outstanding
	remain uint64 // blob bytes outstanding
	end    bool   // the current fragment has the End flag
}

// scan consumes p and appends to ends, for each fragment with the End
// flag that completes inside p, its index among the fragments completing
// inside p.
func (s *fragScanner) scan(p []byte, ends []int) []int {
	idx := 0
	for {
		if !s.inBlob {
			if len(p) == 0 {
				break
			}
			c := copy(s.hdr[s.n:], p)
			s.n += c
			p = p[c:]
			if s.n < len(s.hdr) {
				break
			}
			s.n = 0
			s.inBlob = true
			s.remain = uint64(binary.BigEndian.Uint32(s.hdr[17:]))
			s.end = s.hdr[16]&2 != 0
		}
		take := min(uint64(len(p)), s.remain)
		p = p[take:]
		s.remain -= take
		if s.remain > 0 {
			break
		}
		s.inBlob = false
		if s.end {
			ends = append(ends, idx)
		}
		idx++
	}
	return ends
}
