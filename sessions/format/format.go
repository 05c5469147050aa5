package format

// Out-Default / Out-String formatting, shaped like pwsh 7's default views.
//
// This file depends only on the types of sessions/clixml/value.go and the
// standard library, so it can move to a shared package: the psmux client
// needs to render PIPELINE_OUTPUT objects the way the server's Out-Default
// would.
//
// Choices (documented because pwsh's output depends on culture and timing):
//   - Culture is invariant-like: DateTime prints as "Sunday, 22 November 2026
//     10:29:00" (long date + long time, invariant patterns), and inside
//     tables/lists as "11/22/2026 10:29:00".
//   - Tables without a defined view size their columns to the widest of
//     header and cell over the rows buffered before the first flush (pwsh
//     buffers ~300 ms); later rows reuse the widths. Numbers align right.
//   - Cells that do not fit are cut with "…" (U+2026) as pwsh 7 does; lines
//     carry no trailing blanks.
//   - No ANSI decoration ($PSStyle.OutputRendering is not emulated).

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/psmux/psmux/sessions/clixml"
)

// Line is one line of formatted console output.
type Line struct {
	Text  string
	Error bool // an error-stream line (the host's WriteErrorLine)
}

// Formatter renders a stream of output objects the way pwsh's Out-Default
// does for a console Width columns wide. Write may buffer table rows to size
// columns; Flush forces them out (pwsh does so after 300 ms); Close ends the
// stream.
type Formatter struct {
	Width int
	g     *fmtGroup
}

// NewFormatter returns a Formatter for the given width (≤ 0 means 120).
func NewFormatter(width int) *Formatter {
	if width <= 0 {
		width = 120
	}
	return &Formatter{Width: width}
}

// FormatLines formats values as one Out-String call would, returning the
// lines (error records included, rendered in pwsh's ConciseView).
func FormatLines(vs []clixml.Value, width int) []string {
	f := NewFormatter(width)
	var out []string
	add := func(ls []Line) {
		for _, l := range ls {
			out = append(out, l.Text)
		}
	}
	for _, v := range vs {
		add(f.Write(v))
	}
	add(f.Close())
	return out
}

const (
	gTable = iota + 1
	gList
	gDate
)

type fmtCol struct {
	header string
	get    func(v clixml.Value) clixml.Value
	width  int  // fixed width; 0 = sized from rows (or the rest for the last column)
	right  bool // right-aligned
	rest   bool // last column takes the remaining width
}

type fmtGroup struct {
	kind  int
	key   string
	cols  []fmtCol
	fixed bool       // widths decided, header written
	rows  [][]string // rows buffered before the widths are decided
	align []bool     // per column: right-aligned (decided by the first row)
	first bool       // no object written yet (list/date)
}

// Write formats one object.
func (f *Formatter) Write(v clixml.Value) []Line {
	if f.Width <= 0 {
		f.Width = 120
	}
	var out []Line
	if IsErrorRecord(v) {
		out = append(out, f.Flush()...)
		for _, s := range FormatErrorRecord(v, f.Width) {
			out = append(out, Line{Text: s, Error: true})
		}
		return out
	}
	if items, ok := fmtEnumerable(v); ok {
		for _, it := range items {
			out = append(out, f.Write(it)...)
		}
		return out
	}
	kind, key, cols := f.shape(v)
	if kind == 0 {
		out = append(out, f.endGroup()...)
		for _, s := range fmtScalarLines(v) {
			out = append(out, Line{Text: s})
		}
		return out
	}
	if f.g == nil || f.g.key != key || f.g.kind != kind {
		out = append(out, f.endGroup()...)
		f.g = &fmtGroup{kind: kind, key: key, cols: cols, first: true}
		out = append(out, Line{})
		if kind == gTable && tableFixed(cols) {
			out = append(out, f.decideTable()...)
		}
	}
	g := f.g
	switch kind {
	case gTable:
		if isDictionary(v) {
			for _, e := range v.Obj.Dict {
				out = append(out, f.tableRow(cxDictEntry(e))...)
			}
		} else {
			out = append(out, f.tableRow(v)...)
		}
	case gList:
		for _, s := range f.listLines(v) {
			out = append(out, Line{Text: s})
		}
		out = append(out, Line{})
	case gDate:
		out = append(out, Line{Text: fmtDateDisplay(v)})
	}
	g.first = false
	return out
}

