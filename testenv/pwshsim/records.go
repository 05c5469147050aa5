package pwshsim

import (
	"strconv"
	"strings"
	"time"

	"github.com/psmux/psmux/sessions/clixml"
)

// This file builds the record objects pwsh sends (psrp-brief §7.6): error
// records, informational (warning/verbose/debug) records, information
// records, progress records, and the host-call argument bags of §8.3.
// Shapes follow the captures in shared/corpus and pwsh 7 (.NET 8) property
// order. The records are built as pwsh sends them when the pipeline's
// RemoteStreamOptions is 0 (no InvocationInfo_* notes).

// ErrorCategory values (System.Management.Automation.ErrorCategory).
const (
	catNotSpecified     = 0
	catInvalidArgument  = 5
	catInvalidOperation = 7
	catNotImplemented   = 11
	catObjectNotFound   = 13
	catOperationStopped = 14
	catParserError      = 17
)

// Exception type chains (most derived first; System.Object is appended).
var (
	excRuntime         = []string{"System.Management.Automation.RuntimeException", "System.SystemException", "System.Exception"}
	excWriteError      = []string{"Microsoft.PowerShell.Commands.WriteErrorException", "System.SystemException", "System.Exception"}
	excCommandNotFound = []string{"System.Management.Automation.CommandNotFoundException", "System.Management.Automation.RuntimeException", "System.SystemException", "System.Exception"}
	excPipelineStopped = []string{"System.Management.Automation.PipelineStoppedException", "System.Management.Automation.RuntimeException", "System.SystemException", "System.Exception"}
	excParse           = []string{"System.Management.Automation.ParseException", "System.Management.Automation.RuntimeException", "System.SystemException", "System.Exception"}
	excParameterBind   = []string{"System.Management.Automation.ParameterBindingException", "System.Management.Automation.RuntimeException", "System.SystemException", "System.Exception"}
	excHost            = []string{"System.Management.Automation.Host.HostException", "System.Management.Automation.RuntimeException", "System.SystemException", "System.Exception"}
	excRemote          = []string{"System.Management.Automation.RemoteException", "System.Management.Automation.RuntimeException", "System.SystemException", "System.Exception"}
	excInvalidOp       = []string{"System.InvalidOperationException", "System.SystemException", "System.Exception"}
)

// invInfo is the part of an InvocationInfo the simulator tracks.
type invInfo struct {
	myCommand      string // "" → Nil
	invocationName string
	scriptLine     int
	offsetInLine   int
	line           string
	statement      string
	positionMsg    string
	historyID      int64
	pipelineLength int
	pipelinePos    int
	origin         string // "Runspace" or "Internal"
}

// errSpec describes one ErrorRecord.
type errSpec struct {
	excTypes     []string          // exception type chain, most derived first
	message      string            // Exception.Message
	excProps     []clixml.Property // type-specific adapted props listed first (e.g. CommandName)
	thrown       bool              // WasThrownFromThrowStatement
	target       clixml.Value      // TargetObject (zero Value = Nil)
	fqeid        string
	category     int
	activity     string
	reason       string // default: short name of the exception type
	inv          *invInfo
	details      string // ErrorDetails.Message
	recommended  string // ErrorDetails.RecommendedAction
	scriptStack  string // ErrorDetails_ScriptStackTrace ("" = omitted)
	streamRecord bool   // written to the error stream: adds PSMessageDetails like pwsh
}

func isRuntimeException(types []string) bool {
	for _, t := range types {
		if t == "System.Management.Automation.RuntimeException" {
			return true
		}
	}
	return false
}

// shortType is the last dotted segment of a .NET type name.
func shortType(t string) string {
	if i := strings.LastIndexByte(t, '.'); i >= 0 {
		return t[i+1:]
	}
	return t
}

// ellipsize shortens a CategoryInfo field the way pwsh does (> 40 chars:
// first 15 + "..." + last 15).
func ellipsize(s string) string {
	r := []rune(s)
	if len(r) <= 40 {
		return s
	}
	return string(r[:15]) + "..." + string(r[len(r)-15:])
}

