package mux

import (
	"sync"
	"testing"
)

// FanOut calls every index once and never more than throttle at once.
func TestFanOutThrottles(t *testing.T) {
	for _, throttle := range []int{0, 1, 3, 100} {
		var mu sync.Mutex
		running, peak := 0, 0
		seen := map[int]int{}
		FanOut(20, throttle, func(i int) {
			mu.Lock()
			running++
			peak = max(peak, running)
			seen[i]++
			mu.Unlock()
			for range 1000 { // a little work, so calls overlap when allowed
				_ = make([]byte, 64)
			}
			mu.Lock()
			running--
			mu.Unlock()
		})
		if want := max(throttle, 1); peak > want {
			t.Errorf("throttle %d: %d calls at once", throttle, peak)
		}
		if len(seen) != 20 {
			t.Errorf("throttle %d: %d of 20 indexes called", throttle, len(seen))
		}
		for i, n := range seen {
			if n != 1 {
				t.Errorf("throttle %d: index %d called %d times", throttle, i, n)
			}
		}
	}
}