// Flush writes table rows held back for column sizing.
func (f *Formatter) Flush() []Line {
	if f.g == nil || f.g.kind != gTable || f.g.fixed {
		return nil
	}
	return f.decideTable()
}

// Close ends the stream: buffered rows and the closing blank line.
func (f *Formatter) Close() []Line { return f.endGroup() }

func (f *Formatter) endGroup() []Line {
	g := f.g
	if g == nil {
		return nil
	}
	var out []Line
	switch g.kind {
	case gTable:
		if !g.fixed {
			out = append(out, f.decideTable()...)
		}
		out = append(out, Line{})
	case gDate:
		out = append(out, Line{})
	}
	f.g = nil
	return out
}

func tableFixed(cols []fmtCol) bool {
	for i, c := range cols {
		if c.width == 0 && !(c.rest && i == len(cols)-1) {
			return false
		}
	}
	return true
}

// tableRow renders (or buffers) one row.
func (f *Formatter) tableRow(v clixml.Value) []Line {
	g := f.g
	cells := make([]string, len(g.cols))
	if g.align == nil {
		g.align = make([]bool, len(g.cols))
		for i, c := range g.cols {
			g.align[i] = c.right || (c.width == 0 && isNumeric(c.get(v)))
		}
	}
	for i, c := range g.cols {
		cells[i] = fmtCell(c.get(v))
	}
	if !g.fixed {
		g.rows = append(g.rows, cells)
		return nil
	}
	return []Line{{Text: f.renderRow(cells)}}
}

// decideTable fixes column widths from the buffered rows, then writes the
// header, the dashes and the buffered rows.
func (f *Formatter) decideTable() []Line {
	g := f.g
	if g.align == nil {
		g.align = make([]bool, len(g.cols))
		for i, c := range g.cols {
			g.align[i] = c.right
		}
	}
	n := len(g.cols)
	for i := range g.cols {
		c := &g.cols[i]
		if c.width > 0 || (c.rest && i == n-1) {
			continue
		}
		w := runeLen(c.header)
		for _, r := range g.rows {
			if l := runeLen(r[i]); l > w {
				w = l
			}
		}
		if w == 0 {
			w = 1
		}
		c.width = w
	}
	// Fit the screen: shrink the widest sized column until the row fits.
	for {
		total := n - 1
		for i, c := range g.cols {
			if c.rest && i == n-1 {
				total++
				continue
			}
			total += c.width
		}
		if total <= f.Width {
			break
		}
		wi := -1
		for i, c := range g.cols {
			if c.rest && i == n-1 {
				continue
			}
			if wi < 0 || c.width > g.cols[wi].width {
				wi = i
			}
		}
		if wi < 0 || g.cols[wi].width <= 1 {
			break
		}
		g.cols[wi].width--
	}
	g.fixed = true
	heads := make([]string, n)
	dashes := make([]string, n)
	for i, c := range g.cols {
		heads[i] = c.header
		dashes[i] = strings.Repeat("-", runeLen(c.header))
	}
	out := []Line{{Text: f.renderRow(heads)}, {Text: f.renderRow(dashes)}}
	for _, r := range g.rows {
		out = append(out, Line{Text: f.renderRow(r)})
	}
	g.rows = nil
	return out
}

