package psrp

import "strconv"

// HostMethod is PowerShell's RemoteHostMethodId (psrp-brief §8.3).
type HostMethod int32

// Host methods.
const (
	GetName HostMethod = iota + 1
	GetVersion
	GetInstanceID
	GetCurrentCulture
	GetCurrentUICulture
	SetShouldExit
	EnterNestedPrompt
	ExitNestedPrompt
	NotifyBeginApplication
	NotifyEndApplication
	ReadLine
	ReadLineAsSecureString
	Write1
	Write2
	WriteLine1
	WriteLine2
	WriteLine3
	WriteErrorLine
	WriteDebugLine
	WriteProgress
	WriteVerboseLine
	WriteWarningLine
	Prompt
	PromptForCredential1
	PromptForCredential2
	PromptForChoice
	GetForegroundColor
	SetForegroundColor
	GetBackgroundColor
	SetBackgroundColor
	GetCursorPosition
	SetCursorPosition
	GetWindowPosition
	SetWindowPosition
	GetCursorSize
	SetCursorSize
	GetBufferSize
	SetBufferSize
	GetWindowSize
	SetWindowSize
	GetWindowTitle
	SetWindowTitle
	GetMaxWindowSize
	GetMaxPhysicalWindowSize
	GetKeyAvailable
	ReadKey
	FlushInputBuffer
	SetBufferContents1
	SetBufferContents2
	GetBufferContents
	ScrollBufferContents
	PushRunspace
	PopRunspace
	GetIsRunspacePushed
	GetRunspace
	PromptForChoiceMultipleSelection
)

var hostMethodNames = [...]string{"", "GetName", "GetVersion", "GetInstanceId", "GetCurrentCulture",
	"GetCurrentUICulture", "SetShouldExit", "EnterNestedPrompt", "ExitNestedPrompt",
	"NotifyBeginApplication", "NotifyEndApplication", "ReadLine", "ReadLineAsSecureString",
	"Write1", "Write2", "WriteLine1", "WriteLine2", "WriteLine3", "WriteErrorLine",
	"WriteDebugLine", "WriteProgress", "WriteVerboseLine", "WriteWarningLine", "Prompt",
	"PromptForCredential1", "PromptForCredential2", "PromptForChoice", "GetForegroundColor",
	"SetForegroundColor", "GetBackgroundColor", "SetBackgroundColor", "GetCursorPosition",
	"SetCursorPosition", "GetWindowPosition", "SetWindowPosition", "GetCursorSize",
	"SetCursorSize", "GetBufferSize", "SetBufferSize", "GetWindowSize", "SetWindowSize",
	"GetWindowTitle", "SetWindowTitle", "GetMaxWindowSize", "GetMaxPhysicalWindowSize",
	"GetKeyAvailable", "ReadKey", "FlushInputBuffer", "SetBufferContents1",
	"SetBufferContents2", "GetBufferContents", "ScrollBufferContents", "PushRunspace",
	"PopRunspace", "GetIsRunspacePushed", "GetRunspace", "PromptForChoiceMultipleSelection"}

// String returns the .NET enum member name.
func (m HostMethod) String() string {
	if m > 0 && int(m) < len(hostMethodNames) {
		return hostMethodNames[m]
	}
	return strconv.Itoa(int(m))
}

// ParseHostMethod maps a member name (case-insensitive) to its id.
func ParseHostMethod(s string) (HostMethod, bool) {
	for i := 1; i < len(hostMethodNames); i++ {
		if equalFold(hostMethodNames[i], s) {
			return HostMethod(i), true
		}
	}
	return 0, false
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// Void reports whether the method returns nothing, so its call carries
// ci = -100 and must never be answered.
// WriteText returns the index of a host write's text among c's
// parameters (Write1 and WriteLine2 its first, Write2 and WriteLine3 its
// third, after the colours), or -1 for any other call or a call without
// that parameter.
func (c HostCallMsg) WriteText() int {
	i := -1
	switch c.Method {
	case Write1, WriteLine2:
		i = 0
	case Write2, WriteLine3:
		i = 2
	}
	if i >= len(c.Params) {
		return -1
	}
	return i
}

func (m HostMethod) Void() bool {
	switch m {
	case ReadLine, ReadLineAsSecureString, Prompt, PromptForCredential1, PromptForCredential2,
		PromptForChoice, ReadKey, GetIsRunspacePushed, GetRunspace, PromptForChoiceMultipleSelection,
		GetName, GetVersion, GetInstanceID, GetCurrentCulture, GetCurrentUICulture,
		GetForegroundColor, GetBackgroundColor, GetCursorPosition, GetWindowPosition,
		GetCursorSize, GetBufferSize, GetWindowSize, GetWindowTitle, GetMaxWindowSize,
		GetMaxPhysicalWindowSize, GetKeyAvailable, GetBufferContents:
		return false
	}
	return true
}

// VoidCallID is the ci of every void host call.
const VoidCallID = -100
