package benchmarks

import (
	"context"
	"strings"
	"testing"
	"time"

	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
)

// BenchmarkAdaptiveLimit runs DefaultLoad (shortened: 0.5 s warmup, 2 s counted) through each
// limit variant and reports what benchmarks/results/adaptive.md tabulates. One iteration is one
// whole run: use -benchtime 1x. ns/op is the run's wall time, not a cost per call.
func BenchmarkAdaptiveLimit(b *testing.B) {
	l := DefaultLoad
	l.Warmup, l.Duration = 500*time.Millisecond, 2*time.Second
	for _, v := range LimitVariants(l) {
		name := strings.NewReplacer(" ", "_", ",", "", "·", "x", "(", "", ")", "").Replace(v.Name)
		b.Run("variant="+name, func(b *testing.B) {
			var r LimitResult
			for b.Loop() {
				var err error
				if r, err = RunLimit(context.Background(), l, v); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(r.Goodput(), "goodput/s")
			b.ReportMetric(float64(r.P50)/1e6, "p50-ms")
			b.ReportMetric(float64(r.P99)/1e6, "p99-ms")
			b.ReportMetric(100*r.Share(r.Rejected), "rejected-%")
			b.ReportMetric(100*r.Share(r.Expired), "expired-%")
			b.ReportMetric(r.MeanLimit, "limit")
		})
	}
}

// TestKneeServer checks the service model: alone, a call takes Base; with 2·Knee calls at
// once, the last to arrive takes at least twice as long. The four calls are held at the
// server's door until all four are in (KneeServer.hold), so they are in the server together
// however far apart a busy machine starts them: the times asserted are lower bounds, which a
// slow machine only exceeds. (Without the gate, a stall longer than a call between two starts
// left the server a peak of 3, even at a base of 500ms: issue 17 item 12.)
func TestKneeServer(t *testing.T) {
	const base = 20 * time.Millisecond
	s := StartKneeServer(2, base)
	defer s.Stop()
	cc, err := s.Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cc.Close() }()
	client := kycv1.NewFaceMatchServiceClient(cc)
	ctx := context.Background()
	if _, err := client.Compare(ctx, &kycv1.CompareRequest{}); err != nil { // connects
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := client.Compare(ctx, &kycv1.CompareRequest{}); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < base {
		t.Errorf("a lone call took %v, want >= %v", took, base)
	}
	gate := make(chan struct{})
	s.hold.Store(&gate)
	done := make(chan time.Duration, 4)
	for range 4 {
		go func() {
			st := time.Now()
			_, _ = client.Compare(ctx, &kycv1.CompareRequest{})
			done <- time.Since(st)
		}()
	}
	for s.inFlight.Load() < 4 {
		time.Sleep(time.Millisecond)
	}
	close(gate)
	var slowest time.Duration
	for range 4 {
		slowest = max(slowest, <-done)
	}
	if slowest < 2*base {
		t.Errorf("4 calls at once with knee 2: slowest took %v, want >= %v", slowest, 2*base)
	}
	if p := s.peak.Load(); p != 4 {
		t.Errorf("server peak = %d, want 4", p)
	}
}

// TestRunLimit runs a short load through every variant and checks the harness's figures are
// sane: every attempt is accounted for, and the adaptive limits stay in [1, 64].
func TestRunLimit(t *testing.T) {
	l := DefaultLoad
	l.Clients, l.Warmup, l.Duration = 16, 100*time.Millisecond, 300*time.Millisecond
	for _, v := range LimitVariants(l) {
		r, err := RunLimit(context.Background(), l, v)
		if err != nil {
			t.Fatalf("%s: %v", v.Name, err)
		}
		if r.Attempts == 0 || r.OK+r.Rejected+r.Expired+r.Other != r.Attempts {
			t.Errorf("%s: attempts %d, outcomes %d+%d+%d+%d", v.Name, r.Attempts, r.OK, r.Rejected, r.Expired, r.Other)
		}
		adaptive := v.Config != nil && v.Config.Adaptive.Algorithm != ""
		if adaptive && (r.FinalLimit < 1 || r.FinalLimit > 64 || r.MeanLimit < 1 || r.MeanLimit > 64) {
			t.Errorf("%s: limit mean %v final %v, want in [1, 64]", v.Name, r.MeanLimit, r.FinalLimit)
		}
		if r.OK > 0 && (r.P50 <= 0 || r.P99 < r.P50) {
			t.Errorf("%s: p50 %v p99 %v", v.Name, r.P50, r.P99)
		}
	}
}
