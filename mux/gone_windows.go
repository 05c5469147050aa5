package mux

// ProcessGone reports the server as gone once its connection ended:
// kill-server does not wait for the process here.
func ProcessGone(int) bool { return true }
