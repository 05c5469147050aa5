package pwshsim

import (
	"errors"
	"path"
	"strings"
	"time"

	"github.com/psmux/psmux/sessions/clixml"
	"github.com/psmux/psmux/sessions/psrp"
)

// $Host, $Host.UI and $Host.UI.RawUI.
type hostObj struct{ f *frame }
type hostUI struct{ f *frame }
type hostRawUI struct{ f *frame }

func (h *hostObj) value() clixml.Value {
	return cxObj(&clixml.PSObject{
		TypeNames:   []string{"System.Management.Automation.Internal.Host.InternalHost", "System.Management.Automation.Host.PSHost", "System.Object"},
		ToString:    "System.Management.Automation.Internal.Host.InternalHost",
		HasToString: true,
		Props: []clixml.Property{
			cxProp("Name", cxStr("ServerRemoteHost")),
			cxProp("Version", cxVer(h.f.it.r.opts.PSVersion)),
			cxProp("InstanceId", clixml.Value{Kind: clixml.GUID, Text: "6f0a7d8e-3c1b-4b2a-9d5e-0c1f2a3b4c5d"}),
			cxProp("UI", cxStr("System.Management.Automation.Internal.Host.InternalHostUserInterface")),
			cxProp("CurrentCulture", cxStr("en-US")),
			cxProp("CurrentUICulture", cxStr("en-US")),
			cxProp("PrivateData", cxNil()),
			cxProp("DebuggerEnabled", cxBool(true)),
			cxProp("IsRunspacePushed", cxBool(false)),
			cxProp("Runspace", cxStr("System.Management.Automation.Runspaces.LocalRunspace")),
		},
	})
}

// hostMember reads a member of the host objects.
func (f *frame) hostMember(obj val, name string) (val, bool) {
	switch o := obj.(type) {
	case *hostObj:
		switch strings.ToLower(name) {
		case "ui":
			return &hostUI{f: o.f}, true
		case "name":
			return "ServerRemoteHost", true
		case "version":
			return cxVer(o.f.it.r.opts.PSVersion), true
		case "currentculture", "currentuiculture":
			return "en-US", true
		}
		return fromValue(propValue(o.value(), name)), true
	case *hostUI:
		switch strings.ToLower(name) {
		case "rawui":
			return &hostRawUI{f: o.f}, true
		case "supportsvirtualterminal":
			return false, true
		}
		return nil, true
	case *hostRawUI:
		it := o.f.it
		switch strings.ToLower(name) {
		case "windowtitle":
			it.r.mu.Lock()
			defer it.r.mu.Unlock()
			return it.r.title, true
		case "buffersize", "windowsize", "maxwindowsize", "maxphysicalwindowsize":
			return cxObj(&clixml.PSObject{TypeNames: []string{"System.Management.Automation.Host.Size", "System.ValueType", "System.Object"},
				ToString: itoa(it.width) + ",3000", HasToString: true,
				Props: []clixml.Property{cxProp("Width", cxI32(int32(it.width))), cxProp("Height", cxI32(3000))}}), true
		case "foregroundcolor", "backgroundcolor":
			fg, bg := 7, 0
			if hc, ok := it.host.(HostColors); ok {
				if a, b, ok := hc.DefaultColors(); ok {
					fg, bg = a, b
				}
			}
			n := fg
			if strings.EqualFold(name, "backgroundcolor") {
				n = bg
			}
			if n < 0 || n >= len(consoleColors) {
				return int32(n), true
			}
			return cxEnum("System.ConsoleColor", consoleColors[n], int32(n)), true
		}
		return nil, true
	}
	return nil, false
}

// hostSetMember handles $Host.UI.RawUI.X = v.
func (f *frame) hostSetMember(obj val, name string, v val) (bool, error) {
	raw, ok := obj.(*hostRawUI)
	if !ok {
		return false, nil
	}
	it := raw.f.it
	switch strings.ToLower(name) {
	case "windowtitle":
		it.r.mu.Lock()
		it.r.title = toStr(v)
		it.r.mu.Unlock()
		if it.hasUI {
			_, err := it.call(psrp.SetWindowTitle, cxStr(toStr(v)))
			return true, err
		}
		return true, nil
	case "foregroundcolor", "backgroundcolor":
		n, ok := parseConsoleColor(toStr(unwrapPrim(v)))
		if !ok {
			return true, convError(v, "System.ConsoleColor")
		}
		m := psrp.SetForegroundColor
		if strings.EqualFold(name, "backgroundcolor") {
			m = psrp.SetBackgroundColor
		}
		if it.hasUI {
			_, err := it.call(m, cxI32(int32(n)))
			return true, err
		}
		return true, nil
	}
	return true, newRuntimeError("PropertyAssignmentException", "'"+name+"' is a ReadOnly property.")
}

