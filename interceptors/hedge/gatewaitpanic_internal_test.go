package hedge

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/internal/gatewatch"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// A gate below that panics while an attempt waits at it (told GateWaiting, never GateLeft)
// leaves the call's count of waiting attempts raised, but that count is the panicking call's
// alone: a call whose attempt 1 panicked is not put back in the pool, and one whose hedge
// panicked is cleared as it is put back. The next call, which may take that pooled call,
// hedges a delay after it began, as if no gate had ever panicked. A leaked count would hold
// its hedges for good: the next call would end only when attempt 1 answered.
func TestGatePanicWhileWaitingLeavesTheNextCallHedging(t *testing.T) {
	const d = 10 * time.Millisecond
	for _, panicking := range []int{1, 2} {
		name := map[int]string{1: "attempt 1 panics at its gate", 2: "the hedge panics at its gate"}[panicking]
		t.Run(name, func(t *testing.T) {
			clk := clocktest.New(time.Time{})
			p, err := New(Config{MaxAttempts: 2, Delay: d}, WithClock(clk))
			if err != nil {
				t.Fatal(err)
			}
			numberOf := func(ctx context.Context) int {
				if md, _ := metadata.FromOutgoingContext(ctx); len(md.Get(PreviousAttemptsKey)) > 0 {
					return 2
				}
				return 1
			}
			// The first call: attempt n waits at a gate below, which panics there.
			gate := func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, opts ...grpc.CallOption) error {
				if numberOf(ctx) != panicking {
					<-ctx.Done() // attempt 1 answers once the hedge's panic ended the call
					return ctx.Err()
				}
				w := gatewatch.Of(opts)
				if w == nil {
					t.Error("the attempt's last call option is no gatewatch.Watch")
				}
				w.Waiting()
				panic("gate boom")
			}
			recovered := make(chan any, 1)
			go func() {
				defer func() { recovered <- recover() }()
				_ = p.Unary()(context.Background(), compare, &kycv1.CompareRequest{}, &kycv1.CompareResponse{}, nil, gate)
			}()
			if panicking == 2 {
				clk.BlockUntil(1)
				clk.Advance(d)
			}
			if v := <-recovered; v != "gate boom" {
				t.Fatalf("recovered %v, want the gate's panic", v)
			}
			// The next calls: attempt 1 answers only once the call ended; the hedge answers.
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel() // a call that never hedged returns as the test fails
			for i := range 3 {
				var hedges atomic.Int32
				invoker := func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
					if numberOf(ctx) == 1 {
						<-ctx.Done()
						return ctx.Err()
					}
					hedges.Add(1)
					return nil
				}
				done := make(chan error, 1)
				go func() {
					done <- p.Unary()(ctx, compare, &kycv1.CompareRequest{}, &kycv1.CompareResponse{}, nil, invoker)
				}()
				clk.BlockUntil(1) // the hedging timer is armed
				clk.Advance(d)
				select {
				case err := <-done:
					if err != nil || hedges.Load() != 1 {
						t.Fatalf("call %d after the gate's panic: err %v, %d hedges, want nil and 1", i+1, err, hedges.Load())
					}
				case <-time.After(10 * time.Second): // a failure guard only: the call returns at once
					t.Fatalf("call %d after the gate's panic sent no hedge a delay after it began", i+1)
				}
			}
		})
	}
}
