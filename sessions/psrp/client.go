package psrp

import (
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/psmux/psmux/sessions/clixml"
)

// Events the client pool reports from Receive.
type (
	// PoolStateEvent is a RUNSPACEPOOL_STATE.
	PoolStateEvent struct {
		State  RunspacePoolStateValue
		Reason clixml.Value
	}
	// CapabilityEvent is the server's SESSION_CAPABILITY.
	CapabilityEvent struct{ SessionCapabilityMsg }
	// PrivateDataEvent is APPLICATION_PRIVATE_DATA.
	PrivateDataEvent struct{ Value clixml.Value }
	// PipelineDataEvent is output, a record or any other pipeline message.
	PipelineDataEvent struct {
		PID   uuid.UUID
		Type  MessageType
		Value clixml.Value
	}
	// HostCallEvent is a host call; PID is nil for the pool's host.
	HostCallEvent struct {
		PID  uuid.UUID
		Call HostCallMsg
	}
	// PipelineStateEvent is a PIPELINE_STATE.
	PipelineStateEvent struct {
		PID    uuid.UUID
		State  PSInvocationState
		Reason clixml.Value
	}
	// PipelineClosedEvent is the CloseAck of a pipeline.
	PipelineClosedEvent struct{ PID uuid.UUID }
	// SignalAckEvent is the SignalAck of a pipeline.
	SignalAckEvent struct{ PID uuid.UUID }
	// SessionClosedEvent is the session CloseAck.
	SessionClosedEvent struct{}
	// OtherEvent is a pool message psmux does not act on (USER_EVENT,
	// RUNSPACE_AVAILABILITY, unknown types), kept raw.
	OtherEvent struct {
		Type  MessageType
		Value clixml.Value
	}
)

// ProtocolError is a server that broke the protocol; the session is lost.
type ProtocolError struct{ Err error }

func (e *ProtocolError) Error() string { return e.Err.Error() }
func (e *ProtocolError) Unwrap() error { return e.Err }

func protoErr(format string, args ...any) error {
	return &ProtocolError{Err: fmt.Errorf("psrp: "+format, args...)}
}

type rxKey struct {
	guid   uuid.UUID
	prompt bool
}

type txQueue struct {
	awaitingAck bool
	ready       bool // nil GUID: always; pipeline: after CommandAck
	queue       []Packet
}

// clientPipe is one pipeline's progress through psrp-brief §1.5. pwsh
// handles each stdin line on its own thread, so a packet about a pipeline
// is sent only once the server has finished with what it depends on:
// the CREATE_PIPELINE after the CommandAck, a Signal after the
// CREATE_PIPELINE's DataAck (the server acks it from Prepare, when the
// pipeline exists; a Signal before that finds nothing to stop), the Close
// after the CommandAck and after the DataAck of the last Data sent (a
// Close racing the CREATE_PIPELINE makes the server run the pipeline
// after its transport closed).
type clientPipe struct {
	state       PSInvocationState
	commandAck  bool // the server has the command transport
	createLeft  int  // CREATE_PIPELINE packets not yet acked
	created     bool // the CREATE_PIPELINE was acked: the pipeline exists
	stopWanted  bool // a stop waits for created
	signalOut   bool // a Signal waits for its SignalAck
	closeWanted bool // a Close waits for commandAck and the last DataAck
	closeSent   bool
	prepared    bool // its Command is sent ahead, for the next Invoke (Prepare)
}

// heldMsg is a message from the server that waits for the session key:
// one with a SecureString that cannot be opened yet, or any after it.
type heldMsg struct {
	guid uuid.UUID
	t    MessageType
	v    clixml.Value
}

type pendingResponse struct {
	pid uuid.UUID
	t   MessageType
	v   clixml.Value
}

