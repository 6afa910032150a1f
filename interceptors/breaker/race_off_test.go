//go:build !race

package breaker_test

// raceOn trims the long seeded runs (see race_on_test.go).
const raceOn = false
