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

// MaxDepth caps how deeply elements may nest (Obj, containers, Props, MS,
// TN, PR, En each count one level). Default 256; n <= 0 keeps the default.
func MaxDepth(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.maxDepth = n
		}
	}
}

// MaxObjects caps how many values one document may hold: every element
// that yields a Value (primitives, Nil, Ref, Obj, PR, member sets) and
// every TN list counts one, so it bounds the RefId tables and the memory a
// document can make the decoder allocate. Default 1<<20; n <= 0 keeps the
// default.
func MaxObjects(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.maxObjects = n
		}
	}
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
