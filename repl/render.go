package repl

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/psmux/psmux/sessions"
	"github.com/psmux/psmux/sessions/clixml"
	"github.com/psmux/psmux/sessions/psrp"
	"golang.org/x/term"
)

// Renderer shows what a pipeline produces on a terminal the way pwsh's
// console does, and answers host prompts there. It implements
// sessions.Handler.
//
// pwsh sends many things twice, once as a record and once as a host call
// (psrp-brief §8.4); servers that do not format send only the record.
// Renderer shows whichever arrives first and drops its twin, matched by
// stream and text, so both kinds of server print each line once.
type Renderer struct {
	Out, Err io.Writer
	// In is the terminal prompts read from; nil means prompts fail with a
	// clear error (stdin is not a terminal).
	In *os.File
	// Color turns on ANSI colours (off under NO_COLOR or off a terminal).
	Color bool
	// Progress draws Write-Progress bars (on a terminal).
	Progress bool
	// Width is the terminal width used to format objects locally.
	Width int
	// Format formats PIPELINE_OUTPUT objects that arrive unformatted.
	Format func(vs []clixml.Value, width int) []string
	// Secure opens a SecureString the server sent (nil: shown as such).
	Secure func(clixml.Value) (string, error)
	// ReadLine, when set, reads prompt answers instead of In (a client
	// whose stdin is also read for commands).
	ReadLine func(hidden bool) (string, error)

	mu        sync.Mutex
	computer  string // see SetComputer
	errors    int
	twins     map[twinKey]int
	twinOrder []twinKey // a ring of maxTwins: the twinN last remembered, the oldest at twinHead
	twinHead  int
	twinN     int
	twinBytes int // the text the ring holds
	barShown  bool
	lineOpen  bool // the last Out write did not end with a newline
	in        *bufio.Reader
}

type twinKey struct {
	kind string
	text string
	src  bool // true: seen as a host call; false: as a record
}

const maxTwins = 256

// maxTwinBytes bounds the text remembered for twins (the server matches
// the twins of longer texts itself, mux.maxEventText); past it the
// oldest are forgotten, the last one always kept.
const maxTwinBytes = 4 << 20

// Errors counts the error lines and records shown so far.
func (r *Renderer) Errors() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.errors
}

// seen reports whether this item's twin was already shown (and forgets
// it); otherwise it remembers this one and reports false. At most
// maxTwins items are remembered, the oldest forgotten first, so memory
// stays flat however long the output.
func (r *Renderer) seen(kind, text string, hostCall bool) bool {
	if r.twins == nil {
		r.twins = map[twinKey]int{}
	}
	if other := (twinKey{kind, text, !hostCall}); r.twins[other] > 0 {
		r.forget(other)
		return true
	}
	// A copy: text may be a slice of a decoder's buffer, which a key
	// kept here would pin.
	k := twinKey{kind, strings.Clone(text), hostCall}
	r.twins[k]++
	if r.twinOrder == nil {
		r.twinOrder = make([]twinKey, maxTwins)
	}
	if r.twinN == maxTwins {
		r.forgetOldest()
	}
	r.twinOrder[(r.twinHead+r.twinN)%maxTwins] = k
	r.twinN++
	r.twinBytes += len(text)
	for r.twinBytes > maxTwinBytes && r.twinN > 1 {
		r.forgetOldest()
	}
	return false
}

// forgetOldest drops the oldest remembered item from the ring.
func (r *Renderer) forgetOldest() {
	k := r.twinOrder[r.twinHead]
	r.twinOrder[r.twinHead] = twinKey{}
	r.twinHead = (r.twinHead + 1) % maxTwins
	r.twinN--
	r.twinBytes -= len(k.text)
	r.forget(k)
}

// forget drops one remembered instance of k.
func (r *Renderer) forget(k twinKey) {
	if n := r.twins[k]; n > 1 {
		r.twins[k] = n - 1
	} else {
		delete(r.twins, k)
	}
}

