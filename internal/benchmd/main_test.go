package main

import (
	"strings"
	"testing"
)

// go test -json's events: a benchmark's figures are read from its
// result line, and a skipped one's reason from the lines after its
// "--- SKIP".
func TestReadsFiguresAndSkips(t *testing.T) {
	events := `{"Action":"start","Package":"p"}
{"Action":"output","Package":"p","Output":"BenchmarkCapture-2   \t"}
{"Action":"output","Package":"p","Output":"       5\t 198020116 ns/op\t         0.1980 s/capture\n"}
{"Action":"output","Package":"p","Output":"--- SKIP: BenchmarkFanOut\n"}
{"Action":"output","Package":"p","Output":"    pwsh_bench_test.go:33: no real pwsh: see ../shared/pwsh\n"}
{"Action":"output","Package":"p","Output":"PASS\n"}
`
	text, skipped, err := parseJSON(strings.NewReader(events))
	if err != nil {
		t.Fatal(err)
	}
	rs := parseResults(text)
	if len(rs) != 1 || rs[0].name != "BenchmarkCapture-2" || rs[0].n != 5 || len(rs[0].metrics) != 2 {
		t.Fatalf("results %+v from %q", rs, text)
	}
	if v, ok := find(rs, "s/capture"); !ok || v != 0.198 {
		t.Fatalf("s/capture: %v %v", v, ok)
	}
	if !strings.Contains(skipped, "no real pwsh") {
		t.Fatalf("skip reason %q", skipped)
	}
	if _, _, err := parseJSON(strings.NewReader("not json\n")); err == nil {
		t.Fatal("a line that is not an event was taken")
	}
}
