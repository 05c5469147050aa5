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
}

// MaxSize caps the input length in bytes; longer input is rejected before
// anything is allocated. Default 64 MiB; n <= 0 keeps the default.
func MaxSize(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.maxSize = n
		}
	}
}
