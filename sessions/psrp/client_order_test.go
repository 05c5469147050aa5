package psrp

import (
	"testing"

	"github.com/google/uuid"
	"github.com/psmux/psmux/sessions/clixml"
)

// onlyKinds fails unless got holds packets of exactly the kinds want.
func onlyKinds(t *testing.T, got []Packet, want ...PacketKind) {
	t.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		ok = got[i].Kind == want[i]
	}
	if !ok {
		t.Fatalf("sent %v, want %v", kinds(got), want)
	}
}

// A stop asked for before the pipeline exists on the server waits for the
// CREATE_PIPELINE's DataAck: pwsh drops a Signal that finds no pipeline.
func TestStopWaitsForThePipeline(t *testing.T) {
	var f Fragmenter
	p := openPool(t, &f)
	pid := uuid.New()
	_ = p.Invoke(pid, ScriptPipeline("Start-Sleep 3; 'after'", false))
	onlyKinds(t, p.Outgoing(), Command)
	_ = p.Stop(pid)
	onlyKinds(t, p.Outgoing()) // nothing: no CommandAck yet
	receive(t, p, Packet{Kind: CommandAck, GUID: pid})
	onlyKinds(t, p.Outgoing(), Data) // the CREATE_PIPELINE, no Signal beside it
	receive(t, p, Packet{Kind: DataAck, GUID: pid})
	out := p.Outgoing()
	onlyKinds(t, out, Signal)
	if out[0].GUID != pid {
		t.Fatalf("Signal for %s, want %s", out[0].GUID, pid)
	}
	_ = p.Stop(pid) // asked again while the Signal is out: nothing yet
	onlyKinds(t, p.Outgoing())
	receive(t, p, Packet{Kind: SignalAck, GUID: pid})
	onlyKinds(t, p.Outgoing(), Signal) // the second request goes out after the ack
	receive(t, p, Packet{Kind: SignalAck, GUID: pid})
	_ = p.Stop(pid) // a third request re-sends
	onlyKinds(t, p.Outgoing(), Signal)
}

// A Close asked for before the CommandAck goes out after it, and the
// CREATE_PIPELINE never follows it.
func TestCloseBeforeCommandAck(t *testing.T) {
	p, pid := startOne(t)
	onlyKinds(t, p.Outgoing(), Command)
	_ = p.ClosePipeline(pid)
	p.Close()
	onlyKinds(t, p.Outgoing()) // the server may not have the command yet
	receive(t, p, Packet{Kind: CommandAck, GUID: pid})
	out := p.Outgoing()
	onlyKinds(t, out, Close, Close)
	if out[0].GUID != pid || out[1].GUID != NilGUID {
		t.Fatalf("closes for %s, %s: want the pipeline, then the session", out[0].GUID, out[1].GUID)
	}
	receive(t, p, Packet{Kind: DataAck, GUID: pid})
	onlyKinds(t, p.Outgoing()) // nothing after the Close
}

// A Close asked for while the CREATE_PIPELINE is in flight waits for its
// DataAck.
func TestCloseWaitsForTheLastDataAck(t *testing.T) {
	p, pid := startOne(t)
	receive(t, p, Packet{Kind: CommandAck, GUID: pid})
	onlyKinds(t, p.Outgoing(), Command, Data)
	_ = p.ClosePipeline(pid)
	_ = p.Stop(pid) // a closing pipeline needs no Signal
	onlyKinds(t, p.Outgoing())
	receive(t, p, Packet{Kind: DataAck, GUID: pid})
	onlyKinds(t, p.Outgoing(), Close)
}

// A CommandAck that arrives after the pipeline's CloseAck is no protocol
// error (pwsh handles lines on several threads; its acks may cross).
func TestCommandAckAfterCloseAck(t *testing.T) {
	p, pid := startOne(t)
	_ = p.ClosePipeline(pid)
	receive(t, p, Packet{Kind: CloseAck, GUID: pid})
	receive(t, p, Packet{Kind: CommandAck, GUID: pid})
	onlyKinds(t, p.Outgoing(), Command)
	if _, err := p.Receive(Packet{Kind: CommandAck, GUID: uuid.New()}); err == nil {
		t.Fatal("a CommandAck for a pipeline never started was accepted")
	}
}

// startOne opens a pool and starts one pipeline on it.
func startOne(t *testing.T) (*ClientPool, uuid.UUID) {
	t.Helper()
	var f Fragmenter
	p := openPool(t, &f)
	pid := uuid.New()
	if err := p.Invoke(pid, ScriptPipeline("'x'", false)); err != nil {
		t.Fatal(err)
	}
	return p, pid
}

// What pwsh still sends for a pipeline after its CloseAck (the output of
// one stopped before it ran, which runs on) is dropped; Data for a PSGuid
// never opened is still an error, and the pool remembers only the last
// endedCap closed pipelines.
func TestDataAfterCloseAckDropped(t *testing.T) {
	var f Fragmenter
	p := openPool(t, &f)
	late := func(pid uuid.UUID) error {
		_, err := p.Receive(serverPacket(t, &f, pid, PipelineOutput, p.RPID, clixml.Str("after")))
		return err
	}
	var pids []uuid.UUID
	for range endedCap + 1 {
		pid := uuid.New()
		if err := p.Invoke(pid, ScriptPipeline("'x'", false)); err != nil {
			t.Fatal(err)
		}
		receive(t, p, Packet{Kind: CommandAck, GUID: pid})
		_ = p.ClosePipeline(pid)
		receive(t, p, Packet{Kind: CloseAck, GUID: pid})
		pids = append(pids, pid)
	}
	if evs := receive(t, p, serverPacket(t, &f, pids[endedCap], PipelineOutput, p.RPID, clixml.Str("after"))); len(evs) != 0 {
		t.Fatalf("late output gave events %v, want none", evs)
	}
	if err := late(pids[1]); err != nil {
		t.Fatalf("late output for a closed pipeline: %v", err)
	}
	if err := late(pids[0]); err == nil {
		t.Fatal("output for a pipeline closed endedCap closes ago was accepted (the set is not bounded)")
	}
	if err := late(uuid.New()); err == nil {
		t.Fatal("output for a pipeline never opened was accepted")
	}
}
