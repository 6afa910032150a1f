package interceptors_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestSuiteOnFinishOncePerCall: through a suite, a caller's grpc.OnFinish runs once per call
// with the call's outcome, as grpc documents it: on the gated path (retry and a breaker, whose
// first attempt the retry loop makes before its state is set up) and with hedging (attempt 1
// canceled by the hedge that won). Each attempt, and each hedge, ran it.
func TestSuiteOnFinishOncePerCall(t *testing.T) {
	for _, tt := range []struct {
		name    string
		profile config.Profile
		srv     func() *testkit.Server
	}{
		{"retry and breaker, third attempt answers", config.Profile{Retry: quickRetry(3), Breaker: &breaker.Config{ConsecutiveFailures: 10}},
			func() *testkit.Server {
				return &testkit.Server{CompareF: func(_ context.Context, call int, _ *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
					if call <= 2 {
						return nil, status.Error(grpccodes.Unavailable, "down")
					}
					return &kycv1.CompareResponse{}, nil
				}}
			}},
		{"hedge wins over a stuck attempt 1", config.Profile{Retry: quickRetry(2), Hedge: &hedge.Config{MaxAttempts: 2, Delay: time.Millisecond}},
			testkit.FirstHeldUntilHedged},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &config.Config{Profiles: map[string]config.Profile{"p": tt.profile}, Services: map[string]config.Service{svcFaceMatch: {Profile: "p"}}}
			e := newEnv(t, cfg, tt.srv())
			var f testkit.Finishes
			_, err := e.face.Compare(context.Background(), &kycv1.CompareRequest{}, f.Option())
			if err != nil {
				t.Fatal(err)
			}
			errs := f.Errs()
			if len(errs) != 1 || errs[0] != nil {
				t.Fatalf("OnFinish ran %d times with %v, want once with nil", len(errs), errs)
			}
		})
	}
}
