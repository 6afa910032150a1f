package breaker

import (
	"math"
	"strconv"
	"strings"
	"testing"
)

func TestWilsonLower(t *testing.T) {
	tests := []struct {
		k, n int
		z    float64
		want float64
	}{
		{k: 8, n: 10, z: 1.959964, want: 0.4902}, // the textbook 95% interval of 8/10: [0.490, 0.943]
		{k: 0, n: 10, z: 1.959964, want: 0},
		{k: 10, n: 10, z: 1.959964, want: 10 / (10 + 1.959964*1.959964)}, // all failures: n/(n+z²)
		{k: 5, n: 10, z: 0, want: 0.5},                                   // no confidence: the share
	}
	for _, tt := range tests {
		if got := wilsonLower(tt.k, tt.n, tt.z); math.Abs(got-tt.want) > 1e-4 {
			t.Errorf("wilsonLower(%d, %d, %v) = %v, want %v", tt.k, tt.n, tt.z, got, tt.want)
		}
	}
	if got := quantile(0.975); math.Abs(got-1.959964) > 1e-5 {
		t.Errorf("quantile(0.975) = %v, want 1.959964", got)
	}
}

func TestFailuresToTrip(t *testing.T) {
	evidence := Config{FailureRateThreshold: 0.5, FailureRateConfidence: 0.999, WindowSize: 100, MinimumCalls: 20}
	tests := []struct {
		name  string
		cfg   Config
		calls int
		want  int
	}{
		{name: "below minimum calls", cfg: evidence, calls: 19, want: 0},
		{name: "at minimum calls", cfg: evidence, calls: 20, want: 17},
		{name: "half window", cfg: evidence, calls: 50, want: 36},
		{name: "full window", cfg: evidence, calls: 100, want: 66},
		{name: "no confidence: the share", cfg: Config{FailureRateThreshold: 0.5, WindowSize: 100, MinimumCalls: 20}, calls: 20, want: 10},
		{name: "rate off", cfg: Config{}, calls: 100, want: 0},
		{name: "even all failing is not enough evidence", cfg: Config{FailureRateThreshold: 0.9, FailureRateConfidence: 0.999, WindowSize: 10, MinimumCalls: 5}, calls: 5, want: 0},
	}
	for _, tt := range tests {
		if got := FailuresToTrip(tt.cfg, tt.calls); got != tt.want {
			t.Errorf("%s: FailuresToTrip(%d) = %d, want %d", tt.name, tt.calls, got, tt.want)
		}
	}
}

// TestFailureRateConfidence drives the rule through the breaker: the window must hold
// FailuresToTrip failures, and the call that gets it there (a failure) trips it.
func TestFailureRateConfidence(t *testing.T) {
	cfg := Config{FailureRateThreshold: 0.5, FailureRateConfidence: 0.999, WindowSize: 100, MinimumCalls: 20}
	// alternate returns n outcomes with failures failures, spread so no long run forms, the
	// last one a failure.
	alternate := func(n, failures int) []call {
		cs := make([]call, n) // Successes, but for failure i at ⌊i·n/failures⌋ from the end.
		for i := range failures {
			cs[n-1-i*n/failures].err = errFail
		}
		return cs
	}
	tests := []struct {
		name      string
		calls     []call
		wantState State
	}{
		{name: "16 of 20: a share of 80% is not yet evidence", calls: alternate(20, 16), wantState: Closed},
		{name: "17 of 20 trips", calls: alternate(20, 17), wantState: Open},
		{name: "65 of 100 does not trip", calls: alternate(100, 65), wantState: Closed},
		{name: "66 of 100 trips", calls: alternate(100, 66), wantState: Open},
		{name: "below the minimum nothing is judged", calls: alternate(19, 19), wantState: Closed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, clk, rec := newTest(t, cfg)
			run(t, b, clk, tt.calls)
			if s := b.State(); s != tt.wantState {
				t.Fatalf("state = %v, want %v (%+v)", s, tt.wantState, b.Stats())
			}
			if tt.wantState == Open {
				if ev := lastChange(rec); ev.Reason != ReasonFailureRate {
					t.Fatalf("event %+v, want reason failure_rate", ev)
				}
			}
		})
	}
}

// TestClosedPathAllocs: Allow and Done on a closed breaker allocate nothing, for every window
// kind and with the evidence rule judging each failure (failures one in three, never a trip).
func TestClosedPathAllocs(t *testing.T) {
	for _, bc := range benchConfigs {
		cfg := bc.cfg
		cfg.ConsecutiveFailures = 1000
		cfg.FailureRateThreshold = 0.9 // Judged on every failure, never reached at one in three.
		b, _, _ := newTest(t, cfg)
		i := 0
		allocs := testing.AllocsPerRun(1000, func() {
			i++
			p, err := b.Allow()
			if err != nil {
				t.Fatal(err)
			}
			if i%3 == 0 {
				p.Done(errFail)
			} else {
				p.Done(nil)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocs per Allow+Done, want 0", bc.name, allocs)
		}
		if st := b.Stats(); st.Failures == 0 || st.StateChanges != 0 {
			t.Errorf("%s: stats %+v, want failures judged and no trip", bc.name, st)
		}
	}
}

// A confidence below one half is refused: its "lower bound" lies above the window's share, so
// the rule would trip below its threshold (at 0.05, read as a significance level, 7 failures of
// 20 trip a threshold of 50%), the opposite of asking for evidence.
func TestConfidenceBelowOneHalfRefused(t *testing.T) {
	for _, c := range []float64{0.001, 0.05, 0.3, 0.4999} {
		cfg := Config{FailureRateThreshold: 0.5, FailureRateConfidence: c, WindowSize: 20, MinimumCalls: 20}
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), "failure_rate_confidence: "+strconv.FormatFloat(c, 'g', -1, 64)+" is below 0.5") {
			t.Errorf("Validate(confidence %v) = %v, want a refusal of a confidence below 0.5", c, err)
		}
	}
	for _, c := range []float64{0, 0.5, 0.95, 0.999} {
		if err := (Config{FailureRateThreshold: 0.5, FailureRateConfidence: c, WindowSize: 20, MinimumCalls: 20}).Validate(); err != nil {
			t.Errorf("Validate(confidence %v) = %v", c, err)
		}
	}
}
