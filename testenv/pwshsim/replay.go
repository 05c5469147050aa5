package pwshsim

import (
	"bytes"
	"strings"
	"sync"

	"github.com/google/uuid"
	"github.com/psmux/psmux/sessions/clixml"
	"github.com/psmux/psmux/sessions/psrp"
	"github.com/psmux/psmux/testenv/transcripts"
)

// Replay: for a pipeline whose script is one that real pwsh was recorded
// answering (testenv/transcripts), pwshsim sends pwsh's recorded
// messages, with its own RPID and the pipeline's PID, in their order:
// it waits where pwsh waited for a host response or for the client's
// Signal. Everything else goes to the interpreter.

type replayKey struct {
	script      string
	interactive bool // run with Out-Default, as the REPL and exec do
}

// replayEvent is one recorded step: a message pwsh sent, or a wait.
type replayEvent struct {
	t          psrp.MessageType
	body       []byte
	ci         int64 // a non-void host call's call id
	awaitReply bool  // the client answered a host call here
	awaitStop  bool  // the client sent Signal here
}

var (
	replayOnce  sync.Once
	replayIndex map[replayKey][]replayEvent
)

// replayFor returns pwsh's recorded answer to cp, or nil.
func replayFor(cp psrp.CreatePipelineMsg) []replayEvent {
	replayOnce.Do(loadReplays)
	k, ok := keyOf(cp)
	if !ok {
		return nil
	}
	return replayIndex[k]
}

func keyOf(cp psrp.CreatePipelineMsg) (replayKey, bool) {
	switch {
	case len(cp.Cmds) == 1 && cp.Cmds[0].IsScript && len(cp.Cmds[0].Args) == 0:
		return replayKey{script: cp.Cmds[0].Cmd}, true
	case len(cp.Cmds) == 2 && cp.Cmds[0].IsScript && len(cp.Cmds[0].Args) == 0 &&
		(strings.EqualFold(cp.Cmds[1].Cmd, "Out-Default") || strings.HasPrefix(cp.Cmds[1].Cmd, textLinesMarker)):
		// the text-lines filter prints what Out-Default would: the
		// recording's host calls carry the same text (the filter would
		// send a leading run of strings and numbers as output instead)
		return replayKey{script: cp.Cmds[0].Cmd, interactive: true}, true
	}
	return replayKey{}, false
}

func loadReplays() {
	replayIndex = map[replayKey][]replayEvent{}
	for _, sc := range transcripts.Scenarios {
		live := map[replayKey]bool{}
		for _, st := range sc.Steps {
			if st.Live {
				live[replayKey{st.Script, st.Interactive}] = true
			}
		}
		data, err := transcripts.Transcript(sc.Name)
		if err != nil {
			continue
		}
		for k, evs := range parseTranscript(data) {
			if _, dup := replayIndex[k]; !dup && !live[k] {
				replayIndex[k] = evs
			}
		}
	}
}

// parseTranscript reads "C> "/"S> " OutOfProc lines into each
// pipeline's events, keyed by the script that created it.
func parseTranscript(data []byte) map[replayKey][]replayEvent {
	type rx struct {
		client bool
		g      uuid.UUID
		prompt bool
	}
	defrag := map[rx]*psrp.Defragmenter{}
	keys := map[uuid.UUID]replayKey{}
	events := map[uuid.UUID][]replayEvent{}
	for _, line := range bytes.Split(data, []byte("\n")) {
		client := bytes.HasPrefix(line, []byte("C> "))
		if !client && !bytes.HasPrefix(line, []byte("S> ")) {
			continue
		}
		pk, err := psrp.ParsePacket(line[3:])
		if err != nil {
			continue
		}
		if pk.Kind == psrp.Signal && client {
			events[pk.GUID] = append(events[pk.GUID], replayEvent{awaitStop: true})
			continue
		}
		if pk.Kind != psrp.Data || pk.GUID == psrp.NilGUID {
			continue
		}
		k := rx{client, pk.GUID, pk.PromptResponse}
		d := defrag[k]
		if d == nil {
			d = &psrp.Defragmenter{}
			defrag[k] = d
		}
		_ = d.Write(pk.Payload, func(a psrp.Assembled) error {
			m, err := psrp.ParseMessage(a.Message)
			if err != nil {
				return nil
			}
			switch {
			case client && m.Type == psrp.CreatePipeline:
				v, err := clixml.Decode(m.Body())
				if err != nil {
					return nil
				}
				cp, err := psrp.ParseCreatePipeline(v)
				if err != nil {
					return nil
				}
				if rk, ok := keyOf(cp); ok {
					keys[pk.GUID] = rk
				}
			case client && m.Type == psrp.PipelineHostResponse:
				events[pk.GUID] = append(events[pk.GUID], replayEvent{awaitReply: true})
			case !client:
				ev := replayEvent{t: m.Type, body: append([]byte(nil), m.Data...)}
				if m.Type == psrp.PipelineHostCall {
					if v, err := clixml.Decode(m.Body()); err == nil {
						if hc, err := psrp.ParseHostCall(m.Type, v); err == nil && !hc.Method.Void() {
							ev.ci = hc.CI
						}
					}
				}
				events[pk.GUID] = append(events[pk.GUID], ev)
			}
			return nil
		})
	}
	out := map[replayKey][]replayEvent{}
	for g, k := range keys {
		if _, dup := out[k]; !dup {
			out[k] = events[g]
		}
	}
	return out
}

// replay sends pwsh's recorded answer on this pipeline.
func (p *spipe) replay(evs []replayEvent) {
	var answer chan hostAnswer
	for _, ev := range evs {
		switch {
		case ev.awaitStop:
			<-p.ctx.Done()
		case ev.awaitReply:
			if answer == nil {
				continue
			}
			select {
			case <-answer:
			case <-p.ctx.Done():
				p.s.sendMessage(p.id, psrp.PipelineState, p.id, psrp.StateMsg{State: int32(psrp.Stopped)}.PipelineStateValue())
				return
			}
			answer = nil
		default:
			if ev.ci != 0 {
				answer = make(chan hostAnswer, 1)
				p.mu.Lock()
				p.waiting[ev.ci] = answer
				p.mu.Unlock()
			}
			p.s.sendBody(p.id, ev.t, p.id, ev.body)
		}
	}
}
