package mux

// processGone reports the server as gone once its connection ended:
// kill-server does not wait for the process here.
func processGone(int) bool { return true }