// ClientPool is the client side of one runspace pool over OutOfProc, as a
// state machine that does no IO: feed it packets with Receive, take what
// it wants written with Outgoing. It enforces the ack discipline of
// psrp-brief §1.3: one outstanding Data per PSGuid, pipeline Data only
// after CommandAck, one Close per Command.
type ClientPool struct {
	RPID       uuid.UUID
	State      RunspacePoolStateValue
	Negotiated string // the server's protocolversion
	Protocol   string // the protocolversion psmux announces; "" = ClientProtocol
	MaxMessage int    // cap on one reassembled message (0 = MaxMessageDefault)
	// OwnedPayloads says the payloads of the packets Receive is given are
	// never reused by the caller (Defragmenter.Keep): a large message is
	// then put together from them without a copy of each fragment.
	OwnedPayloads bool
	// Assembled, when set, is called with the size of each message put
	// together from several fragments, before it is decoded (the
	// fragments are garbage by then).
	Assembled func(size int)
	// MaxPending caps the bytes of unfinished messages over all the
	// pool's streams together (0 = the message cap): a server that starts
	// messages on every stream and finishes none holds no more than one
	// whole message would.
	MaxPending int
	// Crypto does protocol 2.3's SecureString key exchange (package
	// pscrypto); nil makes a SecureString under 2.3 an error.
	Crypto Crypto
	Decode []clixml.Option

	frag      Fragmenter
	rx        map[rxKey]*Defragmenter
	tx        map[uuid.UUID]*txQueue
	out       []Packet
	pipes     map[uuid.UUID]*clientPipe
	events    []any
	keySent   bool // PUBLIC_KEY went out
	waiting   []pendingResponse
	closeSent bool            // the session Close is wanted
	closeOut  bool            // the session Close was sent
	ended     endedSet        // pipelines closed lately: late packets for them are dropped
	decode    []clixml.Option // Decode with the size cap, made on first use
	held      []heldMsg       // messages from the server waiting for the session key
	heldBytes int
	scratch   []byte
}

// NewClientPool returns a pool with a fresh RPID.
func NewClientPool() *ClientPool {
	return &ClientPool{
		RPID:  uuid.New(),
		State: PoolBeforeOpen,
		rx:    map[rxKey]*Defragmenter{},
		tx:    map[uuid.UUID]*txQueue{NilGUID: {ready: true}},
		pipes: map[uuid.UUID]*clientPipe{},
	}
}

// Open queues SESSION_CAPABILITY and INIT_RUNSPACEPOOL.
func (p *ClientPool) Open(init InitRunspacePoolMsg) error {
	if p.State != PoolBeforeOpen {
		return fmt.Errorf("psrp: open: pool is %s, expected BeforeOpen", p.State)
	}
	p.State = PoolOpening
	p.send(NilGUID, false, SessionCapability, NilGUID, NewSessionCapability(p.protocol()).Value())
	p.send(NilGUID, false, InitRunspacePool, NilGUID, init.Value())
	return nil
}

// Outgoing returns the packets to write now, in order, and forgets them.
func (p *ClientPool) Outgoing() []Packet {
	out := p.out
	p.out = nil
	return out
}

// keepScratch is the largest encoding buffer a pool keeps for the next
// message.
const keepScratch = 2 << 10

// send encodes and queues one message on guid.
func (p *ClientPool) send(guid uuid.UUID, prompt bool, t MessageType, pid uuid.UUID, v clixml.Value) {
	body := clixml.Encode(append(p.scratch[:0], bom...), v)
	if cap(body) <= keepScratch { // the larger ones, at the pool's opening, go
		p.scratch = body[:0]
	}
	p.sendRaw(guid, prompt, t, pid, body)
}

// sendRaw queues one message with the given body bytes.
func (p *ClientPool) sendRaw(guid uuid.UUID, prompt bool, t MessageType, pid uuid.UUID, body []byte) {
	if pp := p.pipes[guid]; pp != nil && pp.closeWanted {
		return // nothing for a pipeline follows its Close
	}
	msg := AppendMessage(nil, Message{Destination: ToServer, Type: t, RPID: p.RPID, PID: pid, Data: body})
	q := p.tx[guid]
	_ = p.frag.FragmentEach(msg, nil, func(fr []byte) error {
		q.queue = append(q.queue, Packet{Kind: Data, GUID: guid, PromptResponse: prompt, Payload: append([]byte(nil), fr...)})
		return nil
	})
	p.flush(guid)
}

func (p *ClientPool) flush(guid uuid.UUID) {
	q := p.tx[guid]
	if q == nil || q.awaitingAck || !q.ready || len(q.queue) == 0 {
		return
	}
	p.out = append(p.out, q.queue[0])
	q.queue[0] = Packet{} // the array behind the queue keeps no payload
	if q.queue = q.queue[1:]; len(q.queue) == 0 {
		q.queue = nil
	}
	q.awaitingAck = true
}

