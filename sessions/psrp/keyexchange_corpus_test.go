package psrp

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/psmux/psmux/sessions/pscrypto"

	"github.com/google/uuid"
	"github.com/psmux/psmux/sessions/clixml"
	"github.com/psmux/psmux/testenv/pskex"
	req "github.com/psmux/psmux/testenv/require"
)

// corpusKeyMessages returns the real PUBLIC_KEY (pypsrp's client) and
// ENCRYPTED_SESSION_KEY (Windows PowerShell 5.1's server) bodies of
// corpus E018/E019.
func corpusKeyMessages(t *testing.T) (pub, enc KeyMsg) {
	t.Helper()
	file := filepath.Join("..", "..", "..", "shared", "corpus", "pypsrp-winrm", "test_psrp_multiple_commands.yml")
	data, err := os.ReadFile(file)
	if err != nil {
		req.Missing(t, req.Corpus, "the corpus: %v", err)
		return
	}
	var found int
	for _, run := range regexp.MustCompile(`[A-Za-z0-9+/]{40,}={0,2}`).FindAll(data, -1) {
		raw, err := base64.StdEncoding.DecodeString(string(run))
		if err != nil {
			continue
		}
		var d Defragmenter
		_ = d.Write(raw, func(a Assembled) error {
			m, err := ParseMessage(a.Message)
			if err != nil || (m.Type != PublicKey && m.Type != EncryptedSessionKey) {
				return nil
			}
			v, err := clixml.Decode(m.Body())
			if err != nil {
				t.Fatalf("corpus %s: %v", m.Type, err)
			}
			k, err := ParseKey(m.Type, v)
			if err != nil {
				t.Fatalf("corpus %s: %v", m.Type, err)
			}
			if m.Type == PublicKey {
				pub = k
			} else {
				enc = k
			}
			found++
			return nil
		})
	}
	if pub.Base64 == "" || enc.Base64 == "" {
		t.Fatalf("corpus: PUBLIC_KEY or ENCRYPTED_SESSION_KEY not found in %s (%d key messages)", file, found)
	}
	return pub, enc
}

// keyBlob decodes a key message's CAPI blob.
func keyBlob(t *testing.T, k KeyMsg) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(k.Base64)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// On protocol 2.3 a SecureString from the server starts the key exchange
// from the client: PUBLIC_KEY goes out in the shape of the corpus's real
// one, the output waits, and an ENCRYPTED_SESSION_KEY in the shape of a
// real PowerShell server's releases it, openable.
func TestServerSecureStringStartsKeyExchange(t *testing.T) {
	realPub, realEnc := corpusKeyMessages(t)
	var f Fragmenter
	p := openPool(t, &f) // the server says 2.3
	p.Crypto = &pscrypto.Client{}
	pid := uuid.New()
	_ = p.Invoke(pid, ScriptPipeline("ConvertTo-SecureString x -AsPlainText -Force", false))
	receive(t, p, Packet{Kind: CommandAck, GUID: pid})
	receive(t, p, Packet{Kind: DataAck, GUID: pid})
	p.Outgoing()

	key := bytes.Repeat([]byte{7}, 32)
	sealed, _ := pscrypto.Seal(key, UTF16LE("hunter2"))
	out := serverPacket(t, &f, pid, PipelineOutput, p.RPID, clixml.Value{Kind: clixml.SecureString, Text: sealed})
	if evs := receive(t, p, out); len(evs) != 0 {
		t.Fatalf("events %v before the session key: want the output held", evs)
	}
	state := serverPacket(t, &f, pid, PipelineState, p.RPID, StateMsg{State: int32(Completed)}.PipelineStateValue())
	if evs := receive(t, p, state); len(evs) != 0 {
		t.Fatalf("events %v: what follows a held message waits too", evs)
	}
	sent := p.Outgoing()
	if len(sent) != 1 || sent[0].GUID != NilGUID {
		t.Fatalf("sent %v, want one PUBLIC_KEY on the session", kinds(sent))
	}
	var pub KeyMsg
	var d Defragmenter
	_ = d.Write(sent[0].Payload, func(a Assembled) error {
		m, _ := ParseMessage(a.Message)
		if m.Type != PublicKey || m.PID != NilGUID || m.RPID != p.RPID {
			t.Fatalf("sent %v pid %s rpid %s, want PUBLIC_KEY for the pool", m.Type, m.PID, m.RPID)
		}
		v, err := clixml.Decode(m.Body())
		if err != nil {
			t.Fatal(err)
		}
		pub, err = ParseKey(PublicKey, v)
		return err
	})
	mine, theirs := keyBlob(t, pub), keyBlob(t, realPub)
	if len(mine) != len(theirs) || !bytes.Equal(mine[:16], theirs[:16]) {
		t.Fatalf("PUBLIC_KEY blob %d bytes % x…, want the corpus's shape: %d bytes % x…", len(mine), mine[:16], len(theirs), theirs[:16])
	}

	b64, err := pskex.EncryptSessionKey(pub.Base64, key)
	if err != nil {
		t.Fatal(err)
	}
	ours, real := keyBlob(t, KeyMsg{Base64: b64}), keyBlob(t, realEnc)
	if len(ours) != len(real) || !bytes.Equal(ours[:12], real[:12]) {
		t.Fatalf("test ENCRYPTED_SESSION_KEY %d bytes % x…, want the corpus's shape: %d bytes % x…", len(ours), ours[:12], len(real), real[:12])
	}
	receive(t, p, Packet{Kind: DataAck, GUID: NilGUID})
	// a real server sends it with the all-zero RPID (corpus E019)
	evs := receive(t, p, serverPacket(t, &f, NilGUID, EncryptedSessionKey, NilGUID, KeyMsg{Base64: b64}.Value(EncryptedSessionKey)))
	if len(evs) != 2 {
		t.Fatalf("after the key: %d events, want the held output and state", len(evs))
	}
	o, ok := evs[0].(PipelineDataEvent)
	if !ok || o.Type != PipelineOutput {
		t.Fatalf("first event %#v, want the output", evs[0])
	}
	if plain, err := p.OpenSecure(o.Value); err != nil || plain != "hunter2" {
		t.Fatalf("the SecureString opens to %q, %v", plain, err)
	}
	if st, ok := evs[1].(PipelineStateEvent); !ok || st.State != Completed {
		t.Fatalf("second event %#v, want Completed", evs[1])
	}
}