// targetNameType derives CategoryInfo's TargetName/TargetType from a value.
func targetNameType(v clixml.Value) (string, string) {
	switch v.Kind {
	case clixml.Nil:
		return "", ""
	case clixml.String:
		return v.Text, "String"
	case clixml.Int32:
		return v.Text, "Int32"
	case clixml.Int64:
		return v.Text, "Int64"
	case clixml.Double:
		return v.Text, "Double"
	case clixml.Bool:
		if v.Text == "true" {
			return "True", "Boolean"
		}
		return "False", "Boolean"
	case clixml.Object:
		o := v.Obj
		t := ""
		if len(o.TypeNames) > 0 {
			t = shortType(o.TypeNames[0])
		}
		if o.HasToString {
			return o.ToString, t
		}
		return "", t
	}
	return v.Text, ""
}

// categoryMessage is CategoryInfo.GetMessage().
func categoryMessage(cat int, activity, targetName, targetType, reason string) string {
	return categoryName(cat) + ": (" + ellipsize(targetName) + ":" + ellipsize(targetType) + ") [" +
		ellipsize(activity) + "], " + ellipsize(reason)
}

func exceptionValue(s *errSpec) clixml.Value {
	var props []clixml.Property
	props = append(props, s.excProps...)
	if isRuntimeException(s.excTypes) {
		props = append(props, cxProp("ErrorRecord", cxStr(s.message)), cxProp("WasThrownFromThrowStatement", cxBool(s.thrown)))
	}
	props = append(props,
		cxProp("TargetSite", cxNil()),
		cxProp("Message", cxStr(s.message)),
		cxProp("Data", cxObj(&clixml.PSObject{TypeNames: []string{"System.Collections.ListDictionaryInternal", "System.Object"}, Container: clixml.Dictionary})),
		cxProp("InnerException", cxNil()),
		cxProp("HelpLink", cxNil()),
		cxProp("Source", cxNil()),
		cxProp("HResult", cxI32(-2146233087)),
		cxProp("StackTrace", cxNil()),
	)
	return cxObj(&clixml.PSObject{
		TypeNames:   append(append([]string(nil), s.excTypes...), "System.Object"),
		ToString:    s.excTypes[0] + ": " + s.message,
		HasToString: true,
		Props:       props,
	})
}

func invocationValue(i *invInfo) clixml.Value {
	myCmd := cxNil()
	if i.myCommand != "" {
		myCmd = cxStr(i.myCommand)
	}
	origin := i.origin
	if origin == "" {
		origin = "Internal"
	}
	return cxObj(&clixml.PSObject{
		TypeNames:   []string{"System.Management.Automation.InvocationInfo", "System.Object"},
		ToString:    "System.Management.Automation.InvocationInfo",
		HasToString: true,
		Props: []clixml.Property{
			cxProp("MyCommand", myCmd),
			cxProp("BoundParameters", cxObj(&clixml.PSObject{TypeNames: []string{
				"System.Collections.Generic.Dictionary`2[[System.String, " + coreLib + "],[System.Object, " + coreLib + "]]",
				"System.Object"}, Container: clixml.Dictionary})),
			cxProp("UnboundArguments", cxList([]string{"System.Collections.Generic.List`1[[System.Object, " + coreLib + "]]", "System.Object"}, nil)),
			cxProp("ScriptLineNumber", cxI32(int32(i.scriptLine))),
			cxProp("OffsetInLine", cxI32(int32(i.offsetInLine))),
			cxProp("HistoryId", cxI64(i.historyID)),
			cxProp("ScriptName", cxStr("")),
			cxProp("Line", cxStr(i.line)),
			cxProp("Statement", cxStr(i.statement)),
			cxProp("PositionMessage", cxStr(i.positionMsg)),
			cxProp("PSScriptRoot", cxStr("")),
			cxProp("PSCommandPath", cxNil()),
			cxProp("InvocationName", cxStr(i.invocationName)),
			cxProp("PipelineLength", cxI32(int32(i.pipelineLength))),
			cxProp("PipelinePosition", cxI32(int32(i.pipelinePos))),
			cxProp("ExpectingInput", cxBool(false)),
			cxProp("CommandOrigin", cxStr(origin)),
			cxProp("DisplayScriptPosition", cxNil()),
		},
	})
}

