package pwshsim

// The simulator's Out-Default / Out-String: it lays out a stream of objects
// as pwsh 7.6's default views do (see testenv/transcripts for recordings of
// real pwsh's Out-String -Width 120):
//
//   - a blank line before and after each table or list block;
//   - objects with at most four properties make a table whose columns come
//     from the first object; the header is underlined with dashes as long
//     as each header; numeric columns align right; columns are sized over
//     the rows held back until the first flush (Out-Default flushes after
//     300 ms) and cells that do not fit end in "…";
//   - objects with five or more properties make a list ("Name : value",
//     names padded to the longest), a blank line after each object;
//   - hashtables make the Name/Value table (Name 30 columns wide);
//   - DateTimes show as Get-Date does, a blank line before and after;
//   - everything else prints its ToString() line by line.
//
// Lines keep the blanks pwsh writes: padding up to the last column, and
// a value's own trailing blanks ("C : " for $null in a list).

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/psmux/psmux/sessions/clixml"
)

// viewLine is one console line; toErr marks an error-stream line.
type viewLine struct {
	text  string
	toErr bool
}

type blockKind int

const (
	noBlock blockKind = iota
	tableBlock
	listBlock
	dateBlock
)

// column is one table column: how to fetch its value from a row object,
// and its layout (size 0 is sized from the rows; fill takes what is left).
type column struct {
	title string
	value func(clixml.Value) clixml.Value
	size  int
	right bool
	fill  bool
	auto  bool // made from the object's properties (no defined view)
}

// viewer renders objects for a console width columns wide.
type viewer struct {
	width int

	kind    blockKind
	key     string     // type name shared by the objects of the block
	cols    []column   // table columns
	rightOf []bool     // per column: right-aligned (decided on the first row)
	sized   bool       // header written, sizes fixed
	pending [][]string // rows held back until the sizes are fixed
}

func newViewer(width int) *viewer {
	if width <= 0 {
		width = 120
	}
	return &viewer{width: width}
}

// renderAll lays out vs as one Out-String call does.
func renderAll(vs []clixml.Value, width int) []string {
	w := newViewer(width)
	var lines []viewLine
	for _, v := range vs {
		lines = append(lines, w.add(v)...)
	}
	lines = append(lines, w.end()...)
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = l.text
	}
	return out
}

func plain(texts ...string) []viewLine {
	out := make([]viewLine, len(texts))
	for i, t := range texts {
		out[i] = viewLine{text: t}
	}
	return out
}

// add lays out one object.
func (w *viewer) add(v clixml.Value) []viewLine {
	if isErrorRecordValue(v) {
		var out []viewLine
		out = append(out, w.flush()...)
		for _, t := range conciseView(v) {
			out = append(out, viewLine{text: t, toErr: true})
		}
		return out
	}
	if v.Kind == clixml.Object && v.Obj != nil && isSequence(v.Obj) {
		var out []viewLine
		for _, it := range v.Obj.Items {
			out = append(out, w.add(it)...)
		}
		return out
	}
	v = asViewObject(v)
	kind, key, cols := w.classify(v)
	var out []viewLine
	if kind == noBlock {
		out = w.end()
		if v.Kind == clixml.Nil {
			return out
		}
		return append(out, plain(textLines(valueText(v))...)...)
	}
	if kind != w.kind || key != w.key {
		out = append(out, w.end()...)
		w.kind, w.key, w.cols, w.rightOf, w.sized, w.pending = kind, key, cols, nil, false, nil
		out = append(out, viewLine{})
		if kind == tableBlock && presized(cols) {
			out = append(out, w.fixSizes()...)
		}
	}
	switch kind {
	case tableBlock:
		if isDict(v) {
			for _, e := range v.Obj.Dict {
				out = append(out, w.row(nameValue(e))...)
			}
			return out
		}
		return append(out, w.row(v)...)
	case listBlock:
		return append(append(out, plain(w.listEntry(v)...)...), viewLine{})
	}
	return append(out, viewLine{text: dateDisplay(v)})
}

// flush writes out table rows held back for sizing.
func (w *viewer) flush() []viewLine {
	if w.kind != tableBlock || w.sized {
		return nil
	}
	return w.fixSizes()
}

// end closes the current block.
func (w *viewer) end() []viewLine {
	var out []viewLine
	switch w.kind {
	case tableBlock:
		out = append(w.flush(), viewLine{})
	case dateBlock:
		out = []viewLine{{}}
	}
	w.kind, w.key, w.cols, w.pending = noBlock, "", nil, nil
	return out
}

