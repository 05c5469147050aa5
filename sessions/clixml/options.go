package clixml

// Defaults of the decoder's caps.
const (
	DefaultMaxDepth   = 256
	DefaultMaxObjects = 1 << 20
	DefaultMaxSize    = 64 << 20
)

// Option adjusts a Decode or DecodeAll call.
type Option func(*options)

type options struct {
	maxDepth   int
	maxObjects int
	maxSize    int
	shared     bool
}

// Shared says the caller never changes the input again: a long text
// (SharedMin bytes or more) may then be returned as a string that points
// into the input instead of a copy of it, and keeps the input alive as
// long as it is used. A large object then costs its message once, not
// twice.
func Shared() Option { return func(o *options) { o.shared = true } }

// SharedMin is the shortest text Shared lets the decoder leave in the
// input: shorter ones are copied, so that a short text never keeps a
// large input alive.
const SharedMin = 1 << 20

// MaxSize caps the input length in bytes; longer input is rejected before
// anything is allocated. Default 64 MiB; n <= 0 keeps the default.
func MaxSize(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.maxSize = n
		}
	}
}
