package psrp

import "github.com/google/uuid"

// PoolWithPipelines returns an Opened pool (protocol 2.3) on which the
// given pipelines are running, without the handshake: for tests that
// feed a pipeline's stream.
func PoolWithPipelines(pids ...uuid.UUID) *ClientPool {
	p := NewClientPool()
	p.State = PoolOpened
	p.Negotiated = "2.3"
	for _, g := range pids {
		p.pipes[g] = &clientPipe{state: Running}
		p.tx[g] = &txQueue{ready: true}
	}
	return p
}
