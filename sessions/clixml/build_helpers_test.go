package clixml

// Builders only the tests use; production builds these kinds nowhere.

import (
	"encoding/base64"
	"strconv"
	"strings"
)

// Prim returns a primitive of kind k with the given wire text.
func Prim(k Kind, text string) Value { return Value{Kind: k, Text: text} }

// I16 returns an <I16> value.
func I16(n int16) Value { return Value{Kind: Int16, Text: strconv.FormatInt(int64(n), 10)} }

// U16 returns a <U16> value.
func U16(n uint16) Value { return Value{Kind: UInt16, Text: strconv.FormatUint(uint64(n), 10)} }

// U32 returns a <U32> value.
func U32(n uint32) Value { return Value{Kind: UInt32, Text: strconv.FormatUint(uint64(n), 10)} }

// U64 returns a <U64> value.
func U64(n uint64) Value { return Value{Kind: UInt64, Text: strconv.FormatUint(n, 10)} }

// ByteV returns a <By> (unsigned byte) value.
func ByteV(n uint8) Value { return Value{Kind: Byte, Text: strconv.FormatUint(uint64(n), 10)} }

// SByteV returns an <SB> value.
func SByteV(n int8) Value { return Value{Kind: SByte, Text: strconv.FormatInt(int64(n), 10)} }

// CharV returns a <C> value: the UTF-16 code unit in decimal. Runes above
// U+FFFF do not fit a .NET Char; they are written as U+FFFD.
func CharV(r rune) Value {
	if r < 0 || r > 0xFFFF {
		r = 0xFFFD
	}
	return Value{Kind: Char, Text: strconv.Itoa(int(r))}
}

// Sgl returns an <Sg> value (see Dbl; exponent form from 1e7 on).
func Sgl(f float32) Value { return Value{Kind: Single, Text: formatFloat(float64(f), 32, 7)} }

// Guid returns a <G> value, lower-cased as pwsh writes it.
func Guid(s string) Value { return Value{Kind: GUID, Text: strings.ToLower(s)} }

// URIV returns a <URI> value.
func URIV(s string) Value { return Value{Kind: URI, Text: s} }

// DecimalV returns a <D> value with the given invariant decimal text.
func DecimalV(s string) Value { return Value{Kind: Decimal, Text: s} }

// ScriptBlockV returns an <SBK> value.
func ScriptBlockV(src string) Value { return Value{Kind: ScriptBlock, Text: src} }

// SecureStringV returns an <SS> value carrying the base64 text as given
// (encrypted or plain, psrp-brief §9).
func SecureStringV(b64 string) Value { return Value{Kind: SecureString, Text: b64} }

// BytesV returns a <BA> value (standard base64).
func BytesV(b []byte) Value { return Value{Kind: Bytes, Text: base64.StdEncoding.EncodeToString(b)} }

// Array returns an object[] as pwsh writes one (TN System.Object[],
// System.Array, System.Object; <LST>).
func Array(items ...Value) Value {
	return Value{Kind: Object, Obj: &PSObject{
		TypeNames: []string{"System.Object[]", "System.Array", "System.Object"},
		Container: List,
		Items:     items,
	}}
}
