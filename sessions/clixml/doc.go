// Package clixml implements CLIXML, PowerShell's object serialization
// format, as it is used inside PSRP messages (psrp-brief §7) and in
// Export-Clixml documents.
//
// What it provides:
//
//   - Decode: one top-level element, a PSRP message body (optional UTF-8
//     BOM, no <Objs> root, no namespace), into a Value; DecodeAll: an
//     <Objs>-rooted document into []Value. Every tag of psrp-brief §7.2 is
//     understood (S C B DT TS By SB I16 U16 I32 U32 I64 U64 Sg Db D G URI
//     Version BA SS XD SBK PR Nil Ref Obj TN T TNRef ToString Props MS LST
//     IE STK QUE DCT En), plus member sets nested in <MS> (Kind MemberSet).
//     <Ref> and <TNRef> resolve to the very *PSObject / TypeNames slice
//     they name, so decoded values can share objects and be cyclic.
//     Primitive texts are kept as on the wire (after XML entity decoding
//     and, where pwsh applies it — S, URI, XD, SBK, ToString, T, N and the
//     PR strings — the _xHHHH_ decoding of §7.3), so numbers are only
//     parsed on demand. A PR is a Value of Kind ProgressRecord whose
//     Obj.Members hold AV, AI, CO, PI, PC, T, SR, SD.
//     The decoder is a hand-written scanner over the input bytes (no
//     encoding/xml), iterative (an explicit frame stack), and allocates
//     little: one copy of the input that all decoded strings share, object
//     slabs and exactly-sized slices cut from per-document arenas. Caps on
//     input size, nesting depth and value count (MaxSize, MaxDepth,
//     MaxObjects) are checked before allocating and reported as
//     *LimitError; every error is an *Error with the byte offset and what
//     was expected.
//
//   - Encode: a Value to compact CLIXML exactly as pwsh writes it (element
//     order, RefId counters from 0 per call, TNRef for repeated type-name
//     lists, Ref for objects met again, "<S />"-style empty elements,
//     _xHHHH_ and XML escaping).
//
//   - Constructors (Str, I32, I64, U32, BoolV, Dbl, NilV, VersionV, Guid,
//     DateTimeV, TimeSpanV, SecureStringV, BytesV, Obj, Enum, Array,
//     Hashtable, …), builders on *PSObject (AddMember, AddProp, Member,
//     Prop, Get) and accessors on Value (Int, Uint, Float, Bool, Rune,
//     Bytes, Time, Duration, IsNil, Str).
//
//   - Two JSON renderings: AppendFaithfulJSON (SPEC S10, psmux debug
//     decode) and AppendPlainJSON (SPEC S8, --json).
//
// Strings: the input must be UTF-8 (invalid bytes are an error, as for an
// XML parser) and decoded strings are valid UTF-8. A _xHHHH_ escape of a
// lone UTF-16 surrogate decodes to U+FFFD (a high/low pair escaped
// separately decodes to the one character). In the other direction the
// encoder accepts a lone surrogate in WTF-8 form (bytes ED A0–BF 80–BF,
// e.g. "\xed\xa0\xbc" for U+D83C) and writes it as _xD83C_, so a Go caller
// can still send one; other invalid UTF-8 is written as U+FFFD.
//
// Empty strings are encoded as <S></S>, as PowerShell itself writes them
// (see Encode), and decoded from both <S></S> and <S />.
package clixml
