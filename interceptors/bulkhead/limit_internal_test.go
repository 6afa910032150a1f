package bulkhead

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// step is one sample fed to a limit and the estimate expected after it.
type step struct {
	kind     sampleKind
	latency  time.Duration
	inFlight int
	want     float64
}

func runSteps(t *testing.T, l *limit, steps []step) {
	t.Helper()
	for i, s := range steps {
		l.sample(s.kind, s.latency, s.inFlight)
		if math.Abs(l.est-s.want) > 1e-9 {
			t.Fatalf("after step %d (%+v): estimate %v, want %v", i, s, l.est, s.want)
		}
	}
}

func TestAIMDSteps(t *testing.T) {
	const ms = time.Millisecond
	tests := []struct {
		name  string
		cfg   Adaptive
		ceil  int
		steps []step
	}{
		{
			name: "grows by one while in use", cfg: Adaptive{InitialLimit: 10}, ceil: 12,
			steps: []step{
				{sampleOK, ms, 5, 11},  // 5 of 10 in flight: in use
				{sampleOK, ms, 11, 12}, // at the ceiling...
				{sampleOK, ms, 12, 12}, // ...it stays
			},
		},
		{
			name: "no growth without use", cfg: Adaptive{InitialLimit: 10}, ceil: 20,
			steps: []step{{sampleOK, ms, 4, 10}, {sampleOK, ms, 1, 10}},
		},
		{
			name: "drop backs off by the ratio, floored", cfg: Adaptive{InitialLimit: 10, MinLimit: 3}, ceil: 20,
			steps: []step{
				{sampleDrop, ms, 10, 9}, // floor(10·0.9)
				{sampleDrop, ms, 1, 8},  // drops count in use or not: floor(8.1)
				{sampleDrop, ms, 1, 7},
				{sampleDrop, ms, 1, 6},
				{sampleDrop, ms, 1, 5},
				{sampleDrop, ms, 1, 4},
				{sampleDrop, ms, 1, 3},
				{sampleDrop, ms, 1, 3}, // the floor
			},
		},
		{
			name: "backoff ratio", cfg: Adaptive{InitialLimit: 20, BackoffRatio: 0.5}, ceil: 40,
			steps: []step{{sampleDrop, ms, 20, 10}, {sampleDrop, ms, 1, 5}, {sampleOK, ms, 3, 6}},
		},
		{
			name: "latency over the threshold is a drop", cfg: Adaptive{InitialLimit: 10, LatencyThreshold: 5 * ms}, ceil: 20,
			steps: []step{
				{sampleOK, 5 * ms, 10, 11}, // at the threshold: fine
				{sampleOK, 5*ms + 1, 10, 9},
				{sampleOK, time.Second, 1, 8},
			},
		},
		{
			name: "no threshold: any latency grows", cfg: Adaptive{InitialLimit: 10}, ceil: 20,
			steps: []step{{sampleOK, time.Hour, 10, 11}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Algorithm = AlgorithmAIMD
			runSteps(t, newLimit(tt.cfg, tt.ceil), tt.steps)
		})
	}
}

