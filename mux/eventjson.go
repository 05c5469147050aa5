package mux

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"unicode/utf8"
)

// decodeEvent decodes an encoded event. The shape encodeEvent writes
// (no space, known keys, numbers, booleans and strings with the usual
// escapes) is read directly, which a client reading a long log does a
// hundred thousand times; anything else goes to encoding/json, whose
// answer the direct reading always agrees with (FuzzDecodeEvent).
func decodeEvent(b []byte, e *Event) error {
	if readEvent(b, e) {
		return nil
	}
	*e = Event{}
	return json.Unmarshal(b, e)
}

// readEvent reads b into e if it has encodeEvent's shape.
func readEvent(b []byte, e *Event) bool {
	*e = Event{}
	if len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' {
		return false
	}
	p := b[1 : len(b)-1]
	for len(p) > 0 {
		if p[0] != '"' {
			return false
		}
		end := bytes.IndexByte(p[1:], '"')
		if end < 0 {
			return false
		}
		key := p[1 : 1+end]
		if p = p[end+2:]; len(p) == 0 || p[0] != ':' {
			return false
		}
		p = p[1:]
		var ok bool
		switch string(key) {
		case "ts":
			e.TS, p, ok = readInt(p)
		case "cmd":
			e.Cmd, p, ok = readSmallInt(p)
		case "type":
			e.Type, p, ok = readSmallInt(p)
		case "method":
			e.Method, p, ok = readSmallInt(p)
		case "kind":
			e.Kind, p, ok = readString(p)
		case "xml":
			e.XML, p, ok = readString(p)
		case "text":
			e.Text, p, ok = readString(p)
		case "client":
			e.Client, p, ok = readString(p)
		case "had_errors":
			switch {
			case bytes.HasPrefix(p, []byte("true")):
				e.HadErrors, p, ok = true, p[4:], true
			case bytes.HasPrefix(p, []byte("false")):
				e.HadErrors, p, ok = false, p[5:], true
			}
		}
		if !ok {
			return false
		}
		if len(p) > 0 {
			if p[0] != ',' || len(p) == 1 {
				return false
			}
			p = p[1:]
		}
	}
	return true
}

// readUint reads a JSON number without sign, fraction or exponent (as
// strconv writes one: no leading zero).
func readUint(p []byte) (uint64, []byte, bool) {
	i := 0
	for i < len(p) && p[i] >= '0' && p[i] <= '9' {
		i++
	}
	if i == 0 || (p[0] == '0' && i > 1) {
		return 0, nil, false
	}
	n, err := strconv.ParseUint(string(p[:i]), 10, 64)
	if err != nil {
		return 0, nil, false
	}
	return n, p[i:], true
}

// readInt reads a JSON integer: readUint's, or one with a '-'.
func readInt(p []byte) (int64, []byte, bool) {
	neg := len(p) > 0 && p[0] == '-'
	if neg {
		p = p[1:]
	}
	u, rest, ok := readUint(p)
	switch {
	case !ok || (!neg && u > math.MaxInt64) || (neg && u > 1<<63):
		return 0, nil, false
	case neg:
		return -int64(u), rest, true // 1<<63 wraps to MinInt64, which it is
	}
	return int64(u), rest, true
}

// readSmallInt reads a JSON integer that fits an int.
func readSmallInt(p []byte) (int, []byte, bool) {
	n, rest, ok := readInt(p)
	if !ok || int64(int(n)) != n {
		return 0, nil, false
	}
	return int(n), rest, true
}

// readString reads a JSON string of valid UTF-8 whose escapes are the
// short ones or \uXXXX outside the surrogates.
func readString(p []byte) (string, []byte, bool) {
	if len(p) == 0 || p[0] != '"' {
		return "", nil, false
	}
	p = p[1:]
	// the common case: no escape at all
	i := 0
	for i < len(p) && p[i] != '"' && p[i] != '\\' && p[i] >= 0x20 {
		i++
	}
	if i < len(p) && p[i] == '"' {
		if !utf8.Valid(p[:i]) {
			return "", nil, false
		}
		return string(p[:i]), p[i+1:], true
	}
	out := make([]byte, 0, len(p))
	for {
		j := i
		for j < len(p) && p[j] != '"' && p[j] != '\\' && p[j] >= 0x20 {
			j++
		}
		out = append(out, p[:j]...)
		if j == len(p) || p[j] < 0x20 {
			return "", nil, false
		}
		if p[j] == '"' {
			if !utf8.Valid(out) {
				return "", nil, false
			}
			return string(out), p[j+1:], true
		}
		// an escape
		if j+1 == len(p) {
			return "", nil, false
		}
		switch c := p[j+1]; c {
		case '"', '\\', '/':
			out = append(out, c)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			if j+6 > len(p) {
				return "", nil, false
			}
			r, err := strconv.ParseUint(string(p[j+2:j+6]), 16, 32)
			if err != nil || (r >= 0xD800 && r <= 0xDFFF) {
				return "", nil, false
			}
			out = utf8.AppendRune(out, rune(r))
			p, i = p[j+6:], 0
			continue
		default:
			return "", nil, false
		}
		p, i = p[j+2:], 0
	}
}
