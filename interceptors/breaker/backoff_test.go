package breaker

import (
	"math"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/observe"
)

// TestOpenIntervalGrows follows an outage through the open intervals: the first is
// InitialRecoveryTimeout, each failed probe multiplies it by RecoveryMultiplier up to
// RecoveryTimeout, and a close starts over. Every interval is checked three ways: the event's
// Delay, the rejection's RetryAfter, and the breaker still open 1ns before it ends.
func TestOpenIntervalGrows(t *testing.T) {
	cfg := Config{ConsecutiveFailures: 1, InitialRecoveryTimeout: time.Second, RecoveryMultiplier: 2, RecoveryTimeout: 10 * time.Second}
	b, clk, rec := newTest(t, cfg)

	// expectOpen checks that b has just opened for d, and leaves it half-open.
	expectOpen := func(step string, d time.Duration) {
		t.Helper()
		ev := lastChange(rec)
		if ev.To != "open" || ev.Delay != d || !ev.Time.Equal(clk.Now()) {
			t.Fatalf("%s: last change %+v, want to open for %v now", step, ev, d)
		}
		if _, err := b.Allow(); err == nil || rejection(t, err).RetryAfter != d {
			t.Fatalf("%s: Allow = %v, want a rejection with RetryAfter %v", step, err, d)
		}
		clk.Advance(d - 1)
		if s := b.State(); s != Open {
			t.Fatalf("%s: state %v 1ns before %v, want open", step, s, d)
		}
		clk.Advance(1)
		if s := b.State(); s != HalfOpen {
			t.Fatalf("%s: state %v after %v, want half_open", step, s, d)
		}
	}
	// probe sends one half-open probe with outcome err.
	probe := func(err error) {
		t.Helper()
		p, aerr := b.Allow()
		if aerr != nil {
			t.Fatalf("probe rejected: %v", aerr)
		}
		p.Done(err)
	}

	trip(t, b, clk)
	expectOpen("trip", time.Second)
	for i, want := range []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second} {
		// While a probe is in flight, a caller is told the longest wait: should the probe never
		// report, the wait for it (HalfOpenMaxWait, 1m), then the next interval.
		p, err := b.Allow()
		if err != nil {
			t.Fatalf("probe %d rejected: %v", i+1, err)
		}
		if _, err := b.Allow(); err == nil || rejection(t, err).RetryAfter != time.Minute+want {
			t.Fatalf("probe %d in flight: Allow = %v, want RetryAfter %v", i+1, err, time.Minute+want)
		}
		p.Done(errFail)
		if ev := lastChange(rec); ev.Reason != ReasonProbeFailed {
			t.Fatalf("probe %d: last change %+v, want probe_failed", i+1, ev)
		}
		expectOpen("failed probe "+time.Duration(i+1).String(), want)
	}
	probe(nil) // Closes, and the next trip starts over.
	if s := b.State(); s != Closed {
		t.Fatalf("state %v after a successful probe, want closed", s)
	}
	trip(t, b, clk)
	expectOpen("trip after close", time.Second)

	// Reset also starts over.
	b.Reset()
	trip(t, b, clk)
	expectOpen("trip after reset", time.Second)
}

// TestOpenIntervalDefaults: without InitialRecoveryTimeout every open lasts RecoveryTimeout, as
// before the intervals grew; a multiplier below 2 grows by that factor, in exact durations.
func TestOpenIntervalDefaults(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want []time.Duration // open intervals: the trip, then after each failed probe
	}{
		{name: "fixed recovery timeout", cfg: Config{ConsecutiveFailures: 1, RecoveryTimeout: 5 * time.Second},
			want: []time.Duration{5 * time.Second, 5 * time.Second, 5 * time.Second}},
		{name: "default 30s", cfg: Config{ConsecutiveFailures: 1},
			want: []time.Duration{30 * time.Second, 30 * time.Second}},
		{name: "multiplier 1.5", cfg: Config{ConsecutiveFailures: 1, InitialRecoveryTimeout: time.Second, RecoveryMultiplier: 1.5, RecoveryTimeout: 3 * time.Second},
			want: []time.Duration{time.Second, 1500 * time.Millisecond, 2250 * time.Millisecond, 3 * time.Second, 3 * time.Second}},
		{name: "multiplier 1 keeps the first interval", cfg: Config{ConsecutiveFailures: 1, InitialRecoveryTimeout: 2 * time.Second, RecoveryMultiplier: 1},
			want: []time.Duration{2 * time.Second, 2 * time.Second, 2 * time.Second}},
		{name: "an initial interval above recovery_timeout is cut to it (an override of recovery_timeout alone)",
			cfg:  Config{ConsecutiveFailures: 1, InitialRecoveryTimeout: 2 * time.Second, RecoveryTimeout: 400 * time.Millisecond},
			want: []time.Duration{400 * time.Millisecond, 400 * time.Millisecond}},
		{name: "default multiplier 2", cfg: Config{ConsecutiveFailures: 1, InitialRecoveryTimeout: 500 * time.Millisecond},
			want: []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, clk, rec := newTest(t, tt.cfg)
			trip(t, b, clk)
			for i, want := range tt.want {
				ev := lastChange(rec)
				if ev.To != "open" || ev.Delay != want {
					t.Fatalf("open %d: event %+v, want open for %v", i, ev, want)
				}
				clk.Advance(want)
				p, err := b.Allow()
				if err != nil {
					t.Fatalf("open %d: probe after %v rejected: %v", i, want, err)
				}
				p.Done(errFail)
			}
			// Events other than to-open carry no interval.
			for _, ev := range rec.Events(observe.BreakerStateChanged) {
				if ev.To != "open" && ev.Delay != 0 {
					t.Fatalf("event %+v carries Delay, want it only on opening", ev)
				}
			}
		})
	}
}

