package interceptors_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/deadline"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
)

// TestServerSeesTheEarliestDeadline: the suite folds its deadline step into the retry loop
// (one context per attempt instead of a context for the cap, one for the budget and one per
// attempt); the deadline a server sees must stay the earliest of the caller's, the deadline
// policy's (default or cap), the budget's and the per-attempt timeout's — with a retry step
// and without one. Deadlines are seconds apart and the server's view is checked within a
// second, so a slow machine does not matter.
func TestServerSeesTheEarliestDeadline(t *testing.T) {
	tests := []struct {
		name       string
		retry      *retry.Config // nil: no retry step (no observer either)
		deadline   deadline.Config
		callerIn   time.Duration // 0: no caller deadline
		wantRemain time.Duration
	}{
		{name: "caller earliest", retry: &retry.Config{MaxAttempts: 2, PerAttemptTimeout: 5 * time.Second}, callerIn: 3 * time.Second, wantRemain: 3 * time.Second},
		{name: "budget cap earliest", retry: &retry.Config{MaxAttempts: 2}, callerIn: time.Minute, wantRemain: 8 * time.Second},
		{name: "per-attempt earliest", retry: &retry.Config{MaxAttempts: 2, PerAttemptTimeout: 5 * time.Second}, callerIn: time.Minute, wantRemain: 5 * time.Second},
		{name: "deadline cap earliest", retry: &retry.Config{MaxAttempts: 2, PerAttemptTimeout: 5 * time.Second}, deadline: deadline.Config{Max: 2 * time.Second}, callerIn: time.Minute, wantRemain: 2 * time.Second},
		{name: "default, no caller deadline", retry: &retry.Config{MaxAttempts: 2, PerAttemptTimeout: 5 * time.Second}, deadline: deadline.Config{Default: 4 * time.Second}, wantRemain: 4 * time.Second},
		{name: "no retry step: cap", callerIn: time.Minute, wantRemain: 8 * time.Second},
		{name: "no retry step: default", deadline: deadline.Config{Default: 4 * time.Second}, wantRemain: 4 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen := make(chan time.Duration, 1)
			srv := testkit.Start(t, &testkit.Server{CompareF: func(ctx context.Context, _ int, _ *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
				dl, ok := ctx.Deadline()
				if !ok {
					seen <- 0
				} else {
					seen <- time.Until(dl)
				}
				return &kycv1.CompareResponse{}, nil
			}})
			dl := tt.deadline
			cfg := &config.Config{
				Budget:   8 * time.Second,
				Profiles: map[string]config.Profile{"p": {Retry: tt.retry, Deadline: &dl}},
				Services: map[string]config.Service{svcFaceMatch: {Profile: "p"}},
			}
			s, err := interceptors.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if tt.callerIn > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.callerIn)
				defer cancel()
			}
			if _, err := kycv1.NewFaceMatchServiceClient(srv.Dial(t, s.DialOptions()...)).Compare(ctx, &kycv1.CompareRequest{}); err != nil {
				t.Fatal(err)
			}
			got := <-seen
			if got > tt.wantRemain || got < tt.wantRemain-time.Second {
				t.Fatalf("server saw %v left, want about %v", got, tt.wantRemain)
			}
		})
	}
}