// build returns the ErrorRecord object.
func (s *errSpec) build() clixml.Value {
	target := s.target
	if target.Kind == clixml.Nil && target.Text == "" && target.Obj == nil {
		target = cxNil()
	}
	reason := s.reason
	if reason == "" {
		reason = shortType(s.excTypes[0])
	}
	tn, tt := targetNameType(target)
	toString := s.message
	if s.details != "" {
		toString = s.details
	}
	inv := cxNil()
	if s.inv != nil {
		inv = invocationValue(s.inv)
	}
	ms := []clixml.Property{
		cxProp("Exception", exceptionValue(s)),
		cxProp("TargetObject", target),
		cxProp("FullyQualifiedErrorId", cxStr(s.fqeid)),
		cxProp("InvocationInfo", inv),
		cxProp("ErrorCategory_Category", cxI32(int32(s.category))),
		cxProp("ErrorCategory_Activity", cxStr(s.activity)),
		cxProp("ErrorCategory_Reason", cxStr(reason)),
		cxProp("ErrorCategory_TargetName", cxStr(tn)),
		cxProp("ErrorCategory_TargetType", cxStr(tt)),
		cxProp("ErrorCategory_Message", cxStr(categoryMessage(s.category, s.activity, tn, tt, reason))),
	}
	if s.details != "" || s.recommended != "" {
		ms = append(ms, cxProp("ErrorDetails_Message", cxStr(s.details)), cxProp("ErrorDetails_RecommendedAction", cxStr(s.recommended)))
	}
	ms = append(ms, cxProp("SerializeExtendedInfo", cxBool(false)))
	if s.scriptStack != "" {
		ms = append(ms, cxProp("ErrorDetails_ScriptStackTrace", cxStr(s.scriptStack)))
	}
	if s.streamRecord {
		ms = append(ms, cxProp("PSMessageDetails", cxNil()))
	}
	return cxObj(&clixml.PSObject{
		TypeNames:   []string{"System.Management.Automation.ErrorRecord", "System.Object"},
		ToString:    toString,
		HasToString: true,
		Members:     ms,
	})
}

// pipelineStoppedRecord is the ExceptionAsErrorRecord of a stopped pipeline.
func pipelineStoppedRecord() clixml.Value {
	s := &errSpec{
		excTypes: excPipelineStopped,
		message:  "The pipeline has been stopped.",
		fqeid:    "PipelineStopped",
		category: catOperationStopped,
	}
	return s.build()
}

// informationalRecord builds a WARNING/VERBOSE/DEBUG_RECORD body; kind is
// "Warning", "Verbose" or "Debug".
func informationalRecord(kind, msg string) clixml.Value {
	return cxObj(&clixml.PSObject{
		TypeNames:   []string{"System.Management.Automation." + kind + "Record", "System.Management.Automation.InformationalRecord", "System.Object"},
		ToString:    msg,
		HasToString: true,
		Members: []clixml.Property{
			cxProp("InformationalRecord_Message", cxStr(msg)),
			cxProp("InformationalRecord_SerializeInvocationInfo", cxBool(false)),
		},
	})
}

// consoleColors are System.ConsoleColor's names by value.
var consoleColors = [...]string{"Black", "DarkBlue", "DarkGreen", "DarkCyan", "DarkRed",
	"DarkMagenta", "DarkYellow", "Gray", "DarkGray", "Blue", "Green", "Cyan", "Red", "Magenta",
	"Yellow", "White"}

// parseConsoleColor maps a ConsoleColor name or number to its value.
func parseConsoleColor(s string) (int, bool) {
	for i, n := range consoleColors {
		if strings.EqualFold(n, s) {
			return i, true
		}
	}
	if n, err := strconv.Atoi(s); err == nil && n >= 0 && n < len(consoleColors) {
		return n, true
	}
	return 0, false
}