// Invoke starts a pipeline with id pid: Command now, CREATE_PIPELINE after
// the CommandAck.
// With pid prepared (Prepare), only the CREATE_PIPELINE is left to send,
// and it goes at once if the CommandAck came.
func (p *ClientPool) Invoke(pid uuid.UUID, m CreatePipelineMsg) error {
	if err := p.canStart("invoke", pid); err != nil {
		return err
	}
	pp := p.pipes[pid]
	switch {
	case pp != nil && pp.prepared && !pp.closeWanted:
		pp.prepared, pp.state = false, Running
	case pp != nil:
		return fmt.Errorf("psrp: invoke: pipeline %s exists already", pid)
	default:
		pp = p.command(pid, Running)
	}
	q := p.tx[pid]
	p.send(pid, false, CreatePipeline, pid, m.Value())
	pp.createLeft = len(q.queue)
	if q.awaitingAck { // one went out at once
		pp.createLeft++
	}
	return nil
}

// Prepare sends the Command of the pipeline the next Invoke with pid
// starts, so that its CommandAck comes while nothing waits for it (issue
// 15: a command then costs one round trip, not two). Its
// CREATE_PIPELINE is never sent before that CommandAck (pwsh hangs).
// Close closes a prepared pipeline that was never used.
func (p *ClientPool) Prepare(pid uuid.UUID) error {
	if err := p.canStart("prepare", pid); err != nil {
		return err
	}
	if _, dup := p.pipes[pid]; dup {
		return fmt.Errorf("psrp: prepare: pipeline %s exists already", pid)
	}
	p.command(pid, NotStarted).prepared = true
	return nil
}

func (p *ClientPool) canStart(op string, pid uuid.UUID) error {
	if p.State != PoolOpened {
		return fmt.Errorf("psrp: %s: the runspace pool is %s, expected Opened", op, p.State)
	}
	if pid == NilGUID {
		return fmt.Errorf("psrp: %s: the pipeline id must not be the nil GUID", op)
	}
	return nil
}

// command sends the Command of a new pipeline.
func (p *ClientPool) command(pid uuid.UUID, st PSInvocationState) *clientPipe {
	pp := &clientPipe{state: st}
	p.pipes[pid] = pp
	p.tx[pid] = &txQueue{}
	p.out = append(p.out, Packet{Kind: Command, GUID: pid})
	return pp
}

func (p *ClientPool) pipe(pid uuid.UUID, op string) (*clientPipe, error) {
	pp := p.pipes[pid]
	if pp == nil {
		return nil, fmt.Errorf("psrp: %s: no pipeline %s", op, pid)
	}
	return pp, nil
}

// Input queues one PIPELINE_INPUT value (SecureStrings in plaintext).
func (p *ClientPool) Input(pid uuid.UUID, v clixml.Value) error {
	if _, err := p.pipe(pid, "input"); err != nil {
		return err
	}
	return p.sendSealed(pid, false, PipelineInput, v)
}

// EndInput queues END_OF_PIPELINE_INPUT.
func (p *ClientPool) EndInput(pid uuid.UUID) error {
	if _, err := p.pipe(pid, "end input"); err != nil {
		return err
	}
	if len(p.waiting) > 0 {
		p.waiting = append(p.waiting, pendingResponse{pid: pid, t: EndOfPipelineInput})
		return nil
	}
	p.sendRaw(pid, false, EndOfPipelineInput, pid, nil)
	return nil
}

// Respond answers a non-void host call. Result values of kind SecureString
// carry plaintext; the pool seals them for the negotiated protocol.
// pid is NilGUID for a pool host call.
func (p *ClientPool) Respond(pid uuid.UUID, r HostResponseMsg) error {
	if r.CI == VoidCallID {
		return errors.New("psrp: respond: void host calls (ci -100) take no response")
	}
	t := RunspacePoolHostResponse
	if pid != NilGUID {
		if _, err := p.pipe(pid, "respond"); err != nil {
			return err
		}
		t = PipelineHostResponse
	}
	return p.sendSealed(pid, pid != NilGUID, t, r.Value())
}

