package hedge_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
)

// TestSpikesFromColdStart (issue 16's goal, on a fake clock): with the built-in ml profile's
// hedging and retry budget, 20ms answers and 1s spikes at 0-10% of requests (and at 5% and 8%,
// other seeds and 0.5s and 2s spikes), 1 000 verifications of three calls each, 16 at a time,
// from a cold start:
// the verifications' p99 is at most 150ms up to 5% spikes and 300ms at 8-10%, for at most
// 1 + 1.5 × rate + 0.02 attempts per call. The same batches with hedging off (1% and 8%) put
// the p99 on the spike, so the scenario has teeth.
//
// Why it holds (rate r per request, delay d = 50ms here: 2× a 21ms median, floored at 50ms):
// a call whose first attempt spikes answers at d + 21ms, one whose first two spike at 2d +
// 21ms = 121ms, 3r² of the verifications (0.75% at 5%, 1.9% at 8%); only three spikes in a
// row, 3r³ (0.04% at 5%, 0.15% at 8%), reach the spike. The first 16 calls per service go
// before any answer is known, at the starting 150ms: r of them answer at 171ms. With a 3×
// median rule (d = 63ms), two spikes cost 147-154ms, and at 5-8% they are the p99 itself:
// any noise put it over 150ms on a loaded machine.
func TestSpikesFromColdStart(t *testing.T) {
	h, r := builtinML(t)
	type run struct {
		spike time.Duration
		rate  float64
		seed  uint64
		off   bool // also with hedging off
	}
	// Every rate at seed 1; the goal's edges (5% and 8%) at two more seeds and at two more spike
	// lengths. (Each run is 1 000 verifications: the whole set takes seconds, a minute with
	// -race, and the e2e tests of the same package set run beside it on a 2-core machine.)
	runs := []run{{time.Second, 0, 1, false}}
	for _, rate := range []float64{0.01, 0.03, 0.05, 0.08, 0.10} {
		runs = append(runs, run{time.Second, rate, 1, rate == 0.01 || rate == 0.08})
	}
	for _, rate := range []float64{0.05, 0.08} {
		runs = append(runs, run{time.Second, rate, 2, false}, run{time.Second, rate, 3, false},
			run{500 * time.Millisecond, rate, 2, false}, run{2 * time.Second, rate, 3, false})
	}
	for _, tt := range runs {
		spike, rate, seed := tt.spike, tt.rate, tt.seed
		name := fmt.Sprintf("%v spikes at %g%%, seed %d", spike, rate*100, seed)
		sc := simScenario{n: 1000, concurrency: 16, seed: seed, latency: spikes(20*time.Millisecond, spike, rate), hedge: h, retry: r}
		res := simulate(t, sc)
		p99, perCall := res.p99(), res.attemptsPerCall()
		t.Logf("%s: p99 %v, %d slower than the spike, %.3f attempts per call", name, p99.Round(time.Millisecond), res.over(spike), perCall)
		want := 150 * time.Millisecond
		if rate > 0.05 {
			want = 300 * time.Millisecond
		}
		if p99 > want {
			t.Errorf("%s: p99 %v, want at most %v", name, p99, want)
		}
		if limit := 1 + 1.5*rate + 0.02; perCall > limit {
			t.Errorf("%s: %.3f attempts per call, want at most %.3f", name, perCall, limit)
		}
		if tt.off {
			sc.off = true
			if off := simulate(t, sc); off.p99() < spike {
				t.Errorf("%s: p99 with hedging off %v, below the spike: the scenario proves nothing", name, off.p99())
			}
		}
	}
}

// TestSlowdownFromColdStart (issue 16): a service slow for everyone (every answer 100ms, 5× the
// spike scenario's, no spikes) is hedged at most once in 20 calls from a cold start with the
// built-in ml profile: the delay is learnt from the first answers, and hedges do not multiply
// the load.
func TestSlowdownFromColdStart(t *testing.T) {
	h, r := builtinML(t)
	for seed := uint64(1); seed <= 3; seed++ {
		res := simulate(t, simScenario{n: 1000, concurrency: 16, seed: seed, latency: spikes(100*time.Millisecond, 0, 0), hedge: h, retry: r})
		t.Logf("seed %d: %.3f attempts per call, p99 %v", seed, res.attemptsPerCall(), res.p99().Round(time.Millisecond))
		if got := res.attemptsPerCall(); got > 1.05 {
			t.Errorf("seed %d: %.3f attempts per call, want at most 1.05", seed, got)
		}
	}
}

