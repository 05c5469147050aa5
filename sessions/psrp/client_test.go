package psrp

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/psmux/psmux/sessions/clixml"
	"github.com/psmux/psmux/sessions/pscrypto"
	"github.com/psmux/psmux/testenv/pskex"
)

// serverPacket builds the Data packet a server sends for one message.
func serverPacket(t *testing.T, f *Fragmenter, guid uuid.UUID, typ MessageType, rpid uuid.UUID, v clixml.Value) Packet {
	t.Helper()
	body := clixml.Encode([]byte{0xEF, 0xBB, 0xBF}, v)
	return Packet{Kind: Data, GUID: guid, Payload: f.Fragment(nil, AppendMessage(nil, Message{ToClient, typ, rpid, guid, body}))}
}

func kinds(ps []Packet) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Kind.String())
	}
	return out
}

func receive(t *testing.T, p *ClientPool, pk Packet) []any {
	t.Helper()
	evs, err := p.Receive(pk)
	if err != nil {
		t.Fatalf("Receive(%v): %v", pk.Kind, err)
	}
	return append([]any(nil), evs...)
}

// openPool runs the handshake and returns an Opened pool.
func openPool(t *testing.T, f *Fragmenter) *ClientPool {
	t.Helper()
	return openPoolWith(t, f, InitRunspacePoolMsg{MinRunspaces: 1, MaxRunspaces: 1, HostInfo: NoHost()})
}

// openPoolWith runs the handshake with init and returns an Opened pool.
func openPoolWith(t *testing.T, f *Fragmenter, init InitRunspacePoolMsg) *ClientPool {
	t.Helper()
	p := NewClientPool()
	if err := p.Open(init); err != nil {
		t.Fatal(err)
	}
	if got := kinds(p.Outgoing()); len(got) != 1 || got[0] != "Data" {
		t.Fatalf("after Open: %v, want one Data (INIT waits for the DataAck)", got)
	}
	receive(t, p, serverPacket(t, f, NilGUID, SessionCapability, NilGUID, NewSessionCapability("2.3").Value()))
	if got := p.Outgoing(); len(got) != 0 {
		t.Fatalf("INIT sent before the DataAck: %v", kinds(got))
	}
	receive(t, p, Packet{Kind: DataAck, GUID: NilGUID})
	if got := kinds(p.Outgoing()); len(got) != 1 {
		t.Fatalf("after DataAck: %v, want INIT", got)
	}
	evs := receive(t, p, serverPacket(t, f, NilGUID, RunspacePoolState, p.RPID, StateMsg{State: int32(PoolOpened)}.PoolStateValue()))
	if len(evs) != 1 || evs[0].(PoolStateEvent).State != PoolOpened || p.State != PoolOpened {
		t.Fatalf("events %v state %v", evs, p.State)
	}
	receive(t, p, Packet{Kind: DataAck, GUID: NilGUID})
	if p.Negotiated != "2.3" {
		t.Fatalf("negotiated %q", p.Negotiated)
	}
	return p
}

func TestClientPoolAckDiscipline(t *testing.T) {
	var f Fragmenter
	p := openPool(t, &f)
	pid := uuid.New()
	if err := p.Invoke(pid, ScriptPipeline("1..3", false)); err != nil {
		t.Fatal(err)
	}
	if err := p.Invoke(pid, ScriptPipeline("x", false)); err == nil {
		t.Fatal("a second Invoke with the same id was accepted")
	}
	if got := kinds(p.Outgoing()); len(got) != 1 || got[0] != "Command" {
		t.Fatalf("Invoke: %v, want only Command before CommandAck", got)
	}
	if err := p.Input(pid, clixml.Str("in")); err != nil {
		t.Fatal(err)
	}
	if got := p.Outgoing(); len(got) != 0 {
		t.Fatalf("Data before CommandAck: %v", kinds(got))
	}
	receive(t, p, Packet{Kind: CommandAck, GUID: pid})
	out := p.Outgoing()
	if len(out) != 1 || out[0].Kind != Data || out[0].GUID != pid {
		t.Fatalf("after CommandAck: %v, want one CREATE_PIPELINE Data", kinds(out))
	}
	if got := p.Outgoing(); len(got) != 0 {
		t.Fatalf("input sent before the CREATE_PIPELINE DataAck: %v", kinds(got))
	}
	receive(t, p, Packet{Kind: DataAck, GUID: pid})
	if got := kinds(p.Outgoing()); len(got) != 1 {
		t.Fatalf("after DataAck: %v, want the input Data", got)
	}
	// A terminal state queues exactly one Close.
	evs := receive(t, p, serverPacket(t, &f, pid, PipelineState, p.RPID, StateMsg{State: int32(Completed)}.PipelineStateValue()))
	if st := evs[0].(PipelineStateEvent); st.State != Completed || st.PID != pid {
		t.Fatalf("state event %+v", st)
	}
	if got := kinds(p.Outgoing()); len(got) != 0 {
		t.Fatalf("after Completed: %v, want nothing until the input's DataAck", got)
	}
	receive(t, p, Packet{Kind: DataAck, GUID: pid})
	if got := kinds(p.Outgoing()); len(got) != 1 || got[0] != "Close" {
		t.Fatalf("after Completed and the last DataAck: %v, want Close", got)
	}
	_ = p.ClosePipeline(pid)
	p.Close()
	out = p.Outgoing()
	if len(out) != 1 || out[0].Kind != Close || out[0].GUID != NilGUID {
		t.Fatalf("session close: %v, want only the session Close (the pipeline was closed once)", kinds(out))
	}
	evs = receive(t, p, Packet{Kind: CloseAck, GUID: pid})
	if _, ok := evs[0].(PipelineClosedEvent); !ok {
		t.Fatalf("CloseAck: %v", evs)
	}
	evs = receive(t, p, Packet{Kind: CloseAck, GUID: NilGUID})
	if _, ok := evs[0].(SessionClosedEvent); !ok || p.State != PoolClosed {
		t.Fatalf("session CloseAck: %v state %v", evs, p.State)
	}
}

