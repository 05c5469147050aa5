package pwshsim

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/google/uuid"
	"github.com/psmux/psmux/sessions/clixml"
	"github.com/psmux/psmux/sessions/psrp"
	"github.com/psmux/psmux/testenv/pskex"
)

// ServerOptions configure the wire side of the simulator.
type ServerOptions struct {
	// SSHS selects -sshs behaviour: error lines go to stdout prefixed
	// __NamedPipeError__: (pwsh ≥ 7.3); otherwise to Stderr (-s).
	SSHS bool
	// Protocol is the server's protocol version: "2.3" (pwsh ≤ 7.5, the
	// default) or "2.4" (pwsh ≥ 7.6).
	Protocol string
	// FragmentSize is the fragment size incl. header (default 32768).
	FragmentSize int
	Runspace     RunspaceOptions
	// DropSignals acks the first DropSignals Signals without stopping
	// anything, as pwsh does with a Signal handled just before its
	// pipeline starts running.
	DropSignals int
}

// ExitUnhandled is pwsh's exit status after any fatal condition.
const ExitUnhandled = 4000

// Server is one pwsh -s / -sshs process: it reads OutOfProc lines from
// its input and answers on its output, one session.
type Server struct {
	opts   ServerOptions
	in     io.Reader
	out    io.Writer
	errOut io.Writer

	wmu  sync.Mutex // guards out and frag
	frag psrp.Fragmenter
	wbuf []byte

	rpid       uuid.UUID
	negotiated string
	poolHost   psrp.HostInfo
	opened     bool
	rs         *Runspace
	sessionKey []byte
	rx         map[rxKey]*psrp.Defragmenter

	mu           sync.Mutex
	pipes        map[uuid.UUID]*spipe
	openCmds     int
	closePending bool
	wg           sync.WaitGroup
}

type rxKey struct {
	g      uuid.UUID
	prompt bool
}

// NewServer returns a server reading in and writing out; errOut receives
// error lines in -s mode.
func NewServer(in io.Reader, out, errOut io.Writer, opts ServerOptions) *Server {
	if opts.Protocol == "" {
		opts.Protocol = psrp.ProtocolVersion23
	}
	s := &Server{opts: opts, in: in, out: out, errOut: errOut,
		rx: map[rxKey]*psrp.Defragmenter{}, pipes: map[uuid.UUID]*spipe{}}
	s.frag.Size = opts.FragmentSize
	s.rs = NewRunspace(opts.Runspace)
	return s
}

// fatal reports a fatal condition the way pwsh does, and returns 4000.
func (s *Server) fatal(err error) int {
	s.errorLine(err.Error())
	s.stopAll()
	return ExitUnhandled
}

func (s *Server) errorLine(msg string) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.opts.SSHS {
		fmt.Fprintf(s.out, "__NamedPipeError__:%s\n", msg)
	} else if s.errOut != nil {
		fmt.Fprintln(s.errOut, msg)
	}
}

// Serve runs until the input ends or a fatal condition; it returns the
// process exit status (pwsh always exits 4000 from its server loop).
func (s *Server) Serve() int {
	r := psrp.NewStrictReader(s.in)
	for {
		it, err := r.Next()
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, psrp.ErrEmptyLine) || errors.Is(err, io.ErrUnexpectedEOF) {
				//lint:ignore ST1005 pwsh's own text, word for word
				return s.fatal(errors.New(`An unknown element "" was received. This can happen if the remote process closed or ended abnormally.`))
			}
			return s.fatal(err)
		}
		if err := s.handle(it.Packet); err != nil {
			return s.fatal(err)
		}
	}
}

func (s *Server) writePacket(p psrp.Packet) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.wbuf = psrp.AppendPacket(s.wbuf[:0], p)
	_, _ = s.out.Write(s.wbuf)
}

// sendMessage writes one message, one fragment per Data line, with the
// BOM pwsh puts before every body.
func (s *Server) sendMessage(guid uuid.UUID, t psrp.MessageType, pid uuid.UUID, v clixml.Value) {
	s.sendBody(guid, t, pid, clixml.Encode([]byte{0xEF, 0xBB, 0xBF}, v))
}

