package repl

import (
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
}

func newWakeReader(src io.ReadCloser) *wakeReader {
	return &wakeReader{src: src, data: make(chan []byte), inject: make(chan []byte, 16)}
}

func (w *wakeReader) start() {
	go func() {
		for {
			b := make([]byte, 256)
			n, err := w.src.Read(b)
			if n > 0 {
				w.data <- b[:n]
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
	select {
	case b := <-w.inject:
		return copy(p, b), nil
	case b, ok := <-w.data:
		if !ok {
			return 0, w.err
		}
		return copy(p, b), nil
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
		FuncGetWidth:           cfg.Width,
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
func (e *rlEditor) Close() error { return e.rl.Close() }
