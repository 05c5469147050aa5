package mux

import (
	"context"
	"errors"
	"net"
	"testing"
	"testing/synctest"
	"time"
)

// Call returns once its context has ended, even from a server that
// never answers: it sends the cancel, waits CancelPatience for the
// answer, then gives up with the context's cause.
func TestCallReturnsWhenItsContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cs, ss := net.Pipe()
		defer ss.Close()
		gotCancel := make(chan struct{})
		go func() { // a server that says hello and never answers a request
			codec := NewCodec(ss, ss)
			if _, err := codec.Read(); err != nil {
				return
			}
			_ = codec.Write(&Hello{V: ProtocolVersion, Name: "psmux mute"})
			for {
				m, err := codec.Read()
				if err != nil {
					return
				}
				if r, ok := m.(*Request); ok && r.Op == "cancel" {
					close(gotCancel)
				}
			}
		}()
		c, err := NewClient(cs, "test", false)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		_, err = c.Call(ctx, "exec", ExecArgs{Target: "w1", Script: "1"}, nil)
		<-gotCancel
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != time.Second+CancelPatience {
			t.Fatalf("Call to a mute server: %v after %s; want the context's end after 1 s + %s", err, time.Since(start), CancelPatience)
		}
	})
}
