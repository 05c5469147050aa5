// Package benchdata generates the synthetic corpora of bench-reliability.md
// §1.6 ("strings" and "process") as PSRP message bodies and as the OutOfProc
// lines a pwsh server sends for them, and runs the client receive path and
// its raw byte-copy baseline over such lines, for the benchmarks in
// sessions/psrp.
package benchdata

import (
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/psmux/psmux/sessions/clixml"
	"github.com/psmux/psmux/sessions/psrp"
)

// Corpus names.
const (
	Strings = "strings"
	Process = "process"
)

// Names lists the corpora in report order.
var Names = []string{Strings, Process}

// Fixed ids so that every run produces the same bytes.
var (
	RPID = uuid.MustParse("5d3a8f7e-1c2b-4e6f-9a8b-7c6d5e4f3a2b")
	PID  = uuid.MustParse("c1f0b2a3-4d5e-4f60-8a7b-9c8d7e6f5a4b")
)

// Corpus is one synthetic workload: N message bodies and the wire lines
// carrying them.
type Corpus struct {
	Name   string
	Bodies [][]byte // CLIXML of one object each, as pwsh writes it, no BOM
	Wire   []byte   // the OutOfProc lines a pwsh server sends for them
}

// Objects returns the number of objects (one per body and per message).
func (c *Corpus) Objects() int { return len(c.Bodies) }

// BodyBytes returns the total size of the bodies.
func (c *Corpus) BodyBytes() int {
	n := 0
	for _, b := range c.Bodies {
		n += len(b)
	}
	return n
}

// New builds the named corpus with n objects.
func New(name string, n int) (*Corpus, error) {
	var body func([]byte, int) []byte
	switch name {
	case Strings:
		body = StringBody
	case Process:
		body = ProcessBody
	default:
		return nil, fmt.Errorf("benchdata: unknown corpus %q (want %q or %q)", name, Strings, Process)
	}
	c := &Corpus{Name: name, Bodies: make([][]byte, n)}
	// one backing array for all bodies keeps the corpus compact
	var all []byte
	offs := make([]int, n+1)
	for i := range n {
		all = body(all, i)
		offs[i+1] = len(all)
	}
	for i := range n {
		c.Bodies[i] = all[offs[i]:offs[i+1]:offs[i+1]]
	}
	c.Wire = AppendWire(make([]byte, 0, len(all)*3/2+n*200), c.Bodies, RPID, PID)
	return c, nil
}

const filler = "The quick brown fox jumps over the lazy dog while psmux keeps the session alive. 0123456789abcdefghij"

// StringBody appends the i-th body of the "strings" corpus: one <S> of
// about 100 bytes in all, like the output of `1..N | % { 'x' * 90 }` but
// with varying text.
func StringBody(dst []byte, i int) []byte {
	dst = append(dst, "<S>Line "...)
	dst = appendPad(dst, i, 7)
	dst = append(dst, ": "...)
	off := i % 17
	dst = append(dst, filler[off:off+77]...)
	return append(dst, "</S>"...)
}

