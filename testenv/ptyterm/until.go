package ptyterm

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"time"
)

// Until runs argv with env in a cols × rows terminal until what it
// writes holds marker, and returns how long that took from its start.
// It then hangs up the terminal, as closing a terminal window does, and
// waits for the command (killed if it is still there 10 s later).
func Until(argv, env []string, cols, rows int, marker []byte, timeout time.Duration) (time.Duration, error) {
	master, slave, err := Open(cols, rows)
	if err != nil {
		return 0, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = Attr()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		master.Close()
		slave.Close()
		return 0, fmt.Errorf("ptyterm: %w", err)
	}
	slave.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	_ = master.SetReadDeadline(start.Add(timeout))
	buf := make([]byte, 64<<10)
	var tail, head []byte // the end of what came (a marker across reads), and its start (for the error)
	took := time.Duration(0)
	for took == 0 {
		n, err := master.Read(buf)
		if len(head) < 2048 {
			head = append(head, buf[:min(n, 2048)]...)
		}
		tail = append(tail, buf[:n]...)
		if bytes.Contains(tail, marker) {
			took = time.Since(start)
			break
		}
		tail = tail[max(0, len(tail)-len(marker)):]
		if err != nil {
			master.Close()
			_ = cmd.Process.Kill()
			<-exited
			if errors.Is(err, io.EOF) {
				err = errors.New("the terminal closed")
			}
			return 0, fmt.Errorf("ptyterm: %q wrote no %q (%v); it began %q", argv, marker, err, head)
		}
	}
	_ = master.SetReadDeadline(time.Time{})
	go func() { _, _ = io.Copy(io.Discard, master) }()
	master.Close() // the hang-up
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
		return took, fmt.Errorf("ptyterm: %q did not exit on a hang-up; killed", argv)
	}
	return took, nil
}