// sendBody writes one message whose body is already encoded.
func (s *Server) sendBody(guid uuid.UUID, t psrp.MessageType, pid uuid.UUID, body []byte) {
	msg := psrp.AppendMessage(nil, psrp.Message{Destination: psrp.ToClient, Type: t, RPID: s.rpidFor(t), PID: pid, Data: body})
	s.wmu.Lock()
	defer s.wmu.Unlock()
	_ = s.frag.FragmentEach(msg, nil, func(fr []byte) error {
		s.wbuf = psrp.AppendPacket(s.wbuf[:0], psrp.Packet{Kind: psrp.Data, GUID: guid, Payload: fr})
		_, err := s.out.Write(s.wbuf)
		return err
	})
}

func (s *Server) rpidFor(t psrp.MessageType) uuid.UUID {
	if t == psrp.SessionCapability || t == psrp.EncryptedSessionKey {
		return psrp.NilGUID // as pwsh sends them (corpus quirk 1)
	}
	return s.rpid
}

func (s *Server) handle(p psrp.Packet) error {
	switch p.Kind {
	case psrp.DataAck, psrp.CommandAck, psrp.SignalAck, psrp.CloseAck:
		return fmt.Errorf("psrp: a client sent %s, which only servers send", p.Kind)
	case psrp.Command:
		s.mu.Lock()
		defer s.mu.Unlock()
		if _, dup := s.pipes[p.GUID]; dup || p.GUID == psrp.NilGUID {
			return fmt.Errorf("psrp: duplicate Command for %s", p.GUID)
		}
		s.pipes[p.GUID] = newSpipe(s, p.GUID)
		s.openCmds++
		s.writePacket(psrp.Packet{Kind: psrp.CommandAck, GUID: p.GUID})
		return nil
	case psrp.Signal:
		if p.GUID == psrp.NilGUID {
			return errors.New("psrp: Signal for the session (IPCNoSignalForSession)")
		}
		if s.opts.DropSignals > 0 {
			s.opts.DropSignals--
		} else if sp := s.pipe(p.GUID); sp != nil {
			sp.stop()
			sp.wait() // the Stopped state goes out before the SignalAck
		}
		s.writePacket(psrp.Packet{Kind: psrp.SignalAck, GUID: p.GUID})
		return nil
	case psrp.Close:
		if p.GUID == psrp.NilGUID {
			s.closeSession()
			return nil
		}
		s.closePipe(p.GUID)
		return nil
	case psrp.Data:
		if p.GUID == psrp.NilGUID {
			err := s.sessionData(p)
			s.writePacket(psrp.Packet{Kind: psrp.DataAck, GUID: p.GUID})
			return err
		}
		sp := s.pipe(p.GUID)
		if sp == nil {
			s.writePacket(psrp.Packet{Kind: psrp.DataAck, GUID: p.GUID})
			return nil
		}
		sp.data(p)
		return nil
	}
	return fmt.Errorf("psrp: unexpected %s", p.Kind)
}

// key returns the SecureString session key (nil before the exchange).
func (s *Server) key() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessionKey
}

// privateData is APPLICATION_PRIVATE_DATA: pwsh's debug keys and its
// PSVersionTable with the negotiated versions.
func (s *Server) privateData() clixml.Value {
	ver := s.opts.Runspace.PSVersion
	if ver == "" {
		ver = "7.4.6"
	}
	hashtable := []string{"System.Management.Automation.PSPrimitiveDictionary", "System.Collections.Hashtable", "System.Object"}
	table := &clixml.PSObject{TypeNames: hashtable, Container: clixml.Dictionary}
	for _, e := range []struct {
		k string
		v clixml.Value
	}{
		{"PSVersion", clixml.VersionV(ver)},
		{"PSEdition", clixml.Str("Core")},
		{"PSSemanticVersion", clixml.Str(ver)},
		{"PSRemotingProtocolVersion", clixml.VersionV(s.negotiated)},
		{"SerializationVersion", clixml.VersionV("1.1.0.1")},
		{"WSManStackVersion", clixml.VersionV("3.0")},
		{"GitCommitId", clixml.Str(ver)},
		{"OS", clixml.Str("pwshsim (psmux test double)")},
		{"Platform", clixml.Str("Unix")},
	} {
		table.Dict = append(table.Dict, clixml.DictEntry{Key: clixml.Str(e.k), Value: e.v})
	}
	apd := &clixml.PSObject{TypeNames: hashtable, Container: clixml.Dictionary}
	apd.Dict = []clixml.DictEntry{
		{Key: clixml.Str("DebugMode"), Value: clixml.I32(1)},
		{Key: clixml.Str("DebugStop"), Value: clixml.BoolV(false)},
		{Key: clixml.Str("DebugBreakpointCount"), Value: clixml.I32(0)},
		{Key: clixml.Str("BreakAll"), Value: clixml.BoolV(false)},
		{Key: clixml.Str("UnhandledBreakpointMode"), Value: clixml.I32(0)},
		{Key: clixml.Str("PSVersionTable"), Value: clixml.Obj(table)},
	}
	return clixml.Obj((&clixml.PSObject{}).AddMember("ApplicationPrivateData", clixml.Obj(apd)))
}

