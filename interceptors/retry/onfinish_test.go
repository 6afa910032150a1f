package retry_test

import (
	"context"
	"sync"
	"testing"

	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// finishes records the calls of a grpc.OnFinish callback.
type finishes struct {
	mu   sync.Mutex
	errs []error
}

func (f *finishes) option() grpc.CallOption {
	return grpc.OnFinish(func(err error) {
		f.mu.Lock()
		f.errs = append(f.errs, err)
		f.mu.Unlock()
	})
}

func (f *finishes) get() []error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]error(nil), f.errs...)
}

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
			var f finishes
			_, err := kycv1.NewFaceMatchServiceClient(s.dial(t, srv)).Compare(context.Background(), &kycv1.CompareRequest{}, f.option())
			s.drv.stop()
			if status.Code(err) != tt.want {
				t.Fatalf("code %v, want %v", status.Code(err), tt.want)
			}
			got := f.get()
			if len(got) != 1 || status.Code(got[0]) != tt.want {
				t.Fatalf("OnFinish ran %d times with %v, want once with %v", len(got), got, tt.want)
			}
		})
	}
}
