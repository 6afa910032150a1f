package hedge_test

import (
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
)

// TestExplainNamesThePercentileAsWritten: Explain writes the percentile as the configuration
// does. It wrote the float64 product Percentile×100, which for many percentiles is a hair off
// the whole number (0.55×100 = 55.00000000000001, 0.57×100 = 56.99999999999999).
func TestExplainNamesThePercentileAsWritten(t *testing.T) {
	for pct, want := range map[float64]string{0.55: "p55 ", 0.57: "p57 ", 0.95: "p95 ", 0.999: "p99.9 ", 0.9995: "p99.95 "} {
		got := hedge.Normalize(hedge.Config{Percentile: pct}).Explain()
		if !strings.Contains(got, want) {
			t.Errorf("percentile %v: Explain() = %q, want it to name %q", pct, got, strings.TrimSpace(want))
		}
	}
}

// TestExplainNamesTheStartingDelayItRuns: Explain names the delay a call uses until the first
// answer (and the cap until MinSamples are known) as the policy runs it, Delay kept within
// [MinDelay, MaxDelay]. It named Delay as written: with max_delay 50ms and the default delay,
// "100ms until the first answer ... within 1ms .. 50ms", while Policy.Delay said 50ms.
func TestExplainNamesTheStartingDelayItRuns(t *testing.T) {
	for _, tc := range []struct {
		cfg  hedge.Config
		want string
	}{
		{hedge.Config{MaxDelay: 50 * time.Millisecond}, "(50ms until the first answer"},
		{hedge.Config{MinDelay: 200 * time.Millisecond}, "(200ms until the first answer"},
		{hedge.Config{Percentile: 0.99, Delay: 150 * time.Millisecond, MinDelay: 50 * time.Millisecond, MaxDelay: time.Second}, "(150ms until the first answer"},
	} {
		p, err := hedge.New(tc.cfg)
		if err != nil {
			t.Fatal(err)
		}
		got := p.Config().Explain()
		if !strings.Contains(got, tc.want) {
			t.Errorf("%+v: Explain() = %q, want it to say %q (Policy.Delay: %v)", tc.cfg, got, tc.want, p.Delay("/kyc.v1.FaceMatchService/Compare"))
		}
	}
}

// TestExplainSaysWhoIsHedged: a policy without idempotent: true hedges only methods whose
// descriptors declare an idempotency level; Explain did not say so.
func TestExplainSaysWhoIsHedged(t *testing.T) {
	if got := hedge.Normalize(hedge.Config{}).Explain(); !strings.HasSuffix(got, "; hedges only methods declared idempotent") {
		t.Errorf("Explain() = %q, want it to end \"; hedges only methods declared idempotent\"", got)
	}
	if got := hedge.Normalize(hedge.Config{Idempotent: true}).Explain(); !strings.HasSuffix(got, "; idempotent") {
		t.Errorf("idempotent: Explain() = %q, want it to end \"; idempotent\"", got)
	}
}

// TestNormalizeMinDelayUnderMaxDelay pins min_delay's default under a max_delay shorter than
// it: the max_delay, which Validate would refuse to see exceeded.
func TestNormalizeMinDelayUnderMaxDelay(t *testing.T) {
	if got := hedge.Normalize(hedge.Config{MaxDelay: 500 * time.Microsecond}).MinDelay; got != 500*time.Microsecond {
		t.Errorf("MinDelay = %v, want max_delay's 500µs", got)
	}
	if got := hedge.Normalize(hedge.Config{}).MinDelay; got != hedge.DefaultMinDelay {
		t.Errorf("MinDelay = %v, want %v", got, hedge.DefaultMinDelay)
	}
}
