package sessions

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/psmux/psmux/sessions/clixml"
	"github.com/psmux/psmux/sessions/pscrypto"
	"github.com/psmux/psmux/sessions/psrp"
)

// Transport is a byte stream of OutOfProc lines: a child process's stdio
// or an SSH channel. Read is the server's stdout, Write its stdin.
type Transport interface {
	io.Reader
	io.Writer
	// CloseWrite sends EOF to the server.
	CloseWrite() error
	// Close tears the transport down and waits for what it started.
	Close() error
}

// Aborter is a Transport that can also end at once, without the grace a
// clean Close gives the server (a local process is killed): used when a
// session broke and nothing more will be read.
type Aborter interface {
	Abort() error
}

// DiagKind says what a diagnostic line is.
type DiagKind int

// Diagnostic kinds.
const (
	DiagNoise     DiagKind = iota // text before the first packet (banners, rc files)
	DiagStderr                    // the server's stderr
	DiagPipeError                 // a __NamedPipeError__: line
	DiagProtocol                  // something the server sent that psmux ignores (said once per kind)
)

// DefaultHandshakeTimeout is how long Open waits for the server's answer
// when Options.HandshakeTimeout is 0: the connect timeout's default.
const DefaultHandshakeTimeout = 30 * time.Second

// Noise caps (SPEC S4): the first noiseShown lines before the first packet
// reach Diag, the rest are only counted; more than MaxNoise bytes of them
// break the connection.
const (
	noiseShown = 64
	MaxNoise   = 16 << 20
)

// HandshakeTimeoutError is a server that did not open the pool in time.
type HandshakeTimeoutError struct{ After time.Duration }

func (e *HandshakeTimeoutError) Error() string {
	return fmt.Sprintf("sessions: no answer from the PowerShell server within %s", seconds(e.After))
}

// seconds words d as "30 s" or "1.5 s".
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + " s"
}

// NoiseError is a server that wrote more than MaxNoise bytes before its
// first packet.
type NoiseError struct{ Lines, Bytes int }

func (e *NoiseError) Error() string {
	return fmt.Sprintf("sessions: %d bytes (%d lines) of noise before the first OutOfProc packet, more than the noise cap of %d bytes (%d MiB)",
		e.Bytes, e.Lines, MaxNoise, MaxNoise>>20)
}

// Counts are what a connection ignored or held back, for diagnostics.
type Counts struct {
	NoiseLines, NoiseBytes int // before the first packet
	Unknown                int // messages of unknown types and state values
}

// Options configure a connection.
type Options struct {
	Host         psrp.HostInfo // the pool's host; zero value = psrp.NoHost()
	MinRunspaces int32         // default 1
	MaxRunspaces int32         // default 1
	// AppArgs are the ApplicationArguments (a PSPrimitiveDictionary or
	// zero); psmux's PSVersionTable is added as pwsh's client adds its own.
	AppArgs clixml.Value
	// MaxReceivedObjectSize caps one message from the server in bytes,
	// checked before it is allocated (PowerShell's
	// MaximumReceivedObjectSize); 0 = psrp.MaxMessageDefault, 200 MB.
	MaxReceivedObjectSize int
	// Protocol is the protocolversion psmux announces; "" = 2.4. With
	// 2.3 pwsh encrypts SecureStrings with the session key, as it does
	// for a 2.3 peer.
	Protocol string
	// Diag receives noise and error lines from the remote side. It is
	// called from the connection's goroutine and must not block.
	Diag func(kind DiagKind, text string)
	// HandshakeTimeout bounds Open: a server that has not opened the pool
	// by then is given up with a *HandshakeTimeoutError. 0 =
	// DefaultHandshakeTimeout; negative = only ctx bounds it.
	HandshakeTimeout time.Duration
	// PrepareNext keeps the Command of the next pipeline sent ahead: each
	// Invoke prepares the one after it as it starts (psrp
	// ClientPool.Prepare), and a command costs one round trip instead of
	// two. For connections that run many commands (a server's sessions);
	// a one-command connection would only pay for the Close of the unused
	// one.
	PrepareNext bool
}

// ClientVersion is psmux's version, which servers see in
// $PSSenderInfo.ApplicationArguments.PSVersionTable.GitCommitId.
var ClientVersion = "dev"

