package psrp

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
	"math/big"
	"unicode/utf16"
)

// The SecureString key exchange of protocol 2.3 (psrp-brief §9): the
// client sends an RSA public key as a Windows CAPI PUBLICKEYBLOB, the
// server answers with an AES-256 key encrypted to it (SIMPLEBLOB), and
// SecureStrings travel as AES-256-CBC with a zero IV.

var (
	publicKeyBlobHeader = []byte{0x06, 0x02, 0x00, 0x00, 0x00, 0xa4, 0x00, 0x00, 'R', 'S', 'A', '1', 0x00, 0x08, 0x00, 0x00}
	simpleBlobHeader    = []byte{0x01, 0x02, 0x00, 0x00, 0x10, 0x66, 0x00, 0x00, 0x00, 0xa4, 0x00, 0x00}
)

// ErrNoSessionKey means a SecureString needs the key exchange first.
var ErrNoSessionKey = errors.New("psrp: no session key: the SecureString key exchange has not completed")

// KeyPair is the client's side of the exchange.
type KeyPair struct{ priv *rsa.PrivateKey }

// NewKeyPair generates a 2048-bit RSA key.
func NewKeyPair() (*KeyPair, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("psrp: generate RSA key: %w", err)
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
		return nil, fmt.Errorf("psrp: EncryptedSessionKey is not base64: %w", err)
	}
	if len(blob) != len(simpleBlobHeader)+256 || !bytes.Equal(blob[:len(simpleBlobHeader)], simpleBlobHeader) {
		return nil, fmt.Errorf("psrp: EncryptedSessionKey: expected a %d-byte CAPI SIMPLEBLOB for AES-256, got %d bytes", len(simpleBlobHeader)+256, len(blob))
	}
	key, err := rsa.DecryptPKCS1v15(nil, k.priv, reversed(blob[len(simpleBlobHeader):]))
	if err != nil {
		return nil, fmt.Errorf("psrp: decrypt session key: %w", err)
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("psrp: session key of %d bytes: expected 32", len(key))
	}
	return key, nil
}

// EncryptSessionKey is the server side: it makes a SIMPLEBLOB holding key
// for the client's PUBLICKEYBLOB.
func EncryptSessionKey(publicKeyB64 string, key []byte) (string, error) {
	blob, err := base64.StdEncoding.DecodeString(publicKeyB64)
	if err != nil {
		return "", fmt.Errorf("psrp: PublicKey is not base64: %w", err)
	}
	if len(blob) < len(publicKeyBlobHeader)+4+8 || !bytes.Equal(blob[:8], publicKeyBlobHeader[:8]) || string(blob[8:12]) != "RSA1" {
		return "", errors.New("psrp: PublicKey: expected a CAPI PUBLICKEYBLOB (06 02 … RSA1)")
	}
	bits := binary.LittleEndian.Uint32(blob[12:16])
	if bits%8 != 0 || bits < 1024 || bits > 16384 || len(blob) != 20+int(bits/8) {
		return "", fmt.Errorf("psrp: PublicKey: bad key length %d bits for a %d-byte blob", bits, len(blob))
	}
	e := binary.LittleEndian.Uint32(blob[16:20])
	pub := &rsa.PublicKey{E: int(e), N: new(big.Int).SetBytes(reversed(blob[20:]))}
	ct, err := rsa.EncryptPKCS1v15(rand.Reader, pub, key)
	if err != nil {
		return "", fmt.Errorf("psrp: encrypt session key: %w", err)
	}
	out := append(append([]byte(nil), simpleBlobHeader...), reversed(ct)...)
	return base64.StdEncoding.EncodeToString(out), nil
}

func utf16le(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	return b
}

func fromUTF16LE(b []byte) (string, error) {
	if len(b)%2 != 0 {
		return "", errors.New("psrp: SecureString: odd number of UTF-16 bytes")
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u)), nil
}

// SealSecureString returns the <SS> text for plain: AES-CBC with key, or
// plain UTF-16LE when key is nil (protocol 2.4).
func SealSecureString(key []byte, plain string) (string, error) {
	data := utf16le(plain)
	if key == nil {
		return base64.StdEncoding.EncodeToString(data), nil
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return "", fmt.Errorf("psrp: SecureString: %w", err)
	}
	pad := aes.BlockSize - len(data)%aes.BlockSize
	data = append(data, bytes.Repeat([]byte{byte(pad)}, pad)...)
	cipher.NewCBCEncrypter(block, make([]byte, aes.BlockSize)).CryptBlocks(data, data)
	return base64.StdEncoding.EncodeToString(data), nil
}

// OpenSecureString reverses SealSecureString.
func OpenSecureString(key []byte, b64 string) (string, error) {
	data, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return "", fmt.Errorf("psrp: SecureString is not base64: %w", err)
	}
	if key == nil {
		return fromUTF16LE(data)
	}
	if len(data) == 0 || len(data)%aes.BlockSize != 0 {
		return "", fmt.Errorf("psrp: SecureString of %d bytes: expected a multiple of %d", len(data), aes.BlockSize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return "", fmt.Errorf("psrp: SecureString: %w", err)
	}
	cipher.NewCBCDecrypter(block, make([]byte, aes.BlockSize)).CryptBlocks(data, data)
	pad := int(data[len(data)-1])
	if pad == 0 || pad > aes.BlockSize || pad > len(data) {
		return "", errors.New("psrp: SecureString: bad padding (wrong session key?)")
	}
	return fromUTF16LE(data[:len(data)-pad])
}
