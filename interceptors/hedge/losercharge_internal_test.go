package hedge

import (
	"context"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// TestHedgeBeatenByALaterHedgeIsCharged pins what MaxHedgeShare and the package doc say: every
// hedge that does not win the call is charged to the method's allowance, one beaten by a later
// hedge too (it was load for nothing), and the winner gets its hedge back. Two comments said
// only a hedge beaten by an attempt sent before it was charged.
func TestHedgeBeatenByALaterHedgeIsCharged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const d = 10 * time.Millisecond
		clk := clocktest.New(time.Now())
		p, err := New(Config{MaxAttempts: 3, Delay: d, Idempotent: true}, WithClock(clk))
		if err != nil {
			t.Fatal(err)
		}
		invoker := func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
			md, _ := metadata.FromOutgoingContext(ctx)
			if prev := md.Get(PreviousAttemptsKey); len(prev) > 0 && prev[0] == strconv.Itoa(2) {
				return nil // hedge 3 wins
			}
			<-ctx.Done() // attempt 1 and hedge 2 are slow
			return status.FromContextError(ctx.Err()).Err()
		}
		allowance := p.method(compare).hedges
		done := startCompare(context.Background(), p, invoker)
		synctest.Wait() // attempt 1 waits; the call's deposit is made
		before := allowance.milli.Load()
		clk.Advance(d) // hedge 2
		synctest.Wait()
		clk.Advance(d) // hedge 3, which wins
		if err := <-done; err != nil {
			t.Fatalf("the call ended with %v, want hedge 3's answer", err)
		}
		synctest.Wait()
		if got := allowance.milli.Load(); got != before-1000 {
			t.Errorf("allowance %d -> %d milli-hedges, want hedge 2 charged (%d) and the winner's given back", before, got, before-1000)
		}
	})
}