func (p *ClientPool) sendSealed(pid uuid.UUID, prompt bool, t MessageType, v clixml.Value) error {
	if hasSecure(v) {
		if p.plainSecure() {
			v = MapSecureStrings(v, PlainSecureText)
		} else if p.hasKey() {
			v = MapSecureStrings(v, func(plain string) string {
				s, _ := p.Crypto.Seal(UTF16LE(plain))
				return s
			})
		} else {
			if err := p.requestKey(); err != nil {
				return err
			}
			p.waiting = append(p.waiting, pendingResponse{pid: pid, t: t, v: v})
			return nil
		}
	}
	if len(p.waiting) > 0 { // keep order behind held messages
		p.waiting = append(p.waiting, pendingResponse{pid: pid, t: t, v: v})
		return nil
	}
	p.send(pid, prompt, t, pid, v)
	return nil
}

func (p *ClientPool) requestKey() error {
	if p.keySent {
		return nil
	}
	if p.Crypto == nil {
		return errors.New("psrp: a SecureString under protocol " + p.Negotiated + " needs the key exchange, and the pool has no Crypto")
	}
	blob, err := p.Crypto.NewKey()
	if err != nil {
		return err
	}
	p.keySent = true
	p.send(NilGUID, false, PublicKey, NilGUID, KeyMsg{Base64: blob}.Value(PublicKey))
	return nil
}

// hasKey reports whether the 2.3 session key arrived.
func (p *ClientPool) hasKey() bool { return p.Crypto != nil && p.Crypto.HasSessionKey() }

func hasSecure(v clixml.Value) bool {
	switch v.Kind {
	case clixml.SecureString:
		return true
	case clixml.Object:
		return v.Obj != nil && walkObj(v.Obj, hasSecure)
	}
	return false
}

func walkObj(o *clixml.PSObject, f func(clixml.Value) bool) bool {
	for _, x := range o.Items {
		if f(x) {
			return true
		}
	}
	for _, e := range o.Dict {
		if f(e.Key) || f(e.Value) {
			return true
		}
	}
	for _, x := range o.Props {
		if f(x.Value) {
			return true
		}
	}
	for _, x := range o.Members {
		if f(x.Value) {
			return true
		}
	}
	return false
}

// MapSecureStrings returns a copy of v in which the text of every
// SecureString is replaced by f(text); v itself is not changed.
func MapSecureStrings(v clixml.Value, f func(string) string) clixml.Value {
	switch v.Kind {
	case clixml.SecureString:
		return clixml.Value{Kind: clixml.SecureString, Text: f(v.Text)}
	case clixml.Object:
		if v.Obj == nil || !hasSecure(v) {
			return v
		}
		o := *v.Obj
		if o.Items != nil {
			o.Items = make([]clixml.Value, len(v.Obj.Items))
			for i, x := range v.Obj.Items {
				o.Items[i] = MapSecureStrings(x, f)
			}
		}
		if o.Dict != nil {
			o.Dict = make([]clixml.DictEntry, len(v.Obj.Dict))
			for i, e := range v.Obj.Dict {
				o.Dict[i] = clixml.DictEntry{Key: MapSecureStrings(e.Key, f), Value: MapSecureStrings(e.Value, f)}
			}
		}
		o.Props = mapProps(o.Props, f)
		o.Members = mapProps(o.Members, f)
		return clixml.Value{Kind: clixml.Object, Obj: &o}
	}
	return v
}

func mapProps(ps []clixml.Property, f func(string) string) []clixml.Property {
	if ps == nil {
		return nil
	}
	out := make([]clixml.Property, len(ps))
	for i, x := range ps {
		out[i] = clixml.Property{Name: x.Name, Value: MapSecureStrings(x.Value, f)}
	}
	return out
}

// plainSecure reports whether SecureStrings travel unencrypted: both
// sides speak protocol 2.4 or later (pwsh decides by the other side's
// version, so either one at 2.3 means the session key).
func (p *ClientPool) plainSecure() bool {
	return CompareVersion(p.protocol(), ProtocolVersion24) >= 0 && CompareVersion(p.Negotiated, ProtocolVersion24) >= 0
}

func (p *ClientPool) protocol() string {
	if p.Protocol == "" {
		return ClientProtocol
	}
	return p.Protocol
}

// OpenSecure returns the plaintext of an <SS> the server sent.
func (p *ClientPool) OpenSecure(v clixml.Value) (string, error) {
	if p.plainSecure() {
		return OpenPlainSecureText(v.Text)
	}
	if !p.hasKey() {
		return "", ErrNoSessionKey
	}
	b, err := p.Crypto.Open(v.Text)
	if err != nil {
		return "", err
	}
	return FromUTF16LE(b)
}

