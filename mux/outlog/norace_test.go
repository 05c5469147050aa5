//go:build !race

package outlog

const raceEnabled = false
