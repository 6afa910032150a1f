package promobs_test

import (
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/observe"
	grpccodes "google.golang.org/grpc/codes"
)

// sinkCallEvents are the three events a suite chain sends its sink for a call that succeeds
// at once, in the order the suite emits them.
func sinkCallEvents() [3]observe.Event {
	d := 3 * time.Millisecond
	return [3]observe.Event{
		attempt(ocr, extract, 1, grpccodes.OK, codes.Success, d),
		{Kind: observe.DeadlineApplied, Service: ocr, Method: extract, Policy: observe.PolicyDeadline,
			Reason: observe.ReasonDefault, Delay: time.Second},
		call(ocr, extract, grpccodes.OK, codes.Success, 1, d),
	}
}

// coldEvictBytes is what the cold variants of BenchmarkMethodSinkCall read between two calls,
// as the benchmarks module's BenchmarkSuiteOwnCold does: four times the 512 KB L2 cache of the
// cores of the machine the numbers come from, within its L3.
const coldEvictBytes = 2 << 20

// evictSink keeps readEvery's sum alive.
var evictSink byte

// readEvery reads every stride-th byte of p and returns their sum.
func readEvery(p []byte, stride int) byte {
	var s byte
	for i := 0; i < len(p); i += stride {
		s += p[i]
	}
	return s
}

// BenchmarkMethodSinkCall records the three events of a successful call (AttemptFinished,
// DeadlineApplied, CallFinished) through a chain's sink (ForMethod) whose series are known,
// which is where a suite's promobs rung spends its time.
//
// hot runs them back to back, everything in L1. The cold variants first read coldEvictBytes
// of other memory, untimed, so that the sink's code and data and client_golang's metric
// children are out of L1 and L2, as a gRPC round trip between two calls leaves them; then
// they record all three events but time only what the name says (two clock readings around
// it): cold-ns/op. cold/timed=all times the three, cold/timed=attempt, deadline and call
// each one of them (in place, after the events before it), cold/timed=none the two clock
// readings alone, the floor to subtract from the others.
func BenchmarkMethodSinkCall(b *testing.B) {
	evs := sinkCallEvents()
	b.Run("hot", func(b *testing.B) {
		m := benchMetrics(b)
		s := m.ForMethod(ocr, extract)
		for _, e := range evs {
			s.Observe(e)
		}
		b.ReportAllocs()
		for b.Loop() {
			s.Observe(evs[0])
			s.Observe(evs[1])
			s.Observe(evs[2])
		}
	})
	other := make([]byte, coldEvictBytes)
	for i := range other { // written, so that its pages are its own, not the kernel's shared zero page
		other[i] = byte(i)
	}
	for _, tc := range []struct {
		name     string
		from, to int // the events timed: evs[from:to]
	}{
		{"all", 0, 3},
		{"attempt", 0, 1},
		{"deadline", 1, 2},
		{"call", 2, 3},
		{"none", 0, 0},
	} {
		b.Run("cold/timed="+tc.name, func(b *testing.B) {
			m := benchMetrics(b)
			s := m.ForMethod(ocr, extract)
			for _, e := range evs {
				s.Observe(e)
			}
			var timed time.Duration
			for b.Loop() {
				evictSink += readEvery(other, 64)
				for _, e := range evs[:tc.from] {
					s.Observe(e)
				}
				t0 := time.Now()
				for _, e := range evs[tc.from:tc.to] {
					s.Observe(e)
				}
				timed += time.Since(t0)
				for _, e := range evs[tc.to:] {
					s.Observe(e)
				}
			}
			b.ReportMetric(float64(timed.Nanoseconds())/float64(b.N), "cold-ns/op")
		})
	}
}
