package breaker

import (
	"math"
	"testing"
)

// The false-trip figures of doc.go and config/builtin.yaml are computed here, from the
// breaker's own judgement (rateTrips), not from a second copy of the formula.
//
// Outcomes are independent with failure probability f (a brownout: each call fails at random,
// whatever the other callers do, so 32 callers interleaving their outcomes change nothing but
// how many outcomes arrive per second). A breaker trips at the first outcome that makes a rule
// fire, so the expected number of trips per outcome, summed over an hour's outcomes, bounds the
// probability of a trip in that hour (Boole's inequality), and for rare trips equals it:
//
//   - consecutive failures: a run reaches L at an outcome when it is a failure and the L-1
//     before it are failures after a success: (1-f)·f^L per outcome;
//   - failure rate over a full count window of n: the count of failures first reaches k (the
//     fewest failures in n that trip) when the window held k-1, the outcome leaving it was a
//     success and the one entering a failure: P(Bin(n-1, f) = k-1)·(1-f)·f per outcome;
//   - while the window fills after a close (n' from MinimumCalls to n outcomes): a trip at n'
//     needs at least k(n')-1 failures among the first n'-1 and a failure last:
//     Σ f·P(Bin(n'-1, f) ≥ k(n')-1), once per close.

// binomPMF is P(Bin(n, p) = k), computed in logs so that n in the thousands stays exact enough.
func binomPMF(n, k int, p float64) float64 {
	if k < 0 || k > n {
		return 0
	}
	if p == 0 {
		if k == 0 {
			return 1
		}
		return 0
	}
	if p == 1 {
		if k == n {
			return 1
		}
		return 0
	}
	lg := func(x int) float64 { v, _ := math.Lgamma(float64(x) + 1); return v }
	return math.Exp(lg(n) - lg(k) - lg(n-k) + float64(k)*math.Log(p) + float64(n-k)*math.Log1p(-p))
}

// binomTail is P(Bin(n, p) ≥ k).
func binomTail(n, k int, p float64) float64 {
	s := 0.0
	for i := max(k, 0); i <= n; i++ {
		s += binomPMF(n, i, p)
	}
	return s
}

// tripRates is what a breaker configuration risks under independent failures at rate f.
type tripRates struct {
	perOutcome float64 // Expected trips per outcome in the steady state (full window).
	perClose   float64 // Bound on the chance of a trip while the window fills after a close.
}

// falseTrips computes b's tripRates at failure probability f, for a count window.
func falseTrips(b *Breaker, f float64) tripRates {
	var r tripRates
	if l := b.consecutive; l > 0 {
		r.perOutcome += (1 - f) * math.Pow(f, float64(l))
	}
	if b.cfg.FailureRateThreshold > 0 && b.win.ring != nil {
		n := len(b.win.ring)
		if k := FailuresToTrip(b.cfg, n); k > 0 {
			r.perOutcome += binomPMF(n-1, k-1, f) * (1 - f) * f
		}
		for m := max(b.cfg.MinimumCalls, 1); m < n; m++ {
			if k := FailuresToTrip(b.cfg, m); k > 0 {
				r.perClose += f * binomTail(m-1, k-1, f)
			}
		}
	}
	return r
}

// perHour is the probability bound of a false trip within an hour at rate outcomes per second.
func (r tripRates) perHour(rate float64) float64 { return r.perOutcome * rate * 3600 }

// callsToTrip feeds failures to b, whose window holds only successes (the slowest start: a
// long healthy spell before the outage), and returns how many it took to open it.
func callsToTrip(t testing.TB, b *Breaker) int {
	t.Helper()
	for range len(b.win.ring) {
		p, err := b.Allow()
		if err != nil {
			t.Fatalf("Allow while healthy: %v", err)
		}
		p.Done(nil)
	}
	for n := 1; n <= 100000; n++ {
		p, err := b.Allow()
		if err != nil {
			t.Fatalf("Allow while closed: %v", err)
		}
		p.Done(errFail)
		if b.State() == Open {
			return n
		}
	}
	t.Fatal("no trip after 100000 failures")
	return 0
}

// FalseTrips is falseTrips for the external tests: the bound on false trips per hour at rate
// outcomes per second in the steady state, and per close while the window fills.
func FalseTrips(b *Breaker, f, rate float64) (perHour, perClose float64) {
	r := falseTrips(b, f)
	return r.perHour(rate), r.perClose
}

// CallsToTrip is callsToTrip for the external tests.
func CallsToTrip(t testing.TB, b *Breaker) int { return callsToTrip(t, b) }
