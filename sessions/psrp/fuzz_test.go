package psrp

import (
	"bufio"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/psmux/psmux/sessions/clixml"
)

// corpusLines returns the real OutOfProc lines of ../shared/corpus.
func corpusLines(tb testing.TB) []string {
	dir := filepath.Join("..", "..", "..", "shared", "corpus", "ansible-debugger-oop")
	var out []string
	for _, name := range []string{"PSRPPacket.Tests.packets.txt", "large-psrp-packet.txt"} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if l := strings.TrimSpace(sc.Text()); strings.HasPrefix(l, "<") {
				out = append(out, l)
			}
		}
		f.Close()
	}
	return out
}

// boundMinimize limits the minimizing of each new interesting input to
// 100 runs unless -fuzzminimizetime was given. With the default (a minute
// per input) the workers of a short run spent most of it minimizing and
// fuzzed at a tenth of their speed. Call it before f.Fuzz.
func boundMinimize(f *testing.F) {
	set := false
	flag.Visit(func(fl *flag.Flag) { set = set || fl.Name == "test.fuzzminimizetime" })
	if !set {
		if err := flag.Set("test.fuzzminimizetime", "100x"); err != nil {
			f.Logf("cannot bound minimization: %v", err)
		}
	}
}

func seedLines(f *testing.F) []string {
	lines := append(corpusLines(f), goldenCapability, goldenInit, goldenServerCap, goldenPoolState, goldenResponse,
		"<DataAck PSGuid='00000000-0000-0000-0000-000000000000' />", "<Close PSGuid='c1f0b2a3-4d5e-4f60-8a7b-9c8d7e6f5a4b' />")
	return lines
}

func FuzzParsePacket(f *testing.F) {
	for _, l := range seedLines(f) {
		f.Add([]byte(l))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		p, err := ParsePacket(line)
		if err != nil {
			return
		}
		// What parses re-encodes to something that parses the same.
		q, err := ParsePacket([]byte(strings.TrimSuffix(string(AppendPacket(nil, p)), "\n")))
		if err != nil || q.Kind != p.Kind || q.GUID != p.GUID || string(q.Payload) != string(p.Payload) || q.PromptResponse != p.PromptResponse {
			t.Fatalf("round trip of %q: %+v vs %+v (%v)", line, p, q, err)
		}
	})
}

func FuzzDefragment(f *testing.F) {
	for _, l := range seedLines(f) {
		if p, err := ParsePacket([]byte(l)); err == nil && p.Kind == Data {
			f.Add(p.Payload, uint8(7))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		d := Defragmenter{MaxMessage: 1 << 20}
		n := int(chunk) + 1
		for i := 0; i < len(data); i += n {
			if err := d.Write(data[i:min(i+n, len(data))], func(a Assembled) error {
				if len(a.Message) > 1<<20 {
					t.Fatalf("message of %d bytes over the cap", len(a.Message))
				}
				return nil
			}); err != nil {
				return
			}
		}
	})
}

// FuzzMessages drives the client pool with arbitrary server Data: it must
// report errors, never panic; and every typed parser must cope with the
// body of every message the Data holds.
//
// Each input must be cheap: the pool is put in the Opening state without
// the encoding Open does (which cost more than the input itself), and
// seeds are the corpus's packets up to 4 KiB (a 32 KiB seed made every
// mutation of it decode 32 KiB). Most of the time went to minimizing new
// inputs, though: see boundMinimize.
func FuzzMessages(f *testing.F) {
	boundMinimize(f)
	for _, l := range seedLines(f) {
		if p, err := ParsePacket([]byte(l)); err == nil && p.Kind == Data && len(p.Payload) <= 4<<10 {
			f.Add(p.Payload)
		}
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		const max = 1 << 16
		p := NewClientPool()
		p.MaxMessage = max
		p.Decode = []clixml.Option{clixml.MaxSize(max)}
		p.State = PoolOpening
		_, _ = p.Receive(Packet{Kind: Data, GUID: NilGUID, Payload: payload})
		d := Defragmenter{MaxMessage: max}
		_ = d.Write(payload, func(a Assembled) error {
			m, err := ParseMessage(a.Message)
			if err != nil {
				return nil
			}
			v, err := clixml.Decode(m.Body(), clixml.MaxSize(max))
			if err != nil {
				return nil
			}
			_, _ = ParseSessionCapability(v)
			_, _ = ParseInitRunspacePool(v)
			_, _ = ParseCreatePipeline(v)
			_, _ = ParseState(PipelineState, v)
			_, _ = ParseHostCall(PipelineHostCall, v)
			_, _ = ParseHostResponse(PipelineHostResponse, v)
			_, _ = ParsePoolRequest(SetMaxRunspaces, v)
			_, _ = ParseKey(PublicKey, v)
			return nil
		})
	})
}
