package breaker

import (
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/internal/testkit"
)

// TestStreamAllocs pins what the breaker adds to a stream, over watching its end: one small
// value for its end, holding the stream's permit, caller's context, call options and
// classifier (a closure of them, before: one allocation too, of 96 bytes); and each stream's
// end is recorded, a success.
func TestStreamAllocs(t *testing.T) {
	br, _, _ := newTest(t, Config{ConsecutiveFailures: 5, RecoveryTimeout: time.Hour})
	base, baseBytes := testkit.StreamAllocs(t, testkit.WatchOnly, testkit.MethodCompare)
	got, gotBytes := testkit.StreamAllocs(t, br.Stream(), testkit.MethodCompare)
	got, gotBytes = got-base, gotBytes-baseBytes
	const streams = testkit.StreamAllocsRuns
	if s := br.Stats(); s.Calls != streams || s.Successes != streams {
		t.Fatalf("Stats = %+v, want %d calls, all successes: one a stream", s, streams)
	}
	t.Logf("%.1f allocations, %.1f bytes over watching the end", got, gotBytes)
	const want, wantBytes = 1, 80
	if got > want {
		t.Errorf("a stream through the breaker costs %.0f allocations over watching its end (%.0f), want at most %d", got, base, want)
	}
	if gotBytes > wantBytes {
		t.Errorf("a stream through the breaker costs %.0f bytes over watching its end (%.0f), want at most %d", gotBytes, baseBytes, wantBytes)
	}
}
