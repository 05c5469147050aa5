package pskex

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
)

// simpleBlob is the CAPI SIMPLEBLOB header for an AES-256 key wrapped
// with RSA (CALG_AES_256 under CALG_RSA_KEYX).
var simpleBlob = []byte{0x01, 0x02, 0x00, 0x00, 0x10, 0x66, 0x00, 0x00, 0x00, 0xa4, 0x00, 0x00}

// EncryptSessionKey wraps key for the client's base64 PUBLICKEYBLOB into
// the base64 SIMPLEBLOB an ENCRYPTED_SESSION_KEY message carries (RSA
// PKCS#1 v1.5, little-endian as CAPI writes it).
func EncryptSessionKey(publicKeyB64 string, key []byte) (string, error) {
	blob, err := base64.StdEncoding.DecodeString(publicKeyB64)
	if err != nil {
		return "", fmt.Errorf("pskex: PublicKey is not base64: %w", err)
	}
	if len(blob) < 20 || blob[0] != 0x06 || string(blob[8:12]) != "RSA1" {
		return "", errors.New("pskex: PublicKey: expected a CAPI PUBLICKEYBLOB (06 02 … RSA1)")
	}
	bits := binary.LittleEndian.Uint32(blob[12:16])
	if bits%8 != 0 || bits < 1024 || bits > 16384 || len(blob) != 20+int(bits/8) {
		return "", fmt.Errorf("pskex: PublicKey: bad key length %d bits for a %d-byte blob", bits, len(blob))
	}
	pub := &rsa.PublicKey{E: int(binary.LittleEndian.Uint32(blob[16:20])), N: new(big.Int).SetBytes(littleEndian(blob[20:]))}
	//lint:ignore SA1019 CAPI's SIMPLEBLOB, which the protocol prescribes, is PKCS #1 v1.5
	ct, err := rsa.EncryptPKCS1v15(rand.Reader, pub, key)
	if err != nil {
		return "", fmt.Errorf("pskex: encrypt session key: %w", err)
	}
	out := append(append([]byte(nil), simpleBlob...), littleEndian(ct)...)
	return base64.StdEncoding.EncodeToString(out), nil
}

// littleEndian reverses b: CAPI stores big numbers least significant
// byte first.
func littleEndian(b []byte) []byte {
	out := make([]byte, len(b))
	for i := range b {
		out[len(b)-1-i] = b[i]
	}
	return out
}