// hostMethod calls a method of the host objects.
func (f *frame) hostMethod(obj val, name string, args []val) (val, bool, error) {
	switch o := obj.(type) {
	case *hostObj:
		switch strings.ToLower(name) {
		case "setshouldexit":
			n := 0
			if len(args) > 0 {
				n, _ = toInt(args[0])
			}
			_, err := o.f.it.call(psrp.SetShouldExit, cxI32(int32(n)))
			return nil, true, err
		case "enternestedprompt", "exitnestedprompt":
			return nil, true, hostNotImplemented(name)
		}
	case *hostUI:
		it := o.f.it
		str := func(i int) string {
			if i < len(args) {
				return toStr(args[i])
			}
			return ""
		}
		colors := func() (clixml.Value, clixml.Value, error) {
			if len(args) < 3 {
				return clixml.Value{}, clixml.Value{}, methodArgCount(name, len(args))
			}
			a, ok1 := parseConsoleColor(toStr(unwrapPrim(args[0])))
			b, ok2 := parseConsoleColor(toStr(unwrapPrim(args[1])))
			if !ok1 || !ok2 {
				return clixml.Value{}, clixml.Value{}, convError(args[0], "System.ConsoleColor")
			}
			return cxI32(int32(a)), cxI32(int32(b)), nil
		}
		void := func(m psrp.HostMethod, mp ...clixml.Value) (val, bool, error) {
			if !it.hasUI {
				return nil, true, nil
			}
			_, err := it.call(m, mp...)
			return nil, true, err
		}
		switch strings.ToLower(name) {
		case "writeline":
			switch len(args) {
			case 0:
				return void(psrp.WriteLine1)
			case 1:
				return void(psrp.WriteLine2, cxStr(str(0)))
			}
			fg, bg, err := colors()
			if err != nil {
				return nil, true, err
			}
			return void(psrp.WriteLine3, fg, bg, cxStr(str(2)))
		case "write":
			if len(args) <= 1 {
				return void(psrp.Write1, cxStr(str(0)))
			}
			fg, bg, err := colors()
			if err != nil {
				return nil, true, err
			}
			return void(psrp.Write2, fg, bg, cxStr(str(2)))
		case "writeerrorline":
			return void(psrp.WriteErrorLine, cxStr(str(0)))
		case "writewarningline":
			return void(psrp.WriteWarningLine, cxStr(str(0)))
		case "writeverboseline":
			return void(psrp.WriteVerboseLine, cxStr(str(0)))
		case "writedebugline":
			return void(psrp.WriteDebugLine, cxStr(str(0)))
		case "readline":
			v, err := f.interactive(psrp.ReadLine)
			return v, true, err
		case "readlineassecurestring":
			v, err := f.interactive(psrp.ReadLineAsSecureString)
			return v, true, err
		case "promptforchoice":
			if len(args) != 4 {
				return nil, true, methodArgCount(name, len(args))
			}
			v, err := f.promptForChoice(str(0), str(1), args[2], args[3])
			return v, true, err
		case "promptforcredential":
			if len(args) < 4 {
				return nil, true, methodArgCount(name, len(args))
			}
			v, err := f.interactive(psrp.PromptForCredential1, cxStr(str(0)), cxStr(str(1)), cxStr(str(2)), cxStr(str(3)))
			return v, true, err
		}
	case *hostRawUI:
		switch strings.ToLower(name) {
		case "flushinputbuffer":
			if o.f.it.hasUI {
				_, err := o.f.it.call(psrp.FlushInputBuffer)
				return nil, true, err
			}
			return nil, true, nil
		}
	default:
		return nil, false, nil
	}
	return nil, true, methodNotFound(obj, name)
}

func methodArgCount(name string, n int) error {
	return &psError{spec: &errSpec{excTypes: excRuntime, category: catInvalidOperation, fqeid: "MethodCountCouldNotFindBest",
		message: "Cannot find an overload for \"" + name + "\" and the argument count: \"" + itoa(n) + "\"."}}
}

