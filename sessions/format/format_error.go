package format

import (
	"strconv"
	"strings"

	"github.com/psmux/psmux/sessions/clixml"
)

// FormatErrorRecord renders an ErrorRecord (as sent on the wire or built
// here) in pwsh 7's default $ErrorView, ConciseView, without ANSI colours:
//
//	Write-Error: boom
//	Exception: bad                      (throw "bad")
//	foo: The term 'foo' is not recognized …
//
// and, for an error on line 2 or later of a multi-line script (or from a
// script file), the "Line |" block:
//
//	foo:
//	Line |
//	   2 |  foo
//	     |  ~~~
//	     | The term 'foo' is not recognized …
func FormatErrorRecord(v clixml.Value, width int) []string {
	_ = width
	exc := firstProp(v, "Exception")
	fqeid := fmtText(firstProp(v, "FullyQualifiedErrorId"))
	message := fmtText(firstProp(exc, "Message"))
	if message == "" && v.Obj != nil && v.Obj.HasToString {
		message = v.Obj.ToString
	}
	if fqeid == "NativeCommandErrorMessage" || fqeid == "NativeCommandError" {
		return splitLines(message)
	}
	if d := fmtText(firstProp(v, "ErrorDetails_Message")); d != "" {
		message = d
	}
	category := -1
	if c := firstProp(v, "ErrorCategory_Category"); c.Kind == clixml.Int32 {
		category, _ = strconv.Atoi(c.Text)
	}
	const parserError = 17
	if category == parserError && strings.Contains(message, "~\n") {
		m := message[strings.Index(message, "~\n")+2:]
		if i := strings.Index(m, "\n\n"); i >= 0 {
			m = m[:i]
		}
		message = m
	}

	// InvocationInfo: an object, or flattened InvocationInfo_* notes.
	inv := firstProp(v, "InvocationInfo")
	get := func(name string) clixml.Value {
		if p := firstProp(inv, name); p.Kind != clixml.Nil {
			return p
		}
		return firstProp(v, "InvocationInfo_"+name)
	}
	myCommand := fmtText(get("MyCommand"))
	invocationName := fmtText(get("InvocationName"))
	scriptName := fmtText(get("ScriptName"))
	lineNo, _ := strconv.Atoi(fmtText(get("ScriptLineNumber")))
	posMsg := strings.ReplaceAll(fmtText(get("PositionMessage")), "\r\n", "\n")

	thrown := fmtText(firstProp(exc, "WasThrownFromThrowStatement")) == "True"
	activity := fmtText(firstProp(v, "ErrorCategory_Activity"))
	reason := "Error"
	switch {
	case thrown:
		reason = "Exception"
	case myCommand != "" && !strings.ContainsAny(myCommand, " \t\r\n;|{}()$'\""):
		reason = myCommand
	case activity != "":
		reason = activity
	case myCommand != "":
		reason = myCommand
	case invocationName != "":
		reason = invocationName
	case category > 0: // NotSpecified (0) is falsy in the view's script
		reason = fmtCategoryName(category)
	default:
		if r := fmtText(firstProp(v, "ErrorCategory_Reason")); r != "" {
			reason = r
		}
	}

	pos := strings.Split(posMsg, "\n")
	lineBlock := (lineNo > 1 || scriptName != "") && !strings.HasSuffix(strings.ToLower(scriptName), ".psm1") && len(pos) >= 3
	if !lineBlock {
		lines := splitLines(message)
		lines[0] = reason + ": " + lines[0]
		return lines
	}
	head := reason + ": "
	if scriptName != "" {
		head += scriptName + ":" + strconv.Itoa(lineNo)
	}
	num := strconv.Itoa(lineNo)
	headerWS, lineWS := "", ""
	if len(num) > 4 {
		headerWS = strings.Repeat(" ", len(num)-4)
	} else {
		lineWS = strings.Repeat(" ", 4-len(num))
	}
	src := strings.TrimPrefix(pos[1], "+")
	hl := strings.TrimPrefix(pos[len(pos)-1], "+")
	prefix := headerWS + "     | "
	out := []string{head, headerWS + "Line |", lineWS + num + " | " + src}
	if strings.TrimSpace(hl) != "" {
		out = append(out, prefix+hl)
	}
	msgLines := splitLines(message)
	msgLines[0] = prefix + msgLines[0]
	return append(out, msgLines...)
}

var fmtCategories = [...]string{"NotSpecified", "OpenError", "CloseError", "DeviceError",
	"DeadlockDetected", "InvalidArgument", "InvalidData", "InvalidOperation", "InvalidResult",
	"InvalidType", "MetadataError", "NotImplemented", "NotInstalled", "ObjectNotFound",
	"OperationStopped", "OperationTimeout", "SyntaxError", "ParserError", "PermissionDenied",
	"ResourceBusy", "ResourceExists", "ResourceUnavailable", "ReadError", "WriteError",
	"FromStdErr", "SecurityError", "ProtocolError", "ConnectionError", "AuthenticationError",
	"LimitsExceeded", "QuotaExceeded", "NotEnabled"}

func fmtCategoryName(c int) string {
	if c >= 0 && c < len(fmtCategories) {
		return fmtCategories[c]
	}
	return strconv.Itoa(c)
}
