package hedge

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/internal/testkit"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// A hedge that wins with a business error decides the call: the caller gets its error and
// nothing of attempt 1, even when attempt 1's answer came in as it was being canceled (a
// reply already on the wire) and was written into the caller's reply. The package
// documentation: when a hedge wins, the caller's reply is reset and the winner's merged in.
func TestHedgeErrorWinsWithNoLoserReply(t *testing.T) {
	const d = 10 * time.Millisecond
	p, clk := hedged(t, Config{MaxAttempts: 2, Delay: d})
	arrived := make(chan int, 2)
	invoker := func(ctx context.Context, _ string, _, reply any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
		if md, _ := metadata.FromOutgoingContext(ctx); len(md.Get(PreviousAttemptsKey)) > 0 {
			arrived <- 2
			return testkit.Status(grpccodes.NotFound, "no such face")
		}
		arrived <- 1
		<-ctx.Done()
		// The answer was already on its way when the hedge won: attempt 1 succeeds late.
		reply.(*kycv1.CompareResponse).Similarity = 0.1
		return nil
	}
	reply := &kycv1.CompareResponse{}
	done := make(chan error, 1)
	go func() {
		done <- p.Unary()(context.Background(), compare, &kycv1.CompareRequest{}, reply, nil, invoker)
	}()
	<-arrived
	clk.BlockUntil(1)
	clk.Advance(d)
	if got := <-arrived; got != 2 {
		t.Fatalf("attempt %d arrived, want the hedge", got)
	}
	err := <-done
	if got := status.Code(err); got != grpccodes.NotFound {
		t.Fatalf("call: %v, want the winning hedge's NotFound", err)
	}
	if got := reply.GetSimilarity(); got != 0 {
		t.Fatalf("caller's reply holds the losing attempt's answer (similarity %v), want it reset", got)
	}
}
