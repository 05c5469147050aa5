//go:build !unix

package store

// syncDir is a no-op where directories cannot be opened for syncing
// (Windows); the rename itself is what makes the save atomic there.
func syncDir(dir string) error { return nil }
