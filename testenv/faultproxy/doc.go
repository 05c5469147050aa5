// Package faultproxy is a loopback TCP proxy that injects network faults
// between a client and a server, for the reliability tests of
// bench-reliability.md §4: added one-way latency, a bandwidth cap, a reset
// (RST) after N bytes or on demand, a silent blackhole that leaves
// connections half-open, and stalling one direction.
//
// Each accepted connection is forwarded to the target by two pipelines,
// one per direction. A reader goroutine reads from one side, stamps each
// chunk with the time it may leave (now + delay) and queues it; a writer
// goroutine releases chunks in order, pacing them to the bandwidth cap and
// holding them while the direction is stalled. The queue is bounded, so a
// slow or stalled direction back-pressures the sender the way a full TCP
// window does. Knobs take effect while connections are live; a delay
// applies to bytes read after it was set.
//
// Every goroutine belongs to the [Proxy], and [Proxy.Close] waits for all
// of them.
package faultproxy
