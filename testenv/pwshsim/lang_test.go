package pwshsim

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/psmux/psmux/sessions/clixml"
	"github.com/psmux/psmux/sessions/psrp"
)

// event is one thing the fake host saw.
type event struct {
	emit   bool
	t      psrp.MessageType
	body   clixml.Value
	method psrp.HostMethod
	params []clixml.Value
}

// fakeHost records emissions and host calls; answer produces replies to
// non-void calls (nil answers Nil).
type fakeHost struct {
	mu     sync.Mutex
	ui     bool
	width  int
	events []event
	answer func(ctx context.Context, m psrp.HostMethod, mp []clixml.Value) (clixml.Value, error)
	onCall func(m psrp.HostMethod, mp []clixml.Value)
}

func (h *fakeHost) Emit(t psrp.MessageType, body clixml.Value) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, event{emit: true, t: t, body: body})
}

func (h *fakeHost) HostCall(ctx context.Context, m psrp.HostMethod, mp []clixml.Value) (clixml.Value, error) {
	h.mu.Lock()
	h.events = append(h.events, event{method: m, params: mp})
	on := h.onCall
	h.mu.Unlock()
	if on != nil {
		on(m, mp)
	}
	if m.Void() {
		return clixml.Value{}, nil
	}
	if h.answer == nil {
		return cxNil(), nil
	}
	return h.answer(ctx, m, mp)
}

func (h *fakeHost) UI() (bool, int) { return h.ui, h.width }

func (h *fakeHost) emitted(t psrp.MessageType) []clixml.Value {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []clixml.Value
	for _, e := range h.events {
		if e.emit && e.t == t {
			out = append(out, e.body)
		}
	}
	return out
}

func (h *fakeHost) calls(m psrp.HostMethod) []event {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []event
	for _, e := range h.events {
		if !e.emit && e.method == m {
			out = append(out, e)
		}
	}
	return out
}

// lines returns the text of WriteLine2/WriteErrorLine calls, in order.
func (h *fakeHost) lines() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, e := range h.events {
		if !e.emit && (e.method == psrp.WriteLine2 || e.method == psrp.WriteErrorLine) {
			out = append(out, e.params[0].Text)
		}
	}
	return out
}

func testRunspace() *Runspace {
	at := time.Date(2026, 11, 22, 10, 29, 0, 0, time.FixedZone("", 3600))
	return NewRunspace(RunspaceOptions{ComputerName: "sim", UserName: "tester", Home: "/home/tester",
		Now: func() time.Time { return at }, ProcessID: 4242})
}

func script(s string) []Command { return []Command{{Cmd: s, IsScript: true}} }

// interactive is how Enter-PSSession sends a line (psrp-brief §8.5).
func interactive(s string) []Command {
	return []Command{
		{Cmd: s, IsScript: true, MergeMyResult: 2, MergeToResult: 1},
		{Cmd: "Out-Default", UseLocalScope: true, MergePreviousResults: 3},
	}
}

func outputs(h *fakeHost) []clixml.Value { return h.emitted(psrp.PipelineOutput) }

func member(v clixml.Value, name string) clixml.Value { return propValue(v, name) }

