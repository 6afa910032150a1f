//go:build !race

package otelobs_test

const raceEnabled = false