func (s *Server) pipe(g uuid.UUID) *spipe {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pipes[g]
}

// reassemble feeds a Data payload and calls fn per complete message.
func (s *Server) reassemble(p psrp.Packet, fn func(psrp.Message, clixml.Value) error) error {
	k := rxKey{p.GUID, p.PromptResponse}
	d := s.rx[k]
	if d == nil {
		d = &psrp.Defragmenter{}
		s.rx[k] = d
	}
	return d.Write(p.Payload, func(a psrp.Assembled) error {
		m, err := psrp.ParseMessage(a.Message)
		if err != nil {
			return err
		}
		var v clixml.Value
		if len(m.Body()) > 0 {
			if v, err = clixml.Decode(m.Body()); err != nil {
				return fmt.Errorf("psrp: %s: %w", m.Type, err)
			}
		}
		return fn(m, v)
	})
}

// sessionData handles pool messages. Decoding problems are transport
// errors (reported, data dropped), as in pwsh.
func (s *Server) sessionData(p psrp.Packet) error {
	err := s.reassemble(p, func(m psrp.Message, v clixml.Value) error {
		switch m.Type {
		case psrp.SessionCapability:
			c, err := psrp.ParseSessionCapability(v)
			if err != nil {
				return err
			}
			s.negotiated = negotiate(c.ProtocolVersion, s.opts.Protocol)
			reply := psrp.NewSessionCapability(s.negotiated)
			s.sendMessage(psrp.NilGUID, psrp.SessionCapability, psrp.NilGUID, reply.Value())
		case psrp.InitRunspacePool:
			if s.opened {
				return errors.New("psrp: RunspaceAlreadyExists: a second INIT_RUNSPACEPOOL")
			}
			init, err := psrp.ParseInitRunspacePool(v)
			if err != nil {
				return err
			}
			s.rpid = m.RPID
			s.poolHost = init.HostInfo
			s.opened = true
			s.sendMessage(psrp.NilGUID, psrp.ApplicationPrivateData, psrp.NilGUID, s.privateData())
			s.sendMessage(psrp.NilGUID, psrp.RunspacePoolState, psrp.NilGUID, psrp.StateMsg{State: int32(psrp.PoolOpened)}.PoolStateValue())
		case psrp.PublicKey:
			k, err := psrp.ParseKey(m.Type, v)
			if err != nil {
				return err
			}
			key := make([]byte, 32)
			_, _ = rand.Read(key)
			enc, err := pskex.EncryptSessionKey(k.Base64, key)
			if err != nil {
				return err
			}
			s.mu.Lock()
			s.sessionKey = key
			s.mu.Unlock()
			s.sendMessage(psrp.NilGUID, psrp.EncryptedSessionKey, psrp.NilGUID, psrp.KeyMsg{Base64: enc}.Value(psrp.EncryptedSessionKey))
		case psrp.SetMaxRunspaces, psrp.SetMinRunspaces, psrp.GetAvailableRunspaces, psrp.ResetRunspaceState:
			r, err := psrp.ParsePoolRequest(m.Type, v)
			if err != nil {
				return err
			}
			resp := clixml.BoolV(true)
			if m.Type == psrp.GetAvailableRunspaces {
				resp = clixml.I64(1)
			}
			s.sendMessage(psrp.NilGUID, psrp.RunspaceAvailability, psrp.NilGUID, psrp.AvailabilityMsg{CI: r.CI, Response: resp}.Value())
		}
		return nil
	})
	if err != nil {
		s.errorLine("Remote transport error: " + err.Error())
	}
	return nil
}

// negotiate applies pwsh's rule: echo 2.0–2.3 (and 2.3 for 2.4 servers),
// answer the server's own version to newer clients.
func negotiate(client, server string) string {
	if psrp.CompareVersion(client, server) < 0 {
		return client
	}
	return server
}

func (s *Server) closePipe(g uuid.UUID) {
	s.mu.Lock()
	sp := s.pipes[g]
	s.mu.Unlock()
	if sp != nil {
		sp.stop()
		sp.wait()
	}
	s.mu.Lock()
	if sp != nil {
		delete(s.pipes, g)
		s.openCmds--
	}
	finish := s.closePending && s.openCmds == 0
	s.mu.Unlock()
	s.writePacket(psrp.Packet{Kind: psrp.CloseAck, GUID: g})
	if finish {
		s.finishClose()
	}
}

