package interceptors_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestOnFinishOfARefusedCall: a call the suite refuses before it reaches grpc (an open
// breaker in a chain without a retry step, or under retry.Disable) still runs the caller's
// grpc.OnFinish once, with the refusal, as a call through a retry step does
// (TestSuiteOnFinishOncePerCall): grpc, which would have run it, never sees the call. An
// interceptor before the suite that ends its bookkeeping on OnFinish (an in-flight count, a
// span) otherwise never ends it for such calls.
func TestOnFinishOfARefusedCall(t *testing.T) {
	for _, tt := range []struct {
		name    string
		profile config.Profile
		opts    []grpc.CallOption
	}{
		{"breaker without retry", config.Profile{Breaker: &breaker.Config{ConsecutiveFailures: 1, RecoveryTimeout: time.Hour}}, nil},
		{"retry disabled for the call", config.Profile{Retry: quickRetry(3), Breaker: &breaker.Config{ConsecutiveFailures: 1, RecoveryTimeout: time.Hour}},
			[]grpc.CallOption{retry.Disable()}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &config.Config{Profiles: map[string]config.Profile{"p": tt.profile}, Services: map[string]config.Service{svcFaceMatch: {Profile: "p"}}}
			e := newEnv(t, cfg, &testkit.Server{CompareF: func(context.Context, int, *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
				return nil, unavailable()
			}})
			// The first call reaches the server and trips the breaker; grpc runs its OnFinish.
			var first testkit.Finishes
			if _, err := e.face.Compare(context.Background(), &kycv1.CompareRequest{}, append(tt.opts, first.Option())...); status.Code(err) != grpccodes.Unavailable {
				t.Fatalf("first call: %v, want Unavailable", err)
			}
			if n := len(first.Errs()); n != 1 {
				t.Fatalf("first call: OnFinish ran %d times, want once", n)
			}
			var f testkit.Finishes
			_, err := e.face.Compare(context.Background(), &kycv1.CompareRequest{}, append(tt.opts, f.Option())...)
			if err == nil {
				t.Fatal("second call succeeded, want the open breaker's refusal")
			}
			if errs := f.Errs(); len(errs) != 1 || errs[0] != err {
				t.Fatalf("refused call (%v): OnFinish ran %d times with %v, want once with the call's error", err, len(errs), errs)
			}
		})
	}
}

// A stream that the suite's breaker refuses at its open never reaches grpc: the suite runs
// the caller's grpc.OnFinish callbacks once, with the refusal, as for a refused unary call.
// A stream interceptor before the suite that ends its bookkeeping on OnFinish (an in-flight
// count, a span) otherwise never ended it.
func TestOnFinishOfARefusedStream(t *testing.T) {
	cfg := &config.Config{
		Profiles: map[string]config.Profile{"p": {Breaker: &breaker.Config{ConsecutiveFailures: 1, RecoveryTimeout: time.Hour}}},
		Services: map[string]config.Service{svcLiveness: {Profile: "p"}},
	}
	e := newEnv(t, cfg, &testkit.Server{CheckF: func(int, kycv1.LivenessService_CheckServer) error {
		return unavailable()
	}})
	// The first stream reaches the server and trips the breaker when it ends.
	st, err := e.live.Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CloseAndRecv(); status.Code(err) != grpccodes.Unavailable {
		t.Fatalf("first stream: %v, want Unavailable", err)
	}
	var f testkit.Finishes
	_, err = e.live.Check(context.Background(), f.Option())
	if err == nil {
		t.Fatal("second stream opened, want the open breaker's refusal")
	}
	if errs := f.Errs(); len(errs) != 1 || errs[0] != err {
		t.Fatalf("refused stream (%v): OnFinish ran %d times with %v, want once with the stream's error", err, len(errs), errs)
	}
}
