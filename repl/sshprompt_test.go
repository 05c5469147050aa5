package repl

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/psmux/psmux/ssh"
)

// With no answer to read (input at its end), the question's line is
// ended, so the refusal that follows is not glued to it.
func TestTerminalPrompterEndsTheQuestionWithoutAnAnswer(t *testing.T) {
	f := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(f)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	var out bytes.Buffer
	p := &TerminalPrompter{In: in, Err: &out}
	_, err = p.Prompt(context.Background(), ssh.PromptRequest{Questions: []ssh.Question{{Text: "continue (yes/no)? ", Echo: true}}})
	if err == nil || !strings.HasSuffix(out.String(), "continue (yes/no)? \n") {
		t.Fatalf("err %v, shown %q; want an error and the question's line ended", err, out.String())
	}
}