func (f *Formatter) renderRow(cells []string) string {
	g := f.g
	var b strings.Builder
	used := 0
	for i, c := range g.cols {
		if i > 0 {
			b.WriteByte(' ')
			used++
		}
		w := c.width
		if c.rest && i == len(g.cols)-1 {
			w = f.Width - used
			if w < 1 {
				w = 1
			}
		}
		s := fitCell(cells[i], w)
		pad := w - runeLen(s)
		right := g.align != nil && g.align[i]
		if right {
			b.WriteString(strings.Repeat(" ", pad))
			b.WriteString(s)
		} else {
			b.WriteString(s)
			if i < len(g.cols)-1 {
				b.WriteString(strings.Repeat(" ", pad))
			}
		}
		used += w
	}
	return strings.TrimRight(b.String(), " ")
}

// fitCell cuts s to w columns, marking the cut with "…".
func fitCell(s string, w int) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	if runeLen(s) <= w {
		return s
	}
	if w <= 1 {
		return "…"
	}
	r := []rune(s)
	return string(r[:w-1]) + "…"
}

func (f *Formatter) listLines(v clixml.Value) []string {
	props := fmtProps(v)
	lw := 0
	for _, p := range props {
		if l := runeLen(p.Name); l > lw {
			lw = l
		}
	}
	var out []string
	avail := f.Width - lw - 3
	if avail < 10 {
		avail = 10
	}
	indent := strings.Repeat(" ", lw+3)
	for _, p := range props {
		label := p.Name + strings.Repeat(" ", lw-runeLen(p.Name)) + " : "
		text := fmtListValue(p.Value)
		var pieces []string
		for _, ln := range splitLines(text) {
			pieces = append(pieces, wrapRunes(ln, avail)...)
		}
		if len(pieces) == 0 {
			pieces = []string{""}
		}
		for i, pc := range pieces {
			if i == 0 {
				out = append(out, strings.TrimRight(label+pc, " "))
			} else {
				out = append(out, strings.TrimRight(indent+pc, " "))
			}
		}
	}
	return out
}

func wrapRunes(s string, w int) []string {
	r := []rune(s)
	if len(r) <= w {
		return []string{s}
	}
	var out []string
	for len(r) > w {
		out = append(out, string(r[:w]))
		r = r[w:]
	}
	return append(out, string(r))
}

// shape decides how v is shown: 0 for a scalar, else the group kind, a key
// (objects with the same key share a table) and the columns.
func (f *Formatter) shape(v clixml.Value) (int, string, []fmtCol) {
	if isDateTime(v) {
		return gDate, "System.DateTime", nil
	}
	if v.Kind != clixml.Object || v.Obj == nil {
		return 0, "", nil
	}
	if isDictionary(v) {
		return gTable, "#dictionary", []fmtCol{
			{header: "Name", get: propGetter("Name"), width: 30},
			{header: "Value", get: propGetter("Value"), rest: true},
		}
	}
	tn := fmtTypeName(v)
	if view, ok := knownViews[tn]; ok {
		return gTable, tn, view()
	}
	props := fmtProps(v)
	if len(props) == 0 {
		return 0, "", nil
	}
	if len(props) > 4 {
		return gList, tn, nil
	}
	// A table: objects of the same type share it, with the first object's
	// columns (pwsh's well-known behaviour for mixed PSCustomObjects).
	if f.g != nil && f.g.kind == gTable && f.g.key == tn {
		return gTable, tn, f.g.cols
	}
	cols := make([]fmtCol, len(props))
	for i, p := range props {
		cols[i] = fmtCol{header: p.Name, get: propGetter(p.Name)}
	}
	return gTable, tn, cols
}