// versionTable is what psmux tells servers about itself. Where pwsh's
// values describe the client program psmux gives its own (GitCommitId,
// OS); PSVersion is the PowerShell client line psmux speaks like, so the
// server offers what it offers such a client (its remote debugger needs
// 4 or later, Get-FormatData's current format 5.1 or later).
func versionTable(protocol string) psrp.ClientVersionTable {
	if protocol == "" {
		protocol = psrp.ClientProtocol
	}
	platform := "Unix"
	if runtime.GOOS == "windows" {
		platform = "Win32NT"
	}
	return psrp.ClientVersionTable{PSVersion: "7.6.0", GitCommitID: "psmux " + ClientVersion,
		OS: runtime.GOOS + "/" + runtime.GOARCH, Platform: platform, Protocol: protocol, Edition: "Core"}
}

// ErrClosed is returned for operations on a closed connection.
var ErrClosed = errors.New("sessions: connection closed")

// BrokenError says why a connection was lost.
type BrokenError struct{ Err error }

func (e *BrokenError) Error() string { return "sessions: connection lost: " + e.Err.Error() }
func (e *BrokenError) Unwrap() error { return e.Err }

// Conn is one runspace pool over a Transport. One goroutine (run) owns
// the protocol state; Invoke and Close talk to it through channels.
type Conn struct {
	t    Transport
	opts Options
	pool *psrp.ClientPool

	reqs    chan func()
	items   chan []item   // in batches: what the reader had buffered
	writes  chan []byte   // to the writer; nil asks it for the EOF
	eofSent chan struct{} // closed when the writer has sent the EOF
	done    chan struct{} // closed when run exits
	wg      sync.WaitGroup
	err     error // set before done is closed
	drained chan struct{}

	// owned by run
	runs      map[uuid.UUID]*pipeRun
	next      uuid.UUID // the prepared pipeline the next Invoke uses (Options.PrepareNext)
	queued    int
	opened    chan error
	closed    chan struct{}
	openErr   error
	psVersion string // see PSVersion
	closeOnce sync.Once
	started   bool // a packet came
	counts    Counts
	said      map[string]bool // DiagProtocol kinds already reported

	lines atomic.Int32 // whether the server runs psrp.LinesFilter: 0 not asked yet, 1 yes, -1 no
}

type item struct {
	it  psrp.Item
	err error
}

// maxQueued bounds events waiting for slow consumers before the
// connection stops reading (so the remote side blocks, nothing is lost).
const maxQueued = 1024

// Open starts the protocol on t and returns when the pool is Opened.
func Open(ctx context.Context, t Transport, opts Options) (*Conn, error) {
	if opts.MinRunspaces == 0 {
		opts.MinRunspaces = 1
	}
	if opts.MaxRunspaces == 0 {
		opts.MaxRunspaces = 1
	}
	if opts.Host == (psrp.HostInfo{}) {
		opts.Host = psrp.NoHost()
	}
	opts.AppArgs = versionTable(opts.Protocol).ApplicationArguments(opts.AppArgs)
	c := &Conn{
		t: t, opts: opts, pool: psrp.NewClientPool(),
		reqs: make(chan func()), items: make(chan []item), writes: make(chan []byte, 16), eofSent: make(chan struct{}),
		done: make(chan struct{}), drained: make(chan struct{}, 1),
		runs: map[uuid.UUID]*pipeRun{}, opened: make(chan error, 1), closed: make(chan struct{}),
	}
	c.pool.MaxMessage = opts.MaxReceivedObjectSize
	c.pool.OwnedPayloads = true // readLoop copies each payload off the reader's buffer
	c.pool.Assembled = collectAfterLarge
	c.pool.Protocol = opts.Protocol
	c.pool.Crypto = &pscrypto.Client{}
	if err := c.pool.Open(psrp.InitRunspacePoolMsg{
		MinRunspaces: opts.MinRunspaces, MaxRunspaces: opts.MaxRunspaces,
		ApartmentState: 2, HostInfo: opts.Host, ApplicationArguments: opts.AppArgs,
	}); err != nil {
		return nil, err
	}
	c.opts.AppArgs = clixml.Value{} // sent: a session does not keep it
	c.wg.Add(3)
	go c.readLoop()
	go c.writeLoop()
	go c.run()
	hs := opts.HandshakeTimeout
	if hs == 0 {
		hs = DefaultHandshakeTimeout
	}
	var expired <-chan time.Time
	if hs > 0 {
		t := time.NewTimer(hs)
		defer t.Stop()
		expired = t.C
	}
	select {
	case <-expired:
		c.abort()
		return nil, &HandshakeTimeoutError{After: hs}
	case err := <-c.opened:
		if err != nil {
			c.abort()
			return nil, err
		}
		return c, nil
	case <-c.done:
		c.abort()
		return nil, c.err
	case <-ctx.Done():
		c.abort()
		return nil, fmt.Errorf("sessions: open: %w", ctx.Err())
	}
}

