package psrp

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf16"
)

// ErrNoSessionKey means a SecureString needs the key exchange first.
var ErrNoSessionKey = errors.New("psrp: no session key: the SecureString key exchange has not completed")

// Crypto is protocol 2.3's SecureString key exchange, client side
// (psrp-brief §9); package pscrypto implements it. psrp itself carries
// no cryptography.
type Crypto interface {
	// NewKey makes a key pair and returns the PUBLIC_KEY blob (base64).
	NewKey() (string, error)
	// SetSessionKey opens ENCRYPTED_SESSION_KEY's blob.
	SetSessionKey(encrypted string) error
	HasSessionKey() bool
	// Seal encrypts a SecureString's UTF-16LE bytes into its <SS> text.
	Seal(utf16le []byte) (string, error)
	// Open reverses Seal.
	Open(sealed string) ([]byte, error)
}

// UTF16LE is s as .NET holds a SecureString's characters.
func UTF16LE(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, x := range u {
		binary.LittleEndian.PutUint16(b[2*i:], x)
	}
	return b
}

// FromUTF16LE reverses UTF16LE.
func FromUTF16LE(b []byte) (string, error) {
	if len(b)%2 != 0 {
		return "", errors.New("psrp: SecureString: odd number of UTF-16 bytes")
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u)), nil
}

// PlainSecureText is a SecureString's <SS> text under protocol 2.4:
// base64 of its UTF-16LE, unencrypted.
func PlainSecureText(plain string) string {
	return base64.StdEncoding.EncodeToString(UTF16LE(plain))
}

// OpenPlainSecureText reverses PlainSecureText.
func OpenPlainSecureText(b64 string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return "", fmt.Errorf("psrp: SecureString is not base64: %w", err)
	}
	return FromUTF16LE(b)
}
