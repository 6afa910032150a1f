//go:build race

package otelobs_test

// raceEnabled: allocation counts differ under the race detector.
const raceEnabled = true
