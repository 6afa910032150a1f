package hedge

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
)

// TestNoHedgeWhileQueuedInABulkheadChainedBelow: a hedging policy and a bulkhead that queues
// (max_wait), chained as plain grpc interceptors rather than through the suite, behave as in
// the suite: a call whose attempt 1 waits 100ms for the bulkhead's one slot, with a hedging
// delay of 20ms, sends no hedge while it waits, and the attempt's latency sample starts when
// it left the queue (answered 10ms later, the learnt delay is 10ms, not 110ms).
func TestNoHedgeWhileQueuedInABulkheadChainedBelow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := clocktest.New(time.Unix(1700000000, 0))
		rec := &testkit.Recorder{}
		p, err := New(Config{MaxAttempts: 2, Delay: 20 * time.Millisecond, Percentile: 0.5, MinSamples: 1, Window: 10},
			WithClock(clk), WithObserver(rec))
		if err != nil {
			t.Fatal(err)
		}
		bh, err := bulkhead.New("kyc.v1.FaceMatchService", bulkhead.Config{MaxConcurrent: 1, MaxWait: time.Second}, bulkhead.WithClock(clk))
		if err != nil {
			t.Fatal(err)
		}
		if !bh.TryAcquire() { // another call holds the one slot
			t.Fatal("TryAcquire of an empty bulkhead failed")
		}
		below := bh.Unary()
		var reached atomic.Int32
		invoker := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
			return below(ctx, method, req, reply, cc, func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
				reached.Add(1)
				clk.Advance(10 * time.Millisecond) // the service answers in 10ms
				return nil
			}, opts...)
		}
		done := startCompare(context.Background(), p, invoker)
		for range 10 { // attempt 1 waits 100ms in the bulkhead's queue
			synctest.Wait()
			clk.Advance(10 * time.Millisecond)
		}
		synctest.Wait()
		bh.Release()
		if err := <-done; err != nil {
			t.Fatalf("the queued call: %v", err)
		}
		if n := rec.Count(observe.HedgeSent); n != 0 || reached.Load() != 1 {
			t.Errorf("%d hedges sent, %d requests reached the service, for a call queued 100ms in the bulkhead below; want no hedge, 1 request", n, reached.Load())
		}
		if d := p.Delay(compare); d != 10*time.Millisecond {
			t.Errorf("the learnt delay is %v after a call queued 100ms and answered in 10ms; want 10ms, the service's time", d)
		}
	})
}
