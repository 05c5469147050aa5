package benchdata

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"github.com/google/uuid"
	"github.com/psmux/psmux/sessions/clixml"
	"github.com/psmux/psmux/sessions/psrp"
)

type rxKey struct {
	guid   uuid.UUID
	prompt bool
}

// ReceivePath runs the client's receive path over the OutOfProc lines of
// r: psrp.Reader → one psrp.Defragmenter per (PSGuid, stream) →
// psrp.ParseMessage → clixml.Decode of the body. fn, when not nil, sees
// every decoded message; the message bytes are only valid during the call.
// It returns the number of messages decoded. Non-Data packets are skipped.
func ReceivePath(r io.Reader, fn func(psrp.Message, clixml.Value) error, opts ...clixml.Option) (int, error) {
	rd := psrp.NewReader(r)
	var (
		one    psrp.Defragmenter // the common case: a single stream
		oneKey rxKey
		have   bool
		more   map[rxKey]*psrp.Defragmenter
		n      int
	)
	deliver := func(a psrp.Assembled) error {
		m, err := psrp.ParseMessage(a.Message)
		if err != nil {
			return err
		}
		v, err := clixml.Decode(m.Body(), opts...)
		if err != nil {
			return fmt.Errorf("%s: %w", m.Type, err)
		}
		n++
		if fn != nil {
			return fn(m, v)
		}
		return nil
	}
	for {
		it, err := rd.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return n, nil
			}
			return n, err
		}
		if it.PipeError != "" {
			return n, fmt.Errorf("benchdata: the server reported %q", it.PipeError)
		}
		if it.Packet.Kind != psrp.Data {
			continue
		}
		k := rxKey{it.Packet.GUID, it.Packet.PromptResponse}
		d := &one
		switch {
		case !have:
			oneKey, have = k, true
		case k != oneKey:
			if more == nil {
				more = map[rxKey]*psrp.Defragmenter{}
			}
			if d = more[k]; d == nil {
				d = &psrp.Defragmenter{}
				more[k] = d
			}
		}
		if err := d.Write(it.Packet.Payload, deliver); err != nil {
			return n, err
		}
	}
}

// RawCopy is the raw byte-copy baseline of the receive path: it reads the
// same lines from r through a bufio.Reader of the same size as
// psrp.Reader's and copies each into io.Discard, decoding nothing. It
// returns the number of bytes copied.
func RawCopy(r io.Reader) (int64, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var n int64
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			w, _ := io.Discard.Write(line)
			n += int64(w)
		}
		switch {
		case err == nil, errors.Is(err, bufio.ErrBufferFull):
		case errors.Is(err, io.EOF):
			return n, nil
		default:
			return n, err
		}
	}
}