// PSVersion returns the server's $PSVersionTable.PSVersion (its
// PSSemanticVersion where it has one), from APPLICATION_PRIVATE_DATA,
// or "unknown".
func (c *Conn) PSVersion() string {
	var v string
	c.do(func() { v = c.psVersion })
	return v
}

// psVersion finds PSVersionTable.PSVersion in APPLICATION_PRIVATE_DATA
// (which the Conn does not keep: a tree of a few KiB a session).
func psVersion(pd clixml.Value) string {
	apd, ok := pd.Get("ApplicationPrivateData")
	if !ok {
		return "unknown"
	}
	table, ok := dictLookup(apd, "PSVersionTable")
	if !ok {
		return "unknown"
	}
	if v, ok := dictLookup(table, "PSSemanticVersion"); ok && v.Str() != "" {
		return v.Str()
	}
	if v, ok := dictLookup(table, "PSVersion"); ok {
		return v.Str()
	}
	return "unknown"
}

func dictLookup(v clixml.Value, key string) (clixml.Value, bool) {
	if v.Obj == nil {
		return clixml.Value{}, false
	}
	for _, e := range v.Obj.Dict {
		if strings.EqualFold(e.Key.Str(), key) {
			return e.Value, true
		}
	}
	return clixml.Value{}, false
}

// OpenSecure returns the plaintext of a SecureString the server sent.
// Under protocol 2.3 its value is delivered only once the session key is
// there to open it.
func (c *Conn) OpenSecure(v clixml.Value) (string, error) {
	var s string
	err := ErrClosed
	c.do(func() { s, err = c.pool.OpenSecure(v) })
	return s, err
}

// Negotiated returns the server's protocol version.
func (c *Conn) Negotiated() string {
	var v string
	c.do(func() { v = c.pool.Negotiated })
	return v
}

// Done is closed when the connection has ended; Err then says why.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err returns why the connection ended (nil after a clean Close).
func (c *Conn) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

// do runs f in the owner goroutine and waits; it reports false when the
// connection has ended.
func (c *Conn) do(f func()) bool {
	ch := make(chan struct{})
	select {
	case c.reqs <- func() { f(); close(ch) }:
		<-ch
		return true
	case <-c.done:
		return false
	}
}

// largeMessage is the size from which a message's fragments are
// collected as soon as it is put together.
const largeMessage = 16 << 20

// collectAfterLarge runs the garbage collector once the fragments of a
// large message are garbage: otherwise the collector's next goal is
// twice the fragments and the message together, and the heap can grow
// to four times the message before it runs again (a 60 MB string cost
// the server 4× its size). Once for every 16 MiB received at most.
func collectAfterLarge(size int) {
	if size >= largeMessage {
		runtime.GC()
	}
}

func (c *Conn) readLoop() {
	defer c.wg.Done()
	r := psrp.NewReader(c.t)
	for {
		// what came in one read is handed over at once: one hand-off
		// between this goroutine and run for a batch, not for each
		// packet (pwsh sends one a line of text output)
		var batch []item
		var err error
		for len(batch) == 0 || (len(batch) < maxBatch && r.Buffered()) {
			var it psrp.Item
			it, err = r.Next()
			if err == nil && it.Packet.Payload != nil {
				it.Packet.Payload = append([]byte(nil), it.Packet.Payload...)
			}
			batch = append(batch, item{it, err})
			if err != nil {
				break
			}
		}
		select {
		case c.items <- batch:
		case <-c.done:
			return
		}
		if err != nil {
			return
		}
	}
}

// maxBatch is the most packets readLoop hands over at once.
const maxBatch = 64

// stopped reports whether run has stopped: the rest of a batch is dropped.
func (c *Conn) stopped() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

func (c *Conn) writeLoop() {
	defer c.wg.Done()
	eof := false
	for {
		select {
		case b := <-c.writes:
			if b == nil { // Close: EOF after everything queued before it
				if !eof {
					eof = true
					_ = c.t.CloseWrite()
					close(c.eofSent)
				}
				continue
			}
			if _, err := c.t.Write(b); err != nil {
				c.fail(fmt.Errorf("write: %w", err))
				return
			}
		case <-c.done:
			return
		}
	}
}

// fail records why the connection broke; run notices it through reqs.
func (c *Conn) fail(err error) {
	select {
	case c.reqs <- func() { c.stop(&BrokenError{Err: err}) }:
	case <-c.done:
	}
}

