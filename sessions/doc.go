// Package sessions is the client side of a PowerShell remoting session
// over OutOfProc: a Conn opens a runspace pool on a Transport (an SSH
// channel to the powershell subsystem, or a local pwsh -s process),
// runs pipelines on it (Invoke), relays host calls to a Handler, stops
// them (Signal) and notices a transport that breaks (BrokenError),
// killing what it started when it ends.
package sessions
