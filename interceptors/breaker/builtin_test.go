package breaker_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
)

// builtinProfiles are the built-in profiles with a breaker, as config/builtin.yaml has them.
var builtinProfiles = []string{"ml", "ocr", "fast"}

// referenceRules are the built-in ml breaker's tripping rules before issue 15: the reference's
// fail_max=5 and 50% of the last 20 calls, judged from 10.
var referenceRules = breaker.Config{ConsecutiveFailures: 5, FailureRateThreshold: 0.5, WindowSize: 20, MinimumCalls: 10}

// builtinBreaker returns a breaker with the built-in profile's configuration ("reference":
// referenceRules) on a fake clock.
func builtinBreaker(t *testing.T, profile string) (*breaker.Breaker, *clocktest.Fake) {
	t.Helper()
	cfg := referenceRules
	if profile != "reference" {
		p, ok := config.Builtin().Profiles[profile]
		if !ok || p.Breaker == nil {
			t.Fatalf("built-in profile %q has no breaker", profile)
		}
		cfg = *p.Breaker
	}
	clk := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	b, err := breaker.New("kyc.v1.Test", cfg, breaker.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	return b, clk
}

// The false-trip figures documented in doc.go (and in builtin.yaml's comments), which this test
// recomputes from the built-in configurations: expected false trips per hour in the steady state
// at failure rate F and rate outcomes per second, the bound on a trip while the window refills
// after a close, and the calls an outage takes to trip a breaker whose window is all successes.
var documentedFigures = []struct {
	profile     string
	rate        float64 // outcomes per second
	f           float64
	perHour     float64
	perClose    float64
	callsToTrip int
}{
	{"ml", 100, 0.2, 3.0e-9, 1.2e-9, 20},
	{"ml", 100, 0.3, 8.8e-6, 1.3e-6, 20},
	{"ml", 100, 0.4, 1.5e-2, 2.9e-4, 20},
	{"ml", 100, 0.5, 55, 5.2e-2, 20},
	{"ocr", 100, 0.2, 3.0e-9, 1.2e-9, 20},
	{"ocr", 100, 0.3, 8.8e-6, 1.3e-6, 20},
	{"ocr", 100, 0.4, 1.5e-2, 2.9e-4, 20},
	{"ocr", 100, 0.5, 55, 5.2e-2, 20},
	{"fast", 100, 0.2, 3.0e-9, 1.6e-13, 20},
	{"fast", 100, 0.3, 8.8e-6, 1.6e-8, 20},
	{"fast", 1000, 0.2, 3.0e-8, 1.6e-13, 20},
	{"fast", 1000, 0.3, 8.8e-5, 1.6e-8, 20},
	{"fast", 1000, 0.4, 2.5e-2, 6.4e-5, 20},
	{"fast", 1000, 0.5, 480, 1.0e-1, 20},
	{"reference", 100, 0.2, 380, 5.4e-2, 5},
	{"reference", 100, 0.3, 4500, 0.41, 5},
	{"reference", 100, 0.4, 15000, 1.5, 5},
	{"reference", 100, 0.5, 21000, 3.3, 5},
}

// TestBuiltinFalseTripFigures recomputes the documented figures (run with -v to print them).
// They are given to two significant digits; a change to the built-ins or the trip rule that
// moves one by more than rounding fails here, and the docs must follow.
func TestBuiltinFalseTripFigures(t *testing.T) {
	close := func(got, want float64) bool { return math.Abs(got-want) <= 0.05*want }
	for _, d := range documentedFigures {
		b, _ := builtinBreaker(t, d.profile)
		perHour, perClose := breaker.FalseTrips(b, d.f, d.rate)
		calls := breaker.CallsToTrip(t, b)
		t.Logf("%-4s %5.0f/s F=%.1f: %.2g false trips/hour, %.2g per close; outage trips in %d calls", d.profile, d.rate, d.f, perHour, perClose, calls)
		if !close(perHour, d.perHour) || !close(perClose, d.perClose) || calls != d.callsToTrip {
			t.Errorf("%s at %v/s, F=%v: computed %.2g/hour, %.2g per close, %d calls; documented %.2g, %.2g, %d",
				d.profile, d.rate, d.f, perHour, perClose, calls, d.perHour, d.perClose, d.callsToTrip)
		}
	}
}

// callers interleaves outcomes as concurrent callers produce them: each holds a permit, and
// the next outcome to arrive is a random caller's, which then asks again.
type callers struct {
	b       *breaker.Breaker
	clk     *clocktest.Fake
	rng     *rand.Rand
	permits []breaker.Permit
	tick    time.Duration
}

func newCallers(t *testing.T, b *breaker.Breaker, clk *clocktest.Fake, n int, perSecond float64, seed uint64) *callers {
	t.Helper()
	c := &callers{b: b, clk: clk, rng: rand.New(rand.NewPCG(seed, seed^0x5eed)), permits: make([]breaker.Permit, n),
		tick: time.Duration(float64(time.Second) / perSecond)}
	for i := range c.permits {
		p, err := b.Allow()
		if err != nil {
			t.Fatalf("Allow: %v", err)
		}
		c.permits[i] = p
	}
	return c
}

// step records one outcome, failing with probability f, and readmits its caller. It reports
// whether the breaker still admits calls.
func (c *callers) step(f float64) bool {
	c.clk.Advance(c.tick)
	i := c.rng.IntN(len(c.permits))
	class := codes.Success
	if c.rng.Float64() < f {
		class = codes.Transient
	}
	c.permits[i].Record(class)
	p, err := c.b.Allow()
	c.permits[i] = p
	return err == nil
}

// drain reports the outcome of every call still in flight as ignored.
func (c *callers) drain() {
	for _, p := range c.permits {
		p.Record(codes.Canceled)
	}
}

// TestBuiltinBrownoutNeverTrips feeds each built-in breaker millions of random outcomes at 30%
// failure, as 32 concurrent callers at 100 outcomes/s interleave them (a fake clock, about 6
// hours of traffic each; 100 000 under -short or -race), and asserts that it never opens. The reference's rules (5 in a row,
// 50% of 20 from 10) fed the same outcomes open within seconds: the control shows the test
// can fail.
func TestBuiltinBrownoutNeverTrips(t *testing.T) {
	outcomes := 2_000_000
	if testing.Short() || raceOn {
		outcomes = 100_000
	}
	for i, profile := range builtinProfiles {
		t.Run(profile, func(t *testing.T) {
			b, clk := builtinBreaker(t, profile)
			c := newCallers(t, b, clk, 32, 100, uint64(i+1))
			defer c.drain()
			for n := range outcomes {
				if !c.step(0.3) {
					t.Fatalf("opened after %d outcomes at 30%% failure: %+v", n+1, b.Stats())
				}
			}
			if st := b.Stats(); st.StateChanges != 0 || st.Calls != uint64(outcomes) || st.Failures < uint64(outcomes)*29/100 {
				t.Fatalf("stats = %+v, want %d outcomes, about 30%% failures, no state change", st, outcomes)
			}
		})
	}
	t.Run("control: the reference rules", func(t *testing.T) {
		b, clk := builtinBreaker(t, "reference")
		c := newCallers(t, b, clk, 32, 100, 1)
		defer c.drain()
		for n := range 100_000 {
			if !c.step(0.3) {
				t.Logf("the reference rules opened after %d outcomes (%v of traffic)", n+1, time.Duration(n+1)*c.tick)
				return
			}
		}
		t.Fatal("the reference rules never opened at 30%: the brownout test could not tell the rules apart")
	})
}

// TestBuiltinOutageTripsFast: after a long brownout at 30%, the service goes down (every call
// fails). Each built-in breaker must open within its documented 20 outcomes, for the first
// InitialRecoveryTimeout.
func TestBuiltinOutageTripsFast(t *testing.T) {
	warmup := 100_000
	if testing.Short() || raceOn {
		warmup = 10_000
	}
	for i, profile := range builtinProfiles {
		t.Run(profile, func(t *testing.T) {
			b, clk := builtinBreaker(t, profile)
			c := newCallers(t, b, clk, 32, 100, uint64(100+i))
			defer c.drain()
			for range warmup {
				if !c.step(0.3) {
					t.Fatal("opened during the brownout")
				}
			}
			n := 1
			for c.step(1) {
				n++
				if n > 20 {
					t.Fatalf("still closed after %d outcomes at 100%% failure: %+v", n, b.Stats())
				}
			}
			if s := b.State(); s != breaker.Open {
				t.Fatalf("state %v, want open", s)
			}
			// Rejected right after the trip: the wait is the first, short open interval.
			_, err := b.Allow()
			var r *codes.Rejection
			if !errors.As(err, &r) || r.RetryAfter != b.Config().InitialRecoveryTimeout {
				t.Fatalf("Allow after the trip = %v, want RetryAfter %v", err, b.Config().InitialRecoveryTimeout)
			}
			t.Logf("opened after %d outcomes at 100%%", n)
		})
	}
}

// The probe schedule of the built-in breakers, as the package documentation gives it: an
// outage is probed 0.75 s after the trip (fast: 0.5 s), then every second, however long it
// lasts, so that every outage closes the breaker within 1 s of its end. Intervals that grew
// without a low cap (the former 0.75 s doubling up to 30 s) closed a 5 s outage at its third
// probe, 0.25 s after its end, but a 6 s one 5.25 s after it and a 12 s one 11.25 s after.
func TestBuiltinOutageProbeSchedule(t *testing.T) {
	const step = 250 * time.Millisecond // every probe time is a multiple of it
	for _, profile := range []string{"ml", "ocr", "fast"} {
		first := 750 * time.Millisecond
		if profile == "fast" {
			first = 500 * time.Millisecond
		}
		// Outages of 0.25 s to 2 minutes from the trip, each a multiple of step.
		// Lengths 0.25 s apart at first, the gap growing by 0.25 s every 4 s of length.
		for outage := step; outage <= 2*time.Minute; outage += time.Duration(1+int(outage/(4*time.Second))) * step {
			b, clk := builtinBreaker(t, profile)
			for b.State() == breaker.Closed {
				p, err := b.Allow()
				if err != nil {
					t.Fatal(err)
				}
				p.Record(codes.Transient)
			}
			trip := clk.Now()
			var probes []time.Duration
			for b.State() != breaker.Closed {
				clk.Advance(step)
				p, err := b.Allow()
				if err != nil {
					continue
				}
				since := clk.Now().Sub(trip)
				probes = append(probes, since)
				if since < outage {
					p.Record(codes.Transient)
				} else {
					p.Record(codes.Success)
				}
				if b.State() == breaker.HalfOpen {
					// fast needs 2 successes: the second probe, at once.
					if p, err = b.Allow(); err == nil {
						p.Record(codes.Success)
					}
				}
			}
			for i, at := range probes {
				want := first + time.Duration(i)*time.Second
				if at != want {
					t.Fatalf("%s, outage of %v: probe %d at %v after the trip, want %v (probes %v)", profile, outage, i+1, at, want, probes)
				}
			}
			if late := probes[len(probes)-1] - outage; late < 0 || late >= time.Second {
				t.Errorf("%s, outage of %v: closed %v after its end, want under 1s (probes %v)", profile, outage, late, probes)
			}
		}
	}
}
