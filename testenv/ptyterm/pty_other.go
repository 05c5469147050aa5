//go:build !linux

package ptyterm

import (
	"errors"
	"os"
	"syscall"
)

func Open(cols, rows int) (master, slave *os.File, err error) {
	return nil, nil, errors.New("ptyterm: pseudo-terminals are only opened on Linux")
}

func Attr() *syscall.SysProcAttr { return nil }
