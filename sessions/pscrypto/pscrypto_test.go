package pscrypto

import (
	"bytes"
	"testing"

	"github.com/psmux/psmux/testenv/pskex"
)

// TestExchangeRoundTrip: a session key wrapped for the client's
// PUBLICKEYBLOB opens on the client, and what one side seals with it
// the other opens.
func TestExchangeRoundTrip(t *testing.T) {
	var c Client
	blob, err := c.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	key := bytes.Repeat([]byte{7}, 32)
	enc, err := pskex.EncryptSessionKey(blob, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetSessionKey(enc); err != nil || !c.HasSessionKey() {
		t.Fatalf("SetSessionKey: %v", err)
	}
	msg := []byte("h\x00i\x00")
	sealed, err := c.Seal(msg)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Open(key, sealed)
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := Open(bytes.Repeat([]byte{8}, 32), sealed); err == nil {
		t.Log("a wrong key happened to give valid padding") // possible, not an error
	}
}