// Stop asks the server to stop a running pipeline (Ctrl-C). The Signal
// goes out once the pipeline exists on the server; asking again after
// its SignalAck sends another.
func (p *ClientPool) Stop(pid uuid.UUID) error {
	pp, err := p.pipe(pid, "stop")
	if err != nil {
		return err
	}
	if pp.state.Terminal() || pp.closeWanted {
		return nil
	}
	pp.stopWanted = true
	p.signal(pid, pp)
	return nil
}

// signal sends a wanted Signal when the pipeline exists and no Signal is
// outstanding.
func (p *ClientPool) signal(pid uuid.UUID, pp *clientPipe) {
	if !pp.stopWanted || !pp.created || pp.signalOut || pp.closeWanted || pp.state.Terminal() {
		return
	}
	pp.stopWanted = false
	pp.signalOut = true
	p.out = append(p.out, Packet{Kind: Signal, GUID: pid})
}

// ClosePipeline queues the pipeline's one Close (stopping it if it runs).
// Data not yet sent for it is dropped: nothing for a pipeline follows its
// Close.
func (p *ClientPool) ClosePipeline(pid uuid.UUID) error {
	pp, err := p.pipe(pid, "close")
	if err != nil {
		return err
	}
	p.wantClose(pid, pp)
	return nil
}

func (p *ClientPool) wantClose(pid uuid.UUID, pp *clientPipe) {
	if pp.closeWanted {
		return
	}
	pp.closeWanted = true
	pp.stopWanted = false
	if q := p.tx[pid]; q != nil {
		clear(q.queue)
		q.queue = nil
	}
	p.sendClose(pid, pp)
}

// sendClose sends a wanted Close once the server has the command
// transport and has acked the last Data sent for it.
func (p *ClientPool) sendClose(pid uuid.UUID, pp *clientPipe) {
	if !pp.closeWanted || pp.closeSent || !pp.commandAck {
		return
	}
	if q := p.tx[pid]; q != nil && q.awaitingAck {
		return
	}
	pp.closeSent = true
	p.out = append(p.out, Packet{Kind: Close, GUID: pid})
	p.sendSessionClose()
}

// Close queues the Close of every pipeline not yet closed, then the
// session Close, which goes out after every pipeline's Close (pwsh
// answers it once all its commands are closed).
func (p *ClientPool) Close() {
	if p.closeSent {
		return
	}
	for pid, pp := range p.pipes {
		p.wantClose(pid, pp)
	}
	p.closeSent = true
	if p.State == PoolOpened || p.State == PoolOpening {
		p.State = PoolClosing
	}
	p.sendSessionClose()
}

func (p *ClientPool) sendSessionClose() {
	if !p.closeSent || p.closeOut {
		return
	}
	for _, pp := range p.pipes {
		if !pp.closeSent {
			return
		}
	}
	p.closeOut = true
	p.out = append(p.out, Packet{Kind: Close, GUID: NilGUID})
}