func hostNotImplemented(name string) error {
	return &psError{spec: &errSpec{excTypes: []string{"System.Management.Automation.PSNotImplementedException", "System.NotImplementedException", "System.SystemException", "System.Exception"},
		category: catNotImplemented, fqeid: "NotImplemented", message: "The method or operation is not implemented."}}
}

// notInteractive is the HostException pwsh raises when there is no host UI.
func notInteractive() error {
	return &psError{spec: &errSpec{excTypes: excHost, category: catNotImplemented, fqeid: "HostFunctionNotImplemented",
		message: "A command that prompts the user failed because the host program or the command type does not support user interaction. " +
			"The host was attempting to request confirmation with the following message: "}}
}

// interactive makes a host call that needs an answer (requires a UI).
func (f *frame) interactive(m psrp.HostMethod, mp ...clixml.Value) (val, error) {
	it := f.it
	if !it.hasUI {
		return nil, notInteractive()
	}
	v, err := it.call(m, mp...)
	if err != nil {
		if errors.Is(err, errStopped) {
			return nil, err
		}
		return nil, &psError{spec: &errSpec{excTypes: excRemote, category: catNotSpecified, fqeid: "RemoteHostExecutionException",
			message: err.Error()}}
	}
	if v.Kind == clixml.Nil && v.Obj == nil && v.Text == "" {
		return nil, nil
	}
	return fromValue(v), nil
}

// promptForChoice is $Host.UI.PromptForChoice(caption, message, choices, default).
func (f *frame) promptForChoice(caption, message string, choices val, def val) (val, error) {
	var items []clixml.Value
	for _, c := range asList(choices) {
		ch := toChoice(c)
		cv := ch.(clixml.Value)
		items = append(items, choiceDescription(valueText(propValue(cv, "Label")), valueText(propValue(cv, "HelpMessage"))))
	}
	d, ok := toInt(def)
	if !ok {
		return nil, convError(def, "System.Int32")
	}
	v, err := f.interactive(psrp.PromptForChoice, cxStr(caption), cxStr(message), cxList(tnArrayList, items), cxI32(int32(d)))
	if err != nil {
		return nil, err
	}
	if n, ok := toInt(v); ok && v != nil {
		return int32(n), nil
	}
	return v, nil
}

// ---- cmdlet helpers ----

// readHost is Read-Host: ReadLine / ReadLineAsSecureString without -Prompt,
// a one-field Prompt call with it.
func (cx *cmdCtx) readHost() error {
	secure := cx.sw("AsSecureString") || cx.sw("MaskInput")
	if !cx.has("Prompt") {
		m := psrp.ReadLine
		if secure {
			m = psrp.ReadLineAsSecureString
		}
		v, err := cx.f.interactive(m)
		if err != nil {
			return cx.hostError(err)
		}
		return cx.out(v)
	}
	var parts []string
	for _, p := range asList(cx.get("Prompt")) {
		if s := toStr(p); s != "" {
			parts = append(parts, s)
		}
	}
	name := strings.Join(parts, " ")
	v, err := cx.f.interactive(psrp.Prompt, cxStr(""), cxStr(""), cxList(tnArrayList, []clixml.Value{fieldDescription(name, secure)}))
	if err != nil {
		return cx.hostError(err)
	}
	h, ok := v.(*psHash)
	if !ok {
		return nil
	}
	for _, x := range h.vals {
		if cx.sw("MaskInput") {
			if sv, ok := x.(clixml.Value); ok && sv.Kind == clixml.SecureString {
				// The decrypted text is not available here; pass the value on.
				if err := cx.out(sv); err != nil {
					return err
				}
				continue
			}
		}
		if err := cx.out(x); err != nil {
			return err
		}
	}
	return nil
}

// hostError turns an interaction failure into the cmdlet's terminating
// error (statement-terminating in a script).
func (cx *cmdCtx) hostError(err error) error {
	var pe *psError
	if errors.As(err, &pe) && pe.spec != nil {
		s := *pe.spec
		s.fqeid += "," + cx.def.typeName
		return cx.terminating(&s)
	}
	return err
}

// getCredential is Get-Credential: PromptForCredential1.
func (cx *cmdCtx) getCredential() error {
	user := cx.str("UserName")
	if c := cx.get("Credential"); c != nil {
		if cv, ok := c.(clixml.Value); ok && cv.Kind == clixml.Object {
			return cx.out(cv)
		}
		user = toStr(c)
	}
	title := "PowerShell credential request"
	if cx.has("Title") {
		title = cx.str("Title")
	}
	msg := "Enter your credentials."
	if cx.has("Message") {
		msg = cx.str("Message")
	}
	v, err := cx.f.interactive(psrp.PromptForCredential1, cxStr(title), cxStr(msg), cxStr(user), cxStr(""))
	if err != nil {
		return cx.hostError(err)
	}
	return cx.out(v)
}

