package pscrypto

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
)

// The SecureString key exchange of protocol 2.3 (psrp-brief §9): the
// client sends an RSA public key as a Windows CAPI PUBLICKEYBLOB, the
// server answers with an AES-256 key encrypted to it (SIMPLEBLOB), and
// SecureStrings travel as AES-256-CBC with a zero IV.

var (
	publicKeyBlobHeader = []byte{0x06, 0x02, 0x00, 0x00, 0x00, 0xa4, 0x00, 0x00, 'R', 'S', 'A', '1', 0x00, 0x08, 0x00, 0x00}
	simpleBlobHeader    = []byte{0x01, 0x02, 0x00, 0x00, 0x10, 0x66, 0x00, 0x00, 0x00, 0xa4, 0x00, 0x00}
)

// KeyPair is the client's side of the exchange.
type KeyPair struct{ priv *rsa.PrivateKey }

// NewKeyPair generates a 2048-bit RSA key.
func NewKeyPair() (*KeyPair, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("pscrypto: generate RSA key: %w", err)
	}
	return &KeyPair{priv: k}, nil
}

func reversed(b []byte) []byte {
	out := make([]byte, len(b))
	for i := range b {
		out[len(b)-1-i] = b[i]
	}
	return out
}

// PublicKeyBlob returns the base64 CAPI PUBLICKEYBLOB for PUBLIC_KEY.
func (k *KeyPair) PublicKeyBlob() string {
	var b bytes.Buffer
	b.Write(publicKeyBlobHeader)
	var e [4]byte
	binary.LittleEndian.PutUint32(e[:], uint32(k.priv.E))
	b.Write(e[:])
	mod := k.priv.N.FillBytes(make([]byte, 256))
	b.Write(reversed(mod))
	return base64.StdEncoding.EncodeToString(b.Bytes())
}

// DecryptSessionKey opens an ENCRYPTED_SESSION_KEY blob.
func (k *KeyPair) DecryptSessionKey(b64 string) ([]byte, error) {
	blob, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("pscrypto: EncryptedSessionKey is not base64: %w", err)
	}
	if len(blob) != len(simpleBlobHeader)+256 || !bytes.Equal(blob[:len(simpleBlobHeader)], simpleBlobHeader) {
		return nil, fmt.Errorf("pscrypto: EncryptedSessionKey: expected a %d-byte CAPI SIMPLEBLOB for AES-256, got %d bytes", len(simpleBlobHeader)+256, len(blob))
	}
	//lint:ignore SA1019 CAPI's SIMPLEBLOB, which the protocol prescribes, is PKCS #1 v1.5
	key, err := rsa.DecryptPKCS1v15(nil, k.priv, reversed(blob[len(simpleBlobHeader):]))
	if err != nil {
		return nil, fmt.Errorf("pscrypto: decrypt session key: %w", err)
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("pscrypto: session key of %d bytes: expected 32", len(key))
	}
	return key, nil
}

// Seal returns the <SS> text for a SecureString's UTF-16LE bytes:
// AES-256-CBC with key, zero IV, PKCS#7 padding.
func Seal(key []byte, utf16le []byte) (string, error) {
	data := append([]byte(nil), utf16le...)
	block, err := aes.NewCipher(key)
	if err != nil {
		return "", fmt.Errorf("pscrypto: SecureString: %w", err)
	}
	pad := aes.BlockSize - len(data)%aes.BlockSize
	data = append(data, bytes.Repeat([]byte{byte(pad)}, pad)...)
	cipher.NewCBCEncrypter(block, make([]byte, aes.BlockSize)).CryptBlocks(data, data)
	return base64.StdEncoding.EncodeToString(data), nil
}

// Open reverses Seal: it returns the UTF-16LE bytes.
func Open(key []byte, b64 string) ([]byte, error) {
	data, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("pscrypto: SecureString is not base64: %w", err)
	}
	if len(data) == 0 || len(data)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("pscrypto: SecureString of %d bytes: expected a multiple of %d", len(data), aes.BlockSize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("pscrypto: SecureString: %w", err)
	}
	cipher.NewCBCDecrypter(block, make([]byte, aes.BlockSize)).CryptBlocks(data, data)
	pad := int(data[len(data)-1])
	if pad == 0 || pad > aes.BlockSize || pad > len(data) {
		return nil, errors.New("pscrypto: SecureString: bad padding (wrong session key?)")
	}
	return data[:len(data)-pad], nil
}

// Client is the client side of the exchange for a psrp.ClientPool
// (psrp.Crypto): a key pair, then the session key the server sent.
type Client struct {
	kp  *KeyPair
	key []byte
}

// NewKey makes the RSA key pair and returns its PUBLICKEYBLOB.
func (c *Client) NewKey() (string, error) {
	k, err := NewKeyPair()
	if err != nil {
		return "", err
	}
	c.kp = k
	return k.PublicKeyBlob(), nil
}

// SetSessionKey opens the server's ENCRYPTED_SESSION_KEY.
func (c *Client) SetSessionKey(encrypted string) error {
	if c.kp == nil {
		return errors.New("pscrypto: a session key before a key pair")
	}
	k, err := c.kp.DecryptSessionKey(encrypted)
	if err != nil {
		return err
	}
	c.key = k
	return nil
}

// HasSessionKey reports whether the exchange has completed.
func (c *Client) HasSessionKey() bool { return c.key != nil }

// Seal encrypts a SecureString's UTF-16LE bytes with the session key.
func (c *Client) Seal(utf16le []byte) (string, error) {
	if c.key == nil {
		return "", errors.New("pscrypto: no session key")
	}
	return Seal(c.key, utf16le)
}

// Open decrypts an <SS> text with the session key into UTF-16LE bytes.
func (c *Client) Open(sealed string) ([]byte, error) {
	if c.key == nil {
		return nil, errors.New("pscrypto: no session key")
	}
	return Open(c.key, sealed)
}
