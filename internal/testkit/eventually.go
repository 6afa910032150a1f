package testkit

import (
	"testing"
	"time"
)

// Eventually waits for cond, checking it every millisecond, and fails t with what when it does
// not hold within 10 s: for what the code under test finishes on a goroutine of its own (a
// stream's end, say), with room for a busy machine.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after 10s: %s", what)
		}
	}
}
