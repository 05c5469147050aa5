//go:build !unix

package main

import "time"

// cpuTime is not measured on this platform.
func cpuTime() time.Duration { return 0 }

// childCPUTime is not measured on this platform.
func childCPUTime() time.Duration { return 0 }
