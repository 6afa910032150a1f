// Package within bounds a test's waits for the code under test: a receive from a channel, a
// WaitGroup's Wait. When the code is right they return at once; when it is broken they fail
// the test within Bound, saying what did not happen, instead of hanging until go test's
// timeout and its dump of every goroutine. It is for tests only, and imports nothing of
// bulwark's, so that the tests of the packages internal/testkit imports (clock/clocktest,
// internal/streamend, internal/runall) may use it too.
package within

import (
	"testing"
	"time"
)

// Bound is how long Recv and Wait wait: long enough for a loaded 2-core machine running two
// test suites side by side. It matters only when the code under test is broken.
const Bound = time.Minute

// Recv returns the next value received from ch, or the zero value once ch is closed. When
// neither comes within Bound, it fails t with what followed by the bound: what says what did
// not happen, "the breaker's probe did not end" gives "the breaker's probe did not end within
// 1m0s". Call it from the test's goroutine, as t.Fatal.
func Recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	return recv(t, ch, what, Bound)
}

// Wait returns once wg.Wait has (a sync.WaitGroup's, say), and fails t as Recv does when it
// has not within Bound. On failure the goroutine that calls wg.Wait is left waiting.
func Wait(t testing.TB, wg interface{ Wait() }, what string) {
	t.Helper()
	wait(t, wg, what, Bound)
}

func recv[T any](t testing.TB, ch <-chan T, what string, bound time.Duration) T {
	t.Helper()
	timer := time.NewTimer(bound)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		t.Fatalf("%s within %v", what, bound)
		var zero T
		return zero
	}
}

func wait(t testing.TB, wg interface{ Wait() }, what string, bound time.Duration) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		wg.Wait()
	}()
	recv(t, done, what, bound)
}
