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
