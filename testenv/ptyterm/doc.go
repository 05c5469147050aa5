// Package ptyterm opens pseudo-terminals for tests and benchmarks that
// run a client as a user does, in a terminal (Linux only), and runs a
// command in one until what it draws holds a marker.
package ptyterm
