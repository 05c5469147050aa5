package main

import (
	"fmt"
	"os"
	"testing"
)

// harness lets benchreport, a plain program, use the testenv helpers that
// take a testing.TB (opensshd.Start, opensshd.BuildPwshsim). It implements
// the methods those helpers call; the embedded interface is nil, so any
// other method would panic, which is the point: a helper that starts
// calling one must be looked at here.
//
// Fatal and Skip do not return: they panic with a harnessStop, which
// [harness.run] turns back into an error.
type harness struct {
	testing.TB
	dir      string // parent of every TempDir, removed by close
	cleanups []func()
	failed   bool
	skipped  bool
}

// harnessStop is the panic value of Fatal, FailNow and Skip.
type harnessStop struct{ msg string }

func newHarness() (*harness, error) {
	dir, err := os.MkdirTemp("", "psmux-benchreport-ssh-")
	if err != nil {
		return nil, fmt.Errorf("benchreport: %w", err)
	}
	return &harness{dir: dir}, nil
}

// run calls f and returns the Fatal or Skip message it stopped with, as
// an error; skipped says it was a Skip.
func (h *harness) run(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s, ok := r.(harnessStop)
			if !ok {
				panic(r)
			}
			err = fmt.Errorf("benchreport: %s", s.msg)
		}
	}()
	f()
	return nil
}

// close runs the cleanups, last registered first, and removes the
// temporary directories.
func (h *harness) close() {
	for i := len(h.cleanups) - 1; i >= 0; i-- {
		h.cleanups[i]()
	}
	h.cleanups = nil
	_ = os.RemoveAll(h.dir)
}

func (h *harness) Helper()          {}
func (h *harness) Name() string     { return "benchreport" }
func (h *harness) Cleanup(f func()) { h.cleanups = append(h.cleanups, f) }
func (h *harness) Failed() bool     { return h.failed }
func (h *harness) Skipped() bool    { return h.skipped }
func (h *harness) Fail()            { h.failed = true }

func (h *harness) TempDir() string {
	d, err := os.MkdirTemp(h.dir, "t")
	if err != nil {
		h.Fatalf("TempDir: %v", err)
	}
	return d
}

func (h *harness) Log(args ...any)                 { progress("%s", fmt.Sprint(args...)) }
func (h *harness) Logf(format string, args ...any) { progress(format, args...) }

func (h *harness) Error(args ...any) {
	h.failed = true
	h.Log(args...)
}

func (h *harness) Errorf(format string, args ...any) {
	h.failed = true
	h.Logf(format, args...)
}

func (h *harness) FailNow() {
	h.failed = true
	panic(harnessStop{"failed"})
}

func (h *harness) Fatal(args ...any) {
	h.failed = true
	panic(harnessStop{fmt.Sprint(args...)})
}

func (h *harness) Fatalf(format string, args ...any) {
	h.failed = true
	panic(harnessStop{fmt.Sprintf(format, args...)})
}

func (h *harness) SkipNow() {
	h.skipped = true
	panic(harnessStop{"skipped"})
}

func (h *harness) Skip(args ...any) {
	h.skipped = true
	panic(harnessStop{fmt.Sprint(args...)})
}

func (h *harness) Skipf(format string, args ...any) {
	h.skipped = true
	panic(harnessStop{fmt.Sprintf(format, args...)})
}
