package pwshsim

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/psmux/psmux/testenv/transcripts"
	"github.com/psmux/psmux/testenv/transcripts/record"
)

// pipeTransport runs a Server in process behind a sessions.Transport.
// TestReplayAnswersAsPwshDid drives pwshsim through every recorded
// scenario with the recorder's own client and answers, and checks that
// each pipeline that is not Live got exactly the messages real pwsh
// sent in the recording (types and bodies, in order, with the waits for
// host responses and the Signal where pwsh had them).
func TestReplayAnswersAsPwshDid(t *testing.T) {
	replayed := 0
	for _, sc := range transcripts.Scenarios {
		t.Run(sc.Name, func(t *testing.T) {
			want, err := transcripts.Transcript(sc.Name)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var got bytes.Buffer
			if err := record.Run(ctx, StartPipe(ServerOptions{Protocol: "2.4"}), sc, &got, nil); err != nil {
				t.Fatal(err)
			}
			live := map[replayKey]bool{}
			for _, st := range sc.Steps {
				live[replayKey{st.Script, st.Interactive}] = st.Live
			}
			pw, sim := parseTranscript(want), parseTranscript(got.Bytes())
			for k, wevs := range pw {
				if live[k] {
					continue
				}
				gevs := sim[k]
				if len(gevs) != len(wevs) {
					t.Fatalf("%q: pwshsim sent %d events, pwsh %d", k.script, len(gevs), len(wevs))
				}
				for i := range wevs {
					w, g := wevs[i], gevs[i]
					if w.t != g.t || w.awaitReply != g.awaitReply || w.awaitStop != g.awaitStop || !bytes.Equal(w.body, g.body) {
						t.Fatalf("%q: event %d differs:\npwshsim %v %.300s\npwsh    %v %.300s", k.script, i, g.t, g.body, w.t, w.body)
					}
				}
				replayed++
			}
		})
	}
	if replayed < 40 {
		t.Fatalf("only %d pipelines replayed", replayed)
	}
}
