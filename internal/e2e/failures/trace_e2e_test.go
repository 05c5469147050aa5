package failures_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/psmux/psmux/internal/e2e"
	"github.com/psmux/psmux/sessions/trace"
)

// TestServerTraceMasksSecrets runs a live server with --trace against
// pwshsim and real pwsh: each session gets DIR/<name>.oop, `psmux debug
// decode` reads it without complaint, and the secrets typed for
// Read-Host -AsSecureString and Get-Credential and the literal given to
// ConvertTo-SecureString -AsPlainText appear nowhere in it, in any form.
func TestServerTraceMasksSecrets(t *testing.T) {
	for name, server := range map[string]string{"pwshsim": e2e.PwshsimBin() + " -s", "pwsh": e2e.RealPwsh(t)} {
		if server == "" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			m := e2e.NewMuxEnv(t)
			dir := t.TempDir()
			e2e.StartTracingServer(t, m, dir)
			m.Must("new", "-n", "tr1", "--local", "--pwsh", server)

			secrets := []string{"rh-S3cret-typed", "gc-P4ssw0rd-typed"}
			script := `$s = Read-Host -AsSecureString 'pin'; "len=$($s.Length)"; $s; $c = Get-Credential; "user=$($c.UserName) plen=$($c.Password.Length)"; $c`
			if name == "pwsh" {
				secrets = append(secrets, "cv-Pl4intext-given")
				script += `; $v = ConvertTo-SecureString 'cv-Pl4intext-given' -AsPlainText -Force; "vlen=$($v.Length)"; $v`
			}
			out := e2e.ExecWithAnswers(t, m, "tr1", script, secrets[0], secrets[1])
			// pwshsim's SecureString has no Length; real pwsh proves the
			// answers arrived whole.
			if name == "pwsh" {
				for _, want := range []string{"len=15", "user=alice plen=17", "vlen=18"} {
					if !strings.Contains(out, want) {
						t.Fatalf("the answers did not reach the session: want %q in\n%s", want, out)
					}
				}
			} else if !strings.Contains(out, "user=alice") {
				t.Fatalf("the credential did not reach the session:\n%s", out)
			}
			m.Must("rm", "-t", "tr1")

			path := filepath.Join(dir, "tr1.oop")
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("no trace for the session: %v", err)
			}
			e2e.CheckNoSecret(t, data, secrets)

			dec := m.Cmd("debug", "decode")
			dec.Stdin = bytes.NewReader(data)
			var decOut, decErr bytes.Buffer
			dec.Stdout, dec.Stderr = &decOut, &decErr
			if err := dec.Run(); err != nil {
				t.Fatalf("debug decode: %v\n%s", err, decErr.String())
			}
			types := map[string]int{}
			masked := 0
			for _, l := range strings.Split(strings.TrimSpace(decOut.String()), "\n") {
				var rec struct {
					Direction, Type string
					Data            any
				}
				if err := json.Unmarshal([]byte(l), &rec); err != nil {
					t.Fatalf("decode output %q: %v", l, err)
				}
				types[rec.Direction+" "+rec.Type]++
				masked += e2e.CountSecureStrings(t, rec.Data)
				if rec.Type == "ENCRYPTED_SESSION_KEY" && !strings.Contains(l, `"EncryptedSessionKey":"`+trace.Mask+`"`) {
					t.Fatalf("the session key is not masked: %s", l)
				}
			}
			for _, want := range []string{"ClientToServer SESSION_CAPABILITY", "ServerToClient SESSION_CAPABILITY", "ClientToServer CREATE_PIPELINE",
				"ServerToClient PIPELINE_HOST_CALL", "ClientToServer PIPELINE_HOST_RESPONSE", "ServerToClient PIPELINE_STATE"} {
				if types[want] == 0 {
					t.Fatalf("the trace has no %s message: %v", want, types)
				}
			}
			// The two answers at least, each masked.
			if masked < 2 {
				t.Fatalf("%d masked SecureStrings in the trace, want at least 2:\n%s", masked, decOut.String())
			}
		})
	}
}
