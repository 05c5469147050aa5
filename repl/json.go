package repl

import (
	"context"
	"encoding/json"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/psmux/psmux/sessions"
	"github.com/psmux/psmux/sessions/clixml"
	"github.com/psmux/psmux/sessions/psrp"
)

// JSONWriter prints a pipeline's events as NDJSON (SPEC S8):
// {"session","computer","seq","stream","value"} per event and, from End,
// {"session","state","had_errors","duration_ms"}. It implements
// sessions.Handler; host prompts fail (scripts cannot answer them).
type JSONWriter struct {
	W        io.Writer
	Session  string
	Computer string

	mu  sync.Mutex
	seq int64
	buf []byte
}

var streamNames = map[psrp.MessageType]string{
	psrp.PipelineOutput: "Output", psrp.ErrorRecord: "Error", psrp.WarningRecord: "Warning",
	psrp.VerboseRecord: "Verbose", psrp.DebugRecord: "Debug", psrp.InformationRecord: "Information",
	psrp.ProgressRecord: "Progress",
}

func (j *JSONWriter) emit(stream string, v clixml.Value) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.seq++
	b := append(j.buf[:0], `{"session":`...)
	b = strconv.AppendQuote(b, j.Session)
	b = append(b, `,"computer":`...)
	b = strconv.AppendQuote(b, j.Computer)
	b = append(b, `,"seq":`...)
	b = strconv.AppendInt(b, j.seq, 10)
	b = append(b, `,"stream":"`...)
	b = append(b, stream...)
	b = append(b, `","value":`...)
	b = clixml.AppendPlainJSON(b, v)
	b = append(b, "}\n"...)
	j.buf = b
	_, _ = j.W.Write(b)
}

// Message implements sessions.Handler.
func (j *JSONWriter) Message(t psrp.MessageType, v clixml.Value) {
	s, ok := streamNames[t]
	if !ok {
		return
	}
	j.emit(s, v)
}

// HostCall implements sessions.Handler: writes become Host events,
// prompts fail.
func (j *JSONWriter) HostCall(_ context.Context, c psrp.HostCallMsg) (clixml.Value, *clixml.Value) {
	if c.Method.Void() {
		if len(c.Params) > 0 {
			j.emit("Host", c.Params[len(c.Params)-1])
		}
		return clixml.Value{}, nil
	}
	return clixml.Value{}, sessions.HostError(c.Method, "psmux: "+c.Method.String()+" cannot be answered with --json")
}

// End prints the closing line of the session; reason, the failure's
// message, is there for a Failed pipeline.
func (j *JSONWriter) End(state string, hadErrors bool, d time.Duration, reason string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	line, _ := json.Marshal(struct {
		Session    string `json:"session"`
		State      string `json:"state"`
		HadErrors  bool   `json:"had_errors"`
		DurationMS int64  `json:"duration_ms"`
		Reason     string `json:"reason,omitempty"`
	}{j.Session, state, hadErrors, d.Milliseconds(), reason})
	_, _ = j.W.Write(append(line, '\n'))
}

// FailureText is the message of a pipeline's failure as the server's log
// keeps it (mux.Event.XML of a state event, mux.ExecResult.Reason): the
// error record's text, or the text itself when it is no record (a broken
// connection's description).
func FailureText(reason string) string {
	if reason == "" {
		return ""
	}
	v, err := clixml.Decode([]byte(reason))
	if err != nil {
		return reason
	}
	return sessions.ErrorText(v)
}
