package clixml

import (
	"testing"
)

// stringBody is a PIPELINE_OUTPUT body with one ~100-byte string.
var stringBody = []byte("\xef\xbb\xbf<S>Microsoft.PowerShell.Core\\FileSystem::/home/ops/projects/psmux/sessions/clixml/testdata/a.txt</S>")

// richBody is a System.Diagnostics.Process as pwsh serializes it for
// remoting (depth 1): 39 adapted properties — numbers, DTs, TSs, an enum,
// IntPtr and handle objects (nested, with TNRefs), collections beyond the
// depth as their ToString — and 13 extended members in <MS>.
var richBody = []byte("\xef\xbb\xbf" + `<Obj RefId="0"><TN RefId="0"><T>System.Diagnostics.Process</T><T>System.ComponentModel.Component</T><T>System.MarshalByRefObject</T><T>System.Object</T></TN><ToString>System.Diagnostics.Process (pwsh)</ToString><Props>` +
	`<I32 N="BasePriority">8</I32><Nil N="ExitCode" /><B N="HasExited">false</B><Nil N="ExitTime" />` +
	`<Obj N="Handle" RefId="1"><TN RefId="1"><T>System.IntPtr</T><T>System.ValueType</T><T>System.Object</T></TN><ToString>1234</ToString></Obj>` +
	`<Obj N="SafeHandle" RefId="2"><TN RefId="2"><T>Microsoft.Win32.SafeHandles.SafeProcessHandle</T><T>Microsoft.Win32.SafeHandles.SafeHandleZeroOrMinusOneIsInvalid</T><T>System.Runtime.InteropServices.SafeHandle</T><T>System.Runtime.ConstrainedExecution.CriticalFinalizerObject</T><T>System.Object</T></TN><ToString>Microsoft.Win32.SafeHandles.SafeProcessHandle</ToString><Props><B N="IsInvalid">false</B><B N="IsClosed">false</B></Props></Obj>` +
	`<I32 N="HandleCount">211</I32><I32 N="Id">48213</I32><S N="MachineName">.</S>` +
	`<Obj N="MainWindowHandle" RefId="3"><TNRef RefId="1" /><ToString>0</ToString></Obj><S N="MainWindowTitle"></S>` +
	`<Obj N="MainModule" RefId="4"><TN RefId="3"><T>System.Diagnostics.ProcessModule</T><T>System.ComponentModel.Component</T><T>System.MarshalByRefObject</T><T>System.Object</T></TN><ToString>System.Diagnostics.ProcessModule (pwsh)</ToString></Obj>` +
	`<Obj N="MaxWorkingSet" RefId="5"><TNRef RefId="1" /><ToString>9223372036854771712</ToString></Obj><Obj N="MinWorkingSet" RefId="6"><TNRef RefId="1" /><ToString>0</ToString></Obj>` +
	`<Obj N="Modules" RefId="7"><TN RefId="4"><T>System.Diagnostics.ProcessModuleCollection</T><T>System.Collections.ReadOnlyCollectionBase</T><T>System.Object</T></TN><ToString>System.Diagnostics.ProcessModuleCollection</ToString></Obj>` +
	`<I64 N="NonpagedSystemMemorySize64">0</I64><I64 N="PagedMemorySize64">39538688</I64><I64 N="PagedSystemMemorySize64">0</I64><I64 N="PeakPagedMemorySize64">0</I64><I64 N="PeakWorkingSet64">171036672</I64><I64 N="PeakVirtualMemorySize64">272418574336</I64>` +
	`<B N="PriorityBoostEnabled">false</B><Obj N="PriorityClass" RefId="8"><TN RefId="5"><T>System.Diagnostics.ProcessPriorityClass</T><T>System.Enum</T><T>System.ValueType</T><T>System.Object</T></TN><ToString>Normal</ToString><I32>32</I32></Obj>` +
	`<I64 N="PrivateMemorySize64">39538688</I64><TS N="PrivilegedProcessorTime">PT0.46S</TS><S N="ProcessName">pwsh</S>` +
	`<Obj N="ProcessorAffinity" RefId="9"><TNRef RefId="1" /><ToString>3</ToString></Obj><B N="Responding">true</B><I32 N="SessionId">48213</I32>` +
	`<Obj N="StartInfo" RefId="10"><TN RefId="6"><T>System.Diagnostics.ProcessStartInfo</T><T>System.Object</T></TN><ToString>System.Diagnostics.ProcessStartInfo</ToString></Obj>` +
	`<DT N="StartTime">2024-05-01T13:45:10.1234567+02:00</DT>` +
	`<Obj N="Threads" RefId="11"><TN RefId="7"><T>System.Diagnostics.ProcessThreadCollection</T><T>System.Collections.ReadOnlyCollectionBase</T><T>System.Object</T></TN><ToString>System.Diagnostics.ProcessThreadCollection</ToString></Obj>` +
	`<TS N="TotalProcessorTime">PT2.93S</TS><TS N="UserProcessorTime">PT2.47S</TS><I64 N="VirtualMemorySize64">272418574336</I64><B N="EnableRaisingEvents">false</B><I64 N="WorkingSet64">162177024</I64><Nil N="Site" /><Nil N="Container" /></Props>` +
	`<MS><S N="Name">pwsh</S><I32 N="SI">48213</I32><I32 N="Handles">211</I32><I64 N="VM">272418574336</I64><I64 N="WS">162177024</I64><I64 N="PM">39538688</I64><I64 N="NPM">0</I64><S N="Path">/opt/microsoft/powershell/7/pwsh</S><S N="CommandLine">/opt/microsoft/powershell/7/pwsh -NoLogo -NoProfile -s</S><S N="Company">Microsoft Corporation</S><Db N="CPU">2.93</Db><S N="FileVersion">7.4.2.500</S><S N="Description">PowerShell 7 &amp; friends_x000A_(C) Microsoft</S></MS></Obj>`)

