package psrp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"sync"
	"testing"

	"github.com/psmux/psmux/sessions/pscrypto"
	"github.com/psmux/psmux/testenv/pskex"

	"github.com/google/uuid"
	"github.com/psmux/psmux/sessions/clixml"
)

// What the remote side feeds the client: packets on any PSGuid, raw
// OutOfProc bytes, the ENCRYPTED_SESSION_KEY reply, host calls.

// fuzzGUIDs are the PSGuids a FuzzPoolReceive record can name: the pool's
// (nil), two running pipelines, and unknown ones.
var fuzzGUIDs = func() (g [16]uuid.UUID) {
	for i := 1; i < len(g); i++ {
		g[i] = uuid.UUID{0xc1, 0xf0, byte(i), 0x42, 0, 0, 0x40, 0, 0x80, 0, 0, 0, 0, 0, 0, byte(i)}
	}
	return
}()

const fuzzPipes = 2 // fuzzGUIDs[1..fuzzPipes] are running pipelines

// fuzzPool returns a pool in the Opened state with fuzzPipes pipelines
// running, built without the encoding an Open does (the handshake is not
// what the fuzz targets test).
func fuzzPool(maxMessage int) *ClientPool {
	p := PoolWithPipelines(fuzzGUIDs[1 : 1+fuzzPipes]...)
	p.MaxMessage = maxMessage
	p.Decode = []clixml.Option{clixml.MaxSize(maxMessage)}
	return p
}

// buffered is what the pool holds of messages not yet complete.
func (p *ClientPool) buffered() (defrags, bytes int) {
	for _, d := range p.rx {
		if d.Pending() {
			defrags++
		}
		bytes += len(d.pending) + d.size
	}
	return
}

// poolRecords splits data into packets: each record is one byte naming the
// PSGuid (low 4 bits, plus the record's index, so that repeated records
// go to ever other ids), the packet kind and the stream (high bits), two
// bytes of length and that many payload bytes.
func poolRecords(data []byte, each func(Packet) bool) {
	kinds := [...]PacketKind{Data, Data, Data, Data, DataAck, CommandAck, CloseAck, SignalAck}
	for i := 0; len(data) >= 3; i++ {
		b := data[0]
		n := int(binary.BigEndian.Uint16(data[1:3]))
		data = data[3:]
		n = min(n, len(data))
		pk := Packet{Kind: kinds[b>>5], GUID: fuzzGUIDs[(int(b)+i)&0x0F], PromptResponse: b&0x10 != 0, Payload: data[:n]}
		data = data[n:]
		if !each(pk) {
			return
		}
	}
}

func poolRecord(guid int, prompt bool, payload []byte) []byte {
	b := byte(guid)
	if prompt {
		b |= 0x10
	}
	return append(binary.BigEndian.AppendUint16([]byte{b}, uint16(len(payload))), payload...)
}

// FuzzPoolReceive feeds the pool packets on many PSGuids. Whatever comes,
// it must not panic, and what it buffers of incomplete messages stays
// within one message per stream of the pool and its pipelines.
func FuzzPoolReceive(f *testing.F) {
	boundMinimize(f)
	const maxMessage = 4 << 10
	var fr Fragmenter
	body := clixml.Encode(nil, clixml.Str("hello"))
	msg := AppendMessage(nil, Message{ToClient, PipelineOutput, NilGUID, fuzzGUIDs[1], body})
	whole := fr.Fragment(nil, msg)
	// A start fragment whose end never comes, on known and unknown ids.
	start := AppendFragment(nil, Fragment{ObjectID: 9, FragmentID: 0, Start: true, Blob: bytes.Repeat([]byte{'x'}, 1000)})
	f.Add(poolRecord(1, false, whole))
	f.Add(append(poolRecord(0, false, start), poolRecord(1, true, start)...))
	f.Add(append(append(poolRecord(5, false, start), poolRecord(6, false, start)...), poolRecord(7, true, start)...))
	for _, l := range seedLines(f) {
		if p, err := ParsePacket([]byte(l)); err == nil && p.Kind == Data && len(p.Payload) < 1<<12 {
			f.Add(poolRecord(int(p.Payload[0]&0x0F), false, p.Payload))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p := fuzzPool(maxMessage)
		poolRecords(data, func(pk Packet) bool {
			_, err := p.Receive(pk)
			n, b := p.buffered()
			streams := 2 * (1 + len(p.pipes))
			if n > streams || b > streams*2*(maxMessage+FragmentHeaderLen) {
				t.Fatalf("%d incomplete messages, %d bytes buffered, with %d pipelines", n, b, len(p.pipes))
			}
			var pe *ProtocolError
			if err != nil && !errors.As(err, &pe) {
				t.Fatalf("Receive: %v is not a ProtocolError", err)
			}
			return err == nil
		})
	})
}

// FuzzReader reads arbitrary OutOfProc bytes: items until an error, no
// panic, no item over the line cap, and none after a line over it.
func FuzzReader(f *testing.F) {
	boundMinimize(f)
	for _, l := range seedLines(f) {
		if len(l) < 1<<12 {
			f.Add([]byte("banner\r\n"+l+"\n\n"+l+"\n"), false)
		}
	}
	f.Add([]byte("__NamedPipeError__: boom\n<DataAck PSGuid='00000000-0000-0000-0000-000000000000' />\n"), true)
	f.Fuzz(func(t *testing.T, data []byte, strict bool) {
		const max = 1 << 10
		r := NewReader(bytes.NewReader(data))
		if strict {
			r = NewStrictReader(bytes.NewReader(data))
		}
		r.SetMaxLine(max)
		for i := 0; ; i++ {
			it, err := r.Next()
			if err != nil {
				if i > len(data) {
					t.Fatalf("%d items from %d bytes", i, len(data))
				}
				// A line over the cap ends the stream for good.
				var tl *LineTooLongError
				if errors.As(err, &tl) {
					if _, err2 := r.Next(); err2 == nil {
						t.Fatalf("Next after %v succeeded", err)
					}
				}
				return
			}
			if len(it.Packet.Payload) > max || len(it.Noise) > max || len(it.PipeError) > max {
				t.Fatalf("item over the %d-byte line cap: %d/%d/%d", max, len(it.Packet.Payload), len(it.Noise), len(it.PipeError))
			}
		}
	})
}