// knownViews are the default table views of a few types.
var knownViews = map[string]func() []fmtCol{
	"System.Diagnostics.Process": func() []fmtCol {
		return []fmtCol{
			{header: "NPM(K)", width: 7, right: true, get: func(v clixml.Value) clixml.Value {
				n, ok := fmtNumber(firstProp(v, "NPM", "NonpagedSystemMemorySize64"))
				if !ok {
					return fmtNil
				}
				return fmtStr(strconv.FormatInt(int64(n/1024+0.5), 10))
			}},
			{header: "PM(M)", width: 8, right: true, get: mbGetter("PM", "PagedMemorySize64")},
			{header: "WS(M)", width: 10, right: true, get: mbGetter("WS", "WorkingSet64")},
			{header: "CPU(s)", width: 10, right: true, get: func(v clixml.Value) clixml.Value {
				n, ok := fmtNumber(firstProp(v, "CPU"))
				if !ok {
					return fmtNil
				}
				return fmtStr(formatN(n, 2))
			}},
			{header: "Id", width: 7, right: true, get: propGetter("Id")},
			{header: "SI", width: 3, right: true, get: func(v clixml.Value) clixml.Value { return firstProp(v, "SI", "SessionId") }},
			{header: "ProcessName", rest: true, get: propGetter("ProcessName")},
		}
	},
	"System.ServiceProcess.ServiceController": func() []fmtCol {
		return []fmtCol{
			{header: "Status", width: 8, get: propGetter("Status")},
			{header: "Name", width: 18, get: propGetter("Name")},
			{header: "DisplayName", width: 38, get: propGetter("DisplayName")},
		}
	},
	"System.Management.Automation.PathInfo": func() []fmtCol {
		return []fmtCol{{header: "Path", rest: true, get: propGetter("Path")}}
	},
}

var fmtNil = clixml.Value{Kind: clixml.Nil}

func fmtStr(s string) clixml.Value { return clixml.Value{Kind: clixml.String, Text: s} }

func propGetter(name string) func(clixml.Value) clixml.Value {
	return func(v clixml.Value) clixml.Value { return firstProp(v, name) }
}

func mbGetter(names ...string) func(clixml.Value) clixml.Value {
	return func(v clixml.Value) clixml.Value {
		n, ok := fmtNumber(firstProp(v, names...))
		if !ok {
			return fmtNil
		}
		return fmtStr(formatN(n/1048576, 2))
	}
}

// firstProp returns the first of the named properties (Props, then
// Members; case-insensitive) that v has, else Nil.
func firstProp(v clixml.Value, names ...string) clixml.Value {
	if v.Kind != clixml.Object || v.Obj == nil {
		return fmtNil
	}
	for _, n := range names {
		for _, p := range v.Obj.Props {
			if strings.EqualFold(p.Name, n) {
				return p.Value
			}
		}
		for _, p := range v.Obj.Members {
			if strings.EqualFold(p.Name, n) {
				return p.Value
			}
		}
	}
	return fmtNil
}

// cxDictEntry turns a dictionary entry into a Name/Value row object.
func cxDictEntry(e clixml.DictEntry) clixml.Value {
	return clixml.Value{Kind: clixml.Object, Obj: &clixml.PSObject{
		Props: []clixml.Property{{Name: "Name", Value: e.Key}, {Name: "Value", Value: e.Value}},
	}}
}

// fmtTypeName is the first type name without pwsh's "Deserialized." prefix.
func fmtTypeName(v clixml.Value) string {
	if v.Kind != clixml.Object || v.Obj == nil || len(v.Obj.TypeNames) == 0 {
		return ""
	}
	return strings.TrimPrefix(v.Obj.TypeNames[0], "Deserialized.")
}

// fmtProps are the properties a default view shows: adapted, then notes.
// Enum-like objects and wrapped primitives have none.
func fmtProps(v clixml.Value) []clixml.Property {
	if v.Kind != clixml.Object || v.Obj == nil || v.Obj.Primitive != nil {
		return nil
	}
	out := make([]clixml.Property, 0, len(v.Obj.Props)+len(v.Obj.Members))
	out = append(out, v.Obj.Props...)
	out = append(out, v.Obj.Members...)
	return out
}

