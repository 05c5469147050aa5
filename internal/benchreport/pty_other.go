//go:build !linux

package main

import (
	"errors"
	"os"
	"syscall"
)

func openPTY(cols, rows int) (master, slave *os.File, err error) {
	return nil, nil, errors.New("benchreport: pseudo-terminals are only opened on Linux")
}

func ttyAttr() *syscall.SysProcAttr { return nil }
