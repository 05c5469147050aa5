package mux

import (
	"errors"
	"testing"
)

func TestTransitions(t *testing.T) {
	for _, c := range []struct {
		from State
		ch   change
		to   State // -1: refused
	}{
		{Opening, chOpenOK, Opened},
		{Opening, chOpenFail, Broken},
		{Opening, chClose, Closing},
		{Opening, chLost, -1},
		{Opened, chLost, Broken},
		{Opened, chOpen, Opening}, // reconnect
		{Opened, chDisconnect, Disconnected},
		{Opened, chClose, Closing},
		{Opened, chOpenOK, -1},
		{Disconnected, chOpen, Opening},
		{Broken, chOpen, Opening},
		{Broken, chLost, -1},
		{Broken, chClose, Closing},
		{Closing, chClosed, Closed},
		{Closing, chOpen, -1}, // a session being closed is never reopened
		{Closing, chOpenOK, -1},
		{Closing, chClose, -1},
		{Closed, chOpen, -1},
		{Closed, chClose, -1},
		{Closed, chClosed, -1},
	} {
		got, err := next(c.from, c.ch)
		if c.to < 0 {
			var se *StateError
			if !errors.As(err, &se) || got != c.from {
				t.Errorf("%s + %s = %s, %v; want refused with a StateError", c.from, c.ch, got, err)
			}
			continue
		}
		if err != nil || got != c.to {
			t.Errorf("%s + %s = %s, %v; want %s", c.from, c.ch, got, err, c.to)
		}
	}
	// every state has a row, and only Closed is final
	for s := Opening; s <= Closed; s++ {
		row, ok := transitions[s]
		if !ok || (len(row) == 0) != (s == Closed) {
			t.Errorf("state %s: row %v", s, row)
		}
	}
}

func TestStateText(t *testing.T) {
	for s := Opening; s <= Closed; s++ {
		b, _ := s.MarshalText()
		var back State
		if err := back.UnmarshalText(b); err != nil || back != s {
			t.Errorf("%s round trip: %s %v", s, back, err)
		}
	}
	if State(9).String() != "State(9)" {
		t.Error(State(9).String())
	}
}
