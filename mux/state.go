package mux

import "fmt"

// State is a session's state, PowerShell's RunspaceState as
// Get-PSSession shows it.
type State int

// The states, in PowerShell's names.
const (
	Opening State = iota
	Opened
	Disconnected
	Broken
	Closing
	Closed
)

var stateNames = [...]string{"Opening", "Opened", "Disconnected", "Broken", "Closing", "Closed"}

// String returns PowerShell's name of the state.
func (s State) String() string {
	if s < 0 || int(s) >= len(stateNames) {
		return fmt.Sprintf("State(%d)", int(s))
	}
	return stateNames[s]
}

// MarshalText writes the state's name (the State column of ls).
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a state's name.
func (s *State) UnmarshalText(b []byte) error {
	for i, n := range stateNames {
		if n == string(b) {
			*s = State(i)
			return nil
		}
	}
	return fmt.Errorf("mux: unknown session state %q", b)
}

// change is what happens to a session; the transition table says what
// each change does in each state.
type change int

const (
	chOpen       change = iota // an open (or reconnect) starts
	chOpenOK                   // the open succeeded
	chOpenFail                 // the open failed
	chLost                     // the connection ended on its own
	chDisconnect               // the connection was put aside, to be reconnected
	chClose                    // the session is being closed
	chClosed                   // closing finished
)

var changeNames = [...]string{"open", "opened", "open failed", "connection lost", "disconnect", "close", "closed"}

func (c change) String() string { return changeNames[c] }

// transitions is the session's state machine: transitions[from][change]
// is the state after change; a change missing from a row is refused.
var transitions = map[State]map[change]State{
	Opening:      {chOpenOK: Opened, chOpenFail: Broken, chClose: Closing},
	Opened:       {chOpen: Opening, chLost: Broken, chDisconnect: Disconnected, chClose: Closing},
	Disconnected: {chOpen: Opening, chLost: Broken, chClose: Closing},
	Broken:       {chOpen: Opening, chClose: Closing},
	Closing:      {chClosed: Closed},
	Closed:       {},
}

// StateError says a change is not possible in a state: a session being
// closed cannot be reopened, a closed one cannot be closed again.
type StateError struct {
	From   State
	Change string
}

func (e *StateError) Error() string {
	return fmt.Sprintf("mux: a session that is %s cannot %s", e.From, e.Change)
}

// next returns the state after c in from, without side effects.
func next(from State, c change) (State, error) {
	to, ok := transitions[from][c]
	if !ok {
		return from, &StateError{From: from, Change: c.String()}
	}
	return to, nil
}
