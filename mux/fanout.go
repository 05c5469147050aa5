package mux

import "sync"

// FanOut runs f(0) … f(n-1), at most throttle at once (at least one),
// and returns when every call has returned: the one fan-out of exec,
// invoke and Invoke-Command over several sessions or hosts.
func FanOut(n, throttle int, f func(i int)) {
	sem := make(chan struct{}, max(throttle, 1))
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			f(i)
		}()
	}
	wg.Wait()
}
