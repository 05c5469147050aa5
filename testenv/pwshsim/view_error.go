package pwshsim

import (
	"strconv"
	"strings"

	"github.com/psmux/psmux/sessions/clixml"
)

// conciseView renders an ErrorRecord as pwsh 7's default $ErrorView
// (ConciseView) does without colours: "<reason>: <message>", where the
// reason is "Exception" for a throw, else the command, activity, category
// or category reason; for an error on line 2 or later of a script (or in a
// script file) the source line and the "~~~" marker come first:
//
//	foo:
//	Line |
//	   2 |  foo
//	     |  ~~~
//	     | The term 'foo' is not recognized …
//
// Native commands' stderr lines print as they are.
func conciseView(rec clixml.Value) []string {
	exc := propValue(rec, "Exception")
	msg := valueText(propValue(exc, "Message"))
	if msg == "" && rec.Obj != nil && rec.Obj.HasToString {
		msg = rec.Obj.ToString
	}
	switch valueText(propValue(rec, "FullyQualifiedErrorId")) {
	case "NativeCommandError", "NativeCommandErrorMessage":
		return textLines(msg)
	}
	if details := valueText(propValue(rec, "ErrorDetails_Message")); details != "" {
		msg = details
	}
	cat := -1
	if c := propValue(rec, "ErrorCategory_Category"); c.Kind == clixml.Int32 {
		if n, err := strconv.Atoi(c.Text); err == nil {
			cat = n
		}
	}
	if cat == catParserError {
		// A parse error's message repeats the position; the view shows
		// only the text after the marker line.
		if _, after, ok := strings.Cut(msg, "~\n"); ok {
			msg, _, _ = strings.Cut(after, "\n\n")
		}
	}

	// InvocationInfo arrives as an object or as InvocationInfo_* notes.
	inv := propValue(rec, "InvocationInfo")
	info := func(name string) string {
		if p := propValue(inv, name); p.Kind != clixml.Nil {
			return valueText(p)
		}
		return valueText(propValue(rec, "InvocationInfo_"+name))
	}
	command, invoked, script := info("MyCommand"), info("InvocationName"), info("ScriptName")
	line, _ := strconv.Atoi(info("ScriptLineNumber"))
	position := textLines(info("PositionMessage"))

	var reason string
	activity := valueText(propValue(rec, "ErrorCategory_Activity"))
	switch {
	case valueText(propValue(exc, "WasThrownFromThrowStatement")) == "True":
		reason = "Exception"
	case command != "" && !strings.ContainsAny(command, " \t\r\n;|{}()$'\""):
		reason = command // a command name, not a script block's text
	case activity != "":
		reason = activity
	case command != "":
		reason = command
	case invoked != "":
		reason = invoked
	case cat > 0:
		reason = categoryName(cat)
	default:
		reason = valueText(propValue(rec, "ErrorCategory_Reason"))
		if reason == "" {
			reason = "Error"
		}
	}

	body := textLines(msg)
	inModule := strings.HasSuffix(strings.ToLower(script), ".psm1")
	if (line < 2 && script == "") || inModule || len(position) < 3 {
		body[0] = reason + ": " + body[0]
		return body
	}
	head := reason + ": "
	if script != "" {
		head += script + ":" + strconv.Itoa(line)
	}
	num := strconv.Itoa(line)
	gutter := strings.Repeat(" ", max(0, len(num)-4)) // widens for 5+ digit lines
	out := []string{head, gutter + "Line |", strings.Repeat(" ", max(0, 4-len(num))) + num + " | " + strings.TrimPrefix(position[1], "+")}
	bar := gutter + "     | "
	if marker := strings.TrimPrefix(position[len(position)-1], "+"); strings.TrimSpace(marker) != "" {
		out = append(out, bar+marker)
	}
	body[0] = bar + body[0]
	return append(out, body...)
}
