package trace

import (
	"bytes"
	"io"
	"strings"
	"sync"
	"testing"
)

// echoing is a transport whose peer answers each write before the write
// returns, and whose reader takes the answer meanwhile: the order a
// fast in-process server (pwshsim) gives.
type echoing struct {
	replies chan []byte
	read    chan struct{} // the reader has taken a reply
}

func (e *echoing) Write(b []byte) (int, error) {
	e.replies <- []byte("<CloseAck PSGuid='00000000-0000-0000-0000-000000000000' />\n")
	<-e.read // returns only once the reply was read (and recorded)
	return len(b), nil
}

func (e *echoing) Read(b []byte) (int, error) {
	r, ok := <-e.replies
	if !ok {
		return 0, io.EOF
	}
	n := copy(b, r)
	return n, nil
}

func (e *echoing) CloseWrite() error { return nil }
func (e *echoing) Close() error      { return nil }

// A reply read before the write that asked for it returns still comes
// after it in the trace.
func TestTraceRecordsAWriteBeforeItsReply(t *testing.T) {
	e := &echoing{replies: make(chan []byte), read: make(chan struct{})}
	var trace bytes.Buffer
	x := Wrap(e, nopWriteCloser{&trace})
	var wg sync.WaitGroup
	wg.Go(func() {
		b := make([]byte, 64)
		if _, err := x.Read(b); err != nil {
			t.Error(err)
		}
		e.read <- struct{}{}
	})
	if _, err := x.Write([]byte("<Close PSGuid='00000000-0000-0000-0000-000000000000' />\n")); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSpace(trace.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "C> ") || !strings.HasPrefix(lines[1], "S> ") {
		t.Fatalf("trace %q: want the client's line, then the server's reply", trace.String())
	}
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
