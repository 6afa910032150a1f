package hedge

import (
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
)

// The failure a hedged call returns when every attempt failed is the one that binds the retry
// loop most (the package doc): a stop, else the longest pushback delay, the first of equal
// ones, else the latest failure.
func TestFailBeatsOrder(t *testing.T) {
	none := codes.Verdict{}
	stop := codes.Verdict{Pushback: codes.Pushback{Stop: true}}
	delay := func(d time.Duration) codes.Verdict {
		return codes.Verdict{Pushback: codes.Pushback{Set: true, Delay: d}}
	}
	for _, tc := range []struct {
		name     string
		v, old   codes.Verdict
		newBeats bool
	}{
		{"no pushback either: the latest", none, none, true},
		{"a delay beats none", delay(time.Millisecond), none, true},
		{"none does not beat a delay", none, delay(time.Millisecond), false},
		{"a longer delay beats a shorter", delay(2 * time.Second), delay(time.Second), true},
		{"a shorter delay does not", delay(time.Second), delay(2 * time.Second), false},
		{"an equal delay keeps the first", delay(time.Second), delay(time.Second), false},
		{"a zero delay equal to a zero delay keeps the first", delay(0), delay(0), false},
		{"a stop beats a delay", stop, delay(time.Hour), true},
		{"a stop beats none", stop, none, true},
		{"a delay does not beat a stop", delay(time.Hour), stop, false},
		{"a later stop does not beat the first", stop, stop, false},
	} {
		if got := failBeats(tc.v, tc.old); got != tc.newBeats {
			t.Errorf("%s: failBeats = %v, want %v", tc.name, got, tc.newBeats)
		}
	}
}
