package outlog_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/psmux/psmux/mux/outlog"
)

// A client attaches, replays from the event after the last one it
// acknowledged, and follows until the session's log is closed.
func Example() {
	l := outlog.New(outlog.Options{Policy: outlog.Block})
	ctx := context.Background()
	for _, s := range []string{"one", "two", "three"} {
		l.Append(ctx, []byte(s))
	}
	l.Ack(1) // a previous client saw event 1, then went away
	l.Close()

	var buf []outlog.Event
	next := l.Stats().Acked + 1
	for {
		evs, nx, lost := l.Read(next, 64, buf)
		if lost > 0 {
			fmt.Printf("(%d events lost)\n", lost)
		}
		for _, e := range evs {
			fmt.Println(e.Seq, string(e.Data))
			l.Ack(e.Seq)
		}
		next, buf = nx, evs
		if err := l.Wait(ctx, next); errors.Is(err, outlog.ErrClosed) {
			break
		}
	}
	// Output:
	// 2 two
	// 3 three
}
