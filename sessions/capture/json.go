package capture

import (
	"strconv"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/psmux/psmux/sessions/clixml"
)

// AppendJSON appends r as the one-line JSON object of SPEC S10, without a
// trailing newline:
//
//	{"direction","destination","type","type_value","rpid","pid","object_id","fragments":[ids],"bom","data"}
//
// in that order. direction is "ClientToServer", "ServerToClient" or
// "Unknown"; destination "Client", "Server" or the number; type the
// MS-PSRP name (UNKNOWN_0x… for codes psrp does not know); type_value
// "0x%08X"; rpid and pid lowercase GUIDs read in .NET byte order; data
// the faithful JSON of the body (clixml.AppendFaithfulJSON), null for an
// empty body. A body that did not decode has "data": null and a final
// "error" naming what was wrong.
func AppendJSON(dst []byte, r Record) []byte {
	dst = append(dst, `{"direction":`...)
	dst = appendString(dst, r.Direction.String())
	dst = append(dst, `,"destination":`...)
	dst = appendString(dst, r.Destination.String())
	dst = append(dst, `,"type":`...)
	dst = appendString(dst, r.Type.String())
	dst = append(dst, `,"type_value":"0x`...)
	dst = appendHex8(dst, uint32(r.Type))
	dst = append(dst, `","rpid":`...)
	dst = appendGUID(dst, r.RPID)
	dst = append(dst, `,"pid":`...)
	dst = appendGUID(dst, r.PID)
	dst = append(dst, `,"object_id":`...)
	dst = strconv.AppendUint(dst, r.ObjectID, 10)
	dst = append(dst, `,"fragments":[`...)
	for i, id := range r.FragmentIDs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = strconv.AppendUint(dst, id, 10)
	}
	dst = append(dst, `],"bom":`...)
	dst = strconv.AppendBool(dst, r.BOM())
	dst = append(dst, `,"data":`...)
	if r.Err != nil || len(r.Body()) == 0 {
		dst = append(dst, "null"...)
	} else {
		dst = clixml.AppendFaithfulJSON(dst, r.Value)
	}
	if r.Err != nil {
		dst = append(dst, `,"error":`...)
		dst = appendString(dst, r.Err.Error())
	}
	return append(dst, '}')
}

func appendHex8(dst []byte, v uint32) []byte {
	const hex = "0123456789ABCDEF"
	for shift := 28; shift >= 0; shift -= 4 {
		dst = append(dst, hex[(v>>uint(shift))&15])
	}
	return dst
}

func appendGUID(dst []byte, g uuid.UUID) []byte {
	dst = append(dst, '"')
	dst = append(dst, g.String()...)
	return append(dst, '"')
}

// appendString appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, `\n`...)
			case c == '\r':
				dst = append(dst, `\r`...)
			case c == '\t':
				dst = append(dst, `\t`...)
			case c < 0x20 || c == 0x7f:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, `\ufffd`...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}