// TestClientPoolPrepare: a prepared pipeline's Command goes at once and
// nothing else; its Invoke sends no second Command, and its
// CREATE_PIPELINE waits for the CommandAck (never before it: pwsh hangs),
// whether the ack came before the Invoke or after; the pipeline exists
// (a stop can go) after that Data's ack; an unused prepared pipeline is
// closed before the session.
func TestClientPoolPrepare(t *testing.T) {
	var f Fragmenter
	p := openPool(t, &f)
	early, late, unused := uuid.New(), uuid.New(), uuid.New()
	for _, pid := range []uuid.UUID{early, late, unused} {
		if err := p.Prepare(pid); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Prepare(early); err == nil {
		t.Fatal("a second Prepare with the same id was accepted")
	}
	if got := kinds(p.Outgoing()); len(got) != 3 || got[0] != "Command" || got[2] != "Command" {
		t.Fatalf("Prepare: %v, want three Commands", got)
	}
	receive(t, p, Packet{Kind: CommandAck, GUID: early})
	for _, pid := range []uuid.UUID{early, late} {
		if err := p.Invoke(pid, ScriptPipeline("1", false)); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Invoke(early, ScriptPipeline("x", false)); err == nil {
		t.Fatal("a prepared pipeline was invoked twice")
	}
	out := p.Outgoing()
	if len(out) != 1 || out[0].Kind != Data || out[0].GUID != early {
		t.Fatalf("Invoke of prepared pipelines: %v, want only the acked one's CREATE_PIPELINE", kinds(out))
	}
	receive(t, p, Packet{Kind: CommandAck, GUID: late})
	if out = p.Outgoing(); len(out) != 1 || out[0].Kind != Data || out[0].GUID != late {
		t.Fatalf("after the late CommandAck: %v, want its CREATE_PIPELINE", kinds(out))
	}
	receive(t, p, Packet{Kind: DataAck, GUID: early})
	_ = p.Stop(early)
	if out = p.Outgoing(); len(out) != 1 || out[0].Kind != Signal {
		t.Fatalf("a stop once the pipeline exists: %v, want a Signal", kinds(out))
	}
	p.Close()
	// each Close waits for its pipeline's CommandAck and last DataAck
	receive(t, p, Packet{Kind: CommandAck, GUID: unused})
	receive(t, p, Packet{Kind: DataAck, GUID: late})
	closes := map[uuid.UUID]int{}
	for _, pk := range p.Outgoing() {
		if pk.Kind == Close {
			closes[pk.GUID]++
		}
	}
	if closes[unused] != 1 || closes[early] != 1 || closes[late] != 1 || closes[NilGUID] != 1 {
		t.Fatalf("closes %v: want the unused prepared pipeline's and the session's", closes)
	}
}

func TestClientPoolClosesRunningPipelinesBeforeSession(t *testing.T) {
	var f Fragmenter
	p := openPool(t, &f)
	a, b := uuid.New(), uuid.New()
	_ = p.Invoke(a, ScriptPipeline("a", false))
	_ = p.Invoke(b, ScriptPipeline("b", false))
	for _, pid := range []uuid.UUID{a, b} {
		receive(t, p, Packet{Kind: CommandAck, GUID: pid})
		receive(t, p, Packet{Kind: DataAck, GUID: pid})
	}
	p.Outgoing()
	_ = p.Stop(a)
	_ = p.Stop(a) // one Signal outstanding at a time
	p.Close()
	out := p.Outgoing()
	if len(out) != 4 || out[0].Kind != Signal || out[3].Kind != Close || out[3].GUID != NilGUID {
		t.Fatalf("got %v, want Signal, Close, Close, session Close", kinds(out))
	}
	closes := map[uuid.UUID]int{}
	for _, pk := range out[1:3] {
		closes[pk.GUID]++
	}
	if closes[a] != 1 || closes[b] != 1 {
		t.Fatalf("pipeline closes %v", closes)
	}
}

func TestClientPoolRefusesClientOnlyPackets(t *testing.T) {
	p := NewClientPool()
	for _, k := range []PacketKind{Command, Signal, Close} {
		_, err := p.Receive(Packet{Kind: k, GUID: uuid.New()})
		var pe *ProtocolError
		if !errors.As(err, &pe) {
			t.Errorf("%v from the server: %v, want ProtocolError", k, err)
		}
	}
	if err := p.Invoke(uuid.New(), ScriptPipeline("x", false)); err == nil {
		t.Error("Invoke on an unopened pool accepted")
	}
}

func TestSecureStringKeyExchange(t *testing.T) {
	var f Fragmenter
	p := openPool(t, &f) // negotiated 2.3: needs the key exchange
	p.Crypto = &pscrypto.Client{}
	pid := uuid.New()
	_ = p.Invoke(pid, ScriptPipeline("Read-Host -AsSecureString", false))
	receive(t, p, Packet{Kind: CommandAck, GUID: pid})
	receive(t, p, Packet{Kind: DataAck, GUID: pid})
	p.Outgoing()
	if err := p.Respond(pid, HostResponseMsg{CI: 1, Method: ReadLineAsSecureString, Result: &clixml.Value{Kind: clixml.SecureString, Text: "hunter2"}}); err != nil {
		t.Fatal(err)
	}
	out := p.Outgoing()
	if len(out) != 1 || out[0].GUID != NilGUID {
		t.Fatalf("got %v, want PUBLIC_KEY on the session first", kinds(out))
	}
	var pub KeyMsg
	d := Defragmenter{}
	sent := 0
	if err := d.Write(out[0].Payload, func(a Assembled) error {
		sent++
		m, err := ParseMessage(a.Message)
		if err != nil {
			return err
		}
		if m.Type != PublicKey {
			t.Fatalf("sent %v, want PUBLIC_KEY", m.Type)
		}
		v, err := clixml.Decode(m.Body())
		if err != nil {
			t.Fatal(err)
		}
		pub, err = ParseKey(PublicKey, v)
		return err
	}); err != nil || sent != 1 {
		t.Fatalf("the session packet held %d messages (%v), want one PUBLIC_KEY", sent, err)
	}
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i)
	}
	enc, err := pskex.EncryptSessionKey(pub.Base64, key)
	if err != nil {
		t.Fatal(err)
	}
	receive(t, p, Packet{Kind: DataAck, GUID: NilGUID})
	receive(t, p, serverPacket(t, &f, NilGUID, EncryptedSessionKey, NilGUID, KeyMsg{Base64: enc}.Value(EncryptedSessionKey)))
	out = p.Outgoing()
	if len(out) != 1 || !out[0].PromptResponse || out[0].GUID != pid {
		t.Fatalf("after the key: %v, want the held PromptResponse", kinds(out))
	}
	d = Defragmenter{}
	opened := 0
	if err := d.Write(out[0].Payload, func(a Assembled) error {
		m, err := ParseMessage(a.Message)
		if err != nil {
			return err
		}
		v, err := clixml.Decode(m.Body())
		if err != nil {
			t.Fatal(err)
		}
		r, err := ParseHostResponse(m.Type, v)
		if err != nil || r.Result == nil || r.Result.Kind != clixml.SecureString {
			t.Fatalf("response %+v %v", r, err)
		}
		b, err := pscrypto.Open(key, r.Result.Text)
		plain, _ := FromUTF16LE(b)
		if err != nil || plain != "hunter2" {
			t.Fatalf("sealed SecureString opens to %q, %v", plain, err)
		}
		opened++
		return nil
	}); err != nil || opened != 1 {
		t.Fatalf("the PromptResponse packet held %d opened SecureStrings (%v), want one", opened, err)
	}
}

// An opened pool keeps none of the handshake's messages: not the
// fragments its queues sent, nor the buffer that encoded the large
// INIT_RUNSPACEPOOL (an idle session would hold them for its life).
func TestOpenedPoolKeepsNoHandshakeBuffers(t *testing.T) {
	var f Fragmenter
	args := clixml.Obj(&clixml.PSObject{Container: clixml.Dictionary, Dict: []clixml.DictEntry{
		{Key: clixml.Str("Large"), Value: clixml.Str(strings.Repeat("x", 20<<10))}}})
	p := openPoolWith(t, &f, InitRunspacePoolMsg{MinRunspaces: 1, MaxRunspaces: 1, HostInfo: TerminalHost(120, 50),
		ApplicationArguments: ClientVersionTable{PSVersion: "7.4.0", Protocol: "2.3"}.ApplicationArguments(args)})
	for g, q := range p.tx {
		if q.queue != nil {
			t.Fatalf("queue %v still holds the array of the packets it sent", g)
		}
	}
	if cap(p.scratch) > keepScratch {
		t.Fatalf("the pool keeps a %d-byte encoding buffer; want at most %d", cap(p.scratch), keepScratch)
	}
}
