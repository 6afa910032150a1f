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
		for _, withSC := range []bool{false, true} {
			name := tt.name
			if withSC {
				name += ", service config"
			}
			t.Run(name, func(t *testing.T) { serverSees(t, tt.retry, tt.deadline, tt.callerIn, tt.wantRemain, withSC) })
		}
	}
}

// serverSees checks the deadline a server sees for a call through a suite of retryCfg (nil: no
// retry step) and deadlineCfg with the caller's deadline callerIn from now (0: none), dialed
// with the suite's service config when withSC is set: two calls, the first of which may come
// before grpc has it.
func serverSees(t *testing.T, retryCfg *retry.Config, deadlineCfg deadline.Config, callerIn, wantRemain time.Duration, withSC bool) {
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
	dl := deadlineCfg
	cfg := &config.Config{
		Budget:   8 * time.Second,
		Profiles: map[string]config.Profile{"p": {Retry: retryCfg, Deadline: &dl}},
		Services: map[string]config.Service{svcFaceMatch: {Profile: "p"}},
	}
	s, err := interceptors.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if callerIn > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, callerIn)
		defer cancel()
	}
	opts := s.DialOptions()
	if withSC {
		opts = append(opts, serviceConfigOption(t, s, ""))
	}
	client := kycv1.NewFaceMatchServiceClient(srv.Dial(t, opts...))
	for range 2 {
		if _, err := client.Compare(ctx, &kycv1.CompareRequest{}); err != nil {
			t.Fatal(err)
		}
		got := <-seen
		if got > wantRemain || got < wantRemain-time.Second {
			t.Fatalf("server saw %v left, want about %v", got, wantRemain)
		}
	}
}