var fuzzKey struct {
	once sync.Once
	k    *pscrypto.KeyPair
	err  error
}

func sharedKey(tb testing.TB) *pscrypto.KeyPair {
	fuzzKey.once.Do(func() { fuzzKey.k, fuzzKey.err = pscrypto.NewKeyPair() })
	if fuzzKey.err != nil {
		tb.Fatal(fuzzKey.err)
	}
	return fuzzKey.k
}

// keyedCrypto is the client side of the exchange with a key pair made
// once (an RSA key per fuzz input would be most of the run).
type keyedCrypto struct {
	kp  *pscrypto.KeyPair
	key []byte
}

func (c *keyedCrypto) NewKey() (string, error) { return c.kp.PublicKeyBlob(), nil }
func (c *keyedCrypto) SetSessionKey(enc string) (err error) {
	c.key, err = c.kp.DecryptSessionKey(enc)
	return err
}
func (c *keyedCrypto) HasSessionKey() bool           { return c.key != nil }
func (c *keyedCrypto) Seal(b []byte) (string, error) { return pscrypto.Seal(c.key, b) }
func (c *keyedCrypto) Open(s string) ([]byte, error) { return pscrypto.Open(c.key, s) }

// FuzzEncryptedSessionKey answers the client's PUBLIC_KEY with any
// ENCRYPTED_SESSION_KEY body. A SecureString answer waits for the key: a
// key that does not decrypt is a protocol error, one that does releases
// the answer sealed with it.
func FuzzEncryptedSessionKey(f *testing.F) {
	boundMinimize(f)
	key := sharedKey(f)
	session := bytes.Repeat([]byte{7}, 32)
	enc, err := pskex.EncryptSessionKey(key.PublicKeyBlob(), session)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(clixml.Encode(nil, KeyMsg{Base64: enc}.Value(EncryptedSessionKey)))
	f.Add(clixml.Encode(nil, KeyMsg{Base64: enc[:20]}.Value(EncryptedSessionKey)))
	f.Add(clixml.Encode(nil, KeyMsg{Base64: "AAAA"}.Value(EncryptedSessionKey)))
	f.Fuzz(func(t *testing.T, body []byte) {
		p := fuzzPool(1 << 16)
		cr := &keyedCrypto{kp: key}
		p.Crypto = cr
		_ = p.requestKey()
		pid := fuzzGUIDs[1]
		if err := p.Respond(pid, HostResponseMsg{CI: 1, Method: ReadLineAsSecureString, Result: &clixml.Value{Kind: clixml.SecureString, Text: "hunter2"}}); err != nil {
			t.Fatal(err)
		}
		if cr.HasSessionKey() || len(p.waiting) != 1 {
			t.Fatalf("the SecureString answer did not wait for the key: %d waiting", len(p.waiting))
		}
		var fr Fragmenter
		msg := AppendMessage(nil, Message{ToClient, EncryptedSessionKey, p.RPID, NilGUID, body})
		_, err := p.Receive(Packet{Kind: Data, GUID: NilGUID, Payload: fr.Fragment(nil, msg)})
		if err != nil {
			return
		}
		if !cr.HasSessionKey() || len(p.waiting) != 0 {
			t.Fatalf("a key was accepted (%d bytes) but %d answers still wait", len(cr.key), len(p.waiting))
		}
		if _, err := cr.Seal(UTF16LE("x")); err != nil {
			t.Fatalf("the accepted key cannot seal: %v", err)
		}
	})
}

// FuzzHostCall delivers any PIPELINE_HOST_CALL body to a running
// pipeline: an error, or an event whose call re-encodes and parses the
// same.
func FuzzHostCall(f *testing.F) {
	boundMinimize(f)
	for _, m := range []HostMethod{ReadLine, ReadLineAsSecureString, PromptForChoice, Prompt, WriteLine2, SetShouldExit} {
		f.Add(clixml.Encode(nil, HostCallMsg{CI: 3, Method: m, Params: []clixml.Value{clixml.Str("caption"), clixml.I32(1)}}.Value()))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p := fuzzPool(1 << 16)
		var fr Fragmenter
		msg := AppendMessage(nil, Message{ToClient, PipelineHostCall, p.RPID, fuzzGUIDs[1], body})
		evs, err := p.Receive(Packet{Kind: Data, GUID: fuzzGUIDs[1], Payload: fr.Fragment(nil, msg)})
		if err != nil {
			return
		}
		for _, ev := range evs {
			hc, ok := ev.(HostCallEvent)
			if !ok {
				continue
			}
			v, err := clixml.Decode(clixml.Encode(nil, hc.Call.Value()))
			if err != nil {
				t.Fatalf("a parsed host call does not re-encode: %v", err)
			}
			again, err := ParseHostCall(PipelineHostCall, v)
			if err != nil || again.CI != hc.Call.CI || again.Method != hc.Call.Method || len(again.Params) != len(hc.Call.Params) {
				t.Fatalf("host call %+v re-parses as %+v (%v)", hc.Call, again, err)
			}
		}
	})
}
