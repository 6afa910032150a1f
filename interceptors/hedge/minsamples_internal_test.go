package hedge

import (
	"testing"
	"time"
)

// TestMinSamplesCapLiftsAtTheSampleThatCompletesThem: the cap at the starting Delay lifts as
// the MinSamples-th sample is recorded, also when it comes while another recorder is
// recomputing from one sample fewer and holds the lock: that recorder recomputes again once it
// lets the lock go. It used to stay capped until one more sample came.
func TestMinSamplesCapLiftsAtTheSampleThatCompletesThem(t *testing.T) {
	const minSamples = 10
	p, err := New(Config{Delay: 10 * time.Millisecond, Percentile: 0.5, Window: 100, MinSamples: minSamples})
	if err != nil {
		t.Fatal(err)
	}
	e := p.method("/kyc.v1.OCRService/Extract").est
	for range minSamples - 2 {
		e.record(50 * time.Millisecond)
	}
	defer func() { testHookRecompute = nil }()
	testHookRecompute = func() {
		testHookRecompute = nil
		e.record(50 * time.Millisecond) // the MinSamples-th, while sample 9's recorder recomputes
	}
	e.record(50 * time.Millisecond)
	if got := e.count.Load(); got != minSamples {
		t.Fatalf("%d samples recorded, want %d", got, minSamples)
	}
	if got, want := e.current(), 50*time.Millisecond; got != want {
		t.Fatalf("delay %v after %d samples of %v, want %v: the MinSamples cap did not lift", got, minSamples, want, want)
	}
}
