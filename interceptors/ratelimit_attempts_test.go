package interceptors_test

import (
	"context"
	"errors"
	"testing"

	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// In a suite the rate limiter is a per-attempt step, inside the retry loop: each attempt takes
// a token, so a call of three attempts spends three, and a retry the bucket cannot pay for is
// refused by the limiter, not sent. (A token per call would let retries multiply the load on
// the service past the limit.) A bucket of 3 at one call per 1000s: the first call's three
// attempts drain it, and the next call is refused before it reaches the server.
func TestSuiteRateLimitTakesATokenPerAttempt(t *testing.T) {
	cfg := threeProfiles()
	p := cfg.Profiles["ocr"] // 3 attempts
	p.RateLimit = &ratelimit.Config{Rate: 0.001, Burst: 3}
	cfg.Profiles["ocr"] = p
	srv := &testkit.Server{ExtractF: func(context.Context, int, *kycv1.ExtractRequest) (*kycv1.ExtractResponse, error) {
		return nil, unavailable()
	}}
	e := newEnv(t, cfg, srv)
	if _, err := e.ocr.Extract(context.Background(), &kycv1.ExtractRequest{}); status.Code(err) != grpccodes.Unavailable {
		t.Fatalf("first call: %v, want the server's Unavailable after its attempts", err)
	}
	if got := e.srv.Calls(testkit.MethodExtract); got != 3 {
		t.Fatalf("first call: the server saw %d attempts, want 3", got)
	}
	_, err := e.ocr.Extract(context.Background(), &kycv1.ExtractRequest{})
	if st, _ := status.FromError(err); st.Code() != grpccodes.ResourceExhausted || reason(st) != ratelimit.ReasonLimited || !errors.Is(err, ratelimit.ErrLimited) {
		t.Fatalf("second call: %v, want the limiter's rejection (the first call's attempts took the burst)", err)
	}
	if got := e.srv.Calls(testkit.MethodExtract); got != 3 {
		t.Fatalf("the server saw %d attempts in all, want 3", got)
	}
}
