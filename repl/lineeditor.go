package repl

import (
	"bytes"
	"io"
	"strings"
	"sync"

	"github.com/chzyer/readline"
)

// LineEditor is the little of a line editor the REPL needs. Only the
// goroutine running Run calls Readline and ReadPassword; Write,
// SetPrompt and Refresh may be called from any goroutine.
type LineEditor interface {
	Readline() (string, error)
	// ReadPassword reads a line without echoing it; a mask other than 0
	// is shown for each character.
	ReadPassword(prompt string, mask rune) ([]byte, error)
	SetPrompt(prompt string)
	Refresh()
	// Write shows asynchronous output above the prompt and redraws it.
	Write(p []byte) (int, error)
	ResetHistory()
	SaveHistory(line string) error
	// Wake makes a running Readline return ErrInterrupt soon.
	Wake()
	// Hold, while a command runs, keeps typed keys from the editor
	// until Hold(false), so that a line typed ahead shows after the
	// next prompt, as in pwsh's console. Ctrl-C and the prefix key
	// with the key after it pass; Ctrl-C drops what was held, as a
	// terminal's interrupt flushes its input.
	Hold(on bool)
	Close() error
}

// ErrInterrupt is what Readline returns for Ctrl-C.
var ErrInterrupt = readline.ErrInterrupt

// keyHooks are the REPL's hooks into the editor's key handling.
type keyHooks struct {
	// filter sees every key first; false drops it, and it may replace it.
	filter func(r rune) (rune, bool)
	// tab completes line at pos; ok false leaves the line alone.
	tab func(line []rune, pos int) (newLine []rune, newPos int, ok bool)
}

// prefixKey is C-b, tmux's prefix: C-b d detaches.
const prefixKey = 2

// wakeRune is injected by Wake; the filter turns it into Ctrl-C.
const wakeRune = '\uE000'

type rlEditor struct {
	rl  *readline.Instance
	mu  sync.Mutex
	out io.Writer
	in  *wakeReader
}

// wakeReader is the terminal's input with keys the REPL can inject
// while a read is blocked (readline's own WriteStdin only shows up at
// the next read).
type wakeReader struct {
	src    io.ReadCloser
	data   chan []byte
	inject chan []byte
	err    error
	once   sync.Once

	mu      sync.Mutex
	holding bool
	changed chan struct{} // a Hold(false) wakes a blocked Read
	// Only the reading goroutine touches these.
	held   []byte // keys typed while holding
	ended  bool   // the input ended (err): after what is held
	rest   []byte // what did not fit the last Read
	prefix bool   // the last key let through was the prefix key
}

func newWakeReader(src io.ReadCloser) *wakeReader {
	return &wakeReader{src: src, data: make(chan []byte), inject: make(chan []byte, 16), changed: make(chan struct{}, 1)}
}

func (w *wakeReader) hold(on bool) {
	w.mu.Lock()
	w.holding = on
	w.mu.Unlock()
	select {
	case w.changed <- struct{}{}:
	default:
	}
}

func (w *wakeReader) isHolding() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.holding
}

// release hands the editor what was held, one line at a time: after a
// line's Enter, holding starts again until the REPL's next Hold(false)
// (before its next Readline, or when the command that line starts
// ends), so each line typed ahead follows a prompt of its own.
func (w *wakeReader) release() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.holding {
		return false
	}
	n, enter := lineEnd(w.held)
	if enter {
		w.holding = true
	}
	w.rest = append(w.rest, w.held[:n]...)
	w.held = w.held[n:]
	return true
}

// lineEnd is the length of b's first line with its Enter (CR, LF or
// CR LF), or len(b) when b holds no Enter (enter false).
func lineEnd(b []byte) (n int, enter bool) {
	i := bytes.IndexAny(b, "\r\n")
	switch {
	case i < 0:
		return len(b), false
	case b[i] == '\r' && i+1 < len(b) && b[i+1] == '\n':
		return i + 2, true
	}
	return i + 1, true
}

// pass splits keys typed while holding: what goes to the editor now
// (Ctrl-C, the prefix key and the key after it) and what waits.
func (w *wakeReader) pass(b []byte) []byte {
	var now []byte
	for _, c := range b {
		switch {
		case w.prefix:
			w.prefix = false
			now = append(now, c)
		case c == prefixKey:
			w.prefix = true
			now = append(now, c)
		case c == 3: // Ctrl-C: what was typed ahead goes with the command
			w.held = w.held[:0]
			now = append(now, c)
		default:
			w.held = append(w.held, c)
		}
	}
	return now
}

