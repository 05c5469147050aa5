package mux_test

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/psmux/psmux/mux"
	req "github.com/psmux/psmux/testenv/require"
)

// A process whose first thread has exited while another still runs is
// not gone (its files are still open); it is once the last thread ends.
func TestProcessGoneWaitsForEveryThread(t *testing.T) {
	py := req.Tool(t, req.Python, "python3", "apt-get install python3")
	// the second thread waits for stdin to close; the first calls the
	// exit system call, which ends only itself
	cmd := exec.Command(py, "-c", `
import ctypes, os, sys, threading
def waiter():
    sys.stdin.read()
    os._exit(0)
threading.Thread(target=waiter).start()
ctypes.CDLL(None).syscall(60, 0)
`)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	pid := cmd.Process.Pid
	deadline := time.Now().Add(time.Minute)
	for !zombie(pid) { // nothing to wait on in another process: poll
		if time.Now().After(deadline) {
			t.Fatal("the first thread never exited")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if mux.ProcessGone(pid) {
		t.Fatal("ProcessGone while a thread of the process still runs")
	}
	in.Close()
	cmd.Wait()
	if !mux.ProcessGone(pid) {
		t.Fatal("not ProcessGone after the process was reaped")
	}
}

func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && strings.HasPrefix(s[i+1:], " Z")
}
