package retry_test

import (
	"context"
	"testing"

	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestOnFinishOncePerCall: a caller's grpc.OnFinish runs once for the call, with the call's
// error, however many attempts the policy makes, as grpc documents it and as grpc's own
// retries do; each attempt passed it on to grpc, which ran it at the end of every attempt.
func TestOnFinishOncePerCall(t *testing.T) {
	for _, tt := range []struct {
		name     string
		failures int // the server fails the first failures calls
		want     grpccodes.Code
	}{
		{"succeeds on the third attempt", 2, grpccodes.OK},
		{"every attempt fails", 5, grpccodes.Unavailable},
		{"succeeds at once", 0, grpccodes.OK},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newSetup(t, retry.Config{MaxAttempts: 3, Jitter: retry.JitterNone}, 0)
			srv := testkit.Start(t, &testkit.Server{CompareF: func(_ context.Context, call int, _ *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
				if call <= tt.failures {
					return nil, status.Error(grpccodes.Unavailable, "down")
				}
				return &kycv1.CompareResponse{}, nil
			}})
			var f testkit.Finishes
			_, err := kycv1.NewFaceMatchServiceClient(s.dial(t, srv)).Compare(context.Background(), &kycv1.CompareRequest{}, f.Option())
			s.drv.stop()
			if status.Code(err) != tt.want {
				t.Fatalf("code %v, want %v", status.Code(err), tt.want)
			}
			got := f.Errs()
			if len(got) != 1 || status.Code(got[0]) != tt.want {
				t.Fatalf("OnFinish ran %d times with %v, want once with %v", len(got), got, tt.want)
			}
		})
	}
}
