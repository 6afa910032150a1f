package kyc_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwarkrpc/bulwark/examples/orchestrator/kyc"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// instant are services that answer at once, approving, or fail with the context's error.
type instant struct{}

func (instant) Check(ctx context.Context, _ ...grpc.CallOption) (grpc.ClientStreamingClient[kycv1.CheckRequest, kycv1.CheckResponse], error) {
	if err := ctx.Err(); err != nil {
		return nil, status.FromContextError(err).Err()
	}
	return instantStream{}, nil
}

func (instant) Compare(ctx context.Context, _ *kycv1.CompareRequest, _ ...grpc.CallOption) (*kycv1.CompareResponse, error) {
	if err := ctx.Err(); err != nil {
		return nil, status.FromContextError(err).Err()
	}
	return &kycv1.CompareResponse{Verdict: kycv1.FaceMatchVerdict_FACE_MATCH_VERDICT_MATCH}, nil
}

func (instant) Extract(ctx context.Context, _ *kycv1.ExtractRequest, _ ...grpc.CallOption) (*kycv1.ExtractResponse, error) {
	if err := ctx.Err(); err != nil {
		return nil, status.FromContextError(err).Err()
	}
	return &kycv1.ExtractResponse{Fields: &kycv1.DocumentFields{ExpiryDate: "2999-01-01"}}, nil
}

type instantStream struct{ grpc.ClientStream }

func (instantStream) Send(*kycv1.CheckRequest) error { return nil }
func (instantStream) CloseAndRecv() (*kycv1.CheckResponse, error) {
	return &kycv1.CheckResponse{Verdict: kycv1.LivenessVerdict_LIVENESS_VERDICT_LIVE}, nil
}

// TestArrivalDueAtTheEndDoesNotStart: an open-loop arrival due at the instant the run's context
// ends never starts. Its timer and the context's end were ready together, and when the select
// took the timer the arrival started after the end and was counted as a verification cut short
// in flight (or, when its services answered before the cancellation landed, as done).
func TestArrivalDueAtTheEndDoesNotStart(t *testing.T) {
	for range 32 { // the old code's select chose at random
		synctest.Test(t, func(t *testing.T) {
			v := &kyc.Verifier{Liveness: instant{}, FaceMatch: instant{}, OCR: instant{}}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			res := kyc.Batch{N: 3, Rate: 1}.RunResult(ctx, v) // arrival 1 due at 1 s, the deadline
			want := []kyc.Arrival{kyc.ArrivalDone, kyc.ArrivalNotStarted, kyc.ArrivalNotStarted}
			for i, a := range res.Arrivals {
				if a != want[i] {
					t.Fatalf("arrivals %v, want %v (0 not started, 1 done, 2 cancelled)", res.Arrivals, want)
				}
			}
		})
	}
}

// slowMatch is instant but for face match, which takes half a second whatever the context.
type slowMatch struct{ instant }

func (s slowMatch) Compare(ctx context.Context, in *kycv1.CompareRequest, opts ...grpc.CallOption) (*kycv1.CompareResponse, error) {
	if err := ctx.Err(); err != nil {
		return nil, status.FromContextError(err).Err()
	}
	time.Sleep(500 * time.Millisecond)
	return s.instant.Compare(context.Background(), in, opts...)
}

// TestClosedLoopStartsNothingAtTheEnd: a closed-loop worker whose verification ends at the
// instant the run's context does starts no other one (it could, before the context's timer
// canceled it, and the verification started after the end counted as cut short or done).
func TestClosedLoopStartsNothingAtTheEnd(t *testing.T) {
	for range 32 {
		synctest.Test(t, func(t *testing.T) {
			v := &kyc.Verifier{Liveness: instant{}, FaceMatch: slowMatch{}, OCR: instant{}}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			res := kyc.Batch{N: 3, Concurrency: 1}.RunResult(ctx, v) // verification 1 ends at 1 s
			if res.Arrivals[0] != kyc.ArrivalDone || res.Arrivals[2] != kyc.ArrivalNotStarted {
				t.Fatalf("arrivals %v, want 0 done and 2 not started (0 not started, 1 done, 2 cancelled)", res.Arrivals)
			}
		})
	}
}
