package psrp

import "fmt"

// MessageType is the PSRP message type code of psrp-brief §4.
type MessageType uint32

// Message types (MS-PSRP names).
const (
	SessionCapability        MessageType = 0x00010002
	CloseSession             MessageType = 0x00010003
	InitRunspacePool         MessageType = 0x00010004
	PublicKey                MessageType = 0x00010005
	EncryptedSessionKey      MessageType = 0x00010006
	PublicKeyRequest         MessageType = 0x00010007
	ConnectRunspacePool      MessageType = 0x00010008
	SetMaxRunspaces          MessageType = 0x00021002
	SetMinRunspaces          MessageType = 0x00021003
	RunspaceAvailability     MessageType = 0x00021004
	RunspacePoolState        MessageType = 0x00021005
	CreatePipeline           MessageType = 0x00021006
	GetAvailableRunspaces    MessageType = 0x00021007
	UserEvent                MessageType = 0x00021008
	ApplicationPrivateData   MessageType = 0x00021009
	GetCommandMetadata       MessageType = 0x0002100A
	RunspacePoolInitData     MessageType = 0x0002100B
	ResetRunspaceState       MessageType = 0x0002100C
	RunspacePoolHostCall     MessageType = 0x00021100
	RunspacePoolHostResponse MessageType = 0x00021101
	PipelineInput            MessageType = 0x00041002
	EndOfPipelineInput       MessageType = 0x00041003
	PipelineOutput           MessageType = 0x00041004
	ErrorRecord              MessageType = 0x00041005
	PipelineState            MessageType = 0x00041006
	DebugRecord              MessageType = 0x00041007
	VerboseRecord            MessageType = 0x00041008
	WarningRecord            MessageType = 0x00041009
	ProgressRecord           MessageType = 0x00041010
	InformationRecord        MessageType = 0x00041011
	StopPipeline             MessageType = 0x00041012
	PipelineHostCall         MessageType = 0x00041100
	PipelineHostResponse     MessageType = 0x00041101
)

var typeNames = map[MessageType]string{
	SessionCapability:        "SESSION_CAPABILITY",
	CloseSession:             "CLOSE_SESSION",
	InitRunspacePool:         "INIT_RUNSPACEPOOL",
	PublicKey:                "PUBLIC_KEY",
	EncryptedSessionKey:      "ENCRYPTED_SESSION_KEY",
	PublicKeyRequest:         "PUBLIC_KEY_REQUEST",
	ConnectRunspacePool:      "CONNECT_RUNSPACEPOOL",
	SetMaxRunspaces:          "SET_MAX_RUNSPACES",
	SetMinRunspaces:          "SET_MIN_RUNSPACES",
	RunspaceAvailability:     "RUNSPACE_AVAILABILITY",
	RunspacePoolState:        "RUNSPACEPOOL_STATE",
	CreatePipeline:           "CREATE_PIPELINE",
	GetAvailableRunspaces:    "GET_AVAILABLE_RUNSPACES",
	UserEvent:                "USER_EVENT",
	ApplicationPrivateData:   "APPLICATION_PRIVATE_DATA",
	GetCommandMetadata:       "GET_COMMAND_METADATA",
	RunspacePoolInitData:     "RUNSPACEPOOL_INIT_DATA",
	ResetRunspaceState:       "RESET_RUNSPACE_STATE",
	RunspacePoolHostCall:     "RUNSPACEPOOL_HOST_CALL",
	RunspacePoolHostResponse: "RUNSPACEPOOL_HOST_RESPONSE",
	PipelineInput:            "PIPELINE_INPUT",
	EndOfPipelineInput:       "END_OF_PIPELINE_INPUT",
	PipelineOutput:           "PIPELINE_OUTPUT",
	ErrorRecord:              "ERROR_RECORD",
	PipelineState:            "PIPELINE_STATE",
	DebugRecord:              "DEBUG_RECORD",
	VerboseRecord:            "VERBOSE_RECORD",
	WarningRecord:            "WARNING_RECORD",
	ProgressRecord:           "PROGRESS_RECORD",
	InformationRecord:        "INFORMATION_RECORD",
	StopPipeline:             "STOP_PIPELINE",
	PipelineHostCall:         "PIPELINE_HOST_CALL",
	PipelineHostResponse:     "PIPELINE_HOST_RESPONSE",
}

// String returns the MS-PSRP name, or the hex code for an unknown type.
func (t MessageType) String() string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	return fmt.Sprintf("UNKNOWN_0x%08X", uint32(t))
}

// Known reports whether t is one of the types above.
func (t MessageType) Known() bool { _, ok := typeNames[t]; return ok }

// Destination is the message header's first field.
type Destination uint32

// Destinations.
const (
	ToClient Destination = 1
	ToServer Destination = 2
)

// String returns "Client" or "Server" (or the number).
func (d Destination) String() string {
	switch d {
	case ToClient:
		return "Client"
	case ToServer:
		return "Server"
	}
	return fmt.Sprintf("%d", uint32(d))
}

// RunspacePoolStateValue is PowerShell's RunspacePoolState enum.
type RunspacePoolStateValue int32

// Pool states.
const (
	PoolBeforeOpen RunspacePoolStateValue = iota
	PoolOpening
	PoolOpened
	PoolClosed
	PoolClosing
	PoolBroken
	PoolDisconnecting
	PoolDisconnected
	PoolConnecting
)

var poolStateNames = [...]string{"BeforeOpen", "Opening", "Opened", "Closed", "Closing", "Broken", "Disconnecting", "Disconnected", "Connecting"}

func (s RunspacePoolStateValue) String() string {
	if s >= 0 && int(s) < len(poolStateNames) {
		return poolStateNames[s]
	}
	return fmt.Sprintf("RunspacePoolState(%d)", int32(s))
}

// Valid reports whether s is one of PowerShell's pool states.
func (s RunspacePoolStateValue) Valid() bool { return s >= 0 && int(s) < len(poolStateNames) }

// PSInvocationState is PowerShell's pipeline state enum.
type PSInvocationState int32

// Pipeline states.
const (
	NotStarted PSInvocationState = iota
	Running
	Stopping
	Stopped
	Completed
	Failed
	Disconnected
)

var pipeStateNames = [...]string{"NotStarted", "Running", "Stopping", "Stopped", "Completed", "Failed", "Disconnected"}

func (s PSInvocationState) String() string {
	if s >= 0 && int(s) < len(pipeStateNames) {
		return pipeStateNames[s]
	}
	return fmt.Sprintf("PSInvocationState(%d)", int32(s))
}

// Valid reports whether s is one of PowerShell's pipeline states.
func (s PSInvocationState) Valid() bool { return s >= 0 && int(s) < len(pipeStateNames) }

// Terminal reports whether the state ends a pipeline.
func (s PSInvocationState) Terminal() bool { return s == Stopped || s == Completed || s == Failed }
