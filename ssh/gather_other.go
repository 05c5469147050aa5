//go:build !unix

package ssh

import "net"

// gather returns c as it is: pacing reads needs SO_RCVLOWAT (Unix).
func gather(c net.Conn) net.Conn { return c }
