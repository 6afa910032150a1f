package interceptors_test

import (
	"context"
	"testing"

	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/interceptors/throttle"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Regression: a stream whose Header returned Unavailable, and whose caller then cancelled its
// context without reading on (gRPC counts a Header error as the stream's end), was recorded as
// abandoned: the breaker ignored it and the throttle counted nothing. The error the caller saw
// is the stream's outcome: one breaker failure, one throttle request that is no accept, and
// the bulkhead's slot given back.
func TestStreamHeaderErrorIsTheOutcome(t *testing.T) {
	br, err := breaker.New("b", breaker.Config{ConsecutiveFailures: 100})
	if err != nil {
		t.Fatal(err)
	}
	th, err := throttle.New("t", throttle.Config{})
	if err != nil {
		t.Fatal(err)
	}
	bh, err := bulkhead.New("h", bulkhead.Config{MaxConcurrent: 1})
	if err != nil {
		t.Fatal(err)
	}
	unavailable := status.Error(grpccodes.Unavailable, "down")
	streamer := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
		sctx, end := context.WithCancel(ctx)
		end()
		return headerFailedStream{ctx: sctx, err: unavailable}, nil
	}
	chain := func(ctx context.Context, desc *grpc.StreamDesc) (grpc.ClientStream, error) {
		return br.Stream()(ctx, desc, nil, testkit.MethodCheck, func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			return th.Stream()(ctx, desc, cc, method, func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
				return bh.Stream()(ctx, desc, cc, method, streamer, opts...)
			}, opts...)
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cs, err := chain(ctx, &grpc.StreamDesc{ServerStreams: true})
	if err != nil {
		t.Fatal(err)
	}
	if md, err := cs.Header(); md != nil || err != unavailable {
		t.Fatalf("Header = %v, %v", md, err)
	}
	cancel()
	if s := br.Stats(); s.Failures != 1 || s.Ignored != 0 {
		t.Fatalf("breaker: %d failures, %d ignored; want 1 failure", s.Failures, s.Ignored)
	}
	if req, acc := th.Counts(); req != 1 || acc != 0 {
		t.Fatalf("throttle: %d requests, %d accepts; want 1 request, no accept", req, acc)
	}
	if n := bh.InFlight(); n != 0 {
		t.Fatalf("bulkhead: %d in flight, want 0", n)
	}
}
