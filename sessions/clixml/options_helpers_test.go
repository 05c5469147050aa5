package clixml

// Caps only the tests lower; production decodes with the defaults.

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