// TestWarmSlowdownHedgesAtMostAQuarter (issue 16, item 3): a warm service (500 verifications at
// 20ms) that suddenly slows down for everyone (100ms from then on). Its window still holds fast
// answers, so the median, and the delay, stay low until half the window is slow: every call of
// the switch reaches the delay. Before MaxHedgeShare, each of them sent a hedge (two with 3
// attempts and a 2× median), bounded only by the retry budget, which the 500 calls before had
// filled: 1.8-3 requests per call for about 250 calls. With it, the hedges of each service stay
// within a quarter of its calls plus the burst, counted from the switch on, at every point.
func TestWarmSlowdownHedgesAtMostAQuarter(t *testing.T) {
	h, r := builtinML(t)
	const warm, n = 500, 1500
	lat := func(_, i, _ int, r *rand.Rand) time.Duration {
		base := 20 * time.Millisecond
		if i >= warm {
			base *= 5
		}
		return base + time.Duration(r.Float64()*0.1*float64(base))
	}
	for seed := uint64(1); seed <= 3; seed++ {
		res := simulate(t, simScenario{n: n, concurrency: 16, seed: seed, latency: lat, hedge: h, retry: r})
		for s, calls := range res.perCall {
			hedges, most := 0, 0.0
			for i := warm - 16; i < n; i++ { // from the first calls that can see the switch
				hedges += calls[i] - 1
				bound := hedge.MaxHedgeShare*float64(i-warm+17) + hedge.HedgeBurst
				if float64(hedges) > bound {
					t.Fatalf("seed %d, service %d: %d hedges by verification %d, want at most %.0f (a quarter of the calls since the switch, plus %d)",
						seed, s, hedges, i, bound, hedge.HedgeBurst)
				}
				most = max(most, float64(hedges)/float64(i-warm+17))
			}
			t.Logf("seed %d, service %d: %d hedges in the %d calls from the switch on (at most %.2f per call at any point)", seed, s, hedges, n-warm+16, most)
		}
		// And the switch ends: the last 500 calls are back near one attempt each.
		tail := 0
		for _, calls := range res.perCall {
			for _, a := range calls[n-500:] {
				tail += a - 1
			}
		}
		if got := 1 + float64(tail)/1500; got > 1.05 {
			t.Errorf("seed %d: %.3f attempts per call in the last 500 verifications, want at most 1.05", seed, got)
		}
	}
}

// TestHedgeAllowance: hedges that lose are limited to MaxHedgeShare of the calls plus
// HedgeBurst, whatever the delay and with no retry budget at all; hedges that win are not
// limited by it. A fixed 20ms delay, one call at a time, 400 calls.
func TestHedgeAllowance(t *testing.T) {
	const n = 400
	cfg := hedge.Config{MaxAttempts: 3, Delay: 20 * time.Millisecond}
	t.Run("losing hedges", func(t *testing.T) {
		// Every attempt takes 100ms: the first always wins.
		res := simulate(t, simScenario{n: n, concurrency: 1, services: 1, latency: spikes(100*time.Millisecond, 0, 0), hedge: cfg})
		hedges := res.requests - res.calls
		if limit := int(hedge.MaxHedgeShare*n) + hedge.HedgeBurst; hedges > limit || hedges < limit-2 {
			t.Fatalf("%d losing hedges for %d calls, want %d (a quarter of the calls plus the burst)", hedges, n, limit)
		}
	})
	t.Run("winning hedges", func(t *testing.T) {
		// The first attempt takes 1s, the others 10ms: every call is won by its first hedge.
		lat := func(_, _, attempt int, _ *rand.Rand) time.Duration {
			if attempt == 1 {
				return time.Second
			}
			return 10 * time.Millisecond
		}
		res := simulate(t, simScenario{n: n, concurrency: 1, services: 1, latency: lat, hedge: cfg})
		if hedges := res.requests - res.calls; hedges != n {
			t.Fatalf("%d winning hedges for %d calls, want one per call", hedges, n)
		}
		if p99 := res.p99(); p99 != 30*time.Millisecond {
			t.Fatalf("p99 %v, want 30ms (the delay and the hedge's 10ms)", p99)
		}
	})
}
