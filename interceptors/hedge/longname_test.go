package hedge

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// The allowance of losing hedges (MaxHedgeShare of the calls, plus HedgeBurst) holds for the
// names too long to be kept too (a generic proxy forwarding a :path of megabytes, hedged as
// Config.Idempotent): they share one allowance, as they share one learnt delay. Each call of
// such a name used to make a fresh allowance, full at HedgeBurst, so that every one of them
// could send a hedge that loses, however many did before.
func TestLongNamesShareTheHedgeAllowance(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const d = 10 * time.Millisecond
		const calls = 200
		clk := clocktest.New(time.Now())
		p, err := New(Config{MaxAttempts: 2, Delay: d, Idempotent: true}, WithClock(clk))
		if err != nil {
			t.Fatal(err)
		}
		long := "/pkg.Proxy/" + strings.Repeat("x", 4096)
		var hedges atomic.Int32
		for i := range calls {
			release := make(chan struct{})
			invoker := func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
				if md, _ := metadata.FromOutgoingContext(ctx); len(md.Get(PreviousAttemptsKey)) > 0 {
					hedges.Add(1)
					<-ctx.Done() // loses: attempt 1 answers first
					return status.FromContextError(ctx.Err()).Err()
				}
				select {
				case <-release:
					return nil
				case <-ctx.Done():
					return status.FromContextError(ctx.Err()).Err()
				}
			}
			done := make(chan error, 1)
			go func() {
				done <- p.Unary()(context.Background(), long, &kycv1.CompareRequest{}, &kycv1.CompareResponse{}, nil, invoker)
			}()
			synctest.Wait() // attempt 1 waits, the hedge's timer is armed
			clk.Advance(d)
			synctest.Wait() // the hedge went out, or the allowance refused it
			close(release)
			if err := <-done; err != nil {
				t.Fatalf("call %d: %v", i, err)
			}
		}
		if got, limit := hedges.Load(), int32(HedgeBurst+MaxHedgeShare*calls); got > limit {
			t.Fatalf("%d losing hedges sent in %d calls of a long name, want at most %d (HedgeBurst + MaxHedgeShare of the calls)", got, calls, limit)
		}
	})
}