// ANSI colours for ConsoleColor 0–15.
var consoleColors = [16]int{30, 34, 32, 36, 31, 35, 33, 37, 90, 94, 92, 96, 91, 95, 93, 97}

func (r *Renderer) paint(fg, bg int, s string) string {
	if !r.Color || s == "" {
		return s
	}
	var codes []string
	if fg >= 0 && fg < 16 {
		codes = append(codes, strconv.Itoa(consoleColors[fg]))
	}
	if bg >= 0 && bg < 16 {
		codes = append(codes, strconv.Itoa(consoleColors[bg]+10))
	}
	if len(codes) == 0 {
		return s
	}
	return "\x1b[" + strings.Join(codes, ";") + "m" + s + "\x1b[0m"
}

const (
	colorRed    = 12
	colorYellow = 14
)

func (r *Renderer) clearBar() {
	if r.barShown {
		fmt.Fprint(r.Err, "\r\x1b[2K")
		r.barShown = false
	}
}

func (r *Renderer) out(s string) {
	r.clearBar()
	io.WriteString(r.Out, s)
	if s != "" {
		r.lineOpen = !strings.HasSuffix(s, "\n")
	}
}

func (r *Renderer) errLine(s string) {
	r.clearBar()
	if r.lineOpen {
		io.WriteString(r.Out, "\n")
		r.lineOpen = false
	}
	io.WriteString(r.Err, s+"\n")
}

// Message implements sessions.Handler.
func (r *Renderer) Message(t psrp.MessageType, v clixml.Value) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch t {
	case psrp.PipelineOutput:
		if isErrorRecord(v) {
			r.errors++
			r.errLine(r.paint(colorRed, -1, ConciseError(v)))
			return
		}
		for _, l := range r.format([]clixml.Value{v}) {
			r.out(l + "\n")
		}
	case psrp.ErrorRecord:
		r.errors++
		r.errLine(r.paint(colorRed, -1, ConciseError(v)))
	case psrp.WarningRecord, psrp.VerboseRecord, psrp.DebugRecord:
		kind := map[psrp.MessageType]string{psrp.WarningRecord: "WARNING", psrp.VerboseRecord: "VERBOSE", psrp.DebugRecord: "DEBUG"}[t]
		text := sessions.ErrorText(v)
		if !r.seen(kind, text, false) {
			r.errLine(r.paint(colorYellow, -1, kind+": "+text))
		}
	case psrp.InformationRecord:
		msg, nonl, fg, bg, ok := hostInformation(v)
		if !ok {
			return // Write-Information: data only, as pwsh's host filters it by preference
		}
		if !r.seen("HOST", msg, false) {
			if !nonl {
				msg += "\n"
			}
			r.out(r.paint(fg, bg, msg))
		}
	case psrp.ProgressRecord:
		r.progress(v, false)
	}
}

func (r *Renderer) format(vs []clixml.Value) []string {
	if r.Format != nil {
		return r.Format(vs, r.width())
	}
	var out []string
	for _, v := range vs {
		out = append(out, v.Str())
	}
	return out
}

// SetComputer names the remote computer the next prompts come from:
// secure and credential prompts then carry pwsh's client warnings.
func (r *Renderer) SetComputer(c string) {
	r.mu.Lock()
	r.computer = c
	r.mu.Unlock()
}

// SetWidth changes the width objects are formatted to.
func (r *Renderer) SetWidth(w int) {
	r.mu.Lock()
	r.Width = w
	r.mu.Unlock()
}

func (r *Renderer) width() int {
	if r.Width > 0 {
		return r.Width
	}
	return 120
}

func isErrorRecord(v clixml.Value) bool {
	if v.Obj == nil {
		return false
	}
	for _, t := range v.Obj.TypeNames {
		if strings.TrimPrefix(t, "Deserialized.") == "System.Management.Automation.ErrorRecord" {
			return true
		}
	}
	return false
}

