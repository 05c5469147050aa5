package cli_test

import (
	"bytes"
	"errors"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/psmux/psmux/internal/e2e"
)

// Ctrl-C (SIGINT to the process group, as a terminal sends it) during
// `psmux exec` stops the command: exit 4, no error text, and the session
// stays Opened and Available for the next one.
func TestExecCtrlCKeepsSessionOpened(t *testing.T) {
	m := e2e.NewMuxEnv(t)
	m.Must("new", "-n", "S", "--local", "--pwsh", e2e.PwshsimBin()+" -s")
	cmd := m.Cmd("exec", "-t", "S", "--", "Write-Output started; Start-Sleep 30")
	errb := e2e.StartUntilStarted(t, cmd)
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGINT) // psmux leads its group (reap.Attr)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != e2e.ExitStopped || strings.Contains(errb.String(), "psmux:") {
		t.Fatalf("after SIGINT to the process group: %v, stderr %q; want exit %d and no error text", err, errb.String(), e2e.ExitStopped)
	}
	if rows := m.Ls(); len(rows) != 1 || rows[0].State != "Opened" || rows[0].Availability != "Available" {
		t.Fatalf("after Ctrl-C: %+v; want S Opened and Available", rows)
	}
	if r := m.Must("exec", "-t", "S", "--", "6*7"); r.Stdout != "42\n" {
		t.Fatalf("the next command: %q", r.Stdout)
	}
}

// Ctrl-C while connecting (a host that accepts TCP and never speaks SSH)
// says "interrupted" and exits 4, never "context canceled": for invoke,
// which connects itself, and for new, whose server gives up the open and
// keeps no session.
func TestCtrlCWhileConnectingSaysInterrupted(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 4)
	go func() { // ends when ln closes
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	m := e2e.NewMuxEnv(t)
	m.Must("start-server")
	for _, args := range [][]string{
		{"invoke", "-p", port, "127.0.0.1", "--", "1"},
		{"new", "-n", "deaf", "-p", port, "127.0.0.1"},
	} {
		t.Run(args[0], func(t *testing.T) {
			cmd := m.Cmd(args...)
			var errb bytes.Buffer
			cmd.Stderr = &errb
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			select {
			case c := <-accepted: // connecting: the TCP handshake is done, SSH's never starts
				defer c.Close()
			case <-time.After(time.Minute):
				t.Fatalf("%s never connected; stderr %q", args[0], errb.String())
			}
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGINT) // psmux leads its group (reap.Attr)
			err := cmd.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != e2e.ExitStopped || !strings.Contains(errb.String(), "interrupted") ||
				strings.Contains(errb.String(), "context canceled") {
				t.Fatalf("Ctrl-C while connecting: %v, stderr %q; want exit %d saying interrupted", err, errb.String(), e2e.ExitStopped)
			}
		})
	}
	for deadline := time.Now().Add(time.Minute); len(m.Ls()) != 0; time.Sleep(20 * time.Millisecond) { // the server drops the open it gave up
		if time.Now().After(deadline) {
			t.Fatalf("after new was interrupted the server still lists %+v", m.Ls())
		}
	}
}