func TestOutputs(t *testing.T) {
	tests := []struct {
		name   string
		script string
		want   []string // Kind:Text of each PIPELINE_OUTPUT
	}{
		{"range", "1..3", []string{"I32:1", "I32:2", "I32:3"}},
		{"expand", `$x = 40 + 2; "answer: $x"`, []string{"S:answer: 42"}},
		{"verbatim", `'it''s'`, []string{"S:it's"}},
		{"escapes", "\"a`tb\"", []string{"S:a\tb"}},
		{"subexpr", `"sum $(1 + 2)"`, []string{"S:sum 3"}},
		{"repeat", `('x' * 3)`, []string{"S:xxx"}},
		{"overflow literal", `2147483648`, []string{"I64:2147483648"}},
		{"overflow add", `2147483647 + 1`, []string{"Db:2147483648"}},
		{"division", `7 / 2; 6 / 3; 7 % 3`, []string{"Db:3.5", "I32:2", "I32:1"}},
		{"double", `1.5 * 2`, []string{"Db:3"}},
		{"comparison", `1 -eq '1'; 'A' -eq 'a'; 3 -gt 2; -not $true`, []string{"B:true", "B:true", "B:true", "B:false"}},
		{"filter", `(1,2,3,4) -gt 2`, []string{"I32:3", "I32:4"}},
		{"array index", `$a = 1,2,3; $a[1]; $a[-1]; $a.Count`, []string{"I32:2", "I32:3", "I32:3"}},
		{"if", `if (1 -gt 2) { 'a' } elseif ($true) { 'b' } else { 'c' }`, []string{"S:b"}},
		{"foreach", "foreach ($i in 1..3) {\n  $i * 10\n}", []string{"I32:10", "I32:20", "I32:30"}},
		{"foreach-object", `1..3 | ForEach-Object { $_ + 1 }`, []string{"I32:2", "I32:3", "I32:4"}},
		{"where-object", `1..5 | Where-Object { $_ % 2 -eq 0 }`, []string{"I32:2", "I32:4"}},
		{"select first", `1..100 | ForEach-Object { $_ } | Select-Object -First 2`, []string{"I32:1", "I32:2"}},
		{"hashtable access", `$h = @{a=1; b='x'}; $h.b; $h['a']; $h.Count`, []string{"S:x", "I32:1", "I32:2"}},
		{"property", `$o = [pscustomobject]@{Name='n'; Size=3}; $o.Name; $o.Size + 1`, []string{"S:n", "I32:4"}},
		{"plus-equals", `$s = 1; $s += 4; $s; $l = @(1); $l += 2; $l.Count`, []string{"I32:5", "I32:2"}},
		{"string methods", `'Hello'.ToUpper(); 'a,b'.Split(',').Count; 'abc'.Length`, []string{"S:HELLO", "I32:2", "I32:3"}},
		{"cast", `[int]'42'; [string]5; [int]2.5`, []string{"I32:42", "S:5", "I32:2"}},
		{"format op", `'{0}-{1:N2}' -f 'a', 1234.5`, []string{"S:a-1,234.50"}},
		{"input", `$input`, nil},
		{"write-output", `Write-Output 1 2 3; Write-Output 4,5`, []string{"I32:1", "I32:2", "I32:3", "I32:4", "I32:5"}},
		{"function", "function add($a, $b) { $a + $b }\nadd 2 3", []string{"I32:5"}},
		{"try catch", `try { throw 'x' } catch { "caught $($_.Exception.Message)" }`, []string{"S:caught x"}},
		{"prompt", `prompt`, []string{"S:PS /home/tester> "}},
		{"location", `Set-Location /tmp; (Get-Location).Path`, []string{"S:/tmp"}},
		{"exit", "'a'\nexit\n'b'", []string{"S:a"}},
		{"while", `$i = 0; while ($i -lt 3) { $i++ }; $i`, []string{"I32:3"}},
		{"test-path", `Test-Path /; Test-Path /nonexistent-psmux-path; -not (Test-Path -LiteralPath /nonexistent-psmux-path)`, []string{"B:true", "B:false", "B:true"}},
		{"join", `(1,2,3) -join '+'`, []string{"S:1+2+3"}},
		{"date format", `Get-Date -Format 'yyyy-MM-dd HH:mm'`, []string{"S:2026-11-22 10:29"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := &fakeHost{}
			state, reason := testRunspace().Invoke(context.Background(), script(tc.script), nil, h)
			if state != psrp.Completed {
				t.Fatalf("state %v, reason %s", state, valueText(member(member(reason, "Exception"), "Message")))
			}
			if errs := h.emitted(psrp.ErrorRecord); len(errs) > 0 {
				t.Fatalf("unexpected error: %s", errs[0].Obj.ToString)
			}
			var got []string
			for _, v := range outputs(h) {
				got = append(got, v.Kind.Tag()+":"+v.Text)
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("outputs %q, want %q", got, tc.want)
			}
		})
	}
}

func TestVariablesPersistAcrossInvokes(t *testing.T) {
	rs := testRunspace()
	h := &fakeHost{}
	if st, _ := rs.Invoke(context.Background(), script("$x = 40 + 2"), nil, h); st != psrp.Completed {
		t.Fatal(st)
	}
	h = &fakeHost{}
	rs.Invoke(context.Background(), script(`"answer: $x"`), nil, h)
	out := outputs(h)
	if len(out) != 1 || out[0].Kind != clixml.String || out[0].Text != "answer: 42" {
		t.Fatalf("got %+v", out)
	}
	// $x = 7 then $x, the Enter-PSSession way: printed through Out-Default.
	rs.Invoke(context.Background(), interactive("$x = 7"), nil, &fakeHost{ui: true})
	h = &fakeHost{ui: true}
	rs.Invoke(context.Background(), interactive("$x"), nil, h)
	if got := h.lines(); len(got) != 1 || got[0] != "7" {
		t.Fatalf("Out-Default lines %q", got)
	}
	if len(outputs(h)) != 0 {
		t.Fatal("Out-Default pipeline produced PIPELINE_OUTPUT")
	}
}

func TestPipelineInput(t *testing.T) {
	in := make(chan clixml.Value, 3)
	in <- cxStr("a")
	in <- cxI32(2)
	close(in)
	h := &fakeHost{}
	testRunspace().Invoke(context.Background(), script(`$input | ForEach-Object { "[$_]" }`), in, h)
	out := outputs(h)
	if len(out) != 2 || out[0].Text != "[a]" || out[1].Text != "[2]" {
		t.Fatalf("got %+v", out)
	}
}