// writeHost is Write-Host: an INFORMATION_RECORD tagged PSHOST and, with a
// UI, the matching Write/WriteLine host call (psrp-brief §8.4).
func (cx *cmdCtx) writeHost(msg string, noNewLine bool, fg, bg int) error {
	it := cx.f.it
	if cx.action("InformationAction", "") == "Ignore" && cx.has("InformationAction") {
		return nil
	}
	if fg < 0 || bg < 0 {
		if hc, ok := it.host.(HostColors); ok && it.hasUI {
			if dfg, dbg, ok := hc.DefaultColors(); ok {
				if fg < 0 {
					fg = dfg
				}
				if bg < 0 {
					bg = dbg
				}
			}
		}
	}
	rec := informationRecord(hostInformationMessage(msg, noNewLine, fg, bg), "Write-Host", []string{"PSHOST"}, it.r.opts.Now(), it.origin())
	if err := it.emit(psrp.InformationRecord, rec); err != nil {
		return err
	}
	if !it.hasUI {
		return nil
	}
	colored := fg >= 0 || bg >= 0
	if colored {
		if fg < 0 {
			fg = 7
		}
		if bg < 0 {
			bg = 0
		}
		m := psrp.WriteLine3
		if noNewLine {
			m = psrp.Write2
		}
		_, err := it.call(m, cxI32(int32(fg)), cxI32(int32(bg)), cxStr(msg))
		return err
	}
	m := psrp.WriteLine2
	if noNewLine {
		m = psrp.Write1
	}
	_, err := it.call(m, cxStr(msg))
	return err
}

func (it *interp) origin() infoOrigin {
	return infoOrigin{user: it.r.opts.UserName, computer: it.r.opts.ComputerName,
		pid: uint32(it.r.opts.ProcessID), nativeThread: uint32(it.r.opts.ProcessID + 7), managedThread: 14}
}

// writeInformational is Write-Warning/-Verbose/-Debug: the record when the
// preference lets it through, plus the host's Write*Line with a UI.
func (cx *cmdCtx) writeInformational(kind, msg string) error {
	it := cx.f.it
	var pref string
	switch kind {
	case "Warning":
		pref = cx.action("WarningAction", "WarningPreference")
	case "Verbose":
		pref = cx.f.pref("VerbosePreference")
		if cx.has("Verbose") {
			pref = "SilentlyContinue"
			if cx.sw("Verbose") {
				pref = "Continue"
			}
		}
	case "Debug":
		pref = cx.f.pref("DebugPreference")
		if cx.has("Debug") {
			pref = "SilentlyContinue"
			if cx.sw("Debug") {
				pref = "Continue"
			}
		}
	}
	switch pref {
	case "SilentlyContinue", "Ignore":
		return nil
	}
	t := map[string]psrp.MessageType{"Warning": psrp.WarningRecord, "Verbose": psrp.VerboseRecord, "Debug": psrp.DebugRecord}[kind]
	if err := it.emit(t, informationalRecord(kind, msg)); err != nil {
		return err
	}
	if it.hasUI {
		m := map[string]psrp.HostMethod{"Warning": psrp.WriteWarningLine, "Verbose": psrp.WriteVerboseLine, "Debug": psrp.WriteDebugLine}[kind]
		if _, err := it.call(m, cxStr(msg)); err != nil {
			return err
		}
	}
	if pref == "Stop" {
		return &psError{terminating: true, spec: &errSpec{excTypes: []string{"System.Management.Automation.ActionPreferenceStopException", "System.Management.Automation.RuntimeException", "System.SystemException", "System.Exception"},
			message: "The running command stopped because the preference variable \"" + kind + "Preference\" or common parameter is set to Stop: " + msg,
			fqeid:   "ActionPreferenceStop", category: catOperationStopped, inv: cx.inv}}
	}
	return nil
}

