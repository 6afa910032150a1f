package throttle

import (
	"context"
	"testing"

	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"google.golang.org/grpc"
)

// A stream that gRPC ends with its own deadline (a service config's method timeout, shorter
// than the caller's) while nobody reads it counts as nothing, as any stream gRPC ends
// unread: its status was never seen. Only the caller's deadline makes a DeadlineExceeded
// request.
func TestStreamEndedByItsOwnDeadlineUnreadCountsNothing(t *testing.T) {
	th, _, _ := newTest(t, Config{}, WithRand(constRand(0.99)))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var sctx *testkit.Expiring
	streamer := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
		sctx = testkit.NewExpiring(t, ctx)
		return &fakeStream{ctx: sctx}, nil
	}
	cs, err := th.Stream()(ctx, &grpc.StreamDesc{ServerStreams: true}, nil, testkit.MethodCheck, streamer)
	if err != nil {
		t.Fatal(err)
	}
	_ = cs.Context() // commits the stream, as its response starting does
	sctx.Expire()
	waitDone(t, cs)
	if r, a := th.Counts(); r != 0 || a != 0 {
		t.Fatalf("Counts() = %d, %d after gRPC ended an unread stream at its own deadline, want 0, 0", r, a)
	}
}
