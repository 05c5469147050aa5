package repl

import (
	"io"
	"testing"
	"time"
)

// reads collects what the editor would read from w, one Read at a time,
// in a goroutine of its own as readline's terminal reads.
func reads(t *testing.T, w *wakeReader) <-chan string {
	t.Helper()
	out := make(chan string, 16)
	go func() {
		defer close(out)
		for {
			b := make([]byte, 64)
			n, err := w.Read(b)
			if n > 0 {
				out <- string(b[:n])
			}
			if err != nil {
				return
			}
		}
	}()
	return out
}

func next(t *testing.T, got <-chan string) string {
	t.Helper()
	select {
	case s := <-got:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("the editor read nothing")
		return ""
	}
}

// none checks that the editor has nothing to read now: a held key shows
// up, if it wrongly passes, before a key typed after it does.
func none(t *testing.T, got <-chan string, src io.Writer, marker string) {
	t.Helper()
	if _, err := io.WriteString(src, marker); err != nil {
		t.Fatal(err)
	}
	if s := next(t, got); s != marker {
		t.Fatalf("the editor read %q while keys were held; want only the marker %q", s, marker)
	}
}

// settle waits until the reader has taken everything written before:
// the prefix key and the key after it pass while holding, and nothing
// held may come before them.
func settle(t *testing.T, got <-chan string, src io.Writer) {
	t.Helper()
	for _, k := range []string{"\x02", "q"} {
		io.WriteString(src, k)
		if s := next(t, got); s != k {
			t.Fatalf("while holding, the editor read %q; want only %q", s, k)
		}
	}
}

// Keys typed while a command runs wait for the prompt; Ctrl-C and C-b d
// pass at once; the held lines come back one per Hold(false), each
// after a prompt of its own; Ctrl-C drops what was typed ahead.
func TestHoldKeepsTypedAheadLinesForTheirPrompts(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	w := newWakeReader(pr)
	got := reads(t, w)
	w.hold(true)
	io.WriteString(pw, "'one'\r'two'\r")
	io.WriteString(pw, "\x02d") // C-b d
	if s := next(t, got); s != "\x02d" {
		t.Fatalf("C-b d while holding: the editor read %q", s)
	}
	io.WriteString(pw, "\x02") // the prefix key, then a held key: only C-b passes ...
	if s := next(t, got); s != "\x02" {
		t.Fatalf("the prefix key while holding: the editor read %q", s)
	}
	io.WriteString(pw, "x") // ... and the key after it
	if s := next(t, got); s != "x" {
		t.Fatalf("the key after the prefix while holding: the editor read %q", s)
	}
	w.hold(false)
	if s := next(t, got); s != "'one'\r" {
		t.Fatalf("the first release: %q; want the first line alone", s)
	}
	// the next line waits for the REPL's next Hold(false)
	w.hold(true)
	io.WriteString(pw, "\x03") // Ctrl-C passes ...
	if s := next(t, got); s != "\x03" {
		t.Fatalf("Ctrl-C while holding: the editor read %q", s)
	}
	w.hold(false) // ... and dropped 'two'
	none(t, got, pw, "z")
	// typeAhead types keys while holding and returns the first release
	typeAhead := func(keys string) string {
		w.hold(true)
		io.WriteString(pw, keys)
		settle(t, got, pw)
		w.hold(false)
		return next(t, got)
	}
	if s := typeAhead("'three'\r"); s != "'three'\r" {
		t.Fatalf("after Ctrl-C: %q; want only the line typed after it", s)
	}
	// without a Hold(false), the line after a released one waits
	if s := typeAhead("'four'\r'five'\r"); s != "'four'\r" {
		t.Fatalf("release: %q", s)
	}
	// holding again: 'five' does not come before the prefix key
	settle(t, got, pw)
	w.hold(false)
	if s := next(t, got); s != "'five'\r" {
		t.Fatalf("the second release: %q", s)
	}
}

// Lines that arrive together (a paste, piped input) reach the editor
// one at a time: what follows a line's Enter waits for the REPL's next
// Hold(false), as keys typed ahead do, so that a line can answer the
// command before it; C-b d after them still passes at once.
func TestLinesArrivingTogetherPassOneAtATime(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	w := newWakeReader(pr)
	got := reads(t, w)
	io.WriteString(pw, "'a'\r\n'b'\r\x02d")
	if s := next(t, got); s != "'a'\r\x02d" {
		t.Fatalf("two lines and C-b d in one read: the editor read %q; want the first line (its CR LF one Enter) and C-b d", s)
	}
	settle(t, got, pw)
	w.hold(false)
	if s := next(t, got); s != "'b'\r" {
		t.Fatalf("after Hold(false): %q; want the second line", s)
	}
}

// Lines still held when the input ends (piped input) come before its
// end: each after the REPL's next Hold(false), then EOF.
func TestHeldLinesComeBeforeTheEnd(t *testing.T) {
	pr, pw := io.Pipe()
	w := newWakeReader(pr)
	got := reads(t, w)
	io.WriteString(pw, "'a'\n'b'\n")
	pw.Close()
	if s := next(t, got); s != "'a'\n" {
		t.Fatalf("first read %q; want the first line", s)
	}
	w.hold(false)
	if s := next(t, got); s != "'b'\n" {
		t.Fatalf("after Hold(false) at the input's end: %q; want the held line", s)
	}
	w.hold(false)
	select {
	case s, ok := <-got:
		if ok {
			t.Fatalf("after the last line: %q; want the end", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the end of the input never came")
	}
}

// CR LF is one Enter, also when the CR and the LF come in separate
// reads: the editor would read the LF as an empty line, which would
// answer the next prompt with "".
func TestCRLFIsOneEnter(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	w := newWakeReader(pr)
	got := reads(t, w)
	io.WriteString(pw, "Read-Host\r")
	if s := next(t, got); s != "Read-Host\r" {
		t.Fatalf("first read %q", s)
	}
	io.WriteString(pw, "\nanswer\r\n")
	settle(t, got, pw)
	w.hold(false)
	if s := next(t, got); s != "answer\r" {
		t.Fatalf("after the split CR LF: %q; want the answer, no empty line before it", s)
	}
}
