package breaker

import (
	"testing"
	"time"
)

func TestTimeWindowShape(t *testing.T) {
	tests := []struct {
		d           time.Duration
		wantBuckets int
		wantWidth   int64
	}{
		{d: 10 * time.Second, wantBuckets: 10, wantWidth: int64(time.Second)},
		{d: 1001, wantBuckets: 11, wantWidth: 100},
		{d: 15, wantBuckets: 15, wantWidth: 1},
		{d: 1, wantBuckets: 1, wantWidth: 1},
	}
	for _, tt := range tests {
		w := newTimeWindow(tt.d)
		if len(w.buckets) != tt.wantBuckets || w.width != tt.wantWidth {
			t.Errorf("newTimeWindow(%v): %d buckets of %d, want %d of %d", tt.d, len(w.buckets), w.width, tt.wantBuckets, tt.wantWidth)
		}
		if covered := time.Duration(int64(len(w.buckets)) * w.width); covered < tt.d {
			t.Errorf("newTimeWindow(%v) covers only %v", tt.d, covered)
		}
	}
}

func TestTimeWindowExpiry(t *testing.T) {
	tests := []struct {
		name      string
		adds      []time.Duration // elapsed time of each failure
		at        time.Duration   // when the window is read
		wantCalls int
	}{
		{name: "all in the window", adds: []time.Duration{0, time.Second, 9 * time.Second}, at: 9 * time.Second, wantCalls: 3},
		{name: "the oldest bucket expires at the window's length", adds: []time.Duration{0, time.Second, 9 * time.Second}, at: 10 * time.Second, wantCalls: 2},
		{name: "everything expires", adds: []time.Duration{0, time.Second}, at: time.Hour, wantCalls: 0},
		{name: "a clock going back stands still", adds: []time.Duration{5 * time.Second, time.Second}, at: 0, wantCalls: 2},
		{name: "a clock standing still keeps one bucket", adds: []time.Duration{3 * time.Second, 3 * time.Second, 3 * time.Second}, at: 3 * time.Second, wantCalls: 3},
		{name: "a clock jumping centuries ahead empties it", adds: []time.Duration{0, 9 * time.Second}, at: 200 * 365 * 24 * time.Hour, wantCalls: 0},
		{name: "adds after a jump count from the jump", adds: []time.Duration{0, 1000 * time.Hour, 1000*time.Hour + 9*time.Second}, at: 1000*time.Hour + 9*time.Second, wantCalls: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newTimeWindow(10 * time.Second)
			for _, e := range tt.adds {
				w.add(true, false, e)
			}
			w.advance(tt.at)
			if w.calls != tt.wantCalls || w.failures != tt.wantCalls {
				t.Fatalf("calls, failures = %d, %d, want %d", w.calls, w.failures, tt.wantCalls)
			}
		})
	}
}
