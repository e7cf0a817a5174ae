//go:build race

package transport

// raceEnabled turns off allocation counts, which the race detector inflates.
const raceEnabled = true