// ConciseError formats an ErrorRecord like pwsh 7's ConciseView: the
// command's name, then the message ("Write-Error: boom"); a script's
// terminating error reads "Exception: bad".
func ConciseError(v clixml.Value) string {
	msg := sessions.ErrorText(v)
	if v.Obj != nil {
		if a, ok := v.Obj.Get("ErrorCategory_Activity"); ok && a.Text != "" && a.Kind == clixml.String {
			if inv, ok := v.Obj.Get("InvocationInfo_MyCommand"); !ok || inv.Text != "" {
				return a.Text + ": " + msg
			}
		}
	}
	return "Exception: " + msg
}

// hostInformation extracts a Write-Host record (tagged PSHOST).
func hostInformation(v clixml.Value) (msg string, noNewline bool, fg, bg int, ok bool) {
	fg, bg = -1, -1
	md, pshost := sessions.HostMessageData(v)
	if !pshost {
		return
	}
	if md.Obj == nil {
		return md.Text, false, fg, bg, true
	}
	m, _ := md.Obj.Get("Message")
	n, _ := md.Obj.Get("NoNewLine")
	noNewline, _ = n.Bool()
	if c, ok := md.Obj.Get("ForegroundColor"); ok {
		fg = consoleColor(c)
	}
	if c, ok := md.Obj.Get("BackgroundColor"); ok {
		bg = consoleColor(c)
	}
	return m.Text, noNewline, fg, bg, true
}

// consoleColorNames are System.ConsoleColor's names, by value.
var consoleColorNames = [16]string{"Black", "DarkBlue", "DarkGreen", "DarkCyan", "DarkRed", "DarkMagenta", "DarkYellow", "Gray",
	"DarkGray", "Blue", "Green", "Cyan", "Red", "Magenta", "Yellow", "White"}

// consoleColor reads a ConsoleColor as its number or, as pwsh
// serialises a HostInformationMessage's colours, its name; -1 when it
// is neither.
func consoleColor(v clixml.Value) int {
	if x, err := unwrapInt(v); err == nil {
		return int(x)
	}
	for i, n := range consoleColorNames {
		if strings.EqualFold(n, strings.TrimSpace(v.Str())) {
			return i
		}
	}
	return -1
}

func unwrapInt(v clixml.Value) (int64, error) {
	if v.Kind == clixml.Object && v.Obj != nil && v.Obj.Primitive != nil {
		v = *v.Obj.Primitive
	}
	return v.Int()
}

func param(ps []clixml.Value, i int) clixml.Value {
	if i < len(ps) {
		return ps[i]
	}
	return clixml.NilV()
}

func paramInt(ps []clixml.Value, i int) int {
	n, err := unwrapInt(param(ps, i))
	if err != nil {
		return -1
	}
	return int(n)
}

