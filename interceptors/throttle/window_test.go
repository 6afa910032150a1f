package throttle

import (
	"math"
	"testing"
	"time"
)

func TestWindowShape(t *testing.T) {
	tests := []struct {
		d       time.Duration
		elapsed time.Duration
		want    int64
	}{
		{d: 2 * time.Minute, elapsed: 6*time.Second - 1, want: 0},
		{d: 2 * time.Minute, elapsed: 6 * time.Second, want: 1},
		{d: time.Second, elapsed: 50 * time.Millisecond, want: 1},
		// Epoch 1 of a window of 1s+1ns starts at 50ms+1ns (rounded up), epoch 20 at 1s+1ns.
		{d: time.Second + 1, elapsed: 50 * time.Millisecond, want: 0},
		{d: time.Second + 1, elapsed: 50*time.Millisecond + 1, want: 1},
		{d: time.Second + 1, elapsed: time.Second, want: 19},
		{d: time.Second + 1, elapsed: time.Second + 1, want: 20},
		{d: time.Second, elapsed: math.MaxInt64, want: math.MaxInt64 / int64(50*time.Millisecond)},
	}
	for _, tt := range tests {
		if e := newWindow(tt.d).epoch(tt.elapsed); e != tt.want {
			t.Errorf("newWindow(%v).epoch(%v) = %d, want %d", tt.d, tt.elapsed, e, tt.want)
		}
	}
}

func TestWindowEpochs(t *testing.T) {
	tests := []struct {
		name                      string
		adds                      []int64 // the epoch of each request (every one accepted)
		at                        int64
		wantRequests, wantAccepts int64
	}{
		{name: "empty", at: 5},
		{name: "one bucket", adds: []int64{3, 3, 3}, at: 3, wantRequests: 3, wantAccepts: 3},
		{name: "the last of the window", adds: []int64{0, 19}, at: 19, wantRequests: 2, wantAccepts: 2},
		{name: "one past the window", adds: []int64{0, 19}, at: 20, wantRequests: 1, wantAccepts: 1},
		{name: "a slot claimed again", adds: []int64{1, 1, 21}, at: 21, wantRequests: 1, wantAccepts: 1},
		// A writer whose clock read an older epoch than another's counts in the newest bucket,
		// and stays in the window as long as that bucket does.
		{name: "a stale writer after a fresh one", adds: []int64{25, 5}, at: 44, wantRequests: 2, wantAccepts: 2},
		{name: "a stale writer's count expires with the newest bucket", adds: []int64{25, 5}, at: 45},
		{name: "a reader behind a writer", adds: []int64{26}, at: 25, wantRequests: 1, wantAccepts: 1},
		{name: "a long idle time", adds: []int64{1, 2}, at: 1 << 40},
		{name: "everything old", adds: []int64{1, 2, 3}, at: 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWindow(20 * time.Second)
			for _, e := range tt.adds {
				w.add(e, true)
			}
			if r, a := w.counts(tt.at); r != tt.wantRequests || a != tt.wantAccepts {
				t.Fatalf("counts(%d) = %d, %d, want %d, %d", tt.at, r, a, tt.wantRequests, tt.wantAccepts)
			}
		})
	}
}

func TestWindowClockBeforeOrigin(t *testing.T) {
	w := newWindow(20 * time.Second)
	if e := w.epoch(-time.Hour); e != 0 {
		t.Fatalf("epoch(-1h) = %d, want 0", e)
	}
	if e := w.epoch(59 * time.Second); e != 59 {
		t.Fatalf("epoch(59s) = %d, want 59", e)
	}
}

// The package documentation: an outcome counts for between 95 % and 100 % of Window after it
// was recorded. A window that is not a whole multiple of 20 ns used to be cut into buckets of
// its twentieth rounded up, so that the 20 buckets spanned up to 19 ns more than Window and an
// outcome recorded at a bucket's start still counted a whole Window after it.
func TestWindowLifetimeWithinWindow(t *testing.T) {
	for _, d := range []time.Duration{time.Second, time.Second + 1, time.Second + 7, time.Second + 19, 2*time.Minute + 13, time.Hour - 1} {
		w := newWindow(d)
		tw := d / numBuckets
		for _, at := range []time.Duration{0, 1, tw - 1, tw, tw + 1, 37*tw + 5, 1234567 * tw, 1<<62 + 3} {
			e := w.epoch(at)
			// leave is the first time whose epoch is numBuckets past at's: the outcome
			// recorded at at has left the window by then, and counts until just before.
			lo, hi := at, at+2*d
			for lo < hi {
				mid := lo + (hi-lo)/2
				if w.epoch(mid) >= e+numBuckets {
					hi = mid
				} else {
					lo = mid + 1
				}
			}
			if life := lo - at; life > d || 20*life < 19*d {
				t.Errorf("window %v: an outcome recorded at %v counts for %v, want within [95 %%, 100 %%] of the window", d, at, life)
			}
		}
	}
}
