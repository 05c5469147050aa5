package server_test

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/psmux/psmux/internal/e2e"
)

// groupMembers lists the live processes of process group pgid.
func groupMembers(pgid int) []int {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []int
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		// after the command: state ppid pgrp …
		fields := strings.Fields(s[i+1:])
		if len(fields) < 3 || fields[0] == "Z" {
			continue
		}
		if g, _ := strconv.Atoi(fields[2]); g == pgid {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(f)))
			out = append(out, pid)
		}
	}
	return out
}

// waitGroupGone waits (bounded) until process group pgid has no live
// member and returns how long that took.
func waitGroupGone(t *testing.T, pgid int, start time.Time) time.Duration {
	t.Helper()
	for deadline := start.Add(60 * time.Second); ; {
		left := groupMembers(pgid)
		if len(left) == 0 {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes %v of the session's group %d still run 60 s after it ended", left, pgid)
		}
		time.Sleep(20 * time.Millisecond) // polling /proc: nothing to wait on
	}
}

// With pwsh behind a launcher that runs it as a child (the dotnet global
// tool's pwsh does), ending its session while pwsh is in the middle of a
// 70 MB output (rm, kill-server, SIGTERM to the server) ends
// the command and leaves no process of the session: the launcher and
// the real pwsh both go, and nothing waits on the pipes pwsh held;
// kill-server returns only when the server has exited.
func TestLauncherPwshGoneWithItsSession(t *testing.T) {
	t.Setenv("PSMUX_PWSH_LAUNCHER", "child")
	pwsh := e2e.RealPwsh(t)
	if pwsh == "" {
		t.Skip("no pwsh (PSMUX_REQUIRE=pwsh makes this a failure)")
	}
	for _, end := range []string{"broken", "rm", "kill-server", "SIGTERM"} {
		t.Run(end, func(t *testing.T) {
			m := e2e.NewMuxEnv(t)
			script := `"started"; 1..2000000 | ForEach-Object { 'x' * 34 }`
			if end == "broken" {
				// psmux refuses the 2 MB object and breaks the session
				// while pwsh still has megabytes to write
				m.Must("new", "-n", "a", "--local", "--pwsh", pwsh, "--max-received-object-size", "1")
				script = `"started"; 1..40000 | ForEach-Object { 'x' * 34 }; 'y' * 2MB; 1..2000000 | ForEach-Object { 'x' * 34 }`
			} else {
				m.Must("new", "-n", "a", "--local", "--pwsh", pwsh)
			}
			server := m.ServerPID()
			kids := e2e.ChildPIDs(t, server)
			if len(kids) != 1 {
				t.Fatalf("the server has children %v, want the one launcher", kids)
			}
			pgid := kids[0]
			if n := len(groupMembers(pgid)); n < 2 {
				t.Fatalf("the session's group %d has %d processes, want the launcher and its pwsh", pgid, n)
			}
			// ~70 MB of lines, read by an exec client
			cmd := m.Cmd("exec", "-t", "a", "--", script)
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(stdout)
			if line, err := br.ReadString('\n'); strings.TrimSpace(line) != "started" {
				t.Fatalf("first line %q, %v", line, err)
			}
			copied := make(chan int64, 1)
			flowing := make(chan struct{})
			go func() {
				n, _ := io.CopyN(io.Discard, br, 1<<20)
				close(flowing)
				m, _ := io.Copy(io.Discard, br)
				copied <- n + m
			}()
			t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
			select {
			case <-flowing:
			case <-time.After(2 * time.Minute):
				t.Fatal("less than 1 MB of output after 2 minutes")
			}
			start := time.Now()
			switch end {
			case "broken":
				exited := make(chan error, 1)
				go func() { exited <- cmd.Wait() }()
				select {
				case <-exited:
				case <-time.After(time.Minute):
					t.Fatalf("exec still runs a minute after its session broke:\n%s", m.Log())
				}
				if code := cmd.ProcessState.ExitCode(); code != e2e.ExitConnect {
					t.Fatalf("exec of a session that broke: exit %d, want %d", code, e2e.ExitConnect)
				}
			case "rm":
				m.Must("rm", "-t", "a")
			case "kill-server":
				m.Must("kill-server")
				if !e2e.Gone(server) {
					t.Fatalf("kill-server returned while the server (pid %d) still runs", server)
				}
			case "SIGTERM":
				if err := syscall.Kill(server, syscall.SIGTERM); err != nil {
					t.Fatal(err)
				}
				e2e.WaitGone(t, server)
			}
			took := waitGroupGone(t, pgid, start)
			t.Logf("%s: the session's launcher and pwsh gone %v after it began", end, took.Round(time.Millisecond))
			t.Logf("the exec client had read %d bytes", <-copied)
			if end == "rm" {
				if ls := m.Ls(); len(ls) != 0 {
					t.Fatalf("after rm the server lists %v", ls)
				}
			}
		})
	}
}
