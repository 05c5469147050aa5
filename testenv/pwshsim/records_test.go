package pwshsim

import (
	"strings"
	"testing"

	"github.com/psmux/psmux/sessions/clixml"
)

func names(ps []clixml.Property) string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return strings.Join(out, ",")
}

// The member orders below are those of the captures in shared/corpus
// (pwsh's ErrorRecord/InformationalRecord/ProgressRecord serialisation).
func TestRecordShapes(t *testing.T) {
	stopped := pipelineStoppedRecord()
	tests := []struct {
		name string
		v    clixml.Value
		tn   string
		want string // member names (MS), comma-separated
	}{
		{"pipeline stopped", stopped, "System.Management.Automation.ErrorRecord",
			"Exception,TargetObject,FullyQualifiedErrorId,InvocationInfo,ErrorCategory_Category,ErrorCategory_Activity," +
				"ErrorCategory_Reason,ErrorCategory_TargetName,ErrorCategory_TargetType,ErrorCategory_Message,SerializeExtendedInfo"},
		{"error stream record", (&errSpec{excTypes: excWriteError, message: "m", fqeid: "x", activity: "Write-Error",
			scriptStack: "at <ScriptBlock>, <No file>: line 1", streamRecord: true, inv: &invInfo{}}).build(),
			"System.Management.Automation.ErrorRecord",
			"Exception,TargetObject,FullyQualifiedErrorId,InvocationInfo,ErrorCategory_Category,ErrorCategory_Activity," +
				"ErrorCategory_Reason,ErrorCategory_TargetName,ErrorCategory_TargetType,ErrorCategory_Message,SerializeExtendedInfo," +
				"ErrorDetails_ScriptStackTrace,PSMessageDetails"},
		{"warning", informationalRecord("Warning", "w"), "System.Management.Automation.WarningRecord",
			"InformationalRecord_Message,InformationalRecord_SerializeInvocationInfo"},
		{"progress", progress{activity: "a", status: "s", parentID: -1, percent: -1, secs: -1}.value(), "",
			"Activity,ActivityId,StatusDescription,CurrentOperation,ParentActivityId,PercentComplete,Type,SecondsRemaining"},
		{"information", informationRecord(cxStr("x"), "Write-Information", nil, testRunspace().opts.Now(), infoOrigin{}), "",
			"MessageData,Source,TimeGenerated,Tags,User,Computer,ProcessId,NativeThreadId,ManagedThreadId"},
		{"field description", fieldDescription("f", false), "",
			"name,label,parameterTypeName,parameterTypeFullName,parameterAssemblyFullName,helpMessage,isMandatory,metadata,modifiedByRemotingProtocol,isFromRemoteHost"},
		{"choice", choiceDescription("&Yes", ""), "", "label,helpMessage"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.v.Obj
			tn := ""
			if len(o.TypeNames) > 0 {
				tn = o.TypeNames[0]
			}
			if tn != tc.tn {
				t.Errorf("type %q, want %q", tn, tc.tn)
			}
			if got := names(o.Members); got != tc.want {
				t.Errorf("members\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
	// PipelineStopped exactly as corpus E101 (less the .NET stack trace).
	exc := member(stopped, "Exception")
	if got := strings.Join(exc.Obj.TypeNames, ","); got != "System.Management.Automation.PipelineStoppedException,System.Management.Automation.RuntimeException,System.SystemException,System.Exception,System.Object" {
		t.Errorf("exception types %s", got)
	}
	for k, want := range map[string]string{"FullyQualifiedErrorId": "PipelineStopped", "ErrorCategory_Category": "14",
		"ErrorCategory_Reason": "PipelineStoppedException", "ErrorCategory_Message": "OperationStopped: (:) [], PipelineStoppedException"} {
		if got := member(stopped, k).Text; got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if member(stopped, "InvocationInfo").Kind != clixml.Nil || member(stopped, "TargetObject").Kind != clixml.Nil {
		t.Error("stopped record has no invocation info or target")
	}
}

func TestCategoryMessageEllipsis(t *testing.T) {
	got := categoryMessage(catParserError, "", "Set-Item -Path WSMan:\\localhost\\Service\\AllowUnencrypted -Value $false", "String", "ParseException")
	if want := "ParserError: (Set-Item -Path ...d -Value $false:String) [], ParseException"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
