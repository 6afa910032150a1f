package throttle

import (
	"testing"

	"github.com/bulwarkrpc/bulwark/internal/testkit"
)

// TestStreamAllocs pins what the throttle adds to a stream, over watching its end: one small
// value for its end, which judges the stream with its caller's context and its classifier (a
// closure of them, before: one allocation too, of 48 bytes); and each stream is counted, a
// request and an accept.
func TestStreamAllocs(t *testing.T) {
	th, _, _ := newTest(t, Config{})
	base, baseBytes := testkit.StreamAllocs(t, testkit.WatchOnly, method)
	got, gotBytes := testkit.StreamAllocs(t, th.Stream(), method)
	got, gotBytes = got-base, gotBytes-baseBytes
	const streams = testkit.StreamAllocsRuns
	if requests, accepts := th.Counts(); requests != streams || accepts != streams {
		t.Fatalf("Counts = %d requests, %d accepts, want %d of each: one a stream", requests, accepts, streams)
	}
	t.Logf("%.1f allocations, %.1f bytes over watching the end", got, gotBytes)
	const want, wantBytes = 1, 32 // one streamEnd (a closure of 48 bytes, before)
	if got > want {
		t.Errorf("a stream through the throttle costs %.0f allocations over watching its end (%.0f), want at most %d", got, base, want)
	}
	if gotBytes > wantBytes {
		t.Errorf("a stream through the throttle costs %.0f bytes over watching its end (%.0f), want at most %d", gotBytes, baseBytes, wantBytes)
	}
}
