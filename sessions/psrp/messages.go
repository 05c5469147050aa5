package psrp

import (
	"crypto/rand"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/psmux/psmux/sessions/clixml"
)

// Type names pwsh puts on the enums and collections inside messages.
const (
	tnPSThreadOptions   = "System.Management.Automation.Runspaces.PSThreadOptions"
	tnApartmentState    = "System.Threading.ApartmentState"
	tnRemoteStreamOpts  = "System.Management.Automation.RemoteStreamOptions"
	tnPipelineResult    = "System.Management.Automation.Runspaces.PipelineResultTypes"
	tnHostMethodID      = "System.Management.Automation.Remoting.RemoteHostMethodId"
	tnArrayList         = "System.Collections.ArrayList"
	tnHashtable         = "System.Collections.Hashtable"
	tnPrimitiveDict     = "System.Management.Automation.PSPrimitiveDictionary"
	tnObject            = "System.Object"
	defaultPSVersion    = "2.0"
	serializationVer    = "1.1.0.1"
	ProtocolVersion23   = "2.3"
	ProtocolVersion24   = "2.4"
	ClientProtocol      = ProtocolVersion24
	apartmentUnknown    = 2
	remoteStreamAddInfo = 15
)

// FieldError reports a message body that lacks a property or has it in
// the wrong type.
type FieldError struct {
	Type     MessageType
	Property string
	Expected string
	Found    string
}

func (e *FieldError) Error() string {
	if e.Found == "" {
		return fmt.Sprintf("psrp: %s: missing property %q (expected %s)", e.Type, e.Property, e.Expected)
	}
	return fmt.Sprintf("psrp: %s: property %q is %s, expected %s", e.Type, e.Property, e.Found, e.Expected)
}

// body gives typed access to a message body's properties.
type body struct {
	t   MessageType
	obj *clixml.PSObject
}

func newBody(t MessageType, v clixml.Value) (body, error) {
	if v.Kind != clixml.Object || v.Obj == nil {
		return body{}, &FieldError{Type: t, Property: "(body)", Expected: "an <Obj>", Found: "<" + v.Kind.Tag() + ">"}
	}
	return body{t: t, obj: v.Obj}, nil
}

func (b body) value(name string) (clixml.Value, bool) { return b.obj.Get(name) }

func (b body) need(name, expected string) (clixml.Value, error) {
	v, ok := b.obj.Get(name)
	if !ok {
		return v, &FieldError{Type: b.t, Property: name, Expected: expected}
	}
	return v, nil
}

func (b body) int(name string, kinds ...clixml.Kind) (int64, error) {
	v, err := b.need(name, kinds[0].Tag())
	if err != nil {
		return 0, err
	}
	v = unwrap(v)
	for _, k := range kinds {
		if v.Kind == k {
			n, err := v.Int()
			if err != nil {
				return 0, &FieldError{Type: b.t, Property: name, Expected: k.Tag(), Found: strconv.Quote(v.Text)}
			}
			return n, nil
		}
	}
	return 0, &FieldError{Type: b.t, Property: name, Expected: "<" + kinds[0].Tag() + ">", Found: "<" + v.Kind.Tag() + ">"}
}

func (b body) boolean(name string) (bool, error) {
	v, err := b.need(name, "B")
	if err != nil {
		return false, err
	}
	v = unwrap(v)
	x, err := v.Bool()
	if err != nil {
		return false, &FieldError{Type: b.t, Property: name, Expected: "<B>", Found: "<" + v.Kind.Tag() + "> " + strconv.Quote(v.Text)}
	}
	return x, nil
}

func (b body) str(name string) (string, error) {
	v, err := b.need(name, "S")
	if err != nil {
		return "", err
	}
	v = unwrap(v)
	switch v.Kind {
	case clixml.Nil:
		return "", nil
	case clixml.String:
		return v.Text, nil
	}
	return "", &FieldError{Type: b.t, Property: name, Expected: "<S>", Found: "<" + v.Kind.Tag() + ">"}
}

// unwrap returns the primitive an enum or wrapper object carries.
func unwrap(v clixml.Value) clixml.Value {
	if v.Kind == clixml.Object && v.Obj != nil && v.Obj.Primitive != nil {
		return *v.Obj.Primitive
	}
	return v
}

// enumValue reads an enum property sent as an enum Obj, a bare integer or
// its member name (pwsh decodes all three, psrp-brief §5.2).
func (b body) enum(name string, names map[string]int32) (int32, error) {
	v, err := b.need(name, "an enum")
	if err != nil {
		return 0, err
	}
	u := unwrap(v)
	switch u.Kind {
	case clixml.Int32, clixml.Int64, clixml.UInt32, clixml.Int16, clixml.Byte:
		n, err := u.Int()
		if err == nil {
			return int32(n), nil
		}
	case clixml.String:
		for k, n := range names {
			if equalFold(k, u.Text) {
				return n, nil
			}
		}
	}
	return 0, &FieldError{Type: b.t, Property: name, Expected: "an enum value", Found: "<" + u.Kind.Tag() + "> " + strconv.Quote(u.Text)}
}

func bag() *clixml.PSObject { return &clixml.PSObject{} }

// ---- SESSION_CAPABILITY ----

// SessionCapabilityMsg is SESSION_CAPABILITY (both directions).
type SessionCapabilityMsg struct {
	ProtocolVersion      string
	PSVersion            string
	SerializationVersion string
	TimeZone             *clixml.Value
}

// NewSessionCapability returns what psmux sends.
func NewSessionCapability(protocol string) SessionCapabilityMsg {
	return SessionCapabilityMsg{ProtocolVersion: protocol, PSVersion: defaultPSVersion, SerializationVersion: serializationVer}
}

