package capture

import "io"

// Decode decodes r in format f with the default caps, discarding warnings.
func Decode(r io.Reader, f Format, emit func(Record) error) error {
	d := Decoder{Format: f}
	return d.Decode(r, emit)
}
