package promobs_test

import (
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/internal/fastobs"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	grpccodes "google.golang.org/grpc/codes"
)

// emitCallEvent sends a chain's sink event k of the three of a call that succeeds at once, in
// the order the suite emits them: 0 AttemptFinished, 1 DeadlineApplied, 2 CallFinished. It
// builds the event on its stack at each call, as a policy does, so that a benchmark that
// evicts the caches does not also time the misses of events held in memory.
//
//go:noinline
func emitCallEvent(s observe.Sink, k int, d time.Duration) {
	switch k {
	case 0:
		s.Observe(observe.Event{Kind: observe.AttemptFinished, Service: ocr, Method: extract, Policy: observe.PolicyRetry,
			Attempt: 1, Code: grpccodes.OK, Class: codes.Success, Duration: d})
	case 1:
		s.Observe(observe.Event{Kind: observe.DeadlineApplied, Service: ocr, Method: extract, Policy: observe.PolicyDeadline,
			Reason: observe.ReasonDefault, Delay: time.Second})
	case 2:
		s.Observe(observe.Event{Kind: observe.CallFinished, Service: ocr, Method: extract, Policy: observe.PolicyRetry,
			Attempt: 1, Code: grpccodes.OK, Class: codes.Success, Duration: d})
	}
}

//go:noinline
func observeSuccess(r fastobs.SuccessRecorder, d time.Duration) {
	r.ObserveSuccess(ocr, extract, d, observe.ReasonDefault, time.Second)
}

// BenchmarkMethodSinkCall records the three events of a successful call (AttemptFinished,
// DeadlineApplied, CallFinished) through a chain's sink (ForMethod) whose series are known,
// which is where a suite's promobs rung spends its time.
//
// hot runs them back to back, everything in L1. The cold variants first read testkit.ColdBytes
// of other memory (as the benchmarks module's BenchmarkSuiteOwnCold does), untimed, so that the sink's code and data and client_golang's metric
// children are out of L1 and L2, as a gRPC round trip between two calls leaves them; then
// they record all three events but time only what the name says (two clock readings around
// it): cold-ns/op. cold/timed=all times the three, cold/timed=attempt, deadline and call
// each one of them (in place, after the events before it), cold/timed=none the two clock
// readings alone, the floor to subtract from the others.
//
// What it showed (2-core VM under load, binaries alternated 16 times, medians): the three
// events cost 415 ns cold, 58 ns of it the clock readings (timed alone, clock included:
// CallFinished 226 ns, AttemptFinished 183 ns, DeadlineApplied 135 ns), and 123 ns hot. A
// prototype that kept the four families of a successful call (calls, call duration, attempts,
// deadlines) as plain atomics in place of client_golang's children took the three to 314 ns
// cold (-24 %); the same sink updating no series at all, to 252 ns (-39 %). Most of the cold
// cost is the sink's dispatch of three events and the code it runs, not the metric objects:
// no other storage of the series can save much more than the prototype did.
//
// cold/timed=fused is the suite's fused record of such a call (internal/fastobs): one
// ObserveSuccess in place of the three events, through the same series. It showed (10 runs,
// medians, same host) 247 ns against the three events' 392 ns; in the suite
// (BenchmarkSuiteOwnCold chain=suite) the call's cold cost fell by about 120 ns (see the
// commit that made it).
func BenchmarkMethodSinkCall(b *testing.B) {
	const d = 3 * time.Millisecond
	b.Run("hot", func(b *testing.B) {
		m := benchMetrics(b)
		s := m.ForMethod(ocr, extract)
		for k := range 3 {
			emitCallEvent(s, k, d)
		}
		b.ReportAllocs()
		for b.Loop() {
			emitCallEvent(s, 0, d)
			emitCallEvent(s, 1, d)
			emitCallEvent(s, 2, d)
		}
	})
	ev := testkit.NewEvictor(testkit.ColdBytes)
	for _, tc := range []struct {
		name     string
		from, to int // the events timed: from to to-1
	}{
		{"all", 0, 3},
		{"attempt", 0, 1},
		{"deadline", 1, 2},
		{"call", 2, 3},
		{"none", 0, 0},
		{"fused", -1, -1},
	} {
		b.Run("cold/timed="+tc.name, func(b *testing.B) {
			m := benchMetrics(b)
			s := m.ForMethod(ocr, extract)
			for k := range 3 {
				emitCallEvent(s, k, d)
			}
			var timed time.Duration
			if tc.from < 0 {
				r := s.(fastobs.SuccessRecorder)
				for b.Loop() {
					ev.Evict()
					t0 := time.Now()
					observeSuccess(r, d)
					timed += time.Since(t0)
				}
				b.ReportMetric(float64(timed.Nanoseconds())/float64(b.N), "cold-ns/op")
				return
			}
			for b.Loop() {
				ev.Evict()
				for k := range tc.from {
					emitCallEvent(s, k, d)
				}
				t0 := time.Now()
				for k := tc.from; k < tc.to; k++ {
					emitCallEvent(s, k, d)
				}
				timed += time.Since(t0)
				for k := tc.to; k < 3; k++ {
					emitCallEvent(s, k, d)
				}
			}
			b.ReportMetric(float64(timed.Nanoseconds())/float64(b.N), "cold-ns/op")
		})
	}
}