// Value encodes the body.
func (m SessionCapabilityMsg) Value() clixml.Value {
	o := bag().AddMember("protocolversion", clixml.VersionV(m.ProtocolVersion)).
		AddMember("PSVersion", clixml.VersionV(m.PSVersion)).
		AddMember("SerializationVersion", clixml.VersionV(m.SerializationVersion))
	if m.TimeZone != nil {
		o.AddMember("TimeZone", *m.TimeZone)
	}
	return clixml.Obj(o)
}

func (b body) version(name string) (string, error) {
	v, err := b.need(name, "<Version>")
	if err != nil {
		return "", err
	}
	if v.Kind != clixml.Version {
		return "", &FieldError{Type: b.t, Property: name, Expected: "<Version>", Found: "<" + v.Kind.Tag() + ">"}
	}
	return v.Text, nil
}

// ParseSessionCapability decodes SESSION_CAPABILITY; like pwsh it insists
// on <Version> elements.
func ParseSessionCapability(v clixml.Value) (SessionCapabilityMsg, error) {
	b, err := newBody(SessionCapability, v)
	if err != nil {
		return SessionCapabilityMsg{}, err
	}
	var m SessionCapabilityMsg
	if m.ProtocolVersion, err = b.version("protocolversion"); err != nil {
		return m, err
	}
	if m.PSVersion, err = b.version("PSVersion"); err != nil {
		return m, err
	}
	if m.SerializationVersion, err = b.version("SerializationVersion"); err != nil {
		return m, err
	}
	if tz, ok := b.value("TimeZone"); ok {
		m.TimeZone = &tz
	}
	return m, nil
}

