package clixml

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// ---- decoding: XML character data ----------------------------------------

// appendUnescape appends the XML character data seg (raw bytes between
// markup) to dst, resolving entity and character references and applying
// XML end-of-line normalisation (CR LF and lone CR become LF). With attr set
// it also applies attribute-value normalisation (TAB, LF, CR become a
// space). off is the input offset of seg[0], for errors.
func appendUnescape(dst, seg []byte, off int, attr bool) ([]byte, error) {
	i := 0
	for i < len(seg) {
		c := seg[i]
		switch {
		case c == '&':
			r, n, err := parseEntity(seg[i:], off+i)
			if err != nil {
				return dst, err
			}
			dst = utf8.AppendRune(dst, r)
			i += n
		case c == '\r':
			if attr {
				dst = append(dst, ' ')
			} else {
				dst = append(dst, '\n')
			}
			i++
			if i < len(seg) && seg[i] == '\n' {
				i++
			}
		case attr && (c == '\n' || c == '\t'):
			dst = append(dst, ' ')
			i++
		default:
			j := i + 1
			for j < len(seg) {
				c := seg[j]
				if c == '&' || c == '\r' || (attr && (c == '\n' || c == '\t')) {
					break
				}
				j++
			}
			dst = append(dst, seg[i:j]...)
			i = j
		}
	}
	return dst, nil
}

// parseEntity decodes the reference at s[0] == '&' and returns the
// character and the length of the reference including '&' and ';'.
func parseEntity(s []byte, off int) (rune, int, error) {
	semi := -1
	for k := 1; k < len(s) && k < 40; k++ {
		if s[k] == ';' {
			semi = k
			break
		}
		if s[k] == '&' || s[k] == '<' {
			break
		}
	}
	if semi < 0 {
		return 0, 0, badEntity(s, off)
	}
	name := s[1:semi]
	switch string(name) {
	case "amp":
		return '&', semi + 1, nil
	case "lt":
		return '<', semi + 1, nil
	case "gt":
		return '>', semi + 1, nil
	case "quot":
		return '"', semi + 1, nil
	case "apos":
		return '\'', semi + 1, nil
	}
	if len(name) < 2 || name[0] != '#' {
		return 0, 0, badEntity(s[:semi+1], off)
	}
	var v uint32
	digits := name[1:]
	if digits[0] == 'x' {
		digits = digits[1:]
		if len(digits) == 0 {
			return 0, 0, badEntity(s[:semi+1], off)
		}
		for _, c := range digits {
			h, ok := hexVal(c)
			if !ok {
				return 0, 0, badEntity(s[:semi+1], off)
			}
			v = v<<4 | h
			if v > 0x10FFFF {
				return 0, 0, badEntity(s[:semi+1], off)
			}
		}
	} else {
		for _, c := range digits {
			if c < '0' || c > '9' {
				return 0, 0, badEntity(s[:semi+1], off)
			}
			v = v*10 + uint32(c-'0')
			if v > 0x10FFFF {
				return 0, 0, badEntity(s[:semi+1], off)
			}
		}
	}
	if !isXMLChar(v) {
		return 0, 0, &Error{Offset: off, Msg: "expected a character reference to a legal XML character, found " + quoteBytes(s[:semi+1])}
	}
	return rune(v), semi + 1, nil
}

func badEntity(s []byte, off int) error {
	if len(s) > 16 {
		s = s[:16]
	}
	return &Error{Offset: off, Msg: `expected an entity reference (&amp; &lt; &gt; &quot; &apos; &#NN; &#xHH;), found ` + quoteBytes(s)}
}

func isXMLChar(v uint32) bool {
	switch {
	case v == 0x9 || v == 0xA || v == 0xD:
		return true
	case v >= 0x20 && v <= 0xD7FF:
		return true
	case v >= 0xE000 && v <= 0xFFFD:
		return true
	case v >= 0x10000 && v <= 0x10FFFF:
		return true
	}
	return false
}

func hexVal(c byte) (uint32, bool) {
	switch {
	case c >= '0' && c <= '9':
		return uint32(c - '0'), true
	case c >= 'a' && c <= 'f':
		return uint32(c-'a') + 10, true
	case c >= 'A' && c <= 'F':
		return uint32(c-'A') + 10, true
	}
	return 0, false
}

// ---- decoding: _xHHHH_ (XmlConvert.DecodeName) ---------------------------

