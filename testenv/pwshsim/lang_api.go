package pwshsim

import (
	"context"
	"errors"
	"os"
	"sync"
	"time"

	"github.com/psmux/psmux/sessions/clixml"
	"github.com/psmux/psmux/sessions/psrp"
)

// Host is the pipeline's link to the client; the wire server implements it.
type Host interface {
	// Emit sends one message body for the pipeline, in order:
	// psrp.PipelineOutput, psrp.ErrorRecord, psrp.WarningRecord,
	// psrp.VerboseRecord, psrp.DebugRecord, psrp.InformationRecord,
	// psrp.ProgressRecord.
	Emit(t psrp.MessageType, body clixml.Value)
	// HostCall sends a PIPELINE_HOST_CALL for method m with parameters mp.
	// For a void method it returns (Value{}, nil) right after sending;
	// otherwise it blocks until the client answers and returns mr (Kind Nil
	// when omitted), an error when the client answered with me (the error
	// text is the ErrorRecord's message), or ctx.Err() when the pipeline is
	// stopped.
	HostCall(ctx context.Context, m psrp.HostMethod, mp []clixml.Value) (clixml.Value, error)
	// UI reports whether the client declared a host UI (HostInfo
	// _isHostUINull false) and the BufferSize width it declared (0 =
	// unknown → 120).
	UI() (hasUI bool, width int)
}

// HostColors is optionally implemented by a Host whose client declared
// RawUI default data: the console's ForegroundColor and BackgroundColor
// (ConsoleColor values). With it, Write-Host behaves like pwsh with a RawUI
// (every line is a WriteLine3/Write2 call carrying the colours); without it
// uncoloured Write-Host output uses WriteLine2/Write1.
type HostColors interface {
	DefaultColors() (fg, bg int, ok bool)
}

// Command is one command of a CREATE_PIPELINE (psrp-brief §6.1).
type Command struct {
	Cmd                  string
	IsScript             bool
	Args                 []Arg
	MergeMyResult        int32 // PipelineResultTypes; Error (2) with MergeToResult Output (1) = 2>&1
	MergeToResult        int32
	MergePreviousResults int32 // Error|Output (3): earlier commands' unclaimed errors become this command's input
	UseLocalScope        bool
}

// Arg is one parameter of a Command.
type Arg struct {
	Name  string // "" = positional
	Value clixml.Value
}

// RunspaceOptions configure a Runspace.
type RunspaceOptions struct {
	PSVersion    string // default "7.4.6"
	ComputerName string // default: os.Hostname()
	UserName     string // default: $USER or "user"
	Home         string // initial location and $HOME; default "/home/<user>"
	// Now is the clock (default time.Now); tests pin it.
	Now func() time.Time
	// ProcessID is $PID and InformationRecord.ProcessId (default os.Getpid()).
	ProcessID int
}

// Runspace holds the session state that persists across pipelines:
// variables, functions, the current location and $Error.
//
// The PowerShell subset it runs (SPEC S11):
//
//   - Literals: '…' (a doubled quote escapes), "…" with $var, ${var},
//     $env:X, $(…) and backtick escapes, here-strings, Int32 (Int64 or
//     Double on overflow), doubles, hex, kb/mb suffixes, $true/$false/$null.
//   - Arrays (1,2,3 and @(…)), ranges, hashtables (@{…}, [ordered]),
//     [pscustomobject]@{…}, casts ([int], [string], [bool], [long],
//     [double], [char], [datetime], [array], [string[]], [void], …),
//     static members ([int]::MaxValue, [math]::Round, [string]::Join, …).
//   - Operators: + - * / % (PowerShell numeric widening, string and array
//     repetition/concatenation), -eq -ne -gt -ge -lt -le -like -match
//     -contains -in -replace -split -join -f -is -as (c/i variants;
//     collection filtering), -and -or -xor -not !, ++ --, = += -= *= /= %=,
//     multiple assignment.
//   - Statements: if/elseif/else, foreach, for, while, do/while/until,
//     break/continue/return, function (param(), begin/process/end),
//     try/catch/finally, throw, exit, pipelines (streamed), & and . calls,
//     2>&1, 2>$null, >$null.
//   - Members: properties (member enumeration on collections, .Count and
//     .Length on anything), indexing, common string/array/hashtable/DateTime
//     methods, $Host.UI (WriteLine, Write, Write*Line, ReadLine,
//     PromptForChoice, PromptForCredential), $Host.UI.RawUI.WindowTitle,
//     $Host.SetShouldExit.
//   - Cmdlets: Write-Output/-Error/-Warning/-Verbose/-Debug/-Information/
//     -Host/-Progress, Read-Host, Get-Credential, Start-Sleep, Get-Date,
//     Get-Location, Set-Location, ForEach-Object, Where-Object,
//     Select-Object, Sort-Object, Measure-Object, Out-String, Out-Default,
//     Out-Host, Out-Null, TabExpansion2, prompt, Exit-PSSession, Get-Host,
//     Get-Service and Get-Process (fake objects), with common parameters
//     (-ErrorAction, -Verbose, -Debug, -WarningAction, -InformationAction)
//     and the usual aliases. Anything else is a CommandNotFoundException.
//
// Variables ($_, $input, $args, $Error, $Host, $PSVersionTable, $PWD, $HOME,
// $PID and the preference variables) behave as in pwsh; errors follow pwsh's
// non-terminating / statement-terminating / script-terminating split.
type Runspace struct {
	opts RunspaceOptions

	mu       sync.Mutex // guards everything below
	global   *scope
	funcs    map[string]*sbBody
	location string
	history  int64
	errs     []clixml.Value // $Error, newest first
	env      map[string]string
	title    string
}