// HostCall implements sessions.Handler.
func (r *Renderer) HostCall(ctx context.Context, c psrp.HostCallMsg) (clixml.Value, *clixml.Value) {
	r.mu.Lock()
	locked := true
	defer func() {
		if locked {
			r.mu.Unlock()
		}
	}()
	p := c.Params
	switch c.Method {
	case psrp.Write1:
		if !r.seen("HOST", param(p, 0).Text, true) {
			r.out(param(p, 0).Text)
		}
	case psrp.Write2:
		if !r.seen("HOST", param(p, 2).Text, true) {
			r.out(r.paint(paramInt(p, 0), paramInt(p, 1), param(p, 2).Text))
		}
	case psrp.WriteLine1:
		r.out("\n")
	case psrp.WriteLine2:
		if !r.seen("HOST", param(p, 0).Text, true) {
			r.out(param(p, 0).Text + "\n")
		}
	case psrp.WriteLine3:
		if !r.seen("HOST", param(p, 2).Text, true) {
			r.out(r.paint(paramInt(p, 0), paramInt(p, 1), param(p, 2).Text) + "\n")
		}
	case psrp.WriteErrorLine:
		r.errors++
		r.errLine(r.paint(colorRed, -1, strings.TrimRight(param(p, 0).Text, "\r\n")))
	case psrp.WriteWarningLine, psrp.WriteVerboseLine, psrp.WriteDebugLine:
		kind := map[psrp.HostMethod]string{psrp.WriteWarningLine: "WARNING", psrp.WriteVerboseLine: "VERBOSE", psrp.WriteDebugLine: "DEBUG"}[c.Method]
		if !r.seen(kind, param(p, 0).Text, true) {
			r.errLine(r.paint(colorYellow, -1, kind+": "+param(p, 0).Text))
		}
	case psrp.WriteProgress:
		r.progress(param(p, 1), true)
	case psrp.SetShouldExit, psrp.PopRunspace, psrp.PushRunspace, psrp.FlushInputBuffer,
		psrp.SetForegroundColor, psrp.SetBackgroundColor, psrp.SetCursorPosition,
		psrp.SetWindowPosition, psrp.SetCursorSize, psrp.SetBufferSize, psrp.SetWindowSize,
		psrp.SetWindowTitle, psrp.SetBufferContents1, psrp.SetBufferContents2,
		psrp.ScrollBufferContents, psrp.NotifyBeginApplication, psrp.NotifyEndApplication:
		// nothing to show
	default:
		r.mu.Unlock()
		locked = false
		return r.prompt(ctx, c)
	}
	return clixml.Value{}, nil
}

// progress draws one progress record as a bar on the error stream,
// redrawn in place; a Completed record removes it.
func (r *Renderer) progress(v clixml.Value, hostCall bool) {
	if v.Obj == nil {
		return
	}
	get := func(n string) clixml.Value { x, _ := v.Obj.Get(n); return x }
	act := get("Activity").Text
	status := get("StatusDescription").Text
	pct, _ := unwrapInt(get("PercentComplete"))
	typ, _ := unwrapInt(get("Type"))
	key := fmt.Sprintf("%s\x00%s\x00%d\x00%d", act, status, pct, typ)
	if r.seen("PROGRESS", key, hostCall) || !r.Progress {
		return
	}
	if typ == 1 { // Completed
		r.clearBar()
		return
	}
	w := r.width() - 2
	label := act
	if status != "" && status != " " {
		label += " " + status
	}
	bar := label
	if pct >= 0 {
		n := min(max(int(pct), 0), 100)
		cells := max(min(w-len(label)-10, 50), 10)
		fill := cells * n / 100
		bar = fmt.Sprintf("%s [%s%s] %3d%%", label, strings.Repeat("o", fill), strings.Repeat(" ", cells-fill), n)
	}
	if len(bar) > w && w > 0 {
		bar = bar[:w]
	}
	fmt.Fprint(r.Err, "\r\x1b[2K"+r.paint(colorYellow, -1, bar))
	r.barShown = true
}

// Finish ends the rendering of one pipeline (removes a leftover bar,
// ends an open line).
func (r *Renderer) Finish() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.clearBar()
	if r.lineOpen {
		io.WriteString(r.Out, "\n")
		r.lineOpen = false
	}
}

var errNoTerminal = "psmux: %s needs an interactive terminal, and stdin is not one"

func (r *Renderer) readLine(hidden bool) (string, error) {
	if r.ReadLine != nil {
		return r.ReadLine(hidden)
	}
	if hidden {
		b, err := term.ReadPassword(int(r.In.Fd()))
		fmt.Fprintln(r.Err)
		return string(b), err
	}
	if r.in == nil {
		r.in = bufio.NewReader(r.In)
	}
	s, err := r.in.ReadString('\n')
	if err != nil && s == "" {
		return "", err
	}
	return strings.TrimRight(s, "\r\n"), nil
}