func appendPad(dst []byte, n, width int) []byte {
	s := strconv.Itoa(n)
	for k := len(s); k < width; k++ {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}

var (
	procNames = []string{"pwsh", "sshd", "systemd", "bash", "code", "dockerd", "containerd", "chrome", "postgres", "nginx", "svchost", "explorer", "conhost", "RuntimeBroker", "MsMpEng"}
	procTN    = []string{"System.Diagnostics.Process", "System.ComponentModel.Component", "System.MarshalByRefObject", "System.Object"}
	moduleTN  = []string{"System.Diagnostics.ProcessModule", "System.Object"}
	prioNames = []string{"Normal", "Idle", "High", "RealTime", "BelowNormal", "AboveNormal"}
	prioVals  = []int32{32, 64, 128, 256, 16384, 32768}
	baseTime  = time.Date(2024, 5, 1, 13, 45, 10, 123456700, time.FixedZone("", 2*3600))
)

// ProcessBody appends the i-th body of the "process" corpus: a
// Get-Process-like object of about 1.1 KB modelled on psrp-brief §7 — TN
// of System.Diagnostics.Process, ToString, 19 adapted properties of mixed
// types (I32, I64, B, S, Nil, DT, TS, an enum, a nested ProcessModule
// <Obj>) and an <MS> of note properties whose enum reuses the type-name
// list through <TNRef>. Each body is a standalone message: its RefId
// counters start at 0.
func ProcessBody(dst []byte, i int) []byte {
	name := procNames[i%len(procNames)]
	id := int32(1000 + i)
	p := i % len(prioNames)
	mod := clixml.NewObject(moduleTN...).SetToString("System.Diagnostics.ProcessModule (" + name + ")")
	mod.AddProp("ModuleName", clixml.Str(name)).
		AddProp("ModuleMemorySize", clixml.I32(int32(286720+i%1000*4096)))

	o := clixml.NewObject(procTN...).SetToString("System.Diagnostics.Process (" + name + ")")
	o.AddProp("BasePriority", clixml.I32(20)).
		AddProp("ExitCode", clixml.NilV()).
		AddProp("HasExited", clixml.BoolV(false)).
		AddProp("Handle", clixml.I64(int64(140+i%400))).
		AddProp("HandleCount", clixml.I32(int32(40+i%900))).
		AddProp("Id", clixml.I32(id)).
		AddProp("MachineName", clixml.Str(".")).
		AddProp("MainModule", clixml.Obj(mod)).
		AddProp("MainWindowTitle", clixml.Str("")).
		AddProp("MaxWorkingSet", clixml.I64(1413120)).
		AddProp("MinWorkingSet", clixml.I64(204800)).
		AddProp("NonpagedSystemMemorySize64", clixml.I64(int64(i%97)*1024)).
		AddProp("PagedMemorySize64", clixml.I64(int64(50000000+i*4096))).
		AddProp("PriorityBoostEnabled", clixml.BoolV(i%3 == 0)).
		AddProp("PriorityClass", clixml.Enum("System.Diagnostics.ProcessPriorityClass", prioNames[p], prioVals[p])).
		AddProp("ProcessName", clixml.Str(name)).
		AddProp("StartTime", clixml.DateTimeV(baseTime.Add(time.Duration(i)*1733*time.Millisecond))).
		AddProp("TotalProcessorTime", clixml.TimeSpanV(time.Duration(i%5000)*12345678*time.Nanosecond+100*time.Nanosecond)).
		AddProp("WorkingSet64", clixml.I64(int64(80000000+i*8192)))
	o.AddMember("CPU", clixml.Dbl(float64(i%5000)*0.0123456)).
		AddMember("StartPriorityClass", clixml.Enum("System.Diagnostics.ProcessPriorityClass", "Normal", 32))
	return clixml.Encode(dst, clixml.Obj(o))
}

var bom = []byte{0xEF, 0xBB, 0xBF}

// AppendWire appends the OutOfProc lines a pwsh server writes for bodies
// sent as PIPELINE_OUTPUT of pipeline pid in pool rpid: one message per
// body (header, BOM, body), cut by psrp.Fragmenter into fragments of pwsh's
// 32 KiB, each fragment in its own <Data Stream='Default' PSGuid='pid'>
// line made by psrp.AppendPacket.
func AppendWire(dst []byte, bodies [][]byte, rpid, pid uuid.UUID) []byte {
	var f psrp.Fragmenter
	var msg, scratch []byte
	for _, b := range bodies {
		data := append(append(scratch[:0], bom...), b...)
		scratch = data
		msg = psrp.AppendMessage(msg[:0], psrp.Message{
			Destination: psrp.ToClient, Type: psrp.PipelineOutput, RPID: rpid, PID: pid, Data: data,
		})
		_ = f.FragmentEach(msg, nil, func(frag []byte) error {
			dst = psrp.AppendPacket(dst, psrp.Packet{Kind: psrp.Data, GUID: pid, Payload: frag})
			return nil
		})
	}
	return dst
}
