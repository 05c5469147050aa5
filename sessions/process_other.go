//go:build !unix

package sessions

import (
	"os"
	"syscall"
)

func groupAttr() *syscall.SysProcAttr { return nil }

func killGroup(p *os.Process) error {
	if p == nil {
		return nil
	}
	return p.Kill()
}