func isDictionary(v clixml.Value) bool {
	return v.Kind == clixml.Object && v.Obj != nil && v.Obj.Container == clixml.Dictionary
}

// fmtEnumerable reports a top-level collection Out-Default enumerates.
func fmtEnumerable(v clixml.Value) ([]clixml.Value, bool) {
	if v.Kind != clixml.Object || v.Obj == nil {
		return nil, false
	}
	switch v.Obj.Container {
	case clixml.List, clixml.Enumerable, clixml.Stack, clixml.Queue:
		return v.Obj.Items, true
	}
	return nil, false
}

// IsErrorRecord reports whether v is a (possibly deserialized) ErrorRecord.
func IsErrorRecord(v clixml.Value) bool {
	return fmtTypeName(v) == "System.Management.Automation.ErrorRecord"
}

func isDateTime(v clixml.Value) bool {
	if v.Kind == clixml.DateTime {
		return true
	}
	return v.Kind == clixml.Object && v.Obj != nil && v.Obj.Primitive != nil && v.Obj.Primitive.Kind == clixml.DateTime
}

func isNumeric(v clixml.Value) bool {
	switch v.Kind {
	case clixml.Byte, clixml.SByte, clixml.Int16, clixml.UInt16, clixml.Int32, clixml.UInt32,
		clixml.Int64, clixml.UInt64, clixml.Single, clixml.Double, clixml.Decimal:
		return true
	}
	return false
}

func fmtNumber(v clixml.Value) (float64, bool) {
	if v.Kind == clixml.Object && v.Obj != nil && v.Obj.Primitive != nil {
		v = *v.Obj.Primitive
	}
	if !isNumeric(v) {
		return 0, false
	}
	f, err := strconv.ParseFloat(v.Text, 64)
	return f, err == nil
}

