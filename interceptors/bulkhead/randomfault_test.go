package bulkhead_test

import (
	"container/heap"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Random transient faults at a service's normal latency (a replica restarting, a connection
// reset: Unavailable in 20-25ms, as fast as an answer) are no sign of a queue, and the limit
// over a service that could take the whole ceiling stays near it: a transient failure is a
// drop only when it took at least the time a healthy answer takes (Tolerance times the
// baseline, or AIMD's LatencyThreshold). Each was a drop: with one rise and one back-off per
// round trip, 5% of them held the limit near 15 of 100 and 20% near 8, whatever the
// algorithm, and the ml profile sat at its floor. A service that sheds with slow Unavailable
// (three times its normal latency) still drives the limit down, and so does loss-based AIMD
// (no threshold) with fast ones: it backs off on every failure, by definition.
func TestRandomFastFaultsKeepTheLimit(t *testing.T) {
	const threshold = 50 * time.Millisecond
	cases := []struct {
		name      string
		cfg       bulkhead.Adaptive
		lossBased bool // every transient failure is a drop
	}{
		{"gradient", bulkhead.Adaptive{Algorithm: bulkhead.AlgorithmGradient, InitialLimit: 50}, false},
		{"gradient as the ml profile", bulkhead.Adaptive{Algorithm: bulkhead.AlgorithmGradient, MinLimit: 8, InitialLimit: 16, Tolerance: 2}, false},
		{"aimd with a threshold", bulkhead.Adaptive{Algorithm: bulkhead.AlgorithmAIMD, InitialLimit: 50, LatencyThreshold: threshold}, false},
		{"aimd without a threshold", bulkhead.Adaptive{Algorithm: bulkhead.AlgorithmAIMD, InitialLimit: 50}, true},
	}
	for _, ac := range cases {
		t.Run(ac.name, func(t *testing.T) {
			healthy := settledUnderFaults(t, ac.cfg, grpccodes.Unavailable, 0, 1)
			t.Logf("no faults: settled at %.1f", healthy)
			for _, share := range []float64{0.05, 0.2} {
				fast := settledUnderFaults(t, ac.cfg, grpccodes.Unavailable, share, 1)
				slow := settledUnderFaults(t, ac.cfg, grpccodes.Unavailable, share, 3)
				t.Logf("%.0f%% of faults: settled at %.1f when fast, %.1f when slow", share*100, fast, slow)
				switch {
				case !ac.lossBased && fast < 0.8*healthy:
					t.Errorf("%.0f%% of fast Unavailable: the limit settled at %.1f, want at least 80%% of the %.1f it reaches without faults", share*100, fast, healthy)
				case ac.lossBased && fast > healthy/2:
					t.Errorf("%.0f%% of fast Unavailable: the limit settled at %.1f, want loss-based AIMD at most half the %.1f it reaches without faults", share*100, fast, healthy)
				}
				if slow > healthy/2 {
					t.Errorf("%.0f%% of slow Unavailable (shedding): the limit settled at %.1f, want at most half the %.1f it reaches without faults", share*100, slow, healthy)
				}
			}
		})
	}
}

// A server fault (Internal) that took longer than a healthy answer (a GPU worker's own timeout
// under its queue, answered Internal after three times the normal latency) is a drop where
// the algorithm knows a healthy answer's time, as a slow Unavailable is: the limit falls below
// half of what it reaches without faults. Such faults were no sample at all, and 20 % of
// them left the limit at the ceiling over a service taking three times its latency to fail.
// A fast one stays no sample, and so does any server fault for AIMD without a threshold,
// which has no time to judge it by.
func TestSlowServerFaultsLowerTheLimit(t *testing.T) {
	cases := []struct {
		name  string
		cfg   bulkhead.Adaptive
		judge bool // the algorithm knows a healthy answer's time
	}{
		{"gradient", bulkhead.Adaptive{Algorithm: bulkhead.AlgorithmGradient, InitialLimit: 50}, true},
		{"gradient as the ml profile", bulkhead.Adaptive{Algorithm: bulkhead.AlgorithmGradient, MinLimit: 8, InitialLimit: 16, Tolerance: 2}, true},
		{"aimd with a threshold", bulkhead.Adaptive{Algorithm: bulkhead.AlgorithmAIMD, InitialLimit: 50, LatencyThreshold: 50 * time.Millisecond}, true},
		{"aimd without a threshold", bulkhead.Adaptive{Algorithm: bulkhead.AlgorithmAIMD, InitialLimit: 50}, false},
	}
	for _, ac := range cases {
		t.Run(ac.name, func(t *testing.T) {
			healthy := settledUnderFaults(t, ac.cfg, grpccodes.Internal, 0, 1)
			fast := settledUnderFaults(t, ac.cfg, grpccodes.Internal, 0.2, 1)
			slow := settledUnderFaults(t, ac.cfg, grpccodes.Internal, 0.2, 3)
			t.Logf("no faults: %.1f; 20%% of Internal: %.1f when fast, %.1f when slow", healthy, fast, slow)
			if fast < 0.8*healthy {
				t.Errorf("20%% of fast Internal: the limit settled at %.1f, want at least 80%% of the %.1f it reaches without faults", fast, healthy)
			}
			switch {
			case ac.judge && slow > healthy/2:
				t.Errorf("20%% of slow Internal: the limit settled at %.1f, want at most half the %.1f it reaches without faults", slow, healthy)
			case !ac.judge && slow < 0.8*healthy:
				t.Errorf("20%% of slow Internal, AIMD without a threshold: the limit settled at %.1f, want it no sample (at least 80%% of %.1f)", slow, healthy)
			}
		})
	}
}

// settledUnderFaults runs unlimited demand (more clients than the ceiling of 100, each
// starting a call as soon as TryAcquire lets it) for 10s of fake time against a service that
// answers in 20-25ms at any concurrency, and fails the given share of the calls, at random
// (seeded), with code after slowdown times that latency. It returns the mean limit over the
// second half of the run.
func settledUnderFaults(t *testing.T, cfg bulkhead.Adaptive, code grpccodes.Code, share, slowdown float64) float64 {
	t.Helper()
	const (
		base, jitter = 20 * time.Millisecond, 5 * time.Millisecond
		ceiling      = 100
		clients      = 3 * ceiling
		run          = 10 * time.Second
	)
	clk := clocktest.New(time.Unix(1000, 0))
	b := newAdaptive(t, bulkhead.Config{MaxConcurrent: ceiling, Adaptive: cfg}, bulkhead.WithClock(clk))
	rng := rand.New(rand.NewPCG(55, uint64(share*100)))
	fault := status.Error(code, "replica restarting")
	var (
		origin  = clk.Now()
		now     time.Duration
		running = &callHeap{}
		idle    = clients
		sum     float64
		samples int
	)
	for now < run {
		for idle > 0 && b.TryAcquire() {
			idle--
			c := timedCall{took: base + time.Duration(rng.Int64N(int64(jitter)))}
			if rng.Float64() < share {
				c.took = time.Duration(slowdown * float64(c.took))
				c.err = fault
			}
			c.end = now + c.took
			heap.Push(running, c)
		}
		c := heap.Pop(running).(timedCall)
		now = c.end
		clk.Set(origin.Add(now))
		b.ReleaseWith(c.took, c.err)
		idle++
		if now >= run/2 {
			sum += float64(b.Capacity())
			samples++
		}
	}
	for running.Len() > 0 {
		heap.Pop(running)
		b.Release()
	}
	return sum / float64(samples)
}
