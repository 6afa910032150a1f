package throttle

import (
	"math"
	"testing"
	"time"
)

// TestRecoveryPace pins the package documentation's "Choosing K" and "Window and recovery"
// figures for K = 1.5: against a service refusing half of what it is sent, the throttle
// settles at its cap; once the service accepts everything, the share let through grows by
// more than K per window (the window slides, so the accepts of a window count within it
// already) and the throttle is back to p = 0 in the third window.
func TestRecoveryPace(t *testing.T) {
	// Steady demand of 100 requests a second over a 10 s window (1 000 a window), drawn from
	// a seeded, evenly spread sequence (the golden ratio's multiples modulo 1).
	i := 0
	draw := func() float64 { i++; return math.Mod(float64(i)*0.6180339887498949, 1) }
	th, clk, _ := newTest(t, Config{K: 1.5, Window: 10 * time.Second}, WithRand(draw))
	start := clk.Now()
	n, sent := 0, 0
	// window runs one window of demand and returns the share Allow let through.
	window := func(refuseHalf bool) float64 {
		allowed := 0
		for range 1000 {
			n++
			clk.Set(start.Add(time.Duration(n) * 10 * time.Millisecond))
			if th.Allow(method) != nil {
				continue
			}
			allowed++
			sent++
			if refuseHalf && sent%2 == 0 {
				th.Record(failed)
			} else {
				th.Record(accepted)
			}
		}
		return float64(allowed) / 1000
	}
	for range 10 {
		window(true)
	}
	if p := th.Probability(); !near(p, 0.9) {
		t.Fatalf("after 10 windows of half refused: Probability() = %v, want the cap 0.9", p)
	}
	var shares []float64
	for range 3 {
		shares = append(shares, window(false))
	}
	for w := 1; w < len(shares); w++ {
		if shares[w] < 1.5*shares[w-1] {
			t.Errorf("recovery window %d let through %.3f after %.3f: grew by less than K", w+1, shares[w], shares[w-1])
		}
	}
	if shares[1] < 2*shares[0] {
		t.Errorf("recovery let through %.3f then %.3f: want more than twice as much (about 2.4 times for K = 1.5)", shares[0], shares[1])
	}
	if p := th.Probability(); p != 0 {
		t.Fatalf("after three windows of recovery (let through %v): Probability() = %v, want 0", shares, p)
	}
	if shares[1] >= 0.5 {
		t.Fatalf("second window of recovery let through %v, want well under half: recovery takes about three windows", shares[1])
	}
}

// TestRecoveryAfterAnOutage: a throttle that a service refusing everything drove to its cap
// lets all the traffic through again once the service accepts everything, though the requests
// it rejects count: in three windows for K = 2, about a dozen for K = 1.1 (the package's
// "Choosing K"), the share let through growing every window. K = 1, with which it would stay
// near its cap, is refused.
func TestRecoveryAfterAnOutage(t *testing.T) {
	for _, tt := range []struct {
		k       float64
		windows int // of recovery, after which Probability is 0
	}{{k: 2, windows: 3}, {k: 1.1, windows: 14}} {
		i := 0
		draw := func() float64 { i++; return math.Mod(float64(i)*0.6180339887498949, 1) }
		th, clk, _ := newTest(t, Config{K: tt.k, Window: 10 * time.Second}, WithRand(draw))
		start := clk.Now()
		n := 0
		// window runs one window of demand, 1 000 requests, and returns the share let through.
		window := func(up bool) float64 {
			allowed := 0
			for range 1000 {
				n++
				clk.Set(start.Add(time.Duration(n) * 10 * time.Millisecond))
				if th.Allow(method) != nil {
					continue
				}
				allowed++
				if up {
					th.Record(accepted)
				} else {
					th.Record(failed)
				}
			}
			return float64(allowed) / 1000
		}
		for range 3 {
			window(false)
		}
		if p := th.Probability(); !near(p, 0.9) {
			t.Fatalf("K %v: after 3 windows of refusals, Probability() = %v, want the cap 0.9", tt.k, p)
		}
		var shares []float64
		for range tt.windows {
			shares = append(shares, window(true))
		}
		for w := 1; w < len(shares) && shares[w-1] < 1; w++ {
			if shares[w] <= shares[w-1] {
				t.Errorf("K %v: recovery window %d let through %.3f after %.3f: no growth", tt.k, w+1, shares[w], shares[w-1])
			}
		}
		if p := th.Probability(); p != 0 {
			t.Errorf("K %v: after %d windows of recovery (let through %.3f), Probability() = %v, want 0", tt.k, tt.windows, shares, p)
		}
	}
	if _, err := New(svc, Config{K: 1}); err == nil {
		t.Error("New accepted K = 1")
	}
}
