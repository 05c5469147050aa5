package clixml

import "strconv"

// Error is the error Decode and DecodeAll return for malformed or
// over-limit input. Its message reads
//
//	clixml: at offset 123: expected "</S>", found "</I32>"
//
// Offset counts bytes from the start of the input as given (a leading BOM
// included). Err is the cause when there is one: a *LimitError when a cap
// was hit, so errors.As(err, &limitErr) works.
type Error struct {
	Offset int
	Msg    string // "expected …, found …"
	Err    error
}

func (e *Error) Error() string {
	return "clixml: at offset " + strconv.Itoa(e.Offset) + ": " + e.Msg
}

// Unwrap returns the cause (a *LimitError, or nil).
func (e *Error) Unwrap() error { return e.Err }

// LimitError reports that the input exceeded one of the decoder's caps
// (MaxSize, MaxDepth, MaxObjects). It is always returned wrapped in an
// *Error that says where.
type LimitError struct {
	What  string // "input size", "nesting depth", "value count"
	Limit int
}

func (e *LimitError) Error() string {
	return "clixml: " + e.What + " exceeds the limit of " + strconv.Itoa(e.Limit)
}

// ValueError is returned by the accessors (Int, Bool, Time, …) when the
// value is not of a kind they accept or its text does not parse.
type ValueError struct {
	Want string // what the accessor expected, e.g. "an integer (By, SB, I16, U16, I32, U32, I64, U64)"
	Kind Kind   // the kind found
	Text string // the text found
}

func (e *ValueError) Error() string {
	b := make([]byte, 0, 48+len(e.Want)+len(e.Text))
	b = append(b, "clixml: expected "...)
	b = append(b, e.Want...)
	b = append(b, ", found <"...)
	b = append(b, e.Kind.Tag()...)
	b = append(b, "> "...)
	t := e.Text
	if len(t) > 64 {
		t = t[:64] + "…"
	}
	b = strconv.AppendQuote(b, t)
	return string(b)
}