// escapeAt reports whether s[j:] starts with _xHHHH_ or _xHHHHHHHH_ (x or
// X, hex digits of either case) and returns the value and the length.
func escapeAt(s []byte, j int) (uint32, int) {
	if j+6 >= len(s) || s[j] != '_' || (s[j+1] != 'x' && s[j+1] != 'X') {
		return 0, 0
	}
	var u uint32
	for k := j + 2; k < j+6; k++ {
		h, ok := hexVal(s[k])
		if !ok {
			return 0, 0
		}
		u = u<<4 | h
	}
	if s[j+6] == '_' {
		return u, 7
	}
	if j+10 >= len(s) {
		return 0, 0
	}
	for k := j + 6; k < j+10; k++ {
		h, ok := hexVal(s[k])
		if !ok {
			return 0, 0
		}
		u = u<<4 | h
	}
	if s[j+10] == '_' {
		return u, 11
	}
	return 0, 0
}

// hasEscape reports whether s holds at least one _xHHHH_ sequence.
func hasEscape(s []byte) bool {
	i := 0
	for {
		j := bytes.IndexByte(s[i:], '_')
		if j < 0 {
			return false
		}
		j += i
		if _, n := escapeAt(s, j); n > 0 {
			return true
		}
		i = j + 1
	}
}

// appendDecodeName appends s with its _xHHHH_ / _xHHHHHHHH_ sequences
// decoded the way XmlConvert.DecodeName does (left to right, matches do not
// overlap, anything that does not match is kept). UTF-16 code units are
// turned into UTF-8: a high-surrogate escape directly followed by a
// low-surrogate escape becomes one rune; a lone surrogate becomes U+FFFD.
// An 8-digit value above U+10FFFF is kept literally, as .NET does.
func appendDecodeName(dst, s []byte) []byte {
	i := 0
	for i < len(s) {
		j := bytes.IndexByte(s[i:], '_')
		if j < 0 {
			break
		}
		j += i
		u, n := escapeAt(s, j)
		if n == 0 {
			dst = append(dst, s[i:j+1]...)
			i = j + 1
			continue
		}
		dst = append(dst, s[i:j]...)
		switch {
		case u > 0x10FFFF:
			dst = append(dst, s[j:j+n]...)
		case u >= 0xD800 && u <= 0xDBFF:
			if u2, n2 := escapeAt(s, j+n); n2 > 0 && u2 >= 0xDC00 && u2 <= 0xDFFF {
				dst = utf8.AppendRune(dst, rune(0x10000+(u-0xD800)<<10+(u2-0xDC00)))
				n += n2
			} else {
				dst = utf8.AppendRune(dst, utf8.RuneError)
			}
		case u >= 0xDC00 && u <= 0xDFFF:
			dst = utf8.AppendRune(dst, utf8.RuneError)
		default:
			dst = utf8.AppendRune(dst, rune(u))
		}
		i = j + n
	}
	return append(dst, s[i:]...)
}

// ---- encoding -------------------------------------------------------------

// plain[c] is true for bytes that are copied verbatim in every mode.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x7F; c++ {
		t[c] = true
	}
	for _, c := range []byte{'&', '<', '>', '"', '_'} {
		t[c] = false
	}
	return
}()

const upperHex = "0123456789ABCDEF"

func appendX4(dst []byte, u uint32) []byte {
	return append(dst, '_', 'x', upperHex[u>>12&0xF], upperHex[u>>8&0xF], upperHex[u>>4&0xF], upperHex[u&0xF], '_')
}

