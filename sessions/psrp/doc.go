// Package psrp implements MS-PSRP as the OutOfProc transport carries it:
// the packets (Data, Command, Signal, Close and their acks), fragments
// and their reassembly with caps on what an unfinished message may
// hold, one type per message, the client's runspace pool and pipeline
// state machines (no IO: they take what was read and say what to
// write), host method calls, and the SecureString session key exchange.
package psrp