// writeInformation is Write-Information.
func (cx *cmdCtx) writeInformation(data val, tags []string) error {
	it := cx.f.it
	pref := cx.action("InformationAction", "InformationPreference")
	if pref == "Ignore" {
		return nil
	}
	if tags == nil {
		tags = []string{}
	}
	dv := toValue(data)
	if err := it.emit(psrp.InformationRecord, informationRecord(dv, "Write-Information", tags, it.r.opts.Now(), it.origin())); err != nil {
		return err
	}
	if (pref == "Continue" || pref == "Inquire") && it.hasUI {
		if _, err := it.call(psrp.WriteLine2, cxStr(toStr(data))); err != nil {
			return err
		}
	}
	return nil
}

// writeProgress is Write-Progress.
func (cx *cmdCtx) writeProgress(p progress) error {
	it := cx.f.it
	if pref := cx.action("ProgressAction", "ProgressPreference"); pref == "SilentlyContinue" || pref == "Ignore" {
		return nil
	}
	rec := p.value()
	if err := it.emit(psrp.ProgressRecord, rec); err != nil {
		return err
	}
	if it.hasUI {
		_, err := it.call(psrp.WriteProgress, cxI64(1), p.value())
		return err
	}
	return nil
}

// sleep waits for d or until the pipeline is stopped.
func (it *interp) sleep(d time.Duration) error {
	if err := it.flush(); err != nil {
		return err
	}
	if d <= 0 {
		return it.stopped()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-it.ctx.Done():
		return errStopped
	}
}

// ---- location ----

func (it *interp) pathInfo() clixml.Value {
	it.r.mu.Lock()
	loc := it.r.location
	it.r.mu.Unlock()
	return cxObj(&clixml.PSObject{
		TypeNames:   []string{"System.Management.Automation.PathInfo", "System.Object"},
		ToString:    loc,
		HasToString: true,
		Props: []clixml.Property{
			cxProp("Drive", cxStr("/")),
			cxProp("Provider", cxStr("Microsoft.PowerShell.Core\\FileSystem")),
			cxProp("ProviderPath", cxStr(loc)),
			cxProp("Path", cxStr(loc)),
		},
	})
}

func (it *interp) setLocation(p string) {
	it.r.mu.Lock()
	defer it.r.mu.Unlock()
	p = strings.ReplaceAll(p, "\\", "/")
	switch {
	case p == "" || p == "~":
		p = it.r.opts.Home
	case strings.HasPrefix(p, "~/"):
		p = path.Join(it.r.opts.Home, p[2:])
	case !strings.HasPrefix(p, "/"):
		p = path.Join(it.r.location, p)
	}
	it.r.location = path.Clean(p)
}

// ---- $PSVersionTable ----

func (it *interp) psVersionTable() *psHash {
	ver := it.r.opts.PSVersion
	parts := strings.SplitN(ver, ".", 3)
	num := func(i int) int32 {
		if i < len(parts) {
			n, _ := toInt(strings.SplitN(parts[i], "-", 2)[0])
			return int32(n)
		}
		return 0
	}
	pre := cxNil()
	if i := strings.IndexByte(ver, '-'); i >= 0 {
		pre = cxStr(ver[i+1:])
	}
	semver := cxObj(&clixml.PSObject{
		TypeNames:   []string{"System.Management.Automation.SemanticVersion", "System.Object"},
		ToString:    ver,
		HasToString: true,
		Props: []clixml.Property{cxProp("Major", cxI32(num(0))), cxProp("Minor", cxI32(num(1))), cxProp("Patch", cxI32(num(2))),
			cxProp("PreReleaseLabel", pre), cxProp("BuildLabel", cxNil())},
	})
	compat := []clixml.Value{cxVer("1.0"), cxVer("2.0"), cxVer("3.0"), cxVer("4.0"), cxVer("5.0"), cxVer("5.1"), cxVer("6.0"), cxVer("7.0")}
	h := &psHash{typeNames: []string{"System.Management.Automation.PSVersionHashTable", "System.Collections.Hashtable", "System.Object"}}
	h.set("PSVersion", semver)
	h.set("PSEdition", "Core")
	h.set("GitCommitId", ver)
	h.set("OS", "Linux 6.1.0-pwshsim #1 SMP PREEMPT_DYNAMIC")
	h.set("Platform", "Unix")
	h.set("PSCompatibleVersions", cxList([]string{"System.Version[]", "System.Array", "System.Object"}, compat))
	h.set("PSRemotingProtocolVersion", cxVer("2.3"))
	h.set("SerializationVersion", cxVer("1.1.0.1"))
	h.set("WSManStackVersion", cxVer("3.0"))
	return h
}