func TestGradientSteps(t *testing.T) {
	const ms = time.Millisecond
	// With the defaults: smoothing 0.2, tolerance 1.5, queue allowance sqrt(estimate) when the
	// gradient is 1.
	grow := func(est float64) float64 { return est*0.8 + (est+math.Sqrt(est))*0.2 }
	e1 := grow(16) // flat latency, in use
	e2 := grow(e1) // same
	// Latency far above the baseline (10 ms) counts as 3x it, 30 ms (tolerance/0.5). Short-term
	// averages: 10 + (2/11)(30-10) = 13.64 ms, gradient min(1, 1.5·10/13.64) = 1, so one such
	// sample grows the limit; then 16.61 ms (gradient 0.903) and 19.04 ms (0.788).
	s1 := 10 + 2.0/11*(30-10)
	s2 := s1 + 2.0/11*(30-s1)
	s3 := s2 + 2.0/11*(30-s2)
	e3 := grow(e2)
	e4 := e3*0.8 + e3*(1.5*10/s2)*0.2
	e5 := e4*0.8 + e4*(1.5*10/s3)*0.2
	tests := []struct {
		name  string
		cfg   Adaptive
		ceil  int
		steps []step
	}{
		{
			name: "flat latency in use grows by the queue allowance", cfg: Adaptive{InitialLimit: 16}, ceil: 100,
			steps: []step{{sampleOK, 10 * ms, 16, e1}, {sampleOK, 10 * ms, 16, e2}},
		},
		{
			name: "no growth without use", cfg: Adaptive{InitialLimit: 16}, ceil: 100,
			steps: []step{{sampleOK, 10 * ms, 7, 16}, {sampleOK, 10 * ms, 1, 16}},
		},
		{
			name: "latency within tolerance still grows", cfg: Adaptive{InitialLimit: 16}, ceil: 100,
			// short = 10 + (2/11)(14-10) = 10.73 ms: gradient min(1, 1.5·10/10.73) = 1.
			steps: []step{{sampleOK, 10 * ms, 16, e1}, {sampleOK, 14 * ms, 16, e2}},
		},
		{
			name: "one slow sample does not shrink it, a run of them does", cfg: Adaptive{InitialLimit: 16}, ceil: 100,
			steps: []step{
				{sampleOK, 10 * ms, 16, e1},
				{sampleOK, 10 * ms, 16, e2},
				// The baseline stays 10 ms (in use, above it); 1 s counts as 30 ms.
				{sampleOK, time.Second, 16, e3},
				{sampleOK, time.Second, 16, e4},
				{sampleOK, 30 * ms, 16, e5}, // at the cap: the same as 1 s
			},
		},
		{
			name: "drop backs off", cfg: Adaptive{InitialLimit: 16, MinLimit: 10}, ceil: 100,
			steps: []step{{sampleDrop, ms, 16, 14.4}, {sampleDrop, ms, 1, 12.96}, {sampleDrop, ms, 1, 11.664}, {sampleDrop, ms, 1, 10.4976}, {sampleDrop, ms, 1, 10}},
		},
		{
			name: "ceiling", cfg: Adaptive{InitialLimit: 17}, ceil: 17,
			steps: []step{{sampleOK, ms, 17, 17}},
		},
		{
			name: "smoothing 1 takes the new estimate whole", cfg: Adaptive{InitialLimit: 16, Smoothing: 1}, ceil: 100,
			steps: []step{{sampleOK, ms, 16, 20}}, // 16·1 + sqrt(16)
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Algorithm = AlgorithmGradient
			runSteps(t, newLimit(tt.cfg, tt.ceil), tt.steps)
		})
	}
}

// TestGradientOutlier checks that one very slow answer among fast ones (a request held by a
// stalled replica) leaves the limit where it was, where it used to halve it over the next
// samples, and that slow answers that go on still take the limit to its floor.
func TestGradientOutlier(t *testing.T) {
	for _, tolerance := range []float64{0, 2} { // the default, 1.5, and the ml profile's
		l := newLimit(Adaptive{Algorithm: AlgorithmGradient, InitialLimit: 16, MinLimit: 8, Tolerance: tolerance}, 16)
		for range 50 {
			l.sample(sampleOK, 20*time.Millisecond, 16)
		}
		l.sample(sampleOK, time.Second, 16)
		least := l.current()
		for range 30 {
			l.sample(sampleOK, 20*time.Millisecond, 16)
			least = min(least, l.current())
		}
		if least != 16 {
			t.Errorf("tolerance %v: one 1s answer among 20ms ones took the limit to %d, want 16", tolerance, least)
		}
		for range 30 {
			l.sample(sampleOK, time.Second, 16)
		}
		if got := l.current(); got != 8 {
			t.Errorf("tolerance %v: 30 answers of 1s in a row left the limit at %d, want the floor 8", tolerance, got)
		}
	}
}

