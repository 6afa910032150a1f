//go:build race

package breaker_test

// raceOn trims the long seeded runs: the race detector makes each step about 15 times slower,
// and those runs check arithmetic, not concurrency.
const raceOn = true