func TestWriteError(t *testing.T) {
	h := &fakeHost{}
	state, _ := testRunspace().Invoke(context.Background(), script("Write-Error 'boom'; 'after'"), nil, h)
	if state != psrp.Completed {
		t.Fatalf("state %v", state)
	}
	errs := h.emitted(psrp.ErrorRecord)
	if len(errs) != 1 {
		t.Fatalf("%d error records", len(errs))
	}
	e := errs[0]
	checks := map[string]string{
		"FullyQualifiedErrorId":  "Microsoft.PowerShell.Commands.WriteErrorException",
		"ErrorCategory_Category": "0",
		"ErrorCategory_Activity": "Write-Error",
		"ErrorCategory_Reason":   "WriteErrorException",
		"ErrorCategory_Message":  "NotSpecified: (:) [Write-Error], WriteErrorException",
	}
	for k, want := range checks {
		if got := member(e, k).Text; got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if e.Obj.TypeNames[0] != "System.Management.Automation.ErrorRecord" || e.Obj.ToString != "boom" {
		t.Errorf("record %v %q", e.Obj.TypeNames, e.Obj.ToString)
	}
	exc := member(e, "Exception")
	if exc.Obj.TypeNames[0] != "Microsoft.PowerShell.Commands.WriteErrorException" || member(exc, "Message").Text != "boom" {
		t.Errorf("exception %v", exc.Obj.TypeNames)
	}
	if out := outputs(h); len(out) != 1 || out[0].Text != "after" {
		t.Errorf("script did not continue: %+v", out)
	}
}

func TestWriteErrorStop(t *testing.T) {
	h := &fakeHost{}
	state, reason := testRunspace().Invoke(context.Background(), script("$ErrorActionPreference = 'Stop'; 'before'; Write-Error 'err'; 'after'"), nil, h)
	if state != psrp.Failed || member(reason, "FullyQualifiedErrorId").Text != "Microsoft.PowerShell.Commands.WriteErrorException" {
		t.Fatalf("state %v reason %+v", state, reason)
	}
	if out := outputs(h); len(out) != 1 || out[0].Text != "before" {
		t.Errorf("outputs %+v", out)
	}
}

func TestThrow(t *testing.T) {
	h := &fakeHost{}
	state, reason := testRunspace().Invoke(context.Background(), script("'x'\nthrow \"bad\"\n'never'"), nil, h)
	if state != psrp.Failed {
		t.Fatalf("state %v", state)
	}
	exc := member(reason, "Exception")
	if exc.Obj.TypeNames[0] != "System.Management.Automation.RuntimeException" {
		t.Errorf("exception type %v", exc.Obj.TypeNames)
	}
	for k, want := range map[string]string{
		"FullyQualifiedErrorId":  "bad",
		"ErrorCategory_Category": "14",
		"ErrorCategory_Message":  "OperationStopped: (bad:String) [], RuntimeException",
	} {
		if got := member(reason, k).Text; got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if member(exc, "WasThrownFromThrowStatement").Text != "true" || member(exc, "Message").Text != "bad" {
		t.Error("exception fields")
	}
	// On line 2 of a script, ConciseView adds the "Line |" block.
	if got := conciseView(reason); len(got) != 5 || got[0] != "Exception: " || got[4] != "     | bad" {
		t.Errorf("ConciseView %q", got)
	}
	_, reason = testRunspace().Invoke(context.Background(), script(`throw "bad"`), nil, &fakeHost{})
	if got := conciseView(reason); len(got) != 1 || got[0] != "Exception: bad" {
		t.Errorf("ConciseView %q", got)
	}
	if out := outputs(h); len(out) != 1 {
		t.Errorf("outputs %+v", out)
	}
}

func TestCommandNotFound(t *testing.T) {
	h := &fakeHost{}
	state, _ := testRunspace().Invoke(context.Background(), script("foo; 'after'"), nil, h)
	if state != psrp.Completed {
		t.Fatalf("state %v", state)
	}
	errs := h.emitted(psrp.ErrorRecord)
	if len(errs) != 1 {
		t.Fatalf("%d errors", len(errs))
	}
	e := errs[0]
	wantMsg := "The term 'foo' is not recognized as a name of a cmdlet, function, script file, or executable program.\nCheck the spelling of the name, or if a path was included, verify that the path is correct and try again."
	if e.Obj.ToString != wantMsg {
		t.Errorf("message %q", e.Obj.ToString)
	}
	for k, want := range map[string]string{
		"FullyQualifiedErrorId":  "CommandNotFoundException",
		"ErrorCategory_Category": "13",
		"ErrorCategory_Message":  "ObjectNotFound: (foo:String) [], CommandNotFoundException",
		"TargetObject":           "foo",
	} {
		if got := member(e, k).Text; got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if got := conciseView(e); got[0] != "foo: The term 'foo' is not recognized as a name of a cmdlet, function, script file, or executable program." {
		t.Errorf("ConciseView %q", got)
	}
	if out := outputs(h); len(out) != 1 || out[0].Text != "after" {
		t.Errorf("outputs %+v", out)
	}
	// On line 2 of a script ConciseView shows the line block.
	h = &fakeHost{}
	testRunspace().Invoke(context.Background(), script("'a'\n  foo"), nil, h)
	got := conciseView(h.emitted(psrp.ErrorRecord)[0])
	want := []string{"foo: ", "Line |", "   2 |    foo", "     |    ~~~", "     | The term 'foo' is not recognized as a name of a cmdlet, function, script file, or executable program."}
	for i, w := range want {
		if i >= len(got) || got[i] != w {
			t.Fatalf("line block %q, want prefix %q", got, want)
		}
	}
}

func TestParseError(t *testing.T) {
	h := &fakeHost{}
	state, reason := testRunspace().Invoke(context.Background(), script("'ok'; if ($x { }"), nil, h)
	if state != psrp.Failed {
		t.Fatalf("state %v", state)
	}
	if tn := member(reason, "Exception").Obj.TypeNames[0]; tn != "System.Management.Automation.ParseException" {
		t.Errorf("type %s", tn)
	}
	if member(reason, "ErrorCategory_Category").Text != "17" {
		t.Error("category")
	}
	if len(outputs(h)) != 0 {
		t.Error("a script that does not parse must not run")
	}
}

func TestStopDuringSleep(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := &fakeHost{ui: true}
	h.onCall = func(m psrp.HostMethod, _ []clixml.Value) {
		if m == psrp.WriteLine2 {
			cancel() // stop once the script is running
		}
	}
	start := time.Now()
	state, reason := testRunspace().Invoke(ctx, script("Write-Host 'go'; Start-Sleep 30; 'never'"), nil, h)
	if state != psrp.Stopped {
		t.Fatalf("state %v", state)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatal("Start-Sleep did not return promptly")
	}
	if member(reason, "FullyQualifiedErrorId").Text != "PipelineStopped" || member(reason, "ErrorCategory_Category").Text != "14" ||
		reason.Obj.ToString != "The pipeline has been stopped." {
		t.Errorf("reason %+v", reason.Obj)
	}
	if len(outputs(h)) != 0 {
		t.Error("output after stop")
	}
}

func TestStopDuringHostCall(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	asked := make(chan struct{})
	h := &fakeHost{ui: true, answer: func(ctx context.Context, m psrp.HostMethod, _ []clixml.Value) (clixml.Value, error) {
		close(asked)
		<-ctx.Done()
		return clixml.Value{}, ctx.Err()
	}}
	done := make(chan psrp.PSInvocationState)
	go func() {
		st, _ := testRunspace().Invoke(ctx, script("Read-Host; 'never'"), nil, h)
		done <- st
	}()
	<-asked
	cancel()
	select {
	case st := <-done:
		if st != psrp.Stopped {
			t.Fatalf("state %v", st)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("pipeline did not stop")
	}
}

func TestHostPrompts(t *testing.T) {
	ss := clixml.Value{Kind: clixml.SecureString, Text: "c2VjcmV0"}
	cred := cxObj(&clixml.PSObject{TypeNames: []string{"System.Management.Automation.PSCredential", "System.Object"},
		ToString: "System.Management.Automation.PSCredential", HasToString: true,
		Props: []clixml.Property{cxProp("UserName", cxStr("bob")), cxProp("Password", ss)}})
	tests := []struct {
		name   string
		script string
		method psrp.HostMethod
		answer clixml.Value
		check  func(t *testing.T, mp []clixml.Value)
		want   clixml.Value
	}{
		{"read-host", "Read-Host", psrp.ReadLine, cxStr("hello"), func(t *testing.T, mp []clixml.Value) {
			if len(mp) != 0 {
				t.Errorf("params %v", mp)
			}
		}, cxStr("hello")},
		{"read-host secure", "Read-Host -AsSecureString", psrp.ReadLineAsSecureString, ss, nil, ss},
		{"read-host prompt", "Read-Host -Prompt 'Your name'", psrp.Prompt,
			cxObj(&clixml.PSObject{TypeNames: tnHashtable, Container: clixml.Dictionary,
				Dict: []clixml.DictEntry{{Key: cxStr("Your name"), Value: cxStr("bob")}}}),
			func(t *testing.T, mp []clixml.Value) {
				if len(mp) != 3 || mp[0].Text != "" || mp[1].Text != "" {
					t.Fatalf("params %+v", mp)
				}
				fields := mp[2].Obj.Items
				if len(fields) != 1 || member(fields[0], "name").Text != "Your name" ||
					member(fields[0], "parameterTypeFullName").Text != "System.String" ||
					member(fields[0], "isMandatory").Text != "true" {
					t.Errorf("field %+v", fields)
				}
			}, cxStr("bob")},
		{"read-host prompt secure", "Read-Host 'pw' -AsSecureString", psrp.Prompt,
			cxObj(&clixml.PSObject{TypeNames: tnHashtable, Container: clixml.Dictionary,
				Dict: []clixml.DictEntry{{Key: cxStr("pw"), Value: ss}}}),
			func(t *testing.T, mp []clixml.Value) {
				if member(mp[2].Obj.Items[0], "parameterTypeFullName").Text != "System.Security.SecureString" {
					t.Error("secure field type")
				}
			}, ss},
		{"get-credential", "Get-Credential -UserName bob", psrp.PromptForCredential1, cred,
			func(t *testing.T, mp []clixml.Value) {
				want := []string{"PowerShell credential request", "Enter your credentials.", "bob", ""}
				for i, w := range want {
					if mp[i].Kind != clixml.String || mp[i].Text != w {
						t.Errorf("param %d = %+v, want %q", i, mp[i], w)
					}
				}
			}, cred},
		{"prompt-for-choice", "$host.UI.PromptForChoice('Cap', 'Msg', @('&Yes', '&No'), 1)", psrp.PromptForChoice, cxI32(0),
			func(t *testing.T, mp []clixml.Value) {
				if len(mp) != 4 || mp[0].Text != "Cap" || mp[1].Text != "Msg" || mp[3].Kind != clixml.Int32 || mp[3].Text != "1" {
					t.Fatalf("params %+v", mp)
				}
				ch := mp[2].Obj.Items
				if len(ch) != 2 || member(ch[0], "label").Text != "&Yes" || member(ch[1], "helpMessage").Kind != clixml.String {
					t.Errorf("choices %+v", ch)
				}
			}, cxI32(0)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := &fakeHost{ui: true, answer: func(_ context.Context, m psrp.HostMethod, _ []clixml.Value) (clixml.Value, error) {
				return tc.answer, nil
			}}
			state, _ := testRunspace().Invoke(context.Background(), script(tc.script), nil, h)
			if state != psrp.Completed {
				t.Fatalf("state %v", state)
			}
			calls := h.calls(tc.method)
			if len(calls) != 1 {
				t.Fatalf("%d %v calls; events %+v", len(calls), tc.method, h.events)
			}
			if tc.method.Void() {
				t.Fatal("prompt methods must wait for an answer")
			}
			if tc.check != nil {
				tc.check(t, calls[0].params)
			}
			out := outputs(h)
			if len(out) != 1 || out[0].Kind != tc.want.Kind || out[0].Text != tc.want.Text || (tc.want.Obj != nil && out[0].Obj != tc.want.Obj) {
				t.Errorf("output %+v, want %+v", out, tc.want)
			}
		})
	}
}

func TestPromptWithoutUI(t *testing.T) {
	h := &fakeHost{}
	state, _ := testRunspace().Invoke(context.Background(), script("Read-Host; 'after'"), nil, h)
	if state != psrp.Completed {
		t.Fatal(state)
	}
	if len(h.calls(psrp.ReadLine)) != 0 {
		t.Error("host call without a UI")
	}
	errs := h.emitted(psrp.ErrorRecord)
	if len(errs) != 1 || !strings.HasPrefix(member(errs[0], "FullyQualifiedErrorId").Text, "HostFunctionNotImplemented") {
		t.Fatalf("errors %+v", errs)
	}
}

func TestStreams(t *testing.T) {
	tests := []struct {
		name   string
		script string
		ui     bool
		check  func(t *testing.T, h *fakeHost)
	}{
		{"write-host ui", "Write-Host 'hi'; Write-Host 'x' -NoNewline -ForegroundColor Red", true, func(t *testing.T, h *fakeHost) {
			recs := h.emitted(psrp.InformationRecord)
			if len(recs) != 2 {
				t.Fatalf("%d information records", len(recs))
			}
			md := member(recs[0], "MessageData")
			if md.Obj.TypeNames[0] != "System.Management.Automation.HostInformationMessage" || member(md, "Message").Text != "hi" {
				t.Errorf("MessageData %+v", md.Obj)
			}
			if tags := member(recs[0], "Tags").Obj.Items; len(tags) != 1 || tags[0].Text != "PSHOST" {
				t.Errorf("tags %+v", tags)
			}
			if member(recs[0], "Source").Text != "Write-Host" || member(recs[0], "ProcessId").Kind != clixml.UInt32 {
				t.Error("source/pid")
			}
			if c := h.calls(psrp.WriteLine2); len(c) != 1 || c[0].params[0].Text != "hi" {
				t.Errorf("WriteLine2 %+v", c)
			}
			c := h.calls(psrp.Write2)
			if len(c) != 1 || c[0].params[0].Text != "12" || c[0].params[1].Text != "0" || c[0].params[2].Text != "x" {
				t.Errorf("Write2 %+v", c)
			}
			if member(member(recs[1], "MessageData"), "ForegroundColor").Text != "Red" {
				t.Error("colour in record")
			}
		}},
		{"write-host no ui", "Write-Host 'hi'", false, func(t *testing.T, h *fakeHost) {
			if len(h.emitted(psrp.InformationRecord)) != 1 || len(h.lines()) != 0 {
				t.Error("want the record and no host call")
			}
		}},
		{"warning", "Write-Warning 'careful'", true, func(t *testing.T, h *fakeHost) {
			w := h.emitted(psrp.WarningRecord)
			if len(w) != 1 || w[0].Obj.ToString != "careful" || member(w[0], "InformationalRecord_Message").Text != "careful" ||
				w[0].Obj.TypeNames[1] != "System.Management.Automation.InformationalRecord" {
				t.Errorf("warning %+v", w)
			}
			if len(h.calls(psrp.WriteWarningLine)) != 1 {
				t.Error("WriteWarningLine")
			}
		}},
		{"verbose off", "Write-Verbose 'v'; Write-Debug 'd'", true, func(t *testing.T, h *fakeHost) {
			if len(h.emitted(psrp.VerboseRecord))+len(h.emitted(psrp.DebugRecord)) != 0 {
				t.Error("verbose/debug written with SilentlyContinue")
			}
		}},
		{"verbose on", "$VerbosePreference = 'Continue'; Write-Verbose 'v'; Write-Debug 'd' -Debug", true, func(t *testing.T, h *fakeHost) {
			if len(h.emitted(psrp.VerboseRecord)) != 1 || len(h.emitted(psrp.DebugRecord)) != 1 {
				t.Error("verbose/debug missing")
			}
			if len(h.calls(psrp.WriteVerboseLine)) != 1 || len(h.calls(psrp.WriteDebugLine)) != 1 {
				t.Error("host calls missing")
			}
		}},
		{"information", "Write-Information 'i'; $InformationPreference = 'Continue'; Write-Information 'j'", true, func(t *testing.T, h *fakeHost) {
			recs := h.emitted(psrp.InformationRecord)
			if len(recs) != 2 || member(recs[0], "MessageData").Text != "i" || member(recs[0], "Source").Text != "Write-Information" {
				t.Fatalf("records %+v", recs)
			}
			if got := h.lines(); len(got) != 1 || got[0] != "j" {
				t.Errorf("host lines %q", got)
			}
		}},
		{"progress", "Write-Progress -Activity 'Copy' -Status 'half' -PercentComplete 50 -Id 3", true, func(t *testing.T, h *fakeHost) {
			p := h.emitted(psrp.ProgressRecord)
			if len(p) != 1 || member(p[0], "Activity").Text != "Copy" || member(p[0], "PercentComplete").Text != "50" ||
				member(p[0], "ActivityId").Text != "3" || member(p[0], "ParentActivityId").Text != "-1" ||
				member(p[0], "Type").Obj.ToString != "Processing" {
				t.Fatalf("progress %+v", p)
			}
			c := h.calls(psrp.WriteProgress)
			if len(c) != 1 || c[0].params[0].Kind != clixml.Int64 || member(c[0].params[1], "StatusDescription").Text != "half" {
				t.Errorf("WriteProgress %+v", c)
			}
		}},
		{"window title", "$host.UI.RawUI.WindowTitle = 'x'; $host.UI.WriteLine('y')", true, func(t *testing.T, h *fakeHost) {
			if c := h.calls(psrp.SetWindowTitle); len(c) != 1 || c[0].params[0].Text != "x" {
				t.Errorf("SetWindowTitle %+v", c)
			}
			if got := h.lines(); len(got) != 1 || got[0] != "y" {
				t.Errorf("WriteLine %q", got)
			}
		}},
		{"exit-pssession", "Exit-PSSession", true, func(t *testing.T, h *fakeHost) {
			if len(h.calls(psrp.PopRunspace)) != 1 {
				t.Error("PopRunspace")
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := &fakeHost{ui: tc.ui}
			if st, r := testRunspace().Invoke(context.Background(), script(tc.script), nil, h); st != psrp.Completed {
				t.Fatalf("state %v %v", st, r.Obj)
			}
			tc.check(t, h)
		})
	}
}

func TestOutDefault(t *testing.T) {
	tests := []struct {
		name   string
		script string
		want   []string
	}{
		{"pscustomobject", "[pscustomobject]@{a=1; b='x'}", []string{"", "a b", "- -", "1 x", ""}},
		{"hashtable", "@{a=1; b='x'}", []string{"",
			"Name                           Value",
			"----                           -----",
			"a                              1",
			"b                              x", ""}},
		{"get-service", "Get-Service sshd, W32Time", []string{"",
			"Status   Name               DisplayName",
			"------   ----               -----------",
			"Running  sshd               OpenSSH SSH Server",
			"Running  W32Time            Windows Time", ""}},
		{"strings", "'a'; 2", []string{"a", "2"}},
		{"date", "Get-Date", []string{"", "Sunday, 22 November 2026 10:29:00", ""}},
		{"error merged", "Write-Error 'boom'; 'after'", []string{"Write-Error: boom", "after"}},
		{"not found merged", "nope", []string{"nope: The term 'nope' is not recognized as a name of a cmdlet, function, script file, or executable program.",
			"Check the spelling of the name, or if a path was included, verify that the path is correct and try again."}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := &fakeHost{ui: true, width: 80}
			if st, _ := testRunspace().Invoke(context.Background(), interactive(tc.script), nil, h); st != psrp.Completed {
				t.Fatalf("state %v", st)
			}
			if got := h.lines(); strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("lines\n%q\nwant\n%q", got, tc.want)
			}
			if len(h.emitted(psrp.ErrorRecord)) != 0 {
				t.Error("merged errors must not be sent as ERROR_RECORD")
			}
		})
	}
	// Without a UI Out-Default writes nothing.
	h := &fakeHost{}
	testRunspace().Invoke(context.Background(), interactive("'a'"), nil, h)
	if len(h.events) != 0 {
		t.Errorf("events without UI: %+v", h.events)
	}
	// Errors are written with WriteErrorLine.
	h = &fakeHost{ui: true}
	testRunspace().Invoke(context.Background(), interactive("Write-Error 'boom'"), nil, h)
	if c := h.calls(psrp.WriteErrorLine); len(c) != 1 || c[0].params[0].Text != "Write-Error: boom" {
		t.Errorf("WriteErrorLine %+v", c)
	}
}

func TestMergeToOutput(t *testing.T) {
	// Without Out-Default, merged errors arrive as PIPELINE_OUTPUT objects.
	h := &fakeHost{}
	testRunspace().Invoke(context.Background(), []Command{{Cmd: "Write-Error x", IsScript: true, MergeMyResult: 2, MergeToResult: 1}}, nil, h)
	out := outputs(h)
	if len(out) != 1 || !isErrorRecordValue(out[0]) || len(h.emitted(psrp.ErrorRecord)) != 0 {
		t.Fatalf("outputs %+v", out)
	}
}

func TestOutString(t *testing.T) {
	h := &fakeHost{}
	testRunspace().Invoke(context.Background(), []Command{
		{Cmd: "Get-Date", IsScript: true},
		{Cmd: "Out-String", Args: []Arg{{Name: "Stream", Value: cxBool(true)}, {Name: "Width", Value: cxI32(120)}}},
	}, nil, h)
	var got []string
	for _, v := range outputs(h) {
		got = append(got, v.Text)
	}
	if strings.Join(got, "|") != "|Sunday, 22 November 2026 10:29:00|" {
		t.Errorf("Out-String -Stream %q", got)
	}
	h = &fakeHost{}
	testRunspace().Invoke(context.Background(), script("1,2 | Out-String"), nil, h)
	if out := outputs(h); len(out) != 1 || out[0].Text != "1\n2\n" {
		t.Errorf("Out-String %+v", out)
	}
}

func TestScriptArguments(t *testing.T) {
	// Invoke-Command -ScriptBlock { param($a, $b) … } -ArgumentList 2, 3
	h := &fakeHost{}
	testRunspace().Invoke(context.Background(), []Command{{Cmd: "param($a, $b) $a * $b; $args.Count", IsScript: true,
		Args: []Arg{{Value: cxI32(2)}, {Value: cxI32(3)}, {Value: cxStr("extra")}}}}, nil, h)
	out := outputs(h)
	if len(out) != 2 || out[0].Text != "6" || out[1].Text != "1" {
		t.Fatalf("outputs %+v", out)
	}
	// UseLocalScope keeps the script's variables out of the session.
	rs := testRunspace()
	rs.Invoke(context.Background(), []Command{{Cmd: "$local = 1", IsScript: true, UseLocalScope: true}}, nil, &fakeHost{})
	h = &fakeHost{}
	rs.Invoke(context.Background(), script("$null -eq $local"), nil, h)
	if out := outputs(h); len(out) != 1 || out[0].Text != "true" {
		t.Fatalf("outputs %+v", out)
	}
}

// colorHost declares RawUI default colours.
type colorHost struct{ fakeHost }

func (*colorHost) DefaultColors() (int, int, bool) { return 7, 0, true }

func TestWriteHostWithRawUIColors(t *testing.T) {
	h := &colorHost{fakeHost{ui: true}}
	testRunspace().Invoke(context.Background(), script("Write-Host 'x'"), nil, h)
	c := h.calls(psrp.WriteLine3)
	if len(c) != 1 || c[0].params[0].Text != "7" || c[0].params[1].Text != "0" || c[0].params[2].Text != "x" {
		t.Fatalf("WriteLine3 %+v", h.events)
	}
	md := member(h.emitted(psrp.InformationRecord)[0], "MessageData")
	if member(md, "ForegroundColor").Text != "Gray" || member(md, "BackgroundColor").Text != "Black" {
		t.Errorf("MessageData %+v", md.Obj.Props)
	}
}

func TestSelectFirstStopsUpstream(t *testing.T) {
	h := &fakeHost{ui: true}
	testRunspace().Invoke(context.Background(), script("1..5 | ForEach-Object { Write-Host \"saw $_\"; $_ } | Select-Object -First 2; 'next'"), nil, h)
	if got := strings.Join(h.lines(), ","); got != "saw 1,saw 2" {
		t.Errorf("upstream ran on: %s", got)
	}
	if out := outputs(h); len(out) != 3 || out[2].Text != "next" {
		t.Errorf("outputs %+v", out)
	}
}

func TestOutDefaultFlushesBeforePrompt(t *testing.T) {
	var seen []string
	h := &fakeHost{ui: true}
	h.answer = func(context.Context, psrp.HostMethod, []clixml.Value) (clixml.Value, error) {
		seen = h.lines()
		return cxStr("ok"), nil
	}
	testRunspace().Invoke(context.Background(), interactive("[pscustomobject]@{a=1}; $null = Read-Host; [pscustomobject]@{a=22}"), nil, h)
	if got := strings.Join(seen, "|"); got != "|a|-|1" {
		t.Errorf("before the prompt: %q", got)
	}
	if got := strings.Join(h.lines(), "|"); got != "|a|-|1|…|" {
		t.Errorf("all lines: %q", got)
	}
}

func TestTopLevelCommandNotFound(t *testing.T) {
	h := &fakeHost{}
	state, reason := testRunspace().Invoke(context.Background(), []Command{{Cmd: "Get-Nothing"}}, nil, h)
	if state != psrp.Failed || member(reason, "FullyQualifiedErrorId").Text != "CommandNotFoundException" {
		t.Fatalf("state %v", state)
	}
}

func TestBindingErrors(t *testing.T) {
	h := &fakeHost{}
	testRunspace().Invoke(context.Background(), script("Write-Host -Bogus 1; 'after'"), nil, h)
	errs := h.emitted(psrp.ErrorRecord)
	if len(errs) != 1 || member(errs[0], "FullyQualifiedErrorId").Text != "NamedParameterNotFound,Microsoft.PowerShell.Commands.WriteHostCommand" {
		t.Fatalf("errors %+v", errs)
	}
	if got := conciseView(errs[0]); got[0] != "Write-Host: A parameter cannot be found that matches parameter name 'Bogus'." {
		t.Errorf("ConciseView %q", got)
	}
	if len(outputs(h)) != 1 {
		t.Error("script should continue")
	}
}

func TestTabExpansion(t *testing.T) {
	tests := []struct {
		input      string
		wantFirst  string
		wantType   string
		start, len int
	}{
		{"Get-Da", "Get-Date", "Command", 0, 6},
		{"Read-Host -Pr", "-Prompt", "ParameterName", 10, 3},
		{"$PSVer", "$PSVersionTable", "Variable", 0, 6},
		{"1 | ForEach-O", "ForEach-Object", "Command", 4, 9},
	}
	for _, tc := range tests {
		t.Run(tc.input, func(t *testing.T) {
			h := &fakeHost{}
			testRunspace().Invoke(context.Background(), []Command{{Cmd: "TabExpansion2",
				Args: []Arg{{Name: "inputScript", Value: cxStr(tc.input)}, {Name: "cursorColumn", Value: cxI32(int32(len(tc.input)))}}}}, nil, h)
			out := outputs(h)
			if len(out) != 1 || out[0].Obj.TypeNames[0] != "System.Management.Automation.CommandCompletion" {
				t.Fatalf("output %+v", out)
			}
			cc := out[0]
			if member(cc, "ReplacementIndex").Text != itoa(tc.start) || member(cc, "ReplacementLength").Text != itoa(tc.len) {
				t.Errorf("replacement %s/%s", member(cc, "ReplacementIndex").Text, member(cc, "ReplacementLength").Text)
			}
			ms := member(cc, "CompletionMatches").Obj.Items
			if len(ms) == 0 || member(ms[0], "CompletionText").Text != tc.wantFirst || member(ms[0], "ResultType").Obj.ToString != tc.wantType {
				t.Errorf("matches %+v", ms)
			}
		})
	}
}

// Pipelines running at once on one runspace share its global scope
// safely (run it with -race): each completes with one value that one of
// them assigned, and the scope holds what they all left.
func TestConcurrentInvokes(t *testing.T) {
	rs := testRunspace()
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			h := &fakeHost{}
			st, reason := rs.Invoke(context.Background(), script("$v = "+itoa(i)+"; foreach ($j in 1..50) { $w = $j }; $v"), nil, h)
			out := outputs(h)
			if st != psrp.Completed || len(out) != 1 || out[0].Kind != clixml.Int32 {
				errs <- fmt.Sprintf("invoke %d: state %v (%+v), outputs %+v", i, st, reason, out)
				return
			}
			if n, err := strconv.Atoi(out[0].Text); err != nil || n < 0 || n > 7 {
				errs <- fmt.Sprintf("invoke %d: $v = %q, not a value any invoke assigned", i, out[0].Text)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	h := &fakeHost{}
	if st, _ := rs.Invoke(context.Background(), script("$w"), nil, h); st != psrp.Completed || len(outputs(h)) != 1 || outputs(h)[0].Text != "50" {
		t.Errorf("$w after the invokes: %v %+v, want 50", st, outputs(h))
	}
}

func TestSetShouldExit(t *testing.T) {
	for _, s := range []string{"$host.SetShouldExit(3)", "'a'; exit 3; 'b'"} {
		h := &fakeHost{}
		if st, _ := testRunspace().Invoke(context.Background(), script(s), nil, h); st != psrp.Completed {
			t.Fatalf("%s: state %v", s, st)
		}
		c := h.calls(psrp.SetShouldExit)
		if len(c) != 1 || c[0].params[0].Kind != clixml.Int32 || c[0].params[0].Text != "3" {
			t.Fatalf("%s: SetShouldExit %+v", s, c)
		}
	}
}

func TestStatementErrorContinues(t *testing.T) {
	h := &fakeHost{}
	testRunspace().Invoke(context.Background(), script("1/0; 'after'"), nil, h)
	errs := h.emitted(psrp.ErrorRecord)
	if len(errs) != 1 || errs[0].Obj.ToString != "Attempted to divide by zero." {
		t.Fatalf("errors %+v", errs)
	}
	if got := conciseView(errs[0]); got[0] != "RuntimeException: Attempted to divide by zero." {
		t.Errorf("ConciseView %q", got)
	}
	if len(outputs(h)) != 1 {
		t.Error("script should continue")
	}
}