func secure(s string) clixml.Value { return clixml.Value{Kind: clixml.SecureString, Text: s} }

// prompt answers Read-Host, Get-Credential, PromptForChoice and Prompt.
func (r *Renderer) prompt(ctx context.Context, c psrp.HostCallMsg) (clixml.Value, *clixml.Value) {
	if c.Method.Void() {
		return clixml.Value{}, nil
	}
	name := map[psrp.HostMethod]string{psrp.ReadLine: "Read-Host", psrp.ReadLineAsSecureString: "Read-Host -AsSecureString",
		psrp.Prompt: "Read-Host", psrp.PromptForCredential1: "Get-Credential", psrp.PromptForCredential2: "Get-Credential",
		psrp.PromptForChoice: "a choice prompt", psrp.PromptForChoiceMultipleSelection: "a choice prompt"}[c.Method]
	if name == "" {
		return clixml.Value{}, sessions.HostError(c.Method, "psmux: the host method "+c.Method.String()+" is not supported")
	}
	if r.ReadLine == nil && (r.In == nil || !term.IsTerminal(int(r.In.Fd()))) {
		return clixml.Value{}, sessions.HostError(c.Method, fmt.Sprintf(errNoTerminal, name))
	}
	r.Finish()
	p := r.remoteWarnings(c)
	fail := func(err error) (clixml.Value, *clixml.Value) {
		return clixml.Value{}, sessions.HostError(c.Method, "psmux: prompt: "+err.Error())
	}
	switch c.Method {
	case psrp.ReadLine, psrp.ReadLineAsSecureString:
		s, err := r.readLine(c.Method == psrp.ReadLineAsSecureString)
		if err != nil {
			return fail(err)
		}
		if c.Method == psrp.ReadLineAsSecureString {
			return secure(s), nil
		}
		return clixml.Str(s), nil
	case psrp.Prompt:
		r.captionMessage(param(p, 0).Text, param(p, 1).Text)
		dict := clixml.Hashtable().Obj
		fields := param(p, 2)
		if fields.Obj != nil {
			for _, f := range fields.Obj.Items {
				if f.Obj == nil {
					continue
				}
				fname, _ := f.Obj.Get("name")
				ftype, _ := f.Obj.Get("parameterTypeFullName")
				label, _ := f.Obj.Get("label")
				shown := label.Text
				if shown == "" {
					shown = fname.Text
				}
				shown = strings.ReplaceAll(shown, "&", "")
				var val clixml.Value
				if elem, ok := strings.CutSuffix(ftype.Text, "[]"); ok {
					// an array: one value a line, "name[i]: ", until an
					// empty line, as pwsh's console asks
					arr := &clixml.PSObject{TypeNames: []string{"System.Object[]", "System.Array", "System.Object"}, Container: clixml.List}
					for i := 0; ; i++ {
						fmt.Fprintf(r.Err, "%s[%d]: ", shown, i)
						v, empty, errRec := r.field(c.Method, elem)
						if errRec != nil {
							return clixml.Value{}, errRec
						}
						if empty {
							break
						}
						arr.Items = append(arr.Items, v)
					}
					val = clixml.Obj(arr)
				} else {
					fmt.Fprintf(r.Err, "%s: ", shown)
					v, _, errRec := r.field(c.Method, ftype.Text)
					if errRec != nil {
						return clixml.Value{}, errRec
					}
					val = v
				}
				dict.Dict = append(dict.Dict, clixml.DictEntry{Key: clixml.Str(fname.Text), Value: val})
			}
		}
		return clixml.Obj(dict), nil
	case psrp.PromptForCredential1, psrp.PromptForCredential2:
		return r.credential(param(p, 0).Text, param(p, 1).Text, param(p, 2).Text)
	case psrp.PromptForChoice, psrp.PromptForChoiceMultipleSelection:
		return r.choice(c)
	}
	return clixml.Value{}, sessions.HostError(c.Method, "psmux: unsupported prompt")
}

