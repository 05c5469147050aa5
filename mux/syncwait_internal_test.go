package mux

import (
	"context"
	"testing"
	"time"
)

// PowerShell lets a synchronous command wait 4 minutes for a busy
// session (SPEC S5); a server configured with no SyncWait does the same.
func TestSyncWaitDefaultIsFourMinutes(t *testing.T) {
	if DefaultSyncWait != 4*time.Minute {
		t.Fatalf("DefaultSyncWait = %v, want 4m", DefaultSyncWait)
	}
	srv, err := NewServer(Config{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	if srv.cfg.SyncWait != 4*time.Minute {
		t.Fatalf("a server's SyncWait defaults to %v, want 4m", srv.cfg.SyncWait)
	}
}