// classify picks v's view: its block kind, the key objects of one block
// share, and (for tables) the columns.
func (w *viewer) classify(v clixml.Value) (blockKind, string, []column) {
	if isDate(v) {
		return dateBlock, "System.DateTime", nil
	}
	if v.Kind != clixml.Object || v.Obj == nil {
		return noBlock, "", nil
	}
	if isDict(v) {
		return tableBlock, "#hashtable", []column{
			{title: "Name", value: byName("Name"), size: 30},
			{title: "Value", value: byName("Value"), fill: true},
		}
	}
	tn := baseTypeName(v)
	if mk := builtinTables[tn]; mk != nil {
		return tableBlock, tn, mk()
	}
	props := shownProps(v)
	switch {
	case len(props) == 0:
		return noBlock, "", nil
	case len(props) >= 5:
		return listBlock, tn, nil
	case w.kind == tableBlock && w.key == tn:
		// Later objects of the type keep the first object's columns.
		return tableBlock, tn, w.cols
	}
	cols := make([]column, 0, len(props))
	for _, p := range props {
		cols = append(cols, column{title: p.Name, value: byName(p.Name), auto: true})
	}
	return tableBlock, tn, cols
}

func nameValue(e clixml.DictEntry) clixml.Value {
	return cxObj(&clixml.PSObject{Props: []clixml.Property{cxProp("Name", e.Key), cxProp("Value", e.Value)}})
}

func byName(name string) func(clixml.Value) clixml.Value {
	return func(v clixml.Value) clixml.Value { return propValue(v, name) }
}

// presized reports a table whose sizes are all known before any row.
func presized(cols []column) bool {
	for i, c := range cols {
		if c.size == 0 && !(c.fill && i == len(cols)-1) {
			return false
		}
	}
	return true
}

// row renders one table row, or holds it back until the sizes are fixed.
func (w *viewer) row(v clixml.Value) []viewLine {
	if w.rightOf == nil {
		w.rightOf = make([]bool, len(w.cols))
		for i, c := range w.cols {
			w.rightOf[i] = c.right || (c.size == 0 && isNumericValue(c.value(v)))
		}
	}
	cells := make([]string, len(w.cols))
	for i, c := range w.cols {
		cells[i] = cellText(c.value(v))
		if c.auto {
			cells[i] = autoCell(c.value(v))
		}
	}
	if !w.sized {
		w.pending = append(w.pending, cells)
		return nil
	}
	return plain(w.layout(cells))
}

// autoCell is a cell of a table without a defined view: pwsh 7.6 shows
// a floating-point number there with two decimals ("0.33", "2.50"), while
// lists and defined views (Name/Value) show it whole.
func autoCell(v clixml.Value) string {
	switch v.Kind {
	case clixml.Double, clixml.Single, clixml.Decimal:
		if f, err := strconv.ParseFloat(v.Text, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return strconv.FormatFloat(f, 'f', 2, 64)
		}
	}
	return cellText(v)
}

func textWidth(s string) int { return utf8.RuneCountInString(s) }

// fixSizes sizes the unsized columns over the held-back rows, narrows the
// widest until the table fits the console, then writes the header, the
// dashes and the held-back rows.
func (w *viewer) fixSizes() []viewLine {
	if w.rightOf == nil {
		w.rightOf = make([]bool, len(w.cols))
		for i, c := range w.cols {
			w.rightOf[i] = c.right
		}
	}
	last := len(w.cols) - 1
	fills := func(i int) bool { return i == last && w.cols[i].fill }
	for i := range w.cols {
		if w.cols[i].size > 0 || fills(i) {
			continue
		}
		n := max(1, textWidth(w.cols[i].title))
		for _, r := range w.pending {
			n = max(n, textWidth(r[i]))
		}
		w.cols[i].size = n
	}
	for {
		total, widest := last, -1 // the separators
		for i, c := range w.cols {
			if fills(i) {
				total++
				continue
			}
			total += c.size
			if widest < 0 || c.size > w.cols[widest].size {
				widest = i
			}
		}
		if total <= w.width || widest < 0 || w.cols[widest].size <= 1 {
			break
		}
		w.cols[widest].size--
	}
	w.sized = true
	titles := make([]string, len(w.cols))
	dashes := make([]string, len(w.cols))
	for i, c := range w.cols {
		titles[i] = c.title
		dashes[i] = strings.Repeat("-", textWidth(c.title))
	}
	out := plain(w.layout(titles), w.layout(dashes))
	for _, r := range w.pending {
		out = append(out, viewLine{text: w.layout(r)})
	}
	w.pending = nil
	return out
}

// layout joins cells into a row: one blank between columns, each cell cut
// to its column ("…" marks the cut), numbers right-aligned.
func (w *viewer) layout(cells []string) string {
	var b strings.Builder
	at := 0
	for i, c := range w.cols {
		if i > 0 {
			b.WriteByte(' ')
			at++
		}
		size := c.size
		if c.fill && i == len(w.cols)-1 {
			size = max(1, w.width-at)
		}
		s := clip(cells[i], size)
		gap := strings.Repeat(" ", size-textWidth(s))
		switch {
		case w.rightOf[i]:
			b.WriteString(gap + s)
		case i < len(w.cols)-1:
			b.WriteString(s + gap)
		default: // pwsh does not pad the last column
			b.WriteString(s)
		}
		at += size
	}
	return b.String()
}