func (s *Server) closeSession() {
	s.mu.Lock()
	if s.openCmds > 0 {
		s.closePending = true // held until every pipeline got its Close
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	s.finishClose()
}

func (s *Server) finishClose() {
	s.sendMessage(psrp.NilGUID, psrp.RunspacePoolState, psrp.NilGUID, psrp.StateMsg{State: int32(psrp.PoolClosing)}.PoolStateValue())
	s.sendMessage(psrp.NilGUID, psrp.RunspacePoolState, psrp.NilGUID, psrp.StateMsg{State: int32(psrp.PoolClosed)}.PoolStateValue())
	s.writePacket(psrp.Packet{Kind: psrp.CloseAck, GUID: psrp.NilGUID})
}

func (s *Server) stopAll() {
	s.mu.Lock()
	ps := make([]*spipe, 0, len(s.pipes))
	for _, p := range s.pipes {
		ps = append(ps, p)
	}
	s.mu.Unlock()
	for _, p := range ps {
		p.stop()
	}
	s.wg.Wait()
}

// ---- one pipeline ----

type spipe struct {
	s       *Server
	id      uuid.UUID
	ctx     context.Context
	cancel  context.CancelFunc
	started bool
	input   chan clixml.Value
	done    chan struct{}
	ui      bool
	width   int

	mu      sync.Mutex
	nextCI  int64
	waiting map[int64]chan hostAnswer
}

type hostAnswer struct {
	v   clixml.Value
	err error
}

func newSpipe(s *Server, id uuid.UUID) *spipe {
	ctx, cancel := context.WithCancel(context.Background())
	return &spipe{s: s, id: id, ctx: ctx, cancel: cancel, done: make(chan struct{}), waiting: map[int64]chan hostAnswer{}}
}

func (p *spipe) stop() { p.cancel() }

func (p *spipe) wait() {
	if p.started {
		<-p.done
	}
}

func (p *spipe) ack() { p.s.writePacket(psrp.Packet{Kind: psrp.DataAck, GUID: p.id}) }

func (p *spipe) data(pk psrp.Packet) {
	acked := false
	err := p.s.reassemble(pk, func(m psrp.Message, v clixml.Value) error {
		switch m.Type {
		case psrp.CreatePipeline:
			if p.started {
				return errors.New("psrp: a second CREATE_PIPELINE for one pipeline")
			}
			cp, err := psrp.ParseCreatePipeline(v)
			if err != nil {
				return err
			}
			p.started = true
			host := cp.HostInfo
			if host.UseRunspaceHost {
				host = p.s.poolHost
			}
			p.ui = !host.IsHostNull && !host.IsHostUINull
			if host.Data != nil {
				p.width = int(host.Data.BufferWidth)
			}
			if !cp.NoInput {
				p.input = make(chan clixml.Value, 1024)
			}
			// pwsh acks the Data that starts a pipeline before it runs.
			p.ack()
			acked = true
			p.s.wg.Add(1)
			go p.run(cp, p.input)
		case psrp.PipelineInput:
			if p.input != nil {
				select {
				case p.input <- p.open(deserialize(v)):
				case <-p.ctx.Done():
				}
			}
		case psrp.EndOfPipelineInput:
			if p.input != nil {
				close(p.input)
				p.input = nil
			}
		case psrp.PipelineHostResponse:
			r, err := psrp.ParseHostResponse(m.Type, v)
			if err != nil {
				return err
			}
			p.mu.Lock()
			ch := p.waiting[r.CI]
			delete(p.waiting, r.CI)
			p.mu.Unlock()
			if ch == nil {
				return fmt.Errorf("psrp: host response for call %d, which is not waiting", r.CI)
			}
			a := hostAnswer{v: clixml.NilV()}
			if r.Error != nil {
				a.err = errors.New(errorMessage(*r.Error))
			} else if r.Result != nil {
				a.v = p.open(*r.Result)
			}
			ch <- a
		}
		return nil
	})
	if err != nil {
		p.s.errorLine("Remote transport error: " + err.Error())
	}
	if !acked {
		p.ack()
	}
}

// sessionKey is the key SecureStrings are sealed with (nil for 2.4).
func (p *spipe) sessionKey() []byte {
	if psrp.CompareVersion(p.s.negotiated, psrp.ProtocolVersion24) >= 0 {
		return nil
	}
	return p.s.key()
}

// open replaces sealed SecureStrings with their plaintext for the script.
func (p *spipe) open(v clixml.Value) clixml.Value {
	key := p.sessionKey()
	return psrp.MapSecureStrings(v, func(sealed string) string {
		plain, err := openSecure(key, sealed)
		if err != nil {
			return ""
		}
		return plain
	})
}

// deserialize marks an object from the client as pwsh's deserializer
// does: "Deserialized." before each type name.
func deserialize(v clixml.Value) clixml.Value {
	if v.Kind != clixml.Object || v.Obj == nil || len(v.Obj.TypeNames) == 0 ||
		strings.HasPrefix(v.Obj.TypeNames[0], "Deserialized.") {
		return v
	}
	o := *v.Obj
	o.TypeNames = make([]string, len(v.Obj.TypeNames))
	for i, t := range v.Obj.TypeNames {
		o.TypeNames[i] = "Deserialized." + t
	}
	return clixml.Value{Kind: clixml.Object, Obj: &o}
}

// seal turns plaintext SecureStrings into wire form for the client.
func (p *spipe) seal(v clixml.Value) clixml.Value {
	key := p.sessionKey()
	return psrp.MapSecureStrings(v, func(plain string) string {
		return sealSecure(key, plain)
	})
}

// textLinesMarker starts the filter psmux's invoke and exec end a text
// pipeline with (one comment line, then begin/process/end blocks); run
// gives its part to the textLinesCmdlet instead of parsing it.
const (
	textLinesMarker = "# psmux: text lines\n"
	textLinesCmdlet = "psmux-text-lines"
)

func (p *spipe) run(cp psrp.CreatePipelineMsg, input chan clixml.Value) {
	defer p.s.wg.Done()
	defer close(p.done)
	cmds := make([]Command, len(cp.Cmds))
	for i, c := range cp.Cmds {
		if c.IsScript && strings.HasPrefix(c.Cmd, textLinesMarker) {
			c.Cmd, c.IsScript = textLinesCmdlet, false
		}
		cmds[i] = Command{Cmd: c.Cmd, IsScript: c.IsScript, MergeMyResult: c.MergeMyResult,
			MergeToResult: c.MergeToResult, MergePreviousResults: c.MergePreviousResults,
			UseLocalScope: c.UseLocalScope != nil && *c.UseLocalScope}
		for _, a := range c.Args {
			cmds[i].Args = append(cmds[i].Args, Arg{Name: a.Name, Value: p.open(a.Value)})
		}
	}
	if rp := replayFor(cp); rp != nil {
		p.replay(rp)
		return
	}
	var in <-chan clixml.Value
	if input != nil {
		in = input
	}
	state, reason := p.s.rs.Invoke(p.ctx, cmds, in, p)
	p.s.sendMessage(p.id, psrp.PipelineState, p.id, psrp.StateMsg{State: int32(state), Reason: reason}.PipelineStateValue())
}

// Emit implements Host.
func (p *spipe) Emit(t psrp.MessageType, body clixml.Value) {
	p.s.sendMessage(p.id, t, p.id, p.seal(body))
}

// HostCall implements Host.
func (p *spipe) HostCall(ctx context.Context, m psrp.HostMethod, mp []clixml.Value) (clixml.Value, error) {
	if m.Void() {
		p.s.sendMessage(p.id, psrp.PipelineHostCall, p.id, psrp.HostCallMsg{CI: psrp.VoidCallID, Method: m, Params: mp}.Value())
		return clixml.Value{}, nil
	}
	ch := make(chan hostAnswer, 1)
	p.mu.Lock()
	p.nextCI++
	ci := p.nextCI
	p.waiting[ci] = ch
	p.mu.Unlock()
	p.s.sendMessage(p.id, psrp.PipelineHostCall, p.id, psrp.HostCallMsg{CI: ci, Method: m, Params: mp}.Value())
	select {
	case a := <-ch:
		return a.v, a.err
	case <-ctx.Done():
		p.mu.Lock()
		delete(p.waiting, ci)
		p.mu.Unlock()
		return clixml.Value{}, ctx.Err()
	}
}

// UI implements Host.
func (p *spipe) UI() (bool, int) { return p.ui, p.width }

func errorMessage(v clixml.Value) string {
	if v.Obj != nil {
		if v.Obj.HasToString {
			return v.Obj.ToString
		}
	}
	return "host call failed"
}