// field reads one value of a Prompt field of type typ; empty reports an
// empty answer.
func (r *Renderer) field(m psrp.HostMethod, typ string) (v clixml.Value, empty bool, errRec *clixml.Value) {
	switch typ {
	case tnSecureString:
		s, err := r.readLine(true)
		if err != nil {
			return v, false, sessions.HostError(m, "psmux: prompt: "+err.Error())
		}
		return secure(s), s == "", nil
	case tnPSCredential:
		cred, errRec := r.credential("", "", "")
		return cred, false, errRec
	}
	s, err := r.readLine(false)
	if err != nil {
		return v, false, sessions.HostError(m, "psmux: prompt: "+err.Error())
	}
	return clixml.Str(s), s == "", nil
}

// The texts pwsh's client adds to a remote computer's secure prompts
// (RemotingErrorIdStrings; RemoteHostCall.PerformSecurityChecksOnHostMessage).
const (
	credDefaultCaption  = "PowerShell credential request " // CredUI's, trailing space included
	credCaptionFormat   = "PowerShell Credential Request: %s"
	credMessageFormat   = "Warning: A script or application on the remote computer %s is requesting your credentials. Enter your credentials only if you trust the remote computer and the application or script that is requesting them.\n\n%s"
	readSecureWarning   = "A script or application on the remote computer %s is asking to read a line securely. Enter sensitive information, such as your credentials, only if you trust the remote computer and the application or script that is requesting it."
	promptSecureWarning = "A script or application on the remote computer %s is sending a prompt request. When you are prompted, enter sensitive information, such as credentials or passwords, only if you trust the remote computer and the application or script that is requesting the data."
	tnSecureString      = "System.Security.SecureString"
	tnPSCredential      = "System.Management.Automation.PSCredential"
)

// remoteWarnings does what pwsh's client does before it shows a remote
// computer's prompt: a warning before secure input, and a credential
// request's caption and message marked as coming from that computer.
// It returns the parameters to prompt with.
func (r *Renderer) remoteWarnings(c psrp.HostCallMsg) []clixml.Value {
	p := c.Params
	r.mu.Lock()
	computer := strings.ToUpper(r.computer)
	r.mu.Unlock()
	if computer == "" {
		return p
	}
	warn := func(format string) {
		r.errLine(r.paint(colorYellow, -1, "WARNING: "+fmt.Sprintf(format, computer)))
	}
	credential := false
	switch c.Method {
	case psrp.ReadLineAsSecureString:
		warn(readSecureWarning)
	case psrp.PromptForCredential1, psrp.PromptForCredential2:
		credential = true
	case psrp.Prompt:
		if fields := param(p, 2); fields.Obj != nil {
			for _, f := range fields.Obj.Items {
				ftype, _ := f.Get("parameterTypeFullName")
				switch ftype.Text {
				case tnSecureString:
					warn(promptSecureWarning)
				case tnPSCredential:
					credential = true
				}
			}
		}
	}
	if !credential || len(p) < 2 {
		return p
	}
	p = append([]clixml.Value(nil), p...)
	if caption := p[0].Text; !strings.EqualFold(caption, credDefaultCaption) {
		p[0] = clixml.Str(fmt.Sprintf(credCaptionFormat, caption))
	}
	p[1] = clixml.Str(fmt.Sprintf(credMessageFormat, computer, p[1].Text))
	return p
}

func (r *Renderer) captionMessage(caption, message string) {
	if caption != "" {
		fmt.Fprintln(r.Err, caption)
	}
	if message != "" {
		fmt.Fprintln(r.Err, message)
	}
}

