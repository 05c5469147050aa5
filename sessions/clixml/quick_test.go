package clixml

import (
	"fmt"
	"os"
	"testing"
)

func TestQuick(t *testing.T) {
	b, _ := os.ReadFile("../../../shared/corpus/ironposh/parse_real_pipeline_output.clixml")
	v, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	out := Encode(nil, v)
	fmt.Println(string(out) == string(b), len(out), len(b))
	fmt.Println(string(AppendFaithfulJSON(nil, v)))
	fmt.Println(string(AppendPlainJSON(nil, v)))
}