// clip keeps a cell's first line and cuts it to size columns.
func clip(s string, size int) string {
	s, _, _ = strings.Cut(strings.ReplaceAll(s, "\r", "\n"), "\n")
	if textWidth(s) <= size {
		return s
	}
	if size <= 1 {
		return "…"
	}
	return string([]rune(s)[:size-1]) + "…"
}

// listEntry renders one object of a list: "Name : value", the names padded
// to the longest, long values wrapped under the value column.
func (w *viewer) listEntry(v clixml.Value) []string {
	props := shownProps(v)
	pad := 0
	for _, p := range props {
		pad = max(pad, textWidth(p.Name))
	}
	room := max(10, w.width-pad-3)
	indent := strings.Repeat(" ", pad+3)
	var out []string
	for _, p := range props {
		lead := p.Name + strings.Repeat(" ", pad-textWidth(p.Name)) + " : "
		for _, ln := range textLines(cellText(p.Value)) {
			r := []rune(ln)
			for {
				n := min(len(r), room)
				out = append(out, lead+string(r[:n]))
				lead, r = indent, r[n:]
				if len(r) == 0 {
					break
				}
			}
		}
	}
	return out
}

// builtinTables are the default table views (from pwsh's format data) of a
// few types the simulator's commands emit or replay.
var builtinTables = map[string]func() []column{
	"System.Diagnostics.Process": func() []column {
		num := func(scale float64, decimals int, names ...string) func(clixml.Value) clixml.Value {
			return func(v clixml.Value) clixml.Value {
				f, ok := numberOf(propValue(v, names...))
				if !ok {
					return clixml.Value{}
				}
				if decimals < 0 { // whole number, rounded half up
					return cxStr(strconv.FormatInt(int64(f/scale+0.5), 10))
				}
				return cxStr(numberN(f/scale, decimals))
			}
		}
		return []column{
			{title: "NPM(K)", size: 7, right: true, value: num(1024, -1, "NPM", "NonpagedSystemMemorySize64")},
			{title: "PM(M)", size: 8, right: true, value: num(1<<20, 2, "PM", "PagedMemorySize64")},
			{title: "WS(M)", size: 10, right: true, value: num(1<<20, 2, "WS", "WorkingSet64")},
			{title: "CPU(s)", size: 10, right: true, value: num(1, 2, "CPU")},
			{title: "Id", size: 7, right: true, value: byName("Id")},
			{title: "SI", size: 3, right: true, value: func(v clixml.Value) clixml.Value { return propValue(v, "SI", "SessionId") }},
			{title: "ProcessName", fill: true, value: byName("ProcessName")},
		}
	},
	"System.ServiceProcess.ServiceController": func() []column {
		return []column{
			{title: "Status", size: 8, value: byName("Status")},
			{title: "Name", size: 18, value: byName("Name")},
			{title: "DisplayName", size: 38, value: byName("DisplayName")},
		}
	},
	// pwsh has no view for these two: it tables their properties.
	"System.Guid": func() []column {
		return []column{{title: "Guid", fill: true, value: byName("Guid")}}
	},
	"System.Version": func() []column {
		return []column{
			{title: "Major", size: 6, value: byName("Major")},
			{title: "Minor", size: 6, value: byName("Minor")},
			{title: "Build", size: 6, value: byName("Build")},
			{title: "Revision", size: 8, value: byName("Revision")},
		}
	},
	"System.Management.Automation.PathInfo": func() []column {
		return []column{{title: "Path", fill: true, value: byName("Path")}}
	},
}

// asViewObject gives a Guid or a Version, which the wire carries as a bare
// string, the properties pwsh's table of the live object shows.
func asViewObject(v clixml.Value) clixml.Value {
	switch v.Kind {
	case clixml.GUID:
		return cxObj(&clixml.PSObject{TypeNames: []string{"System.Guid"}, Props: []clixml.Property{cxProp("Guid", cxStr(v.Text))}})
	case clixml.Version:
		parts := strings.Split(v.Text, ".")
		o := &clixml.PSObject{TypeNames: []string{"System.Version"}}
		for i, name := range []string{"Major", "Minor", "Build", "Revision"} {
			n := "-1" // an absent part reads -1
			if i < len(parts) {
				n = parts[i]
			}
			o.Props = append(o.Props, cxProp(name, cxStr(n)))
		}
		return cxObj(o)
	}
	return v
}
