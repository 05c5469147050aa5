package clixml

import "reflect"

// equalValues compares two values structurally (cycles allowed; sharing
// of objects and slices is not compared).
func equalValues(a, b Value) bool { return reflect.DeepEqual(a, b) }
