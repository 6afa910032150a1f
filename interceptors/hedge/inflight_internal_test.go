package hedge

import (
	"testing"
	"time"
)

// TestRecomputationWaitsForASampleInFlight: a recorder that has counted its sample but not yet
// stored it when another recorder recomputes is not left out of that recomputation, which sets
// the next threshold past it; it used to be (a hedged stream's winner, recorded beside its
// canceled loser, left the delay at the loser's latency).
func TestRecomputationWaitsForASampleInFlight(t *testing.T) {
	p, err := New(Config{Delay: time.Second, Percentile: 0.01, MedianMultiple: 1000, MinSamples: 1, MinDelay: time.Microsecond})
	if err != nil {
		t.Fatal(err)
	}
	e := p.method("/kyc.v1.OCRService/Extract").est
	// Recorder A: counted (slot 0), its store held back as if it were preempted there.
	n := e.count.Add(1)
	stored := make(chan struct{})
	go func() {
		defer close(stored)
		time.Sleep(50 * time.Millisecond) // long past B's recomputation on the old code
		e.ring[(n-1)%uint64(len(e.ring))].Store(int64(9*time.Millisecond) + 1)
		for m := e.count.Load(); m >= e.next.Load() && e.mu.TryLock(); m = e.count.Load() {
			e.recomputeLocked()
			e.mu.Unlock()
		}
	}()
	e.record(79 * time.Millisecond) // recorder B, slot 1, recomputes
	<-stored
	if got, want := e.current(), 9*time.Millisecond; got != want {
		t.Fatalf("delay %v after samples of 9ms and 79ms at the first percentile, want %v: the sample in flight was left out", got, want)
	}
}
