package fallback_test

import (
	"context"
	"testing"

	"github.com/bulwarkrpc/bulwark/interceptors/fallback"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
)

// The context a stream answered by the fallback gives (see otelobs' TestFallbackStreamOfAClosedConnEnds), one of
// its own derived from the caller's, is released with the stream, as gRPC's stream's is, not
// kept among the caller's context's children until that ends.
func TestAnsweredStreamContextEndsWithTheStream(t *testing.T) {
	reply := &kycv1.CheckResponse{Score: 0.5}
	f, err := fallback.New(testkit.MethodCheck, fallback.Config{}, fallback.Message(reply))
	if err != nil {
		t.Fatal(err)
	}
	for _, open := range []string{"open failed", "served"} {
		t.Run(open, func(t *testing.T) {
			below := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ grpc.Streamer, _ ...grpc.CallOption) (grpc.ClientStream, error) {
				if open == "open failed" {
					return nil, testkit.Status(grpccodes.Unavailable, "down")
				}
				sctx, cancel := context.WithCancel(ctx)
				return &testkit.FailingStream{Ctx: sctx, Cancel: cancel}, nil
			}
			cc := testkit.Start(t, &testkit.Server{}).Dial(t, grpc.WithChainStreamInterceptor(f.Stream(), below))
			type key struct{}
			caller, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "kept"))
			defer cancel()
			cs, err := cc.NewStream(caller, &grpc.StreamDesc{ClientStreams: true}, testkit.MethodCheck)
			if err != nil {
				t.Fatal(err)
			}
			got := new(kycv1.CheckResponse)
			if err := cs.RecvMsg(got); err != nil || !proto.Equal(got, reply) {
				t.Fatalf("RecvMsg = %v, %v; want the fallback", got, err)
			}
			ctx := cs.Context()
			if v := ctx.Value(key{}); v != "kept" {
				t.Errorf("the stream's Context gives %v for the caller's key, want the caller's value", v)
			}
			if ctx.Err() == nil {
				t.Errorf("the stream's Context is live after the stream ended (the fallback its one reply), the ClientConn open and the caller's context live")
			}
		})
	}
}