// Receive processes one packet from the server and returns what happened.
// The events slice is reused by the next call. An error is fatal for the
// session.
func (p *ClientPool) Receive(pk Packet) ([]any, error) {
	p.events = p.events[:0]
	switch pk.Kind {
	case DataAck:
		q := p.tx[pk.GUID]
		if q == nil {
			return p.events, nil // ack for a pipeline already closed
		}
		q.awaitingAck = false
		if pp := p.pipes[pk.GUID]; pp != nil {
			if pp.createLeft > 0 {
				if pp.createLeft--; pp.createLeft == 0 && !pp.closeWanted {
					pp.created = true
					p.signal(pk.GUID, pp)
				}
			}
			p.sendClose(pk.GUID, pp)
		}
		p.flush(pk.GUID)
	case CommandAck:
		pp := p.pipes[pk.GUID]
		if pp == nil {
			if p.ended.has(pk.GUID) {
				return p.events, nil // its CloseAck came first
			}
			return nil, protoErr("CommandAck for unknown pipeline %s", pk.GUID)
		}
		pp.commandAck = true
		if q := p.tx[pk.GUID]; q != nil {
			q.ready = true
		}
		p.sendClose(pk.GUID, pp)
		p.flush(pk.GUID)
	case SignalAck:
		if pp := p.pipes[pk.GUID]; pp != nil {
			pp.signalOut = false
			p.signal(pk.GUID, pp)
		}
		p.events = append(p.events, SignalAckEvent{PID: pk.GUID})
	case CloseAck:
		if pk.GUID == NilGUID {
			p.State = PoolClosed
			p.events = append(p.events, SessionClosedEvent{})
			break
		}
		if p.pipes[pk.GUID] != nil {
			p.ended.add(pk.GUID)
		}
		delete(p.pipes, pk.GUID)
		delete(p.tx, pk.GUID)
		delete(p.rx, rxKey{pk.GUID, false})
		delete(p.rx, rxKey{pk.GUID, true})
		p.events = append(p.events, PipelineClosedEvent{PID: pk.GUID})
	case Command, Signal, Close:
		return nil, protoErr("the server sent %s, which only a client sends", pk.Kind)
	case Data:
		// Only the pool and its pipelines have streams: a buffer for any
		// PSGuid the server names would let it hold memory without bound.
		if pk.GUID != NilGUID && p.pipes[pk.GUID] == nil {
			if p.ended.has(pk.GUID) {
				// pwsh may still send for a pipeline it reported ended
				// and closed (one stopped before it started runs on)
				return p.events, nil
			}
			return nil, protoErr("Data for PSGuid %s, which is no pipeline of this pool (only the pool's and its pipelines' streams are buffered)", pk.GUID)
		}
		k := rxKey{pk.GUID, pk.PromptResponse}
		d := p.rx[k]
		if d == nil {
			d = &Defragmenter{MaxMessage: p.MaxMessage, Keep: p.OwnedPayloads}
			p.rx[k] = d
		}
		if err := d.Write(pk.Payload, func(a Assembled) error {
			if p.Assembled != nil && len(a.Message) > DefaultFragmentSize {
				p.Assembled(len(a.Message))
			}
			return p.handle(pk.GUID, a.Message, a.Owned)
		}); err != nil {
			var pe *ProtocolError
			if errors.As(err, &pe) {
				return nil, err
			}
			return nil, &ProtocolError{Err: err}
		}
		if err := p.checkPending(); err != nil {
			return nil, err
		}
	default:
		return nil, protoErr("unexpected packet %s", pk.Kind)
	}
	return p.events, nil
}

// decodeOptions are Decode with the message cap as the CLIXML size cap
// (the decoder's own default is smaller than a message may be).
// decodeOptions are the options of a message's decoding; owned says no
// one changes the message afterwards, so its long texts may stay in it
// (clixml.Shared).
func (p *ClientPool) decodeOptions(owned bool) []clixml.Option {
	if p.decode == nil {
		p.decode = append([]clixml.Option{clixml.Shared(), clixml.MaxSize(p.maxMessage())}, p.Decode...)
	}
	if owned {
		return p.decode
	}
	return p.decode[1:]
}

func (p *ClientPool) handle(guid uuid.UUID, raw []byte, owned bool) error {
	m, err := ParseMessage(raw)
	if err != nil {
		return err
	}
	v := clixml.NilV()
	if len(m.Body()) > 0 {
		if v, err = clixml.Decode(m.Body(), p.decodeOptions(owned)...); err != nil {
			return fmt.Errorf("psrp: %s: %w", m.Type, err)
		}
	}
	switch m.Type {
	case SessionCapability, EncryptedSessionKey, PublicKeyRequest:
	default:
		// A SecureString the session key must open (protocol 2.3) starts
		// the key exchange from this side, as pwsh's client does when it
		// deserializes one; it and what follows wait for the key.
		if len(p.held) > 0 || (!p.hasKey() && hasSecure(v) && !p.plainSecure()) {
			if p.heldBytes += len(raw); p.heldBytes > p.maxMessage() {
				return protoErr("%d bytes from the server wait for the SecureString session key, more than the %d-byte cap: no ENCRYPTED_SESSION_KEY came", p.heldBytes, p.maxMessage())
			}
			if err := p.requestKey(); err != nil {
				return err
			}
			p.held = append(p.held, heldMsg{guid, m.Type, v})
			return nil
		}
	}
	return p.dispatch(guid, m.Type, v)
}

// PendingError is a server holding more unfinished message bytes than
// the session's cap allows.
type PendingError struct{ Pending, Limit int }

