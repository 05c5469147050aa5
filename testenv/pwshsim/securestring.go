package pwshsim

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"errors"

	"github.com/psmux/psmux/sessions/psrp"
)

// The server's side of protocol 2.3's SecureString key exchange
// (psrp-brief §9), computed here and in testenv/pskex with Go's crypto
// packages: psmux's own implementation (sessions/pscrypto) is what this
// double checks, so it must not be what answers.

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
