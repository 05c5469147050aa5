package sessions

import (
	"strings"

	"github.com/psmux/psmux/sessions/clixml"
	"github.com/psmux/psmux/sessions/psrp"
)

// ErrorText returns the message of an ErrorRecord (or of any record): its
// ErrorDetails_Message, its ToString, or its Exception's Message.
func ErrorText(v clixml.Value) string {
	if v.Kind != clixml.Object || v.Obj == nil {
		return v.Text
	}
	o := v.Obj
	if d, ok := o.Get("ErrorDetails_Message"); ok && d.Kind == clixml.String && d.Text != "" {
		return d.Text
	}
	if o.HasToString && o.ToString != "" {
		return o.ToString
	}
	if ex, ok := o.Get("Exception"); ok && ex.Obj != nil {
		if m, ok := ex.Obj.Get("Message"); ok {
			return m.Text
		}
		if ex.Obj.HasToString {
			return ex.Obj.ToString
		}
	}
	if m, ok := o.Get("InformationalRecord_Message"); ok {
		return m.Text
	}
	return ""
}

// HostMessageData returns a Write-Host record's MessageData: ok when v is
// an InformationRecord tagged PSHOST (psrp-brief §8.4), whose twin the
// host UI was sent as Write or WriteLine calls. md is an object
// (HostInformationMessage: Message, NoNewLine, colours) or, from other
// servers, the message text itself.
func HostMessageData(v clixml.Value) (md clixml.Value, ok bool) {
	if v.Obj == nil {
		return clixml.Value{}, false
	}
	tags, _ := v.Obj.Get("Tags")
	if tags.Obj == nil {
		return clixml.Value{}, false
	}
	for _, t := range tags.Obj.Items {
		if t.Text == "PSHOST" {
			md, _ = v.Obj.Get("MessageData")
			return md, true
		}
	}
	return clixml.Value{}, false
}

// HostMessage returns the text of a Write-Host record (HostMessageData).
func HostMessage(v clixml.Value) (string, bool) {
	md, ok := HostMessageData(v)
	if ok && md.Obj != nil {
		m, _ := md.Obj.Get("Message")
		return m.Text, true
	}
	return md.Text, ok
}

// NewErrorRecord builds an ErrorRecord the way pwsh serialises one, for
// host-call error responses.
func NewErrorRecord(message, fqid, exceptionType string, category int32, categoryText string) clixml.Value {
	ex := &clixml.PSObject{
		TypeNames: []string{exceptionType, "System.Exception", "System.Object"},
		ToString:  message, HasToString: true,
	}
	ex.AddProp("Message", clixml.Str(message))
	rec := &clixml.PSObject{
		TypeNames: []string{"System.Management.Automation.ErrorRecord", "System.Object"},
		ToString:  message, HasToString: true,
	}
	reason := exceptionType[strings.LastIndexByte(exceptionType, '.')+1:]
	rec.AddMember("Exception", clixml.Obj(ex)).
		AddMember("TargetObject", clixml.NilV()).
		AddMember("FullyQualifiedErrorId", clixml.Str(fqid)).
		AddMember("InvocationInfo", clixml.NilV()).
		AddMember("ErrorCategory_Category", clixml.I32(category)).
		AddMember("ErrorCategory_Activity", clixml.Str("")).
		AddMember("ErrorCategory_Reason", clixml.Str(reason)).
		AddMember("ErrorCategory_TargetName", clixml.Str("")).
		AddMember("ErrorCategory_TargetType", clixml.Str("")).
		AddMember("ErrorCategory_Message", clixml.Str(categoryText+": (:) [], "+reason)).
		AddMember("SerializeExtendedInfo", clixml.BoolV(false))
	return clixml.Obj(rec)
}

// StoppedRecord is the record pwsh gives as the reason of a stopped
// pipeline ("The pipeline has been stopped.").
func StoppedRecord() clixml.Value {
	return NewErrorRecord("The pipeline has been stopped.", "PipelineStopped",
		"System.Management.Automation.PipelineStoppedException", 14, "OperationStopped")
}

// hostUnavailable answers a host call psmux cannot serve.
func hostUnavailable(m psrp.HostMethod) clixml.Value {
	return NewErrorRecord("psmux: the host method "+m.String()+" is not available: no interactive client",
		"RemoteHostExecutionException", "System.Management.Automation.Remoting.RemoteHostException", 0, "NotSpecified")
}

// HostError answers a host call with an error the remote command sees.
func HostError(m psrp.HostMethod, message string) *clixml.Value {
	v := NewErrorRecord(message, "RemoteHostExecutionException", "System.Management.Automation.Remoting.RemoteHostException", 0, "NotSpecified")
	return &v
}

// ReportedRecord is the error record pwsh's console sends to Out-Default
// to show a failed pipeline (ConsoleHost.ReportException): the failure's
// record as the client holds it, its exception wrapped in a
// RemoteException (so it no longer reads as thrown by a throw statement),
// its InvocationInfo moved into that exception.
func ReportedRecord(reason clixml.Value) clixml.Value {
	if reason.Kind != clixml.Object || reason.Obj == nil {
		return reason
	}
	src := reason.Obj
	exc, _ := src.Get("Exception")
	inv, _ := src.Get("InvocationInfo")
	msg := ErrorText(reason)
	if exc.Obj != nil {
		if m, ok := exc.Obj.Get("Message"); ok && m.Kind == clixml.String {
			msg = m.Text
		}
	}
	rex := &clixml.PSObject{
		TypeNames: []string{"System.Management.Automation.RemoteException", "System.Management.Automation.RuntimeException",
			"System.SystemException", "System.Exception", "System.Object"},
		ToString: "System.Management.Automation.RemoteException: " + msg, HasToString: true,
	}
	rex.AddProp("SerializedRemoteException", deserialized(exc)).
		AddProp("SerializedRemoteInvocationInfo", deserialized(inv)).
		AddProp("WasThrownFromThrowStatement", clixml.BoolV(false)).
		AddProp("Message", clixml.Str(msg))
	rec := &clixml.PSObject{TypeNames: src.TypeNames, ToString: src.ToString, HasToString: src.HasToString}
	for _, m := range src.Members {
		switch {
		case m.Name == "Exception":
			rec.AddMember(m.Name, clixml.Obj(rex))
		case m.Name == "InvocationInfo":
			rec.AddMember(m.Name, clixml.NilV())
		case m.Name == "SerializeExtendedInfo":
			rec.AddMember(m.Name, clixml.BoolV(false))
		case strings.HasPrefix(m.Name, "InvocationInfo_"), m.Name == "PipelineIterationInfo":
			// extended info goes with the InvocationInfo
		default:
			rec.AddMember(m.Name, m.Value)
		}
	}
	return clixml.Obj(rec)
}

// deserialized returns a shallow copy of an object whose type names read
// as a deserialized object's, as pwsh writes a value it received.
func deserialized(v clixml.Value) clixml.Value {
	if v.Kind != clixml.Object || v.Obj == nil {
		return v
	}
	o := *v.Obj
	o.TypeNames = make([]string, len(v.Obj.TypeNames))
	for i, t := range v.Obj.TypeNames {
		if !strings.HasPrefix(t, "Deserialized.") {
			t = "Deserialized." + t
		}
		o.TypeNames[i] = t
	}
	return clixml.Obj(&o)
}