func (e *PendingError) Error() string {
	return fmt.Sprintf("psrp: %d bytes of unfinished messages from the server, more than the session's pending cap of %d bytes (%d MB)",
		e.Pending, e.Limit, e.Limit>>20)
}

// checkPending enforces MaxPending over every stream's buffer.
func (p *ClientPool) checkPending() error {
	limit := p.MaxPending
	if limit <= 0 {
		limit = p.maxMessage()
	}
	total := 0
	for _, d := range p.rx {
		total += d.Buffered()
	}
	if total > limit {
		return &ProtocolError{Err: &PendingError{Pending: total, Limit: limit}}
	}
	return nil
}

func (p *ClientPool) maxMessage() int {
	if p.MaxMessage > 0 {
		return p.MaxMessage
	}
	return MaxMessageDefault
}

// dispatch acts on one decoded message from the server.
func (p *ClientPool) dispatch(guid uuid.UUID, t MessageType, v clixml.Value) error {
	switch t {
	case SessionCapability:
		c, err := ParseSessionCapability(v)
		if err != nil {
			return err
		}
		if len(c.ProtocolVersion) < 2 || c.ProtocolVersion[:2] != "2." {
			return protoErr("server protocol version %s: expected 2.x", c.ProtocolVersion)
		}
		p.Negotiated = c.ProtocolVersion
		p.events = append(p.events, CapabilityEvent{c})
	case ApplicationPrivateData:
		p.events = append(p.events, PrivateDataEvent{Value: v})
	case RunspacePoolState:
		s, err := ParseState(t, v)
		if err != nil {
			return err
		}
		p.State = RunspacePoolStateValue(s.State)
		p.events = append(p.events, PoolStateEvent{State: p.State, Reason: s.Reason})
	case EncryptedSessionKey:
		k, err := ParseKey(t, v)
		if err != nil {
			return err
		}
		if !p.keySent {
			return protoErr("ENCRYPTED_SESSION_KEY without a PUBLIC_KEY")
		}
		if err = p.Crypto.SetSessionKey(k.Base64); err != nil {
			return err
		}
		held := p.waiting
		p.waiting = nil
		for _, h := range held {
			if h.t == EndOfPipelineInput {
				_ = p.EndInput(h.pid)
				continue
			}
			if p.pipes[h.pid] == nil && h.pid != NilGUID {
				continue
			}
			_ = p.sendSealed(h.pid, h.t == PipelineHostResponse, h.t, h.v)
		}
		in := p.held
		p.held, p.heldBytes = nil, 0
		for _, h := range in {
			if err := p.dispatch(h.guid, h.t, h.v); err != nil {
				return err
			}
		}
	case PublicKeyRequest:
		return p.requestKey()
	case RunspacePoolHostCall, PipelineHostCall:
		c, err := ParseHostCall(t, v)
		if err != nil {
			return err
		}
		pid := NilGUID
		if t == PipelineHostCall {
			pid = guid
		}
		p.events = append(p.events, HostCallEvent{PID: pid, Call: c})
	case PipelineState:
		s, err := ParseState(t, v)
		if err != nil {
			return err
		}
		st := PSInvocationState(s.State)
		if pp := p.pipes[guid]; pp != nil {
			pp.state = st
			if st.Terminal() {
				p.wantClose(guid, pp)
			}
		}
		p.events = append(p.events, PipelineStateEvent{PID: guid, State: st, Reason: s.Reason})
	default:
		if guid == NilGUID {
			p.events = append(p.events, OtherEvent{Type: t, Value: v})
		} else {
			p.events = append(p.events, PipelineDataEvent{PID: guid, Type: t, Value: v})
		}
	}
	return nil
}

// endedCap bounds the pipelines a pool remembers as closed.
const endedCap = 64

// endedSet remembers the last endedCap pipelines closed, so that what
// the server still sends for them (a CommandAck after the CloseAck, the
// output of a pipeline stopped before it ran) is dropped instead of
// breaking the session, while a PSGuid never opened stays an error.
type endedSet struct {
	ids  [endedCap]uuid.UUID
	next int
}

func (e *endedSet) add(id uuid.UUID) {
	e.ids[e.next%endedCap] = id
	e.next++
}

func (e *endedSet) has(id uuid.UUID) bool {
	for i := range min(e.next, endedCap) {
		if e.ids[i] == id {
			return true
		}
	}
	return false
}