// stop ends run with err (nil = clean close).
func (c *Conn) stop(err error) {
	c.closeOnce.Do(func() {
		c.err = err
		if c.openErr == nil && c.pool.State == psrp.PoolOpening {
			if err == nil {
				err = errors.New("closed while opening")
			}
			select {
			case c.opened <- err:
			default:
			}
		}
		for _, pr := range c.runs {
			pr.push(runEnd{err: err})
		}
		close(c.done)
		if err != nil {
			// Broken: nothing more is read, so the remote process (a
			// local pwsh still writing, a launcher's child) is ended now,
			// not when someone closes the session.
			c.wg.Add(1)
			go func() { defer c.wg.Done(); c.closeHard() }()
		}
	})
}

func (c *Conn) run() {
	defer c.wg.Done()
	for {
		c.flushOut()
		select {
		case <-c.done:
			return
		default:
		}
		items := c.items
		if c.queued > maxQueued {
			items = nil // back-pressure: let consumers drain first
		}
		select {
		case f := <-c.reqs:
			f()
		case <-c.drained:
		case batch := <-items:
			for _, it := range batch {
				c.onItem(it)
				if c.stopped() {
					break
				}
			}
		}
	}
}

func (c *Conn) flushOut() {
	out := c.pool.Outgoing()
	if len(out) == 0 {
		return
	}
	var b []byte
	for _, p := range out {
		b = psrp.AppendPacket(b, p)
	}
	select {
	case c.writes <- b:
	case <-c.done:
	}
}

func (c *Conn) diag(k DiagKind, s string) {
	if c.opts.Diag != nil {
		c.opts.Diag(k, s)
	}
}

func (c *Conn) onItem(it item) {
	if it.err != nil {
		if c.pool.State == psrp.PoolClosed {
			c.stop(nil)
			return
		}
		if errors.Is(it.err, io.EOF) || errors.Is(it.err, io.ErrUnexpectedEOF) {
			c.stop(&BrokenError{Err: errors.New("the remote process closed its output before the session was closed")})
			return
		}
		c.stop(&BrokenError{Err: it.err})
		return
	}
	switch {
	case it.it.Noise != "":
		c.noise(it.it.Noise)
		return
	case it.it.PipeError != "":
		c.diag(DiagPipeError, it.it.PipeError)
		return
	}
	if !c.started {
		c.started = true
		if n := c.counts.NoiseLines - noiseShown; n > 0 {
			c.diag(DiagNoise, fmt.Sprintf("(%d more lines of noise before the first packet not shown; %d bytes in all)", n, c.counts.NoiseBytes))
		}
	}
	evs, err := c.pool.Receive(it.it.Packet)
	if err != nil {
		c.stop(&BrokenError{Err: err})
		return
	}
	for _, ev := range evs {
		c.dispatch(ev)
	}
}

// noise counts a line before the first packet, shows the first ones and
// breaks the connection past MaxNoise.
func (c *Conn) noise(line string) {
	c.counts.NoiseLines++
	c.counts.NoiseBytes += len(line) + 1
	if c.counts.NoiseBytes > MaxNoise {
		c.stop(&BrokenError{Err: &NoiseError{Lines: c.counts.NoiseLines, Bytes: c.counts.NoiseBytes}})
		return
	}
	if c.counts.NoiseLines <= noiseShown {
		c.diag(DiagNoise, line)
	}
}

// ignored counts something the server sent that psmux does not act on and
// says so once per kind.
func (c *Conn) ignored(kind, text string) {
	c.counts.Unknown++
	if c.said[kind] {
		return
	}
	if c.said == nil {
		c.said = map[string]bool{}
	}
	c.said[kind] = true
	c.diag(DiagProtocol, text+" (ignored; further ones are counted, not shown)")
}

// Counts returns what the connection has ignored or counted so far.
func (c *Conn) Counts() Counts {
	var n Counts
	c.do(func() { n = c.counts })
	return n
}

