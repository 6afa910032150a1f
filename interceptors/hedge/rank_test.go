package hedge

import (
	"testing"
	"time"
)

// TestRankOfAPercentileAsWritten: the nearest rank is the smallest with at least Percentile of
// the samples at or below it, for the percentile as written. A float64 percentile is a hair
// off its decimal (0.55 is 0.55000000000000004), and p·n lands a hair above the whole number
// the decimal makes (0.55×100 = 55.00000000000001): rounded up, that took the next sample.
func TestRankOfAPercentileAsWritten(t *testing.T) {
	tests := []struct {
		p    float64
		n    int
		want int
	}{
		{0.55, 100, 54}, {0.81, 300, 242}, {0.07, 100, 6}, {0.68, 75, 50}, {0.28, 25, 6},
	}
	for _, tt := range tests {
		if got := rank(tt.p, tt.n); got != tt.want {
			t.Errorf("rank(%v, %d) = %d, want %d", tt.p, tt.n, got, tt.want)
		}
	}
}

// TestLearntDelayIsThePercentileAsWritten: a policy with percentile 0.55, fed 1..100ms, learns
// 55ms, the 55th of the 100 samples: 55 of them are at or below it.
func TestLearntDelayIsThePercentileAsWritten(t *testing.T) {
	p, err := New(Config{Window: 100, MinSamples: 100, Percentile: 0.55, MedianMultiple: 1000})
	if err != nil {
		t.Fatal(err)
	}
	const method = "/kyc.v1.OCRService/Extract"
	e := p.method(method).est
	feed := permuted(100, time.Millisecond)
	for i := range 100 {
		e.record(feed(i))
	}
	if got := p.Delay(method); got != 55*time.Millisecond {
		t.Fatalf("delay %v, want 55ms (the p55 of 1..100ms)", got)
	}
}

// TestMedianCapDoesNotOverflow: the median rule caps the delay at MedianMultiple × the median,
// compared as floats: a product past what a Duration holds (a median of 200 days × 1000) wrapped
// negative and took the delay down to MinDelay.
func TestMedianCapDoesNotOverflow(t *testing.T) {
	e := newEstimator(Config{Percentile: 0.95, MedianMultiple: 1000, MinDelay: time.Millisecond, Window: 16, MinSamples: 1, Delay: time.Second})
	long := 200 * 24 * time.Hour
	for range 16 {
		e.record(long)
	}
	if got := e.current(); got != long {
		t.Fatalf("delay %v, want the samples' %v", got, long)
	}
}
