package throttle

import (
	"testing"
	"time"
)

func TestWindowShape(t *testing.T) {
	tests := []struct {
		d         time.Duration
		wantWidth int64
	}{
		{d: 2 * time.Minute, wantWidth: int64(6 * time.Second)},
		{d: time.Second, wantWidth: int64(50 * time.Millisecond)},
		{d: time.Second + 1, wantWidth: int64(50*time.Millisecond) + 1}, // Rounded up: the buckets cover d.
	}
	for _, tt := range tests {
		if w := newWindow(tt.d); w.width != tt.wantWidth {
			t.Errorf("newWindow(%v).width = %d, want %d", tt.d, w.width, tt.wantWidth)
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
