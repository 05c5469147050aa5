package psrp

import (
	"encoding/binary"
	"fmt"

	"github.com/google/uuid"
)

// MessageHeaderLen is the size of the PSRP message header (psrp-brief §3).
const MessageHeaderLen = 40

// bom is the UTF-8 byte order mark pwsh puts before every body.
var bom = []byte{0xEF, 0xBB, 0xBF}

// Message is one PSRP message.
type Message struct {
	Destination Destination
	Type        MessageType
	RPID        uuid.UUID
	PID         uuid.UUID
	Data        []byte // the CLIXML body, BOM included if it was sent
}

// Body returns Data without a leading UTF-8 BOM.
func (m Message) Body() []byte {
	if len(m.Data) >= 3 && m.Data[0] == 0xEF && m.Data[1] == 0xBB && m.Data[2] == 0xBF {
		return m.Data[3:]
	}
	return m.Data
}

// HasBOM reports whether the body starts with a UTF-8 BOM.
func (m Message) HasBOM() bool { return len(m.Data) != len(m.Body()) }

// AppendMessage appends the wire form of m.
func AppendMessage(dst []byte, m Message) []byte {
	var h [MessageHeaderLen]byte
	binary.LittleEndian.PutUint32(h[0:], uint32(m.Destination))
	binary.LittleEndian.PutUint32(h[4:], uint32(m.Type))
	PutGUID(h[8:24], m.RPID)
	PutGUID(h[24:40], m.PID)
	dst = append(dst, h[:]...)
	return append(dst, m.Data...)
}

// ParseMessage parses a reassembled message. Data aliases b.
func ParseMessage(b []byte) (Message, error) {
	if len(b) < MessageHeaderLen {
		return Message{}, fmt.Errorf("psrp: message of %d bytes: expected at least the %d-byte header", len(b), MessageHeaderLen)
	}
	return Message{
		Destination: Destination(binary.LittleEndian.Uint32(b[0:])),
		Type:        MessageType(binary.LittleEndian.Uint32(b[4:])),
		RPID:        GUIDFromBytes(b[8:24]),
		PID:         GUIDFromBytes(b[24:40]),
		Data:        b[MessageHeaderLen:],
	}, nil
}

// PutGUID writes g in .NET Guid.ToByteArray order.
func PutGUID(dst []byte, g uuid.UUID) {
	dst[0], dst[1], dst[2], dst[3] = g[3], g[2], g[1], g[0]
	dst[4], dst[5] = g[5], g[4]
	dst[6], dst[7] = g[7], g[6]
	copy(dst[8:16], g[8:16])
}

// GUIDFromBytes reads a GUID in .NET byte order.
func GUIDFromBytes(b []byte) uuid.UUID {
	var g uuid.UUID
	g[0], g[1], g[2], g[3] = b[3], b[2], b[1], b[0]
	g[4], g[5] = b[5], b[4]
	g[6], g[7] = b[7], b[6]
	copy(g[8:16], b[8:16])
	return g
}
