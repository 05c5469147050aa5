package pwshsim

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"math/big"

	"github.com/psmux/psmux/sessions/psrp"
)

// The server's side of protocol 2.3's SecureString key exchange
// (psrp-brief §9), computed here with Go's crypto packages: psmux's own
// implementation (sessions/pscrypto) is what this double checks, so it
// must not be what answers.

// encryptSessionKey wraps key for the client's CAPI PUBLICKEYBLOB into a
// SIMPLEBLOB (RSA PKCS#1 v1.5, little-endian as CAPI writes it).
func encryptSessionKey(publicKeyB64 string, key []byte) (string, error) {
	blob, err := base64.StdEncoding.DecodeString(publicKeyB64)
	if err != nil || len(blob) < 20 || blob[0] != 0x06 || string(blob[8:12]) != "RSA1" {
		return "", errors.New("pwshsim: PublicKey is not a CAPI PUBLICKEYBLOB")
	}
	bits := binary.LittleEndian.Uint32(blob[12:16])
	if bits%8 != 0 || bits < 1024 || bits > 16384 || len(blob) != 20+int(bits/8) {
		return "", errors.New("pwshsim: PublicKey: bad key length")
	}
	pub := &rsa.PublicKey{E: int(binary.LittleEndian.Uint32(blob[16:20])), N: new(big.Int).SetBytes(flip(blob[20:]))}
	//lint:ignore SA1019 CAPI's SIMPLEBLOB, which the protocol prescribes, is PKCS #1 v1.5
	ct, err := rsa.EncryptPKCS1v15(rand.Reader, pub, key)
	if err != nil {
		return "", err
	}
	out := []byte{0x01, 0x02, 0x00, 0x00, 0x10, 0x66, 0x00, 0x00, 0x00, 0xa4, 0x00, 0x00}
	return base64.StdEncoding.EncodeToString(append(out, flip(ct)...)), nil
}

func flip(b []byte) []byte {
	out := make([]byte, len(b))
	for i := range b {
		out[len(b)-1-i] = b[i]
	}
	return out
}

// sealSecure is an <SS> text: AES-256-CBC, zero IV, PKCS#7, of the
// UTF-16LE text; under 2.4 (key nil) the UTF-16LE itself.
func sealSecure(key []byte, plain string) string {
	if key == nil {
		return psrp.PlainSecureText(plain)
	}
	data := psrp.UTF16LE(plain)
	pad := aes.BlockSize - len(data)%aes.BlockSize
	data = append(data, bytes.Repeat([]byte{byte(pad)}, pad)...)
	block, err := aes.NewCipher(key)
	if err != nil {
		return ""
	}
	cipher.NewCBCEncrypter(block, make([]byte, aes.BlockSize)).CryptBlocks(data, data)
	return base64.StdEncoding.EncodeToString(data)
}

// openSecure reverses sealSecure.
func openSecure(key []byte, b64 string) (string, error) {
	if key == nil {
		return psrp.OpenPlainSecureText(b64)
	}
	data, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(data) == 0 || len(data)%aes.BlockSize != 0 {
		return "", errors.New("pwshsim: a SecureString that is not AES blocks")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return "", err
	}
	cipher.NewCBCDecrypter(block, make([]byte, aes.BlockSize)).CryptBlocks(data, data)
	pad := int(data[len(data)-1])
	if pad == 0 || pad > aes.BlockSize {
		return "", errors.New("pwshsim: SecureString padding")
	}
	return psrp.FromUTF16LE(data[:len(data)-pad])
}