// TestGradientBaseline checks how the long-term latency learns: from samples under it, from
// samples of calls that found no queue, quickly at the floor, and never from queued calls.
func TestGradientBaseline(t *testing.T) {
	const ms = float64(time.Millisecond)
	l := newLimit(Adaptive{Algorithm: AlgorithmGradient, InitialLimit: 10, MinLimit: 2}, 100)
	l.sample(sampleOK, 10*time.Millisecond, 10)
	if l.long != 10*ms || l.short != 10*ms {
		t.Fatalf("first sample: long %v short %v, want both 10ms", l.long, l.short)
	}
	for range 8 {
		l.sample(sampleOK, 30*time.Millisecond, l.current()) // queued: in use, above the baseline
	}
	if l.long != 10*ms {
		t.Fatalf("queued samples moved the baseline to %v", time.Duration(l.long))
	}
	if l.current() >= 10 {
		t.Fatalf("3x latency left the limit at %d", l.current())
	}
	l.sample(sampleOK, 30*time.Millisecond, 1) // no queue of ours: learned, slowly
	if want := 10*ms + 2.0/601*20*ms; math.Abs(l.long-want) > 1 {
		t.Fatalf("unqueued sample: long %v, want %v", time.Duration(l.long), time.Duration(want))
	}
	for range 12 {
		l.sample(sampleOK, 30*time.Millisecond, l.current())
	}
	if l.current() != 2 || l.long > 11*ms {
		t.Fatalf("limit %d, long %v; want the floor 2 and the baseline still ~10ms", l.current(), time.Duration(l.long))
	}
	// At the floor the baseline learns 30ms at the short rate until 30ms is within tolerance
	// (baseline 20ms), and the limit grows again (this latency does not grow with it).
	for range 200 {
		l.sample(sampleOK, 30*time.Millisecond, l.current())
	}
	if l.long < 20*ms || l.long > 25*ms || l.current() < 10 {
		t.Fatalf("after the floor: long %v, limit %d; want 20-25ms and regrown", time.Duration(l.long), l.current())
	}
	// Recovery: much faster samples drag the baseline down.
	for range 100 {
		l.sample(sampleOK, 2*time.Millisecond, l.current())
	}
	if l.long > 5*ms {
		t.Fatalf("after recovery: long %v, want near 2ms", time.Duration(l.long))
	}
}

// TestLimitStaysInBounds feeds random samples to every algorithm and configuration.
func TestLimitStaysInBounds(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, alg := range []Algorithm{AlgorithmAIMD, AlgorithmGradient} {
		for _, c := range []struct{ floor, initial, ceil int }{{1, 0, 1}, {1, 0, 10}, {3, 3, 3}, {5, 50, 200}, {1, 1, 1 << 20}} {
			cfg := Adaptive{Algorithm: alg, MinLimit: c.floor, InitialLimit: c.initial, LatencyThreshold: 20 * time.Millisecond}
			l := newLimit(cfg, c.ceil)
			for i := range 20000 {
				kind := sampleKind(rng.IntN(3))
				if kind == sampleNone {
					kind = sampleOK
				}
				lat := time.Duration(rng.ExpFloat64() * float64(10*time.Millisecond))
				if i%1000 == 0 {
					lat = 0
				}
				l.sample(kind, lat, rng.IntN(2*c.ceil+2))
				if got := l.current(); got < c.floor || got > c.ceil {
					t.Fatalf("%s %+v: limit %d after %d samples, outside [%d, %d]", alg, c, got, i+1, c.floor, c.ceil)
				}
			}
		}
	}
}

// TestGradientToleranceOneGrowsAtTheBaseline: with Tolerance 1 (the least allowed), a latency
// that is back at the baseline after a slow spell gives a gradient of 1, and the limit grows
// again. The short-term average settles a few units in the last place above the latency it
// follows, and a gradient a hair below 1 held the limit where the slow spell left it, for good.
func TestGradientToleranceOneGrowsAtTheBaseline(t *testing.T) {
	l := newLimit(Adaptive{Algorithm: AlgorithmGradient, Tolerance: 1, InitialLimit: 10}, 100)
	for range 300 {
		l.sample(sampleOK, 10*time.Millisecond, l.current())
	}
	for range 30 {
		l.sample(sampleOK, 30*time.Millisecond, l.current()) // queued: the limit shrinks
	}
	slow := l.current()
	if slow >= 100 {
		t.Fatalf("30 samples at 3x the baseline left the limit at %d", slow)
	}
	for range 1000 {
		l.sample(sampleOK, 10*time.Millisecond, l.current()) // the baseline again, in use
	}
	if l.current() != 100 {
		t.Fatalf("1000 samples at the baseline latency after a slow spell: limit %d (was %d), want the ceiling 100; short %v long %v, gradient %v",
			l.current(), slow, l.short, l.long, l.tolerance*l.long/l.short)
	}
}