func (c *Conn) dispatch(ev any) {
	switch e := ev.(type) {
	case psrp.OtherEvent:
		if !e.Type.Known() {
			c.ignored(e.Type.String(), "the server sent a message of unknown type "+e.Type.String())
		}
	case psrp.PipelineStateEvent:
		if !e.State.Valid() {
			c.ignored("pipeline state", fmt.Sprintf("the server sent an invalid pipeline state %d", int32(e.State)))
		}
		c.toRun(e.PID, ev)
	case psrp.PoolStateEvent:
		if !e.State.Valid() {
			c.ignored("pool state", fmt.Sprintf("the server sent an invalid runspace pool state %d", int32(e.State)))
		}
		switch e.State {
		case psrp.PoolOpened:
			select {
			case c.opened <- nil:
			default:
			}
		case psrp.PoolBroken, psrp.PoolClosed:
			if c.pool.State != psrp.PoolClosing {
				msg := ErrorText(e.Reason)
				if msg == "" {
					msg = "the runspace pool is " + e.State.String()
				}
				err := &BrokenError{Err: errors.New(msg)}
				select {
				case c.opened <- err:
				default:
				}
				if e.State == psrp.PoolBroken {
					c.stop(err)
				}
			}
		}
	case psrp.PrivateDataEvent:
		c.psVersion = psVersion(e.Value)
	case psrp.SessionClosedEvent:
		close(c.closed)
	case psrp.PipelineDataEvent:
		c.toRun(e.PID, ev)
	case psrp.HostCallEvent:
		if e.PID == psrp.NilGUID {
			c.poolHostCall(e)
			return
		}
		c.toRun(e.PID, ev)
	case psrp.PipelineClosedEvent:
		c.toRun(e.PID, ev)
		delete(c.runs, e.PID)
	case psrp.SignalAckEvent, psrp.CapabilityEvent:
	}
}

// poolHostCall hands a host call of the pool (not of a pipeline) to any
// running pipeline's handler, or answers that no host is there.
func (c *Conn) poolHostCall(e psrp.HostCallEvent) {
	for pid := range c.runs {
		c.toRun(pid, e)
		return
	}
	if !e.Call.Method.Void() {
		msg := hostUnavailable(e.Call.Method)
		_ = c.pool.Respond(psrp.NilGUID, psrp.HostResponseMsg{CI: e.Call.CI, Method: e.Call.Method, Error: &msg})
	}
}

// forget stops handing events to a run that returned: what it has not
// taken (its CloseAck) no longer counts as queued, and a pool host call
// it was handed after its end (rest: what it took and did not handle)
// goes to another run or is answered.
func (c *Conn) forget(pid uuid.UUID, pr *pipeRun, rest []any) {
	if c.runs[pid] == pr {
		delete(c.runs, pid)
	}
	left := pr.take()
	c.queued -= len(left)
	for _, ev := range append(rest, left...) {
		if e, ok := ev.(psrp.HostCallEvent); ok && e.PID == psrp.NilGUID {
			c.poolHostCall(e)
		}
	}
	select {
	case c.drained <- struct{}{}:
	default:
	}
}

func (c *Conn) toRun(pid uuid.UUID, ev any) {
	if pr := c.runs[pid]; pr != nil {
		c.queued++
		pr.push(ev)
	}
}

// abort tears everything down without the protocol's goodbye.
func (c *Conn) abort() {
	select {
	case c.reqs <- func() { c.stop(ErrClosed) }:
	case <-c.done:
	}
	c.closeHard()
	c.wg.Wait()
}

// closeHard ends the transport at once: Abort when it can, else Close.
func (c *Conn) closeHard() {
	if a, ok := c.t.(Aborter); ok {
		_ = a.Abort()
		return
	}
	_ = c.t.Close()
}

// Close closes every pipeline and the session, then the transport. It
// waits for the server's CloseAck until ctx ends.
func (c *Conn) Close(ctx context.Context) error {
	ok := c.do(func() { c.pool.Close() })
	var err error
	if ok {
		select {
		case <-c.closed:
		case <-c.done:
			err = c.err
		case <-ctx.Done():
			err = fmt.Errorf("sessions: close: no CloseAck from the server: %w", ctx.Err())
		}
	} else {
		err = c.err
	}
	// The writer sends the EOF, in order after what it has queued: a
	// transport's Write and CloseWrite are not safe at the same time
	// (x/crypto/ssh's channel races on its EOF flag).
	select {
	case c.writes <- nil:
		select {
		case <-c.eofSent:
		case <-c.done:
		case <-ctx.Done():
		}
	case <-c.done:
	case <-ctx.Done(): // the writer is stuck behind a peer that stopped reading
	}
	select {
	case c.reqs <- func() { c.stop(nil) }:
	case <-c.done:
	}
	// After the server acknowledged the close, how its process ends is
	// not the user's concern: a launcher (go run, a shell wrapper) turns
	// pwsh's usual exit status 4000 into its own.
	_ = c.t.Close()
	c.wg.Wait()
	if errors.Is(err, ErrClosed) {
		err = nil
	}
	return err
}