// NewRunspace returns a runspace with pwsh's default preference variables.
func NewRunspace(opts RunspaceOptions) *Runspace {
	if opts.PSVersion == "" {
		opts.PSVersion = "7.4.6"
	}
	if opts.ComputerName == "" {
		opts.ComputerName, _ = os.Hostname()
		if opts.ComputerName == "" {
			opts.ComputerName = "localhost"
		}
	}
	if opts.UserName == "" {
		opts.UserName = os.Getenv("USER")
		if opts.UserName == "" {
			opts.UserName = "user"
		}
	}
	if opts.Home == "" {
		opts.Home = "/home/" + opts.UserName
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ProcessID == 0 {
		opts.ProcessID = os.Getpid()
	}
	r := &Runspace{opts: opts, funcs: map[string]*sbBody{}, location: opts.Home, env: map[string]string{}}
	r.global = &scope{vars: map[string]val{}, mu: &r.mu}
	for k, v := range map[string]val{
		"erroractionpreference":       "Continue",
		"warningpreference":           "Continue",
		"verbosepreference":           "SilentlyContinue",
		"debugpreference":             "SilentlyContinue",
		"informationpreference":       "SilentlyContinue",
		"progresspreference":          "Continue",
		"confirmpreference":           "High",
		"whatifpreference":            false,
		"formatenumerationlimit":      int32(4),
		"maximumhistorycount":         int32(4096),
		"nestedpromptlevel":           int32(0),
		"psculture":                   "en-US",
		"psuiculture":                 "en-US",
		"pssessionapplicationname":    "wsman",
		"pssessionconfigurationname":  "http://schemas.microsoft.com/powershell/Microsoft.PowerShell",
		"psnativecommandargumentpass": "Standard",
	} {
		r.global.vars[k] = v
	}
	return r
}

// errStopped ends a pipeline whose context was cancelled.
var errStopped = errors.New("pwshsim: pipeline stopped")

// Invoke runs one pipeline (the Cmds of a CREATE_PIPELINE) to its end.
// input is nil when NoInput=true, else it yields PIPELINE_INPUT values
// until closed. It returns the terminal state (psrp.Completed, psrp.Failed,
// psrp.Stopped) and, for Failed/Stopped, the ErrorRecord for
// ExceptionAsErrorRecord. Cancelling ctx stops the pipeline.
func (r *Runspace) Invoke(ctx context.Context, cmds []Command, input <-chan clixml.Value, h Host) (psrp.PSInvocationState, clixml.Value) {
	it := newInterp(r, ctx, h)
	err := it.runTop(cmds, input)
	if ctx.Err() != nil && (err == nil || errors.Is(err, errStopped) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return psrp.Stopped, pipelineStoppedRecord()
	}
	if err == nil {
		return psrp.Completed, clixml.Value{}
	}
	var pe *psError
	if errors.As(err, &pe) {
		return psrp.Failed, pe.record(it, nil)
	}
	var fe *flowExit
	if errors.As(err, &fe) {
		return psrp.Completed, clixml.Value{}
	}
	if errors.Is(err, errStopped) {
		return psrp.Stopped, pipelineStoppedRecord()
	}
	// break/continue/return outside a loop end the script quietly, as in pwsh.
	return psrp.Completed, clixml.Value{}
}