func (w *wakeReader) start() {
	go func() {
		afterCR := false
		for {
			b := make([]byte, 256)
			n, err := w.src.Read(b)
			if n > 0 {
				// CR LF (piped input with Windows line ends) is one Enter:
				// the editor ends a line at the CR and would read the LF
				// as a second, empty one, answering the next prompt
				crEnd := b[n-1] == '\r'
				b = b[:n]
				if afterCR && b[0] == '\n' {
					b = b[1:]
				}
				b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\r"))
				afterCR = crEnd
			}
			if len(b) > 0 && n > 0 {
				w.data <- b
			}
			if err != nil {
				w.err = err
				close(w.data)
				return
			}
		}
	}()
}

func (w *wakeReader) Read(p []byte) (int, error) {
	w.once.Do(w.start)
	for {
		if len(w.rest) > 0 {
			n := copy(p, w.rest)
			w.rest = w.rest[n:]
			return n, nil
		}
		if len(w.held) > 0 && w.release() {
			continue
		}
		data := w.data
		if w.ended {
			if len(w.held) == 0 {
				return 0, w.err
			}
			data = nil // the input's end comes after the lines still held
		}
		select {
		case b := <-w.inject:
			return copy(p, b), nil
		case <-w.changed:
		case b, ok := <-data:
			if !ok {
				w.ended = true
				continue
			}
			switch n, enter := lineEnd(b); {
			case w.isHolding():
				b = w.pass(b)
			case enter:
				// one line at a time, as held keys are released: what
				// follows a line's Enter (pasted lines, or keys typed
				// right after it) waits for the REPL's next Hold(false),
				// so that a line answering the command before it is not
				// read as a command
				w.hold(true)
				w.prefix = false
				b = append(b[:n:n], w.pass(b[n:])...)
			default:
				w.prefix = len(b) > 0 && b[len(b)-1] == prefixKey
			}
			w.rest = b
		}
	}
}

func (w *wakeReader) Close() error { return w.src.Close() }

type noComplete struct{}

func (noComplete) Do([]rune, int) ([][]rune, int) { return nil, 0 }

func newReadline(cfg Config, h keyHooks) (*rlEditor, error) {
	e := &rlEditor{in: newWakeReader(cfg.Stdin)}
	rc := &readline.Config{
		Prompt:                 "",
		Stdin:                  e.in,
		Stdout:                 cfg.Stdout,
		Stderr:                 cfg.Stderr,
		HistoryLimit:           5000,
		DisableAutoSaveHistory: true,
		AutoComplete:           noComplete{},
		FuncIsTerminal:         cfg.IsTerminal,
		// Ctrl-C ends the line without "^C": most interrupts are the
		// REPL's own (C-b d, a prompt to answer, leaving a session)
		InterruptPrompt: "\n",
		FuncGetWidth:    cfg.Width,
		FuncFilterInputRune: func(r rune) (rune, bool) {
			if r == wakeRune {
				return readline.CharInterrupt, true
			}
			if h.filter != nil {
				return h.filter(r)
			}
			return r, true
		},
		Listener: readline.FuncListener(func(line []rune, pos int, key rune) ([]rune, int, bool) {
			if key == readline.CharTab && h.tab != nil {
				return h.tab(line, pos)
			}
			return nil, 0, false
		}),
	}
	rl, err := readline.NewEx(rc)
	if err != nil {
		return nil, err
	}
	e.rl = rl
	e.out = rl.Stdout()
	return e, nil
}

// histNewline stands for a line break in a recalled multi-line command:
// the editor shows one line, and Enter runs the command whole.
const histNewline = "⏎"

func (e *rlEditor) Readline() (string, error) {
	l, err := e.rl.Readline()
	return strings.ReplaceAll(l, histNewline, "\n"), err
}
func (e *rlEditor) ReadPassword(p string, mask rune) ([]byte, error) {
	if mask == 0 {
		return e.rl.ReadPassword(p)
	}
	cfg := e.rl.GenPasswordConfig()
	cfg.Prompt = p
	cfg.EnableMask = true
	cfg.MaskRune = mask
	return e.rl.ReadPasswordWithConfig(cfg)
}
func (e *rlEditor) SetPrompt(p string) { e.rl.SetPrompt(p) }
func (e *rlEditor) Refresh()           { e.rl.Refresh() }
func (e *rlEditor) Write(p []byte) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.out.Write(p)
}
func (e *rlEditor) ResetHistory() { e.rl.ResetHistory() }
func (e *rlEditor) SaveHistory(l string) error {
	return e.rl.SaveHistory(strings.ReplaceAll(l, "\n", histNewline))
}
func (e *rlEditor) Wake() {
	select {
	case e.in.inject <- []byte(string(wakeRune)):
	default:
	}
}
func (e *rlEditor) Hold(on bool) { e.in.hold(on) }
func (e *rlEditor) Close() error { return e.rl.Close() }