// A minimum_calls the count window can never hold is refused whether window_size is written or
// left at its default (10): otherwise a breaker built from the Go API would never judge its rate.
func TestMinimumCallsAboveTheWindowRefused(t *testing.T) {
	for _, tt := range []struct {
		cfg  Config
		rule string
	}{
		{Config{FailureRateThreshold: 0.5, WindowSize: 10, MinimumCalls: 20}, "minimum_calls: 20 is above window_size (10), so the rate would never be judged"},
		{Config{FailureRateThreshold: 0.5, MinimumCalls: 20}, "minimum_calls: 20 is above window_size's default, 10, so the rate would never be judged"},
	} {
		if err := tt.cfg.Validate(); err == nil || err.Error() != tt.rule {
			t.Errorf("Validate(%+v) = %v, want %q", tt.cfg, err, tt.rule)
		}
	}
	if err := (Config{FailureRateThreshold: 0.5, MinimumCalls: 10}).Validate(); err != nil {
		t.Errorf("minimum_calls 10 with the default window: %v", err)
	}
}

// A failure-rate rule whose evidence a full count window can never give is refused: with
// failure_rate_confidence, even window_size failures out of window_size fall short of the
// threshold when the window is small (the Wilson lower bound of n failures in n is n/(n+z²)),
// and a breaker built from it would never trip on its rate, whatever the service does (and,
// with a failure rate set, consecutive tripping is off by default).
func TestRateThatCanNeverTripRefused(t *testing.T) {
	never := Config{FailureRateThreshold: 0.5, FailureRateConfidence: 0.999, WindowSize: 5, MinimumCalls: 5}
	const rule = "failure_rate_confidence: 0.999 is set with window_size 5, so even 5 failures of 5 would never trip failure_rate_threshold 0.5"
	if err := never.Validate(); err == nil || err.Error() != rule {
		t.Errorf("Validate(%+v) = %v, want %q", never, err, rule)
	}
	// The same through the default window (10 calls): 10 of 10 trip 0.5 but not 0.6.
	if err := (Config{FailureRateThreshold: 0.5, FailureRateConfidence: 0.999, MinimumCalls: 10}).Validate(); err != nil {
		t.Errorf("a rule that 10 failures of 10 trip: %v", err)
	}
	if err := (Config{FailureRateThreshold: 0.6, FailureRateConfidence: 0.999}).Validate(); err == nil {
		t.Error("Validate accepted a rule that the default window of 10 calls never trips")
	}
	// A time window holds as many calls as arrive: enough of them always trip.
	if err := (Config{FailureRateThreshold: 0.5, FailureRateConfidence: 0.999, WindowType: WindowTime, MinimumCalls: 5}).Validate(); err != nil {
		t.Errorf("time window: %v", err)
	}
}

// TestOpenIntervalCapNeverOverflows grows the interval by the largest multiplier towards the
// longest recovery timeout a Duration holds: each interval is the last times 1000 until the cap,
// then the cap, and a rejection's RetryAfter stays that interval, never a wrapped negative.
func TestOpenIntervalCapNeverOverflows(t *testing.T) {
	const longest = time.Duration(math.MaxInt64)
	b, clk, rec := newTest(t, Config{ConsecutiveFailures: 1, InitialRecoveryTimeout: time.Second, RecoveryMultiplier: 1000, RecoveryTimeout: longest})
	trip(t, b, clk)
	want := time.Second
	for i := range 8 {
		if ev := lastChange(rec); ev.To != "open" || ev.Delay != want {
			t.Fatalf("step %d: last change %+v, want open for %v", i, ev, want)
		}
		if _, err := b.Allow(); err == nil || rejection(t, err).RetryAfter != want {
			t.Fatalf("step %d: Allow = %v, want RetryAfter %v", i, err, want)
		}
		clk.Advance(want)
		p, err := b.Allow()
		if err != nil {
			t.Fatalf("step %d: probe rejected after %v: %v", i, want, err)
		}
		p.Done(errFail)
		if float64(want)*1000 >= float64(longest) {
			want = longest
		} else {
			want *= 1000
		}
	}
}

// Probes of one half-open period add up, one at a time as well as at once: one probe at a time
// and three successes to close is a breaker that closes after three successful probes in a row,
// not a configuration that could never close.
func TestSuccessThresholdAboveConcurrentProbes(t *testing.T) {
	cfg := Config{ConsecutiveFailures: 1, HalfOpenMaxCalls: 1, SuccessThreshold: 3, RecoveryTimeout: time.Second}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	b, clk, _ := newTest(t, cfg)
	halfOpen(t, b, clk)
	for i := range 3 {
		p, err := b.Allow()
		if err != nil {
			t.Fatalf("probe %d: %v", i+1, err)
		}
		if _, err := b.Allow(); err == nil {
			t.Fatalf("probe %d in flight: a second probe was admitted", i+1)
		}
		if s := b.State(); s != HalfOpen {
			t.Fatalf("after %d successful probes: state %v, want half_open", i, s)
		}
		p.Done(nil)
	}
	if s := b.State(); s != Closed {
		t.Fatalf("after 3 successful probes: state %v, want closed", s)
	}
}
