package sessions_test

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/psmux/psmux/sessions"
	"github.com/psmux/psmux/sessions/psrp"
	"github.com/psmux/psmux/testenv/pwshsim"
)

// prefixed is a transport whose server wrote pre before its own output.
type prefixed struct {
	*memTransport
	in io.Reader
}

func (p *prefixed) Read(b []byte) (int, error) { return p.in.Read(b) }

// TestIgnoredSaidOnceAndCounted: 70 noise lines before the first packet
// reach Diag as 64 lines and one count; two messages of an unknown type
// are said once and counted twice, and the pool still opens.
func TestIgnoredSaidOnceAndCounted(t *testing.T) {
	var pre strings.Builder
	for range 70 {
		pre.WriteString("a banner line\n")
	}
	for oid := uint64(1); oid <= 2; oid++ {
		msg := psrp.AppendMessage(nil, psrp.Message{Destination: psrp.ToClient, Type: 0x00099999})
		frag := psrp.AppendFragment(nil, psrp.Fragment{ObjectID: 1000 + oid, Start: true, End: true, Blob: msg})
		pre.Write(psrp.AppendPacket(nil, psrp.Packet{Kind: psrp.Data, GUID: psrp.NilGUID, Payload: frag}))
	}
	m, _ := startMem(t, pwshsim.ServerOptions{})
	tr := &prefixed{m, io.MultiReader(strings.NewReader(pre.String()), m)}
	var mu sync.Mutex
	said := map[sessions.DiagKind][]string{}
	c, err := sessions.Open(context.Background(), tr, sessions.Options{Diag: func(k sessions.DiagKind, text string) {
		mu.Lock()
		said[k] = append(said[k], text)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	got := c.Counts()
	if got.NoiseLines != 70 || got.Unknown != 2 {
		t.Errorf("Counts = %+v, want 70 noise lines and 2 unknown", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if n := len(said[sessions.DiagNoise]); n != 65 || !strings.Contains(said[sessions.DiagNoise][64], "6 more lines of noise") {
		t.Errorf("noise said %d times (want 64 lines and a count), last %q", n, said[sessions.DiagNoise][n-1])
	}
	if p := said[sessions.DiagProtocol]; len(p) != 1 || !strings.Contains(p[0], "unknown type UNKNOWN_0x00099999") {
		t.Errorf("protocol notices = %q, want one naming UNKNOWN_0x00099999", p)
	}
}
