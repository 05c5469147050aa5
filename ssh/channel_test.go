package ssh

import (
	"bytes"
	"slices"
	"testing"

	gossh "golang.org/x/crypto/ssh"
)

// A write of a few KiB (a message to the PowerShell server) goes in
// packets of at most smallPacket bytes, so the SSH library's buffer kept
// for the channel's next write stays small; a bulk write goes whole.
func TestSmallWritesGoInSmallPackets(t *testing.T) {
	for _, size := range []int{100, smallPacket, smallPacket + 1, 5 << 10, smallWrite, smallWrite + 1, 40 << 10} {
		rec := &writeSizes{}
		n, err := (&Channel{ch: rec}).Write(bytes.Repeat([]byte("x"), size))
		if n != size || err != nil || rec.total != size {
			t.Fatalf("write of %d bytes: %d written (%d reached the channel), %v", size, n, rec.total, err)
		}
		largest := slices.Max(rec.sizes)
		if size <= smallWrite && largest > smallPacket {
			t.Fatalf("write of %d bytes: packets %v; want none over %d", size, rec.sizes, smallPacket)
		}
		if size > smallWrite && len(rec.sizes) != 1 {
			t.Fatalf("bulk write of %d bytes: packets %v; want one write", size, rec.sizes)
		}
	}
}

// writeSizes is a gossh.Channel that records the size of each write.
type writeSizes struct {
	gossh.Channel
	sizes []int
	total int
}

func (w *writeSizes) Write(p []byte) (int, error) {
	w.sizes = append(w.sizes, len(p))
	w.total += len(p)
	return len(p), nil
}