// CompareVersion compares dotted versions numerically.
func CompareVersion(a, b string) int {
	pa, pb := splitVersion(a), splitVersion(b)
	for i := 0; i < max(len(pa), len(pb)); i++ {
		var x, y int
		if i < len(pa) {
			x = pa[i]
		}
		if i < len(pb) {
			y = pb[i]
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

func splitVersion(s string) []int {
	var out []int
	n := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			out = append(out, n)
			n = 0
			continue
		}
		if s[i] >= '0' && s[i] <= '9' {
			n = n*10 + int(s[i]-'0')
		}
	}
	return out
}

// ---- HostInfo ----

// HostData is the RawUI snapshot a client declares (_hostDefaultData).
type HostData struct {
	Foreground, Background int32
	CursorX, CursorY       int32
	WindowX, WindowY       int32
	CursorSize             int32
	BufferWidth            int32
	BufferHeight           int32
	WindowWidth            int32
	WindowHeight           int32
	MaxWidth, MaxHeight    int32
	MaxPhysW, MaxPhysH     int32
	WindowTitle            string
}

// HostInfo is the HostInfo struct of psrp-brief §8.1.
type HostInfo struct {
	IsHostNull, IsHostUINull, IsHostRawUINull, UseRunspaceHost bool
	Data                                                       *HostData
}

// NoHost is a HostInfo declaring no host at all.
func NoHost() HostInfo {
	return HostInfo{IsHostNull: true, IsHostUINull: true, IsHostRawUINull: true, UseRunspaceHost: true}
}

// RunspaceHost is the pipeline HostInfo that means "use the pool's host";
// on the wire it is the same as NoHost (all null, _useRunspaceHost true).
func RunspaceHost() HostInfo { return NoHost() }

// NullHost is the pipeline HostInfo that declares no host at all, not
// even the pool's: the pipeline's Write-Host and Write-Verbose reach the
// client only as records, and a prompt fails, as with a pool opened
// without a host (NoHost).
func NullHost() HostInfo {
	return HostInfo{IsHostNull: true, IsHostUINull: true, IsHostRawUINull: true}
}

// TerminalHost declares a UI with a RawUI of the given size; the buffer
// is the window, as pwsh's console host reports it on Unix.
func TerminalHost(width, height int) HostInfo {
	if width <= 0 {
		width = 120
	}
	if height <= 0 {
		height = 50
	}
	w, h := int32(width), int32(height)
	// Colours -1 (the terminal's own), cursor size 100 and an empty window
	// title, as pwsh's console host reports them on Unix.
	return HostInfo{Data: &HostData{Foreground: -1, Background: -1, CursorSize: 100,
		BufferWidth: w, BufferHeight: h, WindowWidth: w, WindowHeight: h,
		MaxWidth: w, MaxHeight: h, MaxPhysW: w, MaxPhysH: h}}
}

func coordBag(x, y int32) clixml.Value {
	return clixml.Obj(bag().AddMember("x", clixml.I32(x)).AddMember("y", clixml.I32(y)))
}

func sizeBag(w, h int32) clixml.Value {
	return clixml.Obj(bag().AddMember("width", clixml.I32(w)).AddMember("height", clixml.I32(h)))
}

// Value encodes HostInfo with all four flags, and _hostDefaultData when set.
func (h HostInfo) Value() clixml.Value {
	o := bag().AddMember("_isHostNull", clixml.BoolV(h.IsHostNull)).
		AddMember("_isHostUINull", clixml.BoolV(h.IsHostUINull)).
		AddMember("_isHostRawUINull", clixml.BoolV(h.IsHostRawUINull)).
		AddMember("_useRunspaceHost", clixml.BoolV(h.UseRunspaceHost))
	if d := h.Data; d != nil {
		entry := func(t string, v clixml.Value) clixml.Value {
			return clixml.Obj(bag().AddMember("T", clixml.Str(t)).AddMember("V", v))
		}
		const coord, size = "System.Management.Automation.Host.Coordinates", "System.Management.Automation.Host.Size"
		vals := []clixml.Value{
			entry("System.ConsoleColor", clixml.I32(d.Foreground)),
			entry("System.ConsoleColor", clixml.I32(d.Background)),
			entry(coord, coordBag(d.CursorX, d.CursorY)),
			entry(coord, coordBag(d.WindowX, d.WindowY)),
			entry("System.Int32", clixml.I32(d.CursorSize)),
			entry(size, sizeBag(d.BufferWidth, d.BufferHeight)),
			entry(size, sizeBag(d.WindowWidth, d.WindowHeight)),
			entry(size, sizeBag(d.MaxWidth, d.MaxHeight)),
			entry(size, sizeBag(d.MaxPhysW, d.MaxPhysH)),
			entry("System.String", clixml.Str(d.WindowTitle)),
		}
		entries := make([]clixml.DictEntry, len(vals))
		for i, v := range vals {
			entries[i] = clixml.DictEntry{Key: clixml.I32(int32(i)), Value: v}
		}
		o.AddMember("_hostDefaultData", clixml.Obj(bag().AddMember("data", clixml.Hashtable(entries...))))
	}
	return clixml.Obj(o)
}

// ParseHostInfo decodes a HostInfo bag. Like pwsh it refuses unknown field
// names and leaves missing ones false.
func ParseHostInfo(t MessageType, v clixml.Value) (HostInfo, error) {
	var h HostInfo
	if v.Kind != clixml.Object || v.Obj == nil {
		return h, &FieldError{Type: t, Property: "HostInfo", Expected: "an <Obj>", Found: "<" + v.Kind.Tag() + ">"}
	}
	for _, p := range append(append([]clixml.Property(nil), v.Obj.Members...), v.Obj.Props...) {
		var dst *bool
		switch p.Name {
		case "_isHostNull":
			dst = &h.IsHostNull
		case "_isHostUINull":
			dst = &h.IsHostUINull
		case "_isHostRawUINull":
			dst = &h.IsHostRawUINull
		case "_useRunspaceHost":
			dst = &h.UseRunspaceHost
		case "_hostDefaultData":
			h.Data = parseHostData(p.Value)
			continue
		default:
			return h, &FieldError{Type: t, Property: "HostInfo." + p.Name, Expected: "one of _isHostNull, _isHostUINull, _isHostRawUINull, _useRunspaceHost, _hostDefaultData", Found: "an unknown field"}
		}
		b, err := unwrap(p.Value).Bool()
		if err != nil {
			return h, &FieldError{Type: t, Property: "HostInfo." + p.Name, Expected: "<B>", Found: "<" + p.Value.Kind.Tag() + ">"}
		}
		*dst = b
	}
	return h, nil
}

func parseHostData(v clixml.Value) *HostData {
	d := &HostData{}
	if v.Kind != clixml.Object || v.Obj == nil {
		return d
	}
	data, ok := v.Obj.Get("data")
	if !ok || data.Obj == nil {
		return d
	}
	geti := func(v clixml.Value, name string) int32 {
		if v.Obj == nil {
			return 0
		}
		x, ok := v.Obj.Get(name)
		if !ok {
			return 0
		}
		n, _ := unwrap(x).Int()
		return int32(n)
	}
	for _, e := range data.Obj.Dict {
		k, err := unwrap(e.Key).Int()
		if err != nil || e.Value.Obj == nil {
			continue
		}
		val, _ := e.Value.Obj.Get("V")
		n, _ := unwrap(val).Int()
		switch k {
		case 0:
			d.Foreground = int32(n)
		case 1:
			d.Background = int32(n)
		case 2:
			d.CursorX, d.CursorY = geti(val, "x"), geti(val, "y")
		case 3:
			d.WindowX, d.WindowY = geti(val, "x"), geti(val, "y")
		case 4:
			d.CursorSize = int32(n)
		case 5:
			d.BufferWidth, d.BufferHeight = geti(val, "width"), geti(val, "height")
		case 6:
			d.WindowWidth, d.WindowHeight = geti(val, "width"), geti(val, "height")
		case 7:
			d.MaxWidth, d.MaxHeight = geti(val, "width"), geti(val, "height")
		case 8:
			d.MaxPhysW, d.MaxPhysH = geti(val, "width"), geti(val, "height")
		case 9:
			d.WindowTitle = val.Text
		}
	}
	return d
}

// ---- INIT_RUNSPACEPOOL ----

// InitRunspacePoolMsg is INIT_RUNSPACEPOOL.
type InitRunspacePoolMsg struct {
	MinRunspaces, MaxRunspaces int32
	PSThreadOptions            int32
	ApartmentState             int32
	HostInfo                   HostInfo
	ApplicationArguments       clixml.Value // Nil or a PSPrimitiveDictionary
}

var threadOptionNames = map[string]int32{"Default": 0, "UseNewThread": 1, "ReuseThread": 2, "UseCurrentThread": 3}
var apartmentNames = map[string]int32{"STA": 0, "MTA": 1, "Unknown": 2}
var threadOptionText = []string{"Default", "UseNewThread", "ReuseThread", "UseCurrentThread"}
var apartmentText = []string{"STA", "MTA", "Unknown"}

func enumText(names []string, n int32) string {
	if n >= 0 && int(n) < len(names) {
		return names[n]
	}
	return strconv.Itoa(int(n))
}

// Value encodes the body as pwsh does.
func (m InitRunspacePoolMsg) Value() clixml.Value {
	args := m.ApplicationArguments
	if args.Kind == clixml.Nil && args.Obj == nil {
		args = clixml.NilV()
	}
	return clixml.Obj(bag().
		AddMember("MinRunspaces", clixml.I32(m.MinRunspaces)).
		AddMember("MaxRunspaces", clixml.I32(m.MaxRunspaces)).
		AddMember("PSThreadOptions", clixml.Enum(tnPSThreadOptions, enumText(threadOptionText, m.PSThreadOptions), m.PSThreadOptions)).
		AddMember("ApartmentState", clixml.Enum(tnApartmentState, enumText(apartmentText, m.ApartmentState), m.ApartmentState)).
		AddMember("ApplicationArguments", args).
		AddMember("HostInfo", m.HostInfo.Value()))
}

// ParseInitRunspacePool decodes INIT_RUNSPACEPOOL with pwsh's rules.
func ParseInitRunspacePool(v clixml.Value) (InitRunspacePoolMsg, error) {
	var m InitRunspacePoolMsg
	b, err := newBody(InitRunspacePool, v)
	if err != nil {
		return m, err
	}
	n, err := b.int("MinRunspaces", clixml.Int32)
	if err != nil {
		return m, err
	}
	m.MinRunspaces = int32(n)
	if n, err = b.int("MaxRunspaces", clixml.Int32); err != nil {
		return m, err
	}
	m.MaxRunspaces = int32(n)
	if m.PSThreadOptions, err = b.enum("PSThreadOptions", threadOptionNames); err != nil {
		return m, err
	}
	if m.ApartmentState, err = b.enum("ApartmentState", apartmentNames); err != nil {
		return m, err
	}
	if m.ApplicationArguments, err = b.need("ApplicationArguments", "a PSPrimitiveDictionary or <Nil>"); err != nil {
		return m, err
	}
	hi, err := b.need("HostInfo", "a HostInfo object")
	if err != nil {
		return m, err
	}
	m.HostInfo, err = ParseHostInfo(InitRunspacePool, hi)
	return m, err
}

// ClientVersionTable is the PSVersionTable a client puts in
// INIT_RUNSPACEPOOL's ApplicationArguments, where the server's scripts
// read it as $PSSenderInfo.ApplicationArguments.PSVersionTable and pwsh
// reads the client's version (a remote debugger is made only for a
// client of version 4 or later).
type ClientVersionTable struct {
	PSVersion     string // a dotted version
	GitCommitID   string
	OS            string
	Platform      string // Unix or Win32NT
	Protocol      string // PSRemotingProtocolVersion
	Edition       string // PSEdition
	Serialization string // SerializationVersion; "" = 1.1.0.1
}

// ApplicationArguments returns the PSPrimitiveDictionary pwsh's client
// sends (CloneAndAddPSVersionTable): {PSVersionTable = {…}}, with the
// same keys and types, added to the entries of args (a dictionary or Nil).
// args that already hold a PSVersionTable are returned as they are.
func (t ClientVersionTable) ApplicationArguments(args clixml.Value) clixml.Value {
	dict := &clixml.PSObject{TypeNames: []string{tnPrimitiveDict, tnHashtable, tnObject}, Container: clixml.Dictionary}
	if args.Kind == clixml.Object && args.Obj != nil && args.Obj.Container == clixml.Dictionary {
		for _, e := range args.Obj.Dict {
			if e.Key.Kind == clixml.String && equalFold(e.Key.Text, "PSVersionTable") {
				return args
			}
		}
		dict.Dict = append(dict.Dict, args.Obj.Dict...)
	}
	ser := t.Serialization
	if ser == "" {
		ser = serializationVer
	}
	compat := &clixml.PSObject{TypeNames: []string{"System.Version[]", "System.Array", tnObject}, Container: clixml.List}
	for _, v := range []string{"1.0", "2.0", "3.0", "4.0", "5.0", "5.1", "6.0", "7.0"} {
		compat.Items = append(compat.Items, clixml.VersionV(v))
	}
	str := func(k string, v clixml.Value) clixml.DictEntry { return clixml.DictEntry{Key: clixml.Str(k), Value: v} }
	table := &clixml.PSObject{TypeNames: dict.TypeNames, Container: clixml.Dictionary, Dict: []clixml.DictEntry{
		str("PSSemanticVersion", clixml.Str(t.PSVersion)),
		str("OS", clixml.Str(t.OS)),
		str("GitCommitId", clixml.Str(t.GitCommitID)),
		str("SerializationVersion", clixml.VersionV(ser)),
		str("WSManStackVersion", clixml.VersionV("3.0")),
		str("PSCompatibleVersions", clixml.Obj(compat)),
		str("Platform", clixml.Str(t.Platform)),
		str("PSVersion", clixml.VersionV(t.PSVersion)),
		str("PSRemotingProtocolVersion", clixml.VersionV(t.Protocol)),
		str("PSEdition", clixml.Str(t.Edition)),
	}}
	dict.Dict = append(dict.Dict, str("PSVersionTable", clixml.Obj(table)))
	return clixml.Obj(dict)
}

// ---- CREATE_PIPELINE ----

// Parameter is one argument of a Command (Name "" = positional).
type Parameter struct {
	Name  string
	Value clixml.Value
}

// PipelineCommand is one Command object of a CREATE_PIPELINE.
type PipelineCommand struct {
	Cmd                  string
	IsScript             bool
	UseLocalScope        *bool
	MergeMyResult        int32
	MergeToResult        int32
	MergePreviousResults int32
	MergeError           int32
	MergeWarning         int32
	MergeVerbose         int32
	MergeDebug           int32
	MergeInformation     int32
	Args                 []Parameter
}

// PipelineResultTypes values.
const (
	ResultNone   = 0
	ResultOutput = 1
	ResultError  = 2
)

var resultText = []string{"None", "Output", "Error", "Warning", "Verbose", "Debug", "Information", "All", "Null"}

func mergeEnum(n int32) clixml.Value {
	s := enumText(resultText, n)
	if n == 3 {
		s = "Output, Error" // a flags combination where it is used as one
	}
	return clixml.Enum(tnPipelineResult, s, n)
}

// CreatePipelineMsg is CREATE_PIPELINE.
type CreatePipelineMsg struct {
	Cmds                []PipelineCommand
	IsNested            bool
	History             string
	RedirectShellError  bool
	NoInput             bool
	ApartmentState      int32
	RemoteStreamOptions int32
	AddToHistory        bool
	HostInfo            HostInfo
}

// ScriptPipeline returns the CREATE_PIPELINE for running script the way
// psmux does: interactive (Out-Default appended, errors merged, and
// RemoteStreamOptions 0, as Enter-PSSession does, psrp-brief §8.5) or not
// (objects returned, records with their InvocationInfo, as
// Invoke-Command does).
func ScriptPipeline(script string, interactive bool) CreatePipelineMsg {
	m := CreatePipelineMsg{
		Cmds:                []PipelineCommand{{Cmd: script, IsScript: true}},
		RedirectShellError:  true,
		NoInput:             true,
		ApartmentState:      apartmentUnknown,
		RemoteStreamOptions: remoteStreamAddInfo,
		HostInfo:            RunspaceHost(),
	}
	if interactive {
		m.Cmds[0].MergeMyResult = ResultError
		m.Cmds[0].MergeToResult = ResultOutput
		m.Cmds[0].MergeError = ResultOutput
		m.Cmds = append(m.Cmds, outDefault())
		m.AddToHistory = true
		m.History = script
		m.RemoteStreamOptions = 0
	}
	return m
}

// LinesFilter is the last command of a TextPipeline: until the first
// object that is not a string (shorter than 64 Ki characters, without a
// carriage return, which Out-Default's host call keeps as it is, or an
// escape, which it strips when $PSStyle.OutputRendering is PlainText), an
// integer (a negative one only where the culture's minus sign is '-',
// compared ordinally: he-IL's is a direction mark and '-') or a boolean,
// it sends each back as output, the line Out-Default would print for it
// (a number as typed, `Write-Output 0x10`, as PowerShell's string
// conversion keeps it); from that object on it hands everything to
// Out-Default.
// (Out-Default keeps a table open across the strings that follow it,
// so handing it only the other objects would not print the same text.)
// Text-heavy output then costs pwsh one output message a line instead
// of the host call a line Out-Default makes (3-4 times the work).
//
// It is DebuggerHidden: Set-PSDebug -Trace, on before the pipeline or
// turned on by the script, traces none of its lines, as it traces none
// of Out-Default's. Its statements would set $? (Out-Default, a cmdlet,
// leaves it alone): what it was when each of its begin and end blocks
// started, the previous command's status and the script's, it is again
// when they end (false by an error written with -ErrorAction Ignore,
// which goes nowhere), for the script's first statement and for the
// next command.
//
// Its begin block, which runs before the script's body (unless the
// script has a begin block of its own: TextPipeline sends those with
// Out-Default), throws LinesUnavailable where the filter
// would not print what Out-Default prints: when the filter is not the
// pipeline's last command (pwsh appends `Out-Default -Transcript` while
// it transcribes, and that mutes every other Out-Default's console
// output), and where a steppable pipeline cannot be made
// (ConstrainedLanguage). The error's text carries a token drawn when
// the process starts, so that a script that throws the same words is not
// taken for the filter's refusal (and run again).
var LinesFilter = `# psmux: text lines
[System.Diagnostics.DebuggerHidden()] param()
begin {
    $ok = $?
    try { $od = { Out-Default }.GetSteppablePipeline() } catch { throw '` + LinesUnavailable + `' }
    if ($MyInvocation.PipelinePosition -ne $MyInvocation.PipelineLength) { throw '` + LinesUnavailable + `' }
    $on = $false
    $keep = [char[]](13, 27)
    if (-not $ok) { Microsoft.PowerShell.Utility\Write-Error -Message '' -ErrorAction Ignore }
}
process {
    if ($on) {
        $od.Process($_)
    } elseif ($_ -is [string] -and $_.Length -lt 65536 -and $_.IndexOfAny($keep) -lt 0) {
        $_.ToString()
    } elseif ($_ -is [bool] -or (($_ -is [int] -or $_ -is [long]) -and ($_ -ge 0 -or [cultureinfo]::CurrentCulture.NumberFormat.NegativeSign.Equals('-')))) {
        [string]$_
    } elseif ($null -ne $_) {
        $on = $true
        $od.Begin($true)
        $od.Process($_)
    }
}
end {
    $ok = $?
    if ($on) { $od.End() }
    if (-not $ok) { Microsoft.PowerShell.Utility\Write-Error -Message '' -ErrorAction Ignore }
}`

// LinesUnavailable is the error LinesFilter fails with, before the
// script has run, where it cannot print as Out-Default would: words
// and a token of this process's own.
var LinesUnavailable = "psmux-text-lines-unavailable-" + rand.Text()

// LinesUnavailableReason reports whether a pipeline's failure reason is
// LinesFilter's LinesUnavailable.
func LinesUnavailableReason(reason clixml.Value) bool {
	if reason.Kind != clixml.Object || reason.Obj == nil {
		return false
	}
	id, _ := reason.Obj.Get("FullyQualifiedErrorId")
	return id.Kind == clixml.String && id.Text == LinesUnavailable
}

// TextPipeline returns the CREATE_PIPELINE psmux invoke and exec send
// to print a script's output as pwsh's host would: the script with its
// errors merged into its output, as ScriptPipeline's interactive one,
// then LinesFilter (in a scope of its own) instead of Out-Default. The
// REPL keeps ScriptPipeline's, as Enter-PSSession sends it.
//
// A script that LinesFit says the filter cannot follow gets
// ScriptPipeline's interactive pipeline.
func TextPipeline(script string) CreatePipelineMsg {
	m := ScriptPipeline(script, true)
	if now, _ := LinesFit(script); !now {
		return m
	}
	t := true
	m.Cmds[1] = PipelineCommand{Cmd: LinesFilter, IsScript: true, UseLocalScope: &t, MergePreviousResults: ResultOutput | ResultError}
	return m
}

// LinesFit reports whether LinesFilter may follow script (now), and
// whether it may still follow the scripts that come after it in the
// same runspace (later), from what script says, conservatively (a word
// in a string counts too; the price is Out-Default's speed):
//   - a begin or dynamicparam block would run before the filter's begin
//     block, and again when the filter refuses and the pipeline is sent
//     with Out-Default (parameters' defaults are not evaluated before it:
//     TestTextFilterRunsNothingTwice);
//   - Start-Transcript: the filter's lines are output, not host writes,
//     and a transcript started by the script would miss them (one
//     started before is seen by the filter's begin block);
//   - Update-TypeData may give numbers or booleans a ToString of their
//     own, which Out-Default uses and the filter's string conversion does
//     not: this script and every later one get Out-Default.
func LinesFit(script string) (now, later bool) {
	if linesTypeData.MatchString(script) {
		return false, false
	}
	return !linesBefore.MatchString(script), true
}

var (
	linesBefore   = regexp.MustCompile(`(?i)\b(begin|dynamicparam)\s*\{|\bStart-Transcript\b`)
	linesTypeData = regexp.MustCompile(`(?i)\bUpdate-TypeData\b`)
)

// LinesProbe returns a pipeline of LinesFilter alone, on no input: it
// completes without output or error where the server can run the filter.
func LinesProbe() CreatePipelineMsg {
	m := ScriptPipeline(LinesFilter, false)
	t := true
	m.Cmds[0].UseLocalScope = &t
	return m
}

// EndsInLinesFilter reports whether m's last command is LinesFilter.
func (m CreatePipelineMsg) EndsInLinesFilter() bool {
	n := len(m.Cmds)
	return n > 0 && m.Cmds[n-1].IsScript && m.Cmds[n-1].Cmd == LinesFilter
}

// OutDefault returns m with a LinesFilter at its end replaced by
// Out-Default: ScriptPipeline's interactive pipeline.
func (m CreatePipelineMsg) OutDefault() CreatePipelineMsg {
	if m.EndsInLinesFilter() {
		cmds := append([]PipelineCommand(nil), m.Cmds...)
		cmds[len(cmds)-1] = outDefault()
		m.Cmds = cmds
	}
	return m
}

// outDefault is Out-Default as the last command of an interactive
// pipeline, taking the output and the errors merged into it.
func outDefault() PipelineCommand {
	t := true
	return PipelineCommand{Cmd: "Out-Default", UseLocalScope: &t, MergePreviousResults: ResultOutput | ResultError}
}

// Interactive reports whether the pipeline ends in Out-Default, as an
// interactive one from ScriptPipeline does, or in LinesFilter.
func (m CreatePipelineMsg) Interactive() bool {
	if len(m.Cmds) == 0 {
		return false
	}
	return strings.EqualFold(m.Cmds[len(m.Cmds)-1].Cmd, "Out-Default") || m.EndsInLinesFilter()
}

// ReportPipeline returns the CREATE_PIPELINE pwsh's console sends to
// show a failed interactive pipeline's error (ConsoleHost.ReportException):
// Out-Default alone, the error record as its input.
func ReportPipeline() CreatePipelineMsg {
	return CreatePipelineMsg{
		Cmds:           []PipelineCommand{outDefault()},
		ApartmentState: apartmentUnknown,
		HostInfo:       RunspaceHost(),
	}
}

// Value encodes the body as pwsh does.
func (m CreatePipelineMsg) Value() clixml.Value {
	cmds := &clixml.PSObject{TypeNames: []string{tnArrayList, tnObject}, Container: clixml.List}
	for _, c := range m.Cmds {
		args := &clixml.PSObject{TypeNames: []string{tnArrayList, tnObject}, Container: clixml.List}
		for _, a := range c.Args {
			name := clixml.NilV()
			if a.Name != "" {
				name = clixml.Str(a.Name)
			}
			args.Items = append(args.Items, clixml.Obj(bag().AddMember("N", name).AddMember("V", a.Value)))
		}
		scope := clixml.NilV()
		if c.UseLocalScope != nil {
			scope = clixml.BoolV(*c.UseLocalScope)
		}
		cmds.Items = append(cmds.Items, clixml.Obj(bag().
			AddMember("Cmd", clixml.Str(c.Cmd)).
			AddMember("IsScript", clixml.BoolV(c.IsScript)).
			AddMember("UseLocalScope", scope).
			AddMember("MergeMyResult", mergeEnum(c.MergeMyResult)).
			AddMember("MergeToResult", mergeEnum(c.MergeToResult)).
			AddMember("MergePreviousResults", mergeEnum(c.MergePreviousResults)).
			AddMember("MergeError", mergeEnum(c.MergeError)).
			AddMember("MergeWarning", mergeEnum(c.MergeWarning)).
			AddMember("MergeVerbose", mergeEnum(c.MergeVerbose)).
			AddMember("MergeDebug", mergeEnum(c.MergeDebug)).
			AddMember("MergeInformation", mergeEnum(c.MergeInformation)).
			AddMember("Args", clixml.Obj(args))))
	}
	history := clixml.NilV()
	if m.History != "" {
		history = clixml.Str(m.History)
	}
	ps := bag().AddMember("Cmds", clixml.Obj(cmds)).
		AddMember("IsNested", clixml.BoolV(m.IsNested)).
		AddMember("History", history).
		AddMember("RedirectShellErrorOutputPipe", clixml.BoolV(m.RedirectShellError))
	// The enum has no member for 0: pwsh's ToString is "0".
	rso := strconv.Itoa(int(m.RemoteStreamOptions))
	if m.RemoteStreamOptions == remoteStreamAddInfo {
		rso = "AddInvocationInfo"
	}
	return clixml.Obj(bag().
		AddMember("PowerShell", clixml.Obj(ps)).
		AddMember("NoInput", clixml.BoolV(m.NoInput)).
		AddMember("ApartmentState", clixml.Enum(tnApartmentState, enumText(apartmentText, m.ApartmentState), m.ApartmentState)).
		AddMember("RemoteStreamOptions", clixml.Enum(tnRemoteStreamOpts, rso, m.RemoteStreamOptions)).
		AddMember("AddToHistory", clixml.BoolV(m.AddToHistory)).
		AddMember("HostInfo", m.HostInfo.Value()).
		AddMember("IsNested", clixml.BoolV(m.IsNested)))
}

func listItems(v clixml.Value) ([]clixml.Value, bool) {
	if v.Kind == clixml.Nil {
		return nil, true
	}
	if v.Kind != clixml.Object || v.Obj == nil || v.Obj.Container == clixml.NoContainer || v.Obj.Container == clixml.Dictionary {
		return nil, false
	}
	return v.Obj.Items, true
}

// ParseCreatePipeline decodes CREATE_PIPELINE.
func ParseCreatePipeline(v clixml.Value) (CreatePipelineMsg, error) {
	var m CreatePipelineMsg
	b, err := newBody(CreatePipeline, v)
	if err != nil {
		return m, err
	}
	psv, err := b.need("PowerShell", "a PowerShell object")
	if err != nil {
		return m, err
	}
	ps, err := newBody(CreatePipeline, psv)
	if err != nil {
		return m, err
	}
	cmdsV, err := ps.need("Cmds", "a list of commands")
	if err != nil {
		return m, err
	}
	items, ok := listItems(cmdsV)
	if !ok {
		return m, &FieldError{Type: CreatePipeline, Property: "Cmds", Expected: "a list", Found: "<" + cmdsV.Kind.Tag() + ">"}
	}
	for _, it := range items {
		cb, err := newBody(CreatePipeline, it)
		if err != nil {
			return m, err
		}
		var c PipelineCommand
		if c.Cmd, err = cb.str("Cmd"); err != nil {
			return m, err
		}
		if c.IsScript, err = cb.boolean("IsScript"); err != nil {
			return m, err
		}
		if s, ok := cb.value("UseLocalScope"); ok && s.Kind != clixml.Nil {
			x, _ := unwrap(s).Bool()
			c.UseLocalScope = &x
		}
		for _, f := range []struct {
			name string
			dst  *int32
		}{{"MergeMyResult", &c.MergeMyResult}, {"MergeToResult", &c.MergeToResult}, {"MergePreviousResults", &c.MergePreviousResults},
			{"MergeError", &c.MergeError}, {"MergeWarning", &c.MergeWarning}, {"MergeVerbose", &c.MergeVerbose},
			{"MergeDebug", &c.MergeDebug}, {"MergeInformation", &c.MergeInformation}} {
			if _, ok := cb.value(f.name); ok {
				n, err := cb.enum(f.name, nil)
				if err != nil {
					return m, err
				}
				*f.dst = n
			}
		}
		if av, ok := cb.value("Args"); ok {
			args, ok := listItems(av)
			if !ok {
				return m, &FieldError{Type: CreatePipeline, Property: "Args", Expected: "a list", Found: "<" + av.Kind.Tag() + ">"}
			}
			for _, a := range args {
				ab, err := newBody(CreatePipeline, a)
				if err != nil {
					return m, err
				}
				name, err := ab.str("N")
				if err != nil {
					return m, err
				}
				val, _ := ab.value("V")
				c.Args = append(c.Args, Parameter{Name: name, Value: val})
			}
		}
		m.Cmds = append(m.Cmds, c)
	}
	if x, ok := ps.value("IsNested"); ok {
		m.IsNested, _ = unwrap(x).Bool()
	}
	if h, ok := ps.value("History"); ok && h.Kind == clixml.String {
		m.History = h.Text
	}
	if x, ok := ps.value("RedirectShellErrorOutputPipe"); ok {
		m.RedirectShellError, _ = unwrap(x).Bool()
	}
	if m.NoInput, err = b.boolean("NoInput"); err != nil {
		return m, err
	}
	if m.ApartmentState, err = b.enum("ApartmentState", apartmentNames); err != nil {
		return m, err
	}
	if m.RemoteStreamOptions, err = b.enum("RemoteStreamOptions", map[string]int32{"None": 0, "AddInvocationInfo": 15}); err != nil {
		return m, err
	}
	if m.AddToHistory, err = b.boolean("AddToHistory"); err != nil {
		return m, err
	}
	hi, err := b.need("HostInfo", "a HostInfo object")
	if err != nil {
		return m, err
	}
	if m.HostInfo, err = ParseHostInfo(CreatePipeline, hi); err != nil {
		return m, err
	}
	return m, nil
}

// ---- states ----

// StateMsg is RUNSPACEPOOL_STATE or PIPELINE_STATE.
type StateMsg struct {
	State  int32
	Reason clixml.Value // ExceptionAsErrorRecord, Kind Nil when absent
}

// Value encodes a state body; prop is RunspaceState or PipelineState.
func (m StateMsg) value(prop string) clixml.Value {
	o := bag().AddMember(prop, clixml.I32(m.State))
	if m.Reason.Kind != clixml.Nil || m.Reason.Obj != nil {
		o.AddMember("ExceptionAsErrorRecord", m.Reason)
	}
	return clixml.Obj(o)
}

// PoolStateValue encodes RUNSPACEPOOL_STATE.
func (m StateMsg) PoolStateValue() clixml.Value { return m.value("RunspaceState") }

// PipelineStateValue encodes PIPELINE_STATE.
func (m StateMsg) PipelineStateValue() clixml.Value { return m.value("PipelineState") }

// ParseState decodes RUNSPACEPOOL_STATE or PIPELINE_STATE.
func ParseState(t MessageType, v clixml.Value) (StateMsg, error) {
	prop := "PipelineState"
	if t == RunspacePoolState {
		prop = "RunspaceState"
	}
	var m StateMsg
	b, err := newBody(t, v)
	if err != nil {
		return m, err
	}
	n, err := b.int(prop, clixml.Int32)
	if err != nil {
		return m, err
	}
	m.State = int32(n)
	if r, ok := b.value("ExceptionAsErrorRecord"); ok {
		m.Reason = r
	}
	return m, nil
}

// ---- host calls ----

// HostCallMsg is PIPELINE_HOST_CALL or RUNSPACEPOOL_HOST_CALL.
type HostCallMsg struct {
	CI     int64
	Method HostMethod
	Params []clixml.Value
}

func methodValue(m HostMethod) clixml.Value {
	return clixml.Enum(tnHostMethodID, m.String(), int32(m))
}

// Value encodes the call.
func (m HostCallMsg) Value() clixml.Value {
	mp := &clixml.PSObject{TypeNames: []string{tnArrayList, tnObject}, Container: clixml.List, Items: m.Params}
	return clixml.Obj(bag().AddMember("ci", clixml.I64(m.CI)).AddMember("mi", methodValue(m.Method)).AddMember("mp", clixml.Obj(mp)))
}

func (b body) method() (HostMethod, error) {
	v, err := b.need("mi", "a RemoteHostMethodId")
	if err != nil {
		return 0, err
	}
	u := unwrap(v)
	if u.Kind == clixml.String {
		if m, ok := ParseHostMethod(u.Text); ok {
			return m, nil
		}
	}
	n, err := u.Int()
	if err != nil {
		return 0, &FieldError{Type: b.t, Property: "mi", Expected: "a RemoteHostMethodId", Found: "<" + u.Kind.Tag() + "> " + strconv.Quote(u.Text)}
	}
	return HostMethod(n), nil
}

// ParseHostCall decodes a host call.
func ParseHostCall(t MessageType, v clixml.Value) (HostCallMsg, error) {
	var m HostCallMsg
	b, err := newBody(t, v)
	if err != nil {
		return m, err
	}
	if m.CI, err = b.int("ci", clixml.Int64, clixml.Int32); err != nil {
		return m, err
	}
	if m.Method, err = b.method(); err != nil {
		return m, err
	}
	if mp, ok := b.value("mp"); ok {
		items, ok := listItems(mp)
		if !ok {
			return m, &FieldError{Type: t, Property: "mp", Expected: "a list", Found: "<" + mp.Kind.Tag() + ">"}
		}
		m.Params = items
	}
	return m, nil
}

// HostResponseMsg is PIPELINE_HOST_RESPONSE or RUNSPACEPOOL_HOST_RESPONSE.
type HostResponseMsg struct {
	CI     int64
	Method HostMethod
	Result *clixml.Value // mr
	Error  *clixml.Value // me (an ErrorRecord)
}

// Value encodes the response.
func (m HostResponseMsg) Value() clixml.Value {
	o := bag()
	if m.Result != nil && m.Result.Kind != clixml.Nil {
		o.AddMember("mr", *m.Result)
	}
	if m.Error != nil {
		o.AddMember("me", *m.Error)
	}
	return clixml.Obj(o.AddMember("ci", clixml.I64(m.CI)).AddMember("mi", methodValue(m.Method)))
}

// ParseHostResponse decodes a host response (ci accepted as "ci" or "CI").
func ParseHostResponse(t MessageType, v clixml.Value) (HostResponseMsg, error) {
	var m HostResponseMsg
	b, err := newBody(t, v)
	if err != nil {
		return m, err
	}
	if m.CI, err = b.int("ci", clixml.Int64, clixml.Int32); err != nil {
		return m, err
	}
	if m.Method, err = b.method(); err != nil {
		return m, err
	}
	if r, ok := b.value("mr"); ok {
		m.Result = &r
	}
	if e, ok := b.value("me"); ok {
		m.Error = &e
	}
	return m, nil
}

// ---- key exchange ----

// KeyMsg is PUBLIC_KEY (PublicKey) or ENCRYPTED_SESSION_KEY (EncryptedSessionKey).
type KeyMsg struct{ Base64 string }

func keyProp(t MessageType) string {
	if t == PublicKey {
		return "PublicKey"
	}
	return "EncryptedSessionKey"
}

// Value encodes the key message of type t.
func (m KeyMsg) Value(t MessageType) clixml.Value {
	return clixml.Obj(bag().AddMember(keyProp(t), clixml.Str(m.Base64)))
}

// ParseKey decodes PUBLIC_KEY or ENCRYPTED_SESSION_KEY.
func ParseKey(t MessageType, v clixml.Value) (KeyMsg, error) {
	b, err := newBody(t, v)
	if err != nil {
		return KeyMsg{}, err
	}
	s, err := b.str(keyProp(t))
	return KeyMsg{Base64: s}, err
}

// ---- pool requests ----

// PoolRequestMsg is SET_MAX_RUNSPACES, SET_MIN_RUNSPACES,
// GET_AVAILABLE_RUNSPACES or RESET_RUNSPACE_STATE.
type PoolRequestMsg struct {
	CI    int64
	Count int32 // Max/MinRunspaces for the SET messages
}

// ParsePoolRequest decodes a pool request of type t.
func ParsePoolRequest(t MessageType, v clixml.Value) (PoolRequestMsg, error) {
	var m PoolRequestMsg
	b, err := newBody(t, v)
	if err != nil {
		return m, err
	}
	if m.CI, err = b.int("ci", clixml.Int64); err != nil {
		return m, err
	}
	switch t {
	case SetMaxRunspaces, SetMinRunspaces:
		name := "MaxRunspaces"
		if t == SetMinRunspaces {
			name = "MinRunspaces"
		}
		n, err := b.int(name, clixml.Int32)
		if err != nil {
			return m, err
		}
		m.Count = int32(n)
	}
	return m, nil
}

// AvailabilityMsg is RUNSPACE_AVAILABILITY.
type AvailabilityMsg struct {
	CI       int64
	Response clixml.Value // B for set/reset, I32 (or I64) for get-available
}

// Value encodes the reply.
func (m AvailabilityMsg) Value() clixml.Value {
	return clixml.Obj(bag().AddMember("SetMinMaxRunspacesResponse", m.Response).AddMember("ci", clixml.I64(m.CI)))
}
