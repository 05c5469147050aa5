package psrp

// SetMaxLine changes the line cap (production keeps MaxLineDefault).
func (r *Reader) SetMaxLine(n int) { r.max = n }