// hostInformationMessage is Write-Host's MessageData; fg/bg < 0 = unset.
func hostInformationMessage(msg string, noNewLine bool, fg, bg int) clixml.Value {
	props := []clixml.Property{cxProp("Message", cxStr(msg)), cxProp("NoNewLine", cxBool(noNewLine))}
	if fg >= 0 && fg < len(consoleColors) {
		props = append(props, cxProp("ForegroundColor", cxStr(consoleColors[fg])))
	}
	if bg >= 0 && bg < len(consoleColors) {
		props = append(props, cxProp("BackgroundColor", cxStr(consoleColors[bg])))
	}
	return cxObj(&clixml.PSObject{
		TypeNames:   []string{"System.Management.Automation.HostInformationMessage", "System.Object"},
		ToString:    msg,
		HasToString: true,
		Props:       props,
	})
}

// infoOrigin is who and where an InformationRecord was generated.
type infoOrigin struct {
	user, computer    string
	pid, nativeThread uint32
	managedThread     uint32
}

// informationRecord is the INFORMATION_RECORD body (a property bag).
func informationRecord(data clixml.Value, source string, tags []string, at time.Time, o infoOrigin) clixml.Value {
	items := make([]clixml.Value, len(tags))
	for i, t := range tags {
		items[i] = cxStr(t)
	}
	return cxBag(
		cxProp("MessageData", data),
		cxProp("Source", cxStr(source)),
		cxProp("TimeGenerated", cxDT(at)),
		cxProp("Tags", cxList([]string{"System.Collections.Generic.List`1[[System.String, " + coreLib + "]]", "System.Object"}, items)),
		cxProp("User", cxStr(o.user)),
		cxProp("Computer", cxStr(o.computer)),
		cxProp("ProcessId", cxU32(o.pid)),
		cxProp("NativeThreadId", cxU32(o.nativeThread)),
		cxProp("ManagedThreadId", cxU32(o.managedThread)),
	)
}

// progress is a ProgressRecord.
type progress struct {
	activity, status, currentOp string
	id, parentID, percent, secs int32
	completed                   bool
}

// value is the PROGRESS_RECORD body and the WriteProgress host-call bag.
func (p progress) value() clixml.Value {
	typ := cxEnum("System.Management.Automation.ProgressRecordType", "Processing", 0)
	if p.completed {
		typ = cxEnum("System.Management.Automation.ProgressRecordType", "Completed", 1)
	}
	return cxBag(
		cxProp("Activity", cxStr(p.activity)),
		cxProp("ActivityId", cxI32(p.id)),
		cxProp("StatusDescription", cxStr(p.status)),
		cxProp("CurrentOperation", cxStrOrNil(p.currentOp)),
		cxProp("ParentActivityId", cxI32(p.parentID)),
		cxProp("PercentComplete", cxI32(p.percent)),
		cxProp("Type", typ),
		cxProp("SecondsRemaining", cxI32(p.secs)),
	)
}

// fieldDescription is a FieldDescription bag for the Prompt host call.
func fieldDescription(name string, secure bool) clixml.Value {
	tn, full := "String", "System.String"
	if secure {
		tn, full = "SecureString", "System.Security.SecureString"
	}
	return cxBag(
		cxProp("name", cxStr(name)),
		cxProp("label", cxStr("")),
		cxProp("parameterTypeName", cxStr(tn)),
		cxProp("parameterTypeFullName", cxStr(full)),
		cxProp("parameterAssemblyFullName", cxStr(full+", "+coreLib)),
		cxProp("helpMessage", cxStr("")),
		cxProp("isMandatory", cxBool(true)),
		cxProp("metadata", cxList(tnArrayList, nil)),
		cxProp("modifiedByRemotingProtocol", cxBool(false)),
		cxProp("isFromRemoteHost", cxBool(false)),
	)
}

// choiceDescription is a ChoiceDescription bag for PromptForChoice.
func choiceDescription(label, help string) clixml.Value {
	return cxBag(cxProp("label", cxStr(label)), cxProp("helpMessage", cxStr(help)))
}