// TestBenchmarkBodies makes sure the benchmark inputs decode and
// re-encode exactly (so the benchmarks measure real work).
func TestBenchmarkBodies(t *testing.T) {
	for _, body := range [][]byte{stringBody, richBody} {
		v, err := Decode(body)
		if err != nil {
			t.Fatal(err)
		}
		if got := Encode(nil, v); string(got) != string(body[3:]) {
			t.Fatalf("re-encoded:\n%s\nwant\n%s", got, body[3:])
		}
	}
	v, _ := Decode(richBody)
	if len(v.Obj.Props) != 39 || len(v.Obj.Members) != 13 {
		t.Errorf("rich body has %d props and %d members", len(v.Obj.Props), len(v.Obj.Members))
	}
}

func benchDecode(b *testing.B, body []byte) {
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := Decode(body); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "objects/s")
}

func BenchmarkDecodeStrings(b *testing.B) { benchDecode(b, stringBody) }

func BenchmarkDecodeRich(b *testing.B) { benchDecode(b, richBody) }

func BenchmarkDecodeCorpus(b *testing.B) {
	msgs := needCorpus(b)
	var n int64
	for _, m := range msgs {
		n += int64(len(m.body))
	}
	b.ReportAllocs()
	b.SetBytes(n)
	for b.Loop() {
		for _, m := range msgs {
			if _, err := Decode(m.body); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N)*float64(len(msgs))/b.Elapsed().Seconds(), "objects/s")
}

func BenchmarkEncode(b *testing.B) {
	v, err := Decode(richBody)
	if err != nil {
		b.Fatal(err)
	}
	buf := Encode(nil, v)
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		buf = Encode(buf[:0], v)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "objects/s")
}

func BenchmarkFaithfulJSON(b *testing.B) {
	v, _ := Decode(richBody)
	buf := AppendFaithfulJSON(nil, v)
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		buf = AppendFaithfulJSON(buf[:0], v)
	}
}

func BenchmarkPlainJSON(b *testing.B) {
	v, _ := Decode(richBody)
	buf := AppendPlainJSON(nil, v)
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		buf = AppendPlainJSON(buf[:0], v)
	}
}
