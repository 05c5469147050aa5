package psrp

import (
	"errors"
	"testing"

	"github.com/google/uuid"
)

// TestClientPoolPendingCap: messages started on the pool's and two
// pipelines' streams and never finished break the pool once their bytes
// together pass MaxPending, with an error that names the cap; each alone
// is under the message cap.
func TestClientPoolPendingCap(t *testing.T) {
	var f Fragmenter
	p := openPool(t, &f)
	p.MaxMessage, p.MaxPending = 1000, 1000
	a, b := uuid.New(), uuid.New()
	_ = p.Invoke(a, ScriptPipeline("a", false))
	_ = p.Invoke(b, ScriptPipeline("b", false))
	start := func(guid uuid.UUID) error {
		frag := AppendFragment(nil, Fragment{ObjectID: 7, Start: true, Blob: make([]byte, 400)})
		_, err := p.Receive(Packet{Kind: Data, GUID: guid, Payload: frag})
		return err
	}
	if err := start(NilGUID); err != nil {
		t.Fatal(err)
	}
	if err := start(a); err != nil {
		t.Fatal(err)
	}
	err := start(b)
	var pe *PendingError
	if !errors.As(err, &pe) || pe.Pending != 1200 || pe.Limit != 1000 {
		t.Fatalf("third unfinished message: %v, want a PendingError of 1200 over 1000", err)
	}
	t.Log(err)
}