func (r *Renderer) credential(caption, message, user string) (clixml.Value, *clixml.Value) {
	r.captionMessage(caption, message)
	if user == "" {
		fmt.Fprint(r.Err, "User: ")
		s, err := r.readLine(false)
		if err != nil {
			return clixml.Value{}, sessions.HostError(psrp.PromptForCredential1, "psmux: prompt: "+err.Error())
		}
		user = s
	}
	fmt.Fprintf(r.Err, "Password for user %s: ", user)
	pw, err := r.readLine(true)
	if err != nil {
		return clixml.Value{}, sessions.HostError(psrp.PromptForCredential1, "psmux: prompt: "+err.Error())
	}
	cred := &clixml.PSObject{TypeNames: []string{"System.Management.Automation.PSCredential", "System.Object"},
		ToString: "System.Management.Automation.PSCredential", HasToString: true}
	cred.AddProp("UserName", clixml.Str(user)).AddProp("Password", secure(pw))
	return clixml.Obj(cred), nil
}

type choiceItem struct{ label, hot, help string }

func choiceItems(v clixml.Value) []choiceItem {
	var out []choiceItem
	if v.Obj == nil {
		return out
	}
	for _, c := range v.Obj.Items {
		if c.Obj == nil {
			continue
		}
		l, _ := c.Obj.Get("label")
		h, _ := c.Obj.Get("helpMessage")
		it := choiceItem{label: strings.ReplaceAll(l.Text, "&", ""), help: h.Text}
		if i := strings.IndexByte(l.Text, '&'); i >= 0 && i+1 < len(l.Text) {
			it.hot = strings.ToUpper(l.Text[i+1 : i+2])
		} else if it.label != "" {
			it.hot = strings.ToUpper(it.label[:1])
		}
		out = append(out, it)
	}
	return out
}

// choice asks like pwsh's console:
//
//	[Y] Yes  [N] No  [?] Help (default is "Y"):
func (r *Renderer) choice(c psrp.HostCallMsg) (clixml.Value, *clixml.Value) {
	p := c.Params
	r.captionMessage(param(p, 0).Text, param(p, 1).Text)
	items := choiceItems(param(p, 2))
	if len(items) == 0 {
		return clixml.Value{}, sessions.HostError(c.Method, "psmux: a choice prompt without choices")
	}
	def := paramInt(p, 3)
	var b strings.Builder
	for _, it := range items {
		fmt.Fprintf(&b, "[%s] %s  ", it.hot, it.label)
	}
	b.WriteString("[?] Help")
	if def >= 0 && def < len(items) {
		fmt.Fprintf(&b, " (default is \"%s\")", items[def].hot)
	}
	b.WriteString(": ")
	for {
		fmt.Fprint(r.Err, b.String())
		s, err := r.readLine(false)
		if err != nil {
			return clixml.Value{}, sessions.HostError(c.Method, "psmux: prompt: "+err.Error())
		}
		s = strings.TrimSpace(s)
		if s == "" && def >= 0 && def < len(items) {
			return r.choiceResult(c.Method, def), nil
		}
		if s == "?" {
			for _, it := range items {
				fmt.Fprintf(r.Err, "%s - %s\n", it.hot, it.help)
			}
			continue
		}
		for i, it := range items {
			if strings.EqualFold(s, it.hot) || strings.EqualFold(s, it.label) {
				return r.choiceResult(c.Method, i), nil
			}
		}
	}
}

func (r *Renderer) choiceResult(m psrp.HostMethod, i int) clixml.Value {
	if m == psrp.PromptForChoiceMultipleSelection {
		return clixml.Obj(&clixml.PSObject{TypeNames: []string{"System.Collections.ObjectModel.Collection`1[[System.Int32]]", "System.Object"},
			Container: clixml.List, Items: []clixml.Value{clixml.I32(int32(i))}})
	}
	return clixml.I32(int32(i))
}

// Red paints s red when colours are on.
func (r *Renderer) Red(s string) string { return r.paint(colorRed, -1, s) }