// appendText appends s as XML character data (attr false) or as the inside
// of a double-quoted attribute value (attr true). With xesc it first
// applies pwsh's EncodeString (§7.3): UTF-16 code units <= 0x1F, 0x7F–0x9F
// and surrogates (each half) become _xHHHH_, and '_' before 'x'/'X' becomes
// _x005F_. Invalid UTF-8 is written as U+FFFD, except that with xesc a
// WTF-8-encoded surrogate (ED A0–BF 80–BF) is written as its _xHHHH_
// escape, so a Go string can carry a lone surrogate to pwsh.
func appendText(dst []byte, s string, xesc, attr bool) []byte {
	i := 0
	for i < len(s) {
		// Fast run of bytes that never need attention.
		j := i
		for j < len(s) && plain[s[j]] {
			j++
		}
		dst = append(dst, s[i:j]...)
		if j == len(s) {
			break
		}
		i = j
		c := s[i]
		switch {
		case c == '&':
			dst = append(dst, "&amp;"...)
			i++
		case c == '<':
			dst = append(dst, "&lt;"...)
			i++
		case c == '>':
			dst = append(dst, "&gt;"...)
			i++
		case c == '"':
			if attr {
				dst = append(dst, "&quot;"...)
			} else {
				dst = append(dst, '"')
			}
			i++
		case c == '_':
			if xesc && i+1 < len(s) && (s[i+1] == 'x' || s[i+1] == 'X') {
				dst = append(dst, "_x005F_"...)
			} else {
				dst = append(dst, '_')
			}
			i++
		case c < 0x20 || c == 0x7F:
			switch {
			case xesc:
				dst = appendX4(dst, uint32(c))
			case c == '\r':
				dst = append(dst, "&#xD;"...)
			case attr && c == '\n':
				dst = append(dst, "&#xA;"...)
			case attr && c == '\t':
				dst = append(dst, "&#x9;"...)
			default:
				dst = append(dst, c)
			}
			i++
		default: // c >= 0x80
			r, size := utf8.DecodeRuneInString(s[i:])
			switch {
			case r == utf8.RuneError && size == 1:
				if xesc && c == 0xED && i+2 < len(s) && s[i+1] >= 0xA0 && s[i+1] <= 0xBF && s[i+2] >= 0x80 && s[i+2] <= 0xBF {
					dst = appendX4(dst, 0xD000|uint32(s[i+1]&0x3F)<<6|uint32(s[i+2]&0x3F))
					i += 3
					continue
				}
				dst = append(dst, "\uFFFD"...)
			case xesc && r <= 0x9F:
				dst = appendX4(dst, uint32(r))
			case xesc && r > 0xFFFF:
				r -= 0x10000
				dst = appendX4(dst, 0xD800+uint32(r>>10))
				dst = appendX4(dst, 0xDC00+uint32(r&0x3FF))
			default:
				dst = append(dst, s[i:i+size]...)
			}
			i += size
		}
	}
	return dst
}

// quoteBytes renders a short excerpt of the input for error messages.
func quoteBytes(b []byte) string {
	const max = 40
	cut := false
	if len(b) > max {
		b = b[:max]
		cut = true
	}
	out := make([]byte, 0, len(b)+8)
	out = append(out, '"')
	for _, c := range b {
		switch {
		case c == '"' || c == '\\':
			out = append(out, '\\', c)
		case c < 0x20 || c == 0x7F:
			out = append(out, '\\', 'x', upperHex[c>>4], upperHex[c&0xF])
		default:
			out = append(out, c)
		}
	}
	if cut {
		out = append(out, "…"...)
	}
	out = append(out, '"')
	return strings.ToValidUTF8(string(out), "\uFFFD")
}

// DecodeString undoes the _xHHHH_ escaping of psrp-brief §7.3 (it does not
// resolve XML entities). Decode already applies it where pwsh does.
func DecodeString(s string) string {
	b := []byte(s)
	if !hasEscape(b) {
		return s
	}
	return string(appendDecodeName(nil, b))
}

// EncodeString applies pwsh's _xHHHH_ escaping (psrp-brief §7.3) to s,
// without XML escaping. Encode already applies it where pwsh does.
func EncodeString(s string) string {
	var buf []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7F || (c == '_' && i+1 < len(s) && (s[i+1] == 'x' || s[i+1] == 'X')) {
			buf = appendXOnly(make([]byte, 0, len(s)+16), s)
			return string(buf)
		}
	}
	return s
}

// appendXOnly is appendText's _x escaping without the XML escaping.
func appendXOnly(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '_' && i+1 < len(s) && (s[i+1] == 'x' || s[i+1] == 'X'):
			dst = append(dst, "_x005F_"...)
			i++
		case c < 0x20 || c == 0x7F:
			dst = appendX4(dst, uint32(c))
			i++
		case c < 0x80:
			dst = append(dst, c)
			i++
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			switch {
			case r == utf8.RuneError && size == 1:
				if c == 0xED && i+2 < len(s) && s[i+1] >= 0xA0 && s[i+1] <= 0xBF && s[i+2] >= 0x80 && s[i+2] <= 0xBF {
					dst = appendX4(dst, 0xD000|uint32(s[i+1]&0x3F)<<6|uint32(s[i+2]&0x3F))
					i += 3
					continue
				}
				dst = append(dst, "\uFFFD"...)
			case r <= 0x9F:
				dst = appendX4(dst, uint32(r))
			case r > 0xFFFF:
				r -= 0x10000
				dst = appendX4(dst, 0xD800+uint32(r>>10))
				dst = appendX4(dst, 0xDC00+uint32(r&0x3FF))
			default:
				dst = append(dst, s[i:i+size]...)
			}
			i += size
		}
	}
	return dst
}
