package transcripts

import (
	"embed"
)

//go:embed testdata/*.oop
var files embed.FS

// Step is one pipeline of a scenario.
type Step struct {
	Script string
	// Interactive runs it as the REPL and exec do: merged error output
	// and Out-Default, so the output arrives as host calls.
	Interactive bool
	// Answers are typed, in turn, at visible prompts (Read-Host, the
	// user name of Get-Credential, PromptForChoice); a hidden prompt is
	// answered "typed-secret".
	Answers []string
	// Stop stops the pipeline (Signal) once its first output arrives.
	Stop bool
	// Live says pwsh's answer depends on what the client typed or on the
	// session's state (its location): a replay of the recording would
	// be wrong, so pwshsim computes it itself.
	Live bool
}

// Scenario is one recorded session: the steps run in it in turn.
type Scenario struct {
	Name  string
	Steps []Step
}

// OutString is the suffix of a step that asks pwsh for the text of the
// step before it: its objects | Out-String -Width 120.
const OutString = " | Out-String -Width 120"

func objects(name, script string) Scenario {
	return Scenario{Name: name, Steps: []Step{{Script: script}, {Script: script + OutString}}}
}

// RecordDir is pwsh's working directory while recording: it holds
// a.txt (5 bytes) and sub/, dated RecordTime, for Get-ChildItem.
const RecordDir = "/tmp/psmux-transcripts"

// Scenarios are what testdata holds, one file each.
var Scenarios = []Scenario{
	{Name: "open", Steps: []Step{{Script: "'opened'"}}},
	objects("prim-string", "'a string', ''"),
	objects("prim-char", "[char]'x'"),
	objects("prim-bool", "$true, $false"),
	objects("prim-datetime", "[datetime]::new(2024, 5, 1, 13, 45, 10, [DateTimeKind]::Utc)"),
	objects("prim-duration", "[timespan]::new(1, 2, 3, 4, 5)"),
	objects("prim-byte", "[byte]200"),
	objects("prim-sbyte", "[sbyte]-100"),
	objects("prim-int16", "[int16]-30000"),
	objects("prim-int32", "[int32]-2000000000"),
	objects("prim-int64", "[int64]-9000000000000000000"),
	objects("prim-uint16", "[uint16]60000"),
	objects("prim-uint32", "[uint32]4000000000"),
	objects("prim-uint64", "[uint64]18000000000000000000"),
	objects("prim-float", "[float]1.5"),
	objects("prim-double", "[double]3.14159265358979, [double]1e300"),
	objects("prim-decimal", "[decimal]'79228162514264337593543950335'"),
	objects("prim-bytes", "[byte[]](1, 2, 3, 255)"),
	objects("prim-guid", "[guid]'9a9b0a1f-2f45-4c6c-9e9f-3c1d2e4f5a6b'"),
	objects("prim-uri", "[uri]'https://example.com/a?b=c'"),
	objects("prim-version", "[version]'1.2.3.4'"),
	objects("prim-xml", "[xml]'<root><a x=\"1\">text</a></root>'"),
	objects("prim-scriptblock", "{ Get-Date; 1 + 1 }"),
	objects("prim-null", "$null"),
	objects("prim-securestring", "[securestring]::new()"),
	objects("process", "Get-Process -Id $PID | Select-Object -Property Id, ProcessName"),
	objects("childitem", "Get-ChildItem"), // in RecordDir
	objects("hashtable", "[ordered]@{ Name = 'web1'; Port = 22; Tags = @('a', 'b') }"),
	objects("pscustomobject", "[pscustomobject]@{ Name = 'web1'; Port = 22 }, [pscustomobject]@{ Name = 'db1'; Port = 5432 }"),
	objects("list", "[pscustomobject]@{ A = 1; B = 'two'; C = 3.5; D = $true; E = 'five' }"),
	objects("error-write", "Write-Error 'written error' 2>&1"),
	objects("error-throw", "$(try { throw 'thrown error' } catch { $_ })"),
	{Name: "error-write-stream", Steps: []Step{{Script: "Write-Error 'written error'"}, {Script: "Write-Error 'written error'", Interactive: true}}},
	{Name: "error-throw-stream", Steps: []Step{{Script: "throw 'thrown error'"}, {Script: "throw 'thrown error'", Interactive: true}}},
	{Name: "error-parse", Steps: []Step{{Script: "1 +"}, {Script: "1 +", Interactive: true}}},
	{Name: "error-stop", Steps: []Step{{Script: "Get-Item -LiteralPath /nonexistent-psmux -ErrorAction Stop"}, {Script: "Get-Item -LiteralPath /nonexistent-psmux -ErrorAction Stop", Interactive: true}}},
	{Name: "streams", Steps: []Step{{Script: "Write-Warning 'a warning'; Write-Verbose 'verbose' -Verbose; Write-Debug 'debug' -Debug; Write-Information 'info'", Interactive: true}}},
	{Name: "progress", Steps: []Step{{Script: "Write-Progress -Activity 'Copying' -Status 'half' -PercentComplete 50; 'done'"}}},
	{Name: "out-default", Steps: []Step{{Script: "[pscustomobject]@{ Name = 'web1'; Port = 22 }; 'plain'; Write-Host 'host text' -ForegroundColor Green", Interactive: true}}},
	{Name: "read-host", Steps: []Step{{Script: "$n = Read-Host 'your name'; \"hello $n\"", Interactive: true, Live: true, Answers: []string{"bob"}}}},
	{Name: "read-host-secure", Steps: []Step{{Script: "$s = Read-Host -AsSecureString 'pin'; \"length $($s.Length)\"", Interactive: true, Live: true}}},
	{Name: "get-credential", Steps: []Step{{Script: "$c = Get-Credential; \"user $($c.UserName)\"", Interactive: true, Live: true, Answers: []string{"alice"}}}},
	{Name: "prompt-for-choice", Steps: []Step{{Script: "$host.UI.PromptForChoice('Title', 'Pick one', @('&Yes', '&No'), 0)", Interactive: true, Live: true, Answers: []string{"N"}}}},
	{Name: "signal", Steps: []Step{{Script: "'started'; Start-Sleep -Seconds 30", Stop: true}}},
	{Name: "complete", Steps: []Step{{Script: "TabExpansion2 -inputScript 'Get-Chil' -cursorColumn 8"}}},
	{Name: "prompt", Steps: []Step{{Script: "prompt", Live: true}}},
	{Name: "exit", Steps: []Step{{Script: "exit", Interactive: true, Live: true}}},
}

// Transcript returns the recorded traffic of a scenario.
func Transcript(name string) ([]byte, error) {
	return files.ReadFile("testdata/" + name + ".oop")
}
