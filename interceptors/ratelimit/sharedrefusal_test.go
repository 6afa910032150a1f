package ratelimit_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/observe"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// A refusal by a shared bucket names the bucket, so that an operator looking at the refused
// service can tell that another service drained it; a service's own bucket is named by the
// service alone, as before. The reason, code, class and sentinel are those of any refusal for
// want of a token, and a refusal by a shared bucket allocates no more than one by an own one.
func TestSharedBucketRefusalNamesBucket(t *testing.T) {
	clk := clocktest.New(time.Time{})
	reg := ratelimit.NewRegistry(ratelimit.WithClock(clk))
	cfg := ratelimit.Config{Rate: 1, Burst: 1, Shared: "ml-gpu"}
	face, err := ratelimit.New("kyc.v1.FaceMatchService", nil, cfg, ratelimit.WithRegistry(reg), ratelimit.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	live, err := ratelimit.New("kyc.v1.LivenessService", nil, cfg, ratelimit.WithRegistry(reg), ratelimit.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	own, err := ratelimit.New("kyc.v1.OCRService", nil, ratelimit.Config{Rate: 1, Burst: 1}, ratelimit.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := face.Allow(ctx); err != nil {
		t.Fatalf("face match's first call: %v, want the bucket's token", err)
	}
	if err := own.Allow(ctx); err != nil {
		t.Fatalf("ocr's first call: %v, want its token", err)
	}
	tests := []struct {
		name    string
		p       *ratelimit.Policy
		wantMsg string
	}{
		{"shared", live, `bulwark: rate_limit rejected call to kyc.v1.LivenessService: rate limited by shared bucket "ml-gpu" (retry after 1s)`},
		{"own", own, `bulwark: rate_limit rejected call to kyc.v1.OCRService: rate limited (retry after 1s)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Allow(ctx)
			if err == nil || err.Error() != tt.wantMsg {
				t.Fatalf("Allow = %v, want %q", err, tt.wantMsg)
			}
			if !errors.Is(err, ratelimit.ErrLimited) {
				t.Errorf("errors.Is(%v, ErrLimited) = false", err)
			}
			st := status.Convert(err)
			if st.Code() != grpccodes.ResourceExhausted || st.Message() != tt.wantMsg {
				t.Errorf("status = %v %q, want ResourceExhausted %q", st.Code(), st.Message(), tt.wantMsg)
			}
			var rej *codes.Rejection
			if !errors.As(err, &rej) || rej.Reason != ratelimit.ReasonLimited || rej.Policy != observe.PolicyRateLimit {
				t.Errorf("rejection = %+v, want reason %s, policy %s", rej, ratelimit.ReasonLimited, observe.PolicyRateLimit)
			}
			if v := codes.Default().Classify(err); v.Class != codes.Rejected || v.Reason != ratelimit.ReasonLimited {
				t.Errorf("verdict = %+v, want class rejected, reason %s", v, ratelimit.ReasonLimited)
			}
		})
	}
	refusals := func(p *ratelimit.Policy) float64 {
		return testing.AllocsPerRun(50, func() {
			if p.Allow(ctx) == nil {
				t.Fatal("a token came free on a clock that did not move")
			}
		})
	}
	if shared, alone := refusals(live), refusals(own); shared != alone {
		t.Errorf("a shared bucket's refusal allocates %v, an own bucket's %v: want the same", shared, alone)
	}
}