// formatN is .NET's "N<d>" format in the invariant culture: grouped
// thousands, d decimals.
func formatN(f float64, d int) string {
	s := strconv.FormatFloat(f, 'f', d, 64)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	ip, fp := s, ""
	if i := strings.IndexByte(s, '.'); i >= 0 {
		ip, fp = s[:i], s[i:]
	}
	var b strings.Builder
	for i, c := range ip {
		if i > 0 && (len(ip)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	out := b.String() + fp
	if neg {
		out = "-" + out
	}
	return out
}

// fmtScalarLines renders an object that has no table/list view.
func fmtScalarLines(v clixml.Value) []string {
	switch v.Kind {
	case clixml.Nil:
		return nil
	case clixml.String:
		return splitLines(v.Text)
	}
	return splitLines(fmtText(v))
}

func splitLines(s string) []string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.Split(s, "\n")
}

// fmtText is an object's ToString() as PowerShell shows it.
func fmtText(v clixml.Value) string {
	switch v.Kind {
	case clixml.Nil:
		return ""
	case clixml.Bool:
		if v.Text == "true" || v.Text == "1" {
			return "True"
		}
		return "False"
	case clixml.Char:
		n, err := strconv.Atoi(v.Text)
		if err != nil {
			return v.Text
		}
		return string(rune(n))
	case clixml.DateTime:
		return fmtDateCell(v.Text)
	case clixml.SecureString:
		return "System.Security.SecureString"
	case clixml.Bytes:
		return "System.Byte[]"
	case clixml.ProgressRecord:
		return "System.Management.Automation.ProgressRecord"
	case clixml.Object:
		o := v.Obj
		if o == nil {
			return ""
		}
		if o.HasToString {
			return o.ToString
		}
		if o.Primitive != nil {
			return fmtText(*o.Primitive)
		}
		switch o.Container {
		case clixml.List, clixml.Enumerable, clixml.Stack, clixml.Queue:
			parts := make([]string, len(o.Items))
			for i, it := range o.Items {
				parts[i] = fmtText(it)
			}
			return strings.Join(parts, " ")
		case clixml.Dictionary:
			if len(o.TypeNames) > 0 {
				return o.TypeNames[0]
			}
			return "System.Collections.Hashtable"
		}
		if len(o.Props) > 0 || len(o.Members) > 0 {
			return hashLiteral(o)
		}
		if len(o.TypeNames) > 0 {
			return o.TypeNames[0]
		}
		return ""
	}
	return v.Text
}

// hashLiteral is a PSCustomObject's ToString(): "@{a=1; b=x}".
func hashLiteral(o *clixml.PSObject) string {
	var parts []string
	for _, p := range append(append([]clixml.Property(nil), o.Props...), o.Members...) {
		parts = append(parts, p.Name+"="+fmtText(p.Value))
	}
	return "@{" + strings.Join(parts, "; ") + "}"
}

// formatEnumerationLimit is $FormatEnumerationLimit.
const formatEnumerationLimit = 4

// fmtCell renders a property value inside a table cell or list entry.
func fmtCell(v clixml.Value) string {
	if v.Kind == clixml.Object && v.Obj != nil && v.Obj.Primitive == nil && !v.Obj.HasToString {
		o := v.Obj
		switch o.Container {
		case clixml.List, clixml.Enumerable, clixml.Stack, clixml.Queue:
			return enumCell(len(o.Items), func(i int) string { return fmtCell(o.Items[i]) })
		case clixml.Dictionary:
			return enumCell(len(o.Dict), func(i int) string {
				return "[" + fmtText(o.Dict[i].Key) + ", " + fmtText(o.Dict[i].Value) + "]"
			})
		}
	}
	if v.Kind == clixml.Object && v.Obj != nil && v.Obj.Container == clixml.List && v.Obj.HasToString && len(v.Obj.Items) > 0 {
		o := v.Obj
		return enumCell(len(o.Items), func(i int) string { return fmtCell(o.Items[i]) })
	}
	return fmtText(v)
}

func enumCell(n int, item func(int) string) string {
	var parts []string
	for i := 0; i < n && i < formatEnumerationLimit; i++ {
		parts = append(parts, item(i))
	}
	s := strings.Join(parts, ", ")
	if n > formatEnumerationLimit {
		s += "…"
	}
	return "{" + s + "}"
}

func fmtListValue(v clixml.Value) string { return fmtCell(v) }

// fmtDateCell renders a DT text as DateTime.ToString() in the invariant
// culture.
func fmtDateCell(text string) string {
	t, ok := fmtParseDT(text)
	if !ok {
		return text
	}
	return t.Format("01/02/2006 15:04:05")
}

// fmtDateDisplay renders a DateTime with its DisplayHint (Get-Date's view).
func fmtDateDisplay(v clixml.Value) string {
	text := v.Text
	hint := "DateTime"
	if v.Kind == clixml.Object && v.Obj != nil && v.Obj.Primitive != nil {
		text = v.Obj.Primitive.Text
		h := firstProp(v, "DisplayHint")
		if h.Kind == clixml.Object && h.Obj != nil && h.Obj.HasToString {
			hint = h.Obj.ToString
		} else if h.Kind == clixml.String {
			hint = h.Text
		}
	}
	t, ok := fmtParseDT(text)
	if !ok {
		return text
	}
	switch hint {
	case "Date":
		return t.Format("Monday, 02 January 2006")
	case "Time":
		return t.Format("15:04:05")
	}
	return t.Format("Monday, 02 January 2006 15:04:05")
}

func fmtParseDT(s string) (time.Time, bool) {
	for _, l := range []string{"2006-01-02T15:04:05.9999999Z07:00", "2006-01-02T15:04:05.9999999"} {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func runeLen(s string) int { return utf8.RuneCountInString(s) }

// Lines formats values as one Out-String call would (see FormatLines).
func Lines(vs []clixml.Value, width int) []string { return FormatLines(vs, width) }
