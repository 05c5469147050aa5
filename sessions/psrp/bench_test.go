package psrp_test

import (
	"bytes"
	"sync"
	"testing"

	"github.com/psmux/psmux/internal/benchdata"
)

// benchObjects is the corpus size of the benchmarks.
const benchObjects = 5000

var (
	benchOnce    sync.Once
	benchCorpora map[string]*benchdata.Corpus
)

func corpora() map[string]*benchdata.Corpus {
	benchOnce.Do(func() {
		benchCorpora = map[string]*benchdata.Corpus{}
		for _, name := range benchdata.Names {
			c, err := benchdata.New(name, benchObjects)
			if err != nil {
				panic(err)
			}
			benchCorpora[name] = c
		}
	})
	return benchCorpora
}

// BenchmarkReceivePath measures the client receive path over the lines a
// pwsh server sends for PIPELINE_OUTPUT: psrp.Reader → Defragmenter →
// ParseMessage → clixml.Decode. MB/s is of wire bytes.
func BenchmarkReceivePath(b *testing.B) {
	for _, name := range benchdata.Names {
		c := corpora()[name]
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(c.Wire)))
			b.ReportAllocs()
			for b.Loop() {
				n, err := benchdata.ReceivePath(bytes.NewReader(c.Wire), nil)
				if err != nil || n != c.Objects() {
					b.Fatalf("decoded %d of %d objects: %v", n, c.Objects(), err)
				}
			}
			b.ReportMetric(float64(c.Objects())*float64(b.N)/b.Elapsed().Seconds(), "objs/s")
		})
	}
}

// BenchmarkRawCopy is the receive path's raw byte-copy baseline: the same
// wire lines read through a bufio.Reader line scan into io.Discard.
func BenchmarkRawCopy(b *testing.B) {
	for _, name := range benchdata.Names {
		c := corpora()[name]
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(c.Wire)))
			b.ReportAllocs()
			for b.Loop() {
				n, err := benchdata.RawCopy(bytes.NewReader(c.Wire))
				if err != nil || n != int64(len(c.Wire)) {
					b.Fatalf("copied %d of %d bytes: %v", n, len(c.Wire), err)
				}
			}
		})
	}
}
