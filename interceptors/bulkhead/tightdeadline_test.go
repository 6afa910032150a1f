package bulkhead_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/internal/testkit/within"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// A call whose caller's deadline passed while it held its slot is a drop only if the service
// had had the time a healthy answer takes (LatencyThreshold for AIMD, Tolerance times the
// baseline for the gradient): a caller whose deadline is shorter than that (5ms for a method
// answering in 20ms, or a deadline mostly spent waiting in the bulkhead's queue) says nothing
// about the service. Each such timeout backed the limit off, and a few took it to the floor for
// every caller sharing the bulkhead. A call that had 100ms, five times the latency, still
// backs it off.
func TestTightCallerDeadlineIsNoDrop(t *testing.T) {
	const base = 20 * time.Millisecond
	for _, ac := range []struct {
		name string
		cfg  bulkhead.Adaptive
	}{
		{"aimd", bulkhead.Adaptive{Algorithm: bulkhead.AlgorithmAIMD, InitialLimit: 10, LatencyThreshold: base * 3 / 2}},
		{"gradient", bulkhead.Adaptive{Algorithm: bulkhead.AlgorithmGradient, InitialLimit: 10}},
	} {
		t.Run(ac.name, func(t *testing.T) {
			clk := clocktest.New(time.Unix(1000, 0))
			b := newAdaptive(t, bulkhead.Config{MaxConcurrent: 20, Adaptive: ac.cfg}, bulkhead.WithClock(clk))
			unary := b.Unary()
			// call makes one call that runs for took; expire ends it by its caller's
			// deadline, as grpc does, instead of with an answer.
			call := func(took time.Duration, expire bool) {
				t.Helper()
				ctx := testkit.NewExpiring(t, context.Background())
				invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
					clk.Advance(took)
					if expire {
						ctx.Expire()
						return status.Error(grpccodes.DeadlineExceeded, "context deadline exceeded")
					}
					return nil
				}
				err := unary(ctx, testkit.MethodCompare, nil, nil, nil, invoker)
				if got := status.Code(err); (got == grpccodes.DeadlineExceeded) != expire || (!expire && err != nil) {
					t.Fatalf("Unary = %v", err)
				}
				clk.Advance(time.Millisecond)
			}
			for range 20 {
				call(base, false) // the service's latency: the gradient's baseline
			}
			for range 30 {
				call(5*time.Millisecond, true)
			}
			if got := b.Capacity(); got != 10 {
				t.Fatalf("30 calls whose caller's deadline passed after 5ms took the limit from 10 to %d", got)
			}
			call(5*base, true)
			if got := b.Capacity(); got >= 10 {
				t.Errorf("a call whose deadline passed after 100ms left the limit at %d, want it backed off from 10", got)
			}
			if b.InFlight() != 0 {
				t.Errorf("InFlight = %d", b.InFlight())
			}
		})
	}
}

// A call that spent most of its deadline waiting in the bulkhead's queue and whose deadline
// then passed is no drop: the queue took the time, not the service. Counted, each such call
// lowered the limit, which lengthened the queue for the calls behind it.
func TestDeadlineSpentInTheQueueIsNoDrop(t *testing.T) {
	clk := clocktest.New(time.Unix(1000, 0))
	b := newAdaptive(t, bulkhead.Config{MaxConcurrent: 20, MaxWait: time.Hour, Adaptive: bulkhead.Adaptive{
		Algorithm: bulkhead.AlgorithmAIMD, InitialLimit: 2, MinLimit: 1, LatencyThreshold: 30 * time.Millisecond,
	}}, bulkhead.WithClock(clk))
	for range 2 {
		if !b.TryAcquire() {
			t.Fatal("TryAcquire below the limit failed")
		}
	}
	ctx := testkit.NewExpiring(t, context.Background())
	invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		clk.Advance(10 * time.Millisecond) // the 10ms of its deadline the queue left it
		ctx.Expire()
		return status.Error(grpccodes.DeadlineExceeded, "context deadline exceeded")
	}
	done := make(chan error, 1)
	go func() { done <- b.Unary()(ctx, testkit.MethodCompare, nil, nil, nil, invoker) }()
	clk.BlockUntil(1) // queued: its MaxWait timer is set
	clk.Advance(90 * time.Millisecond)
	b.Release() // no sample: the waiter gets the slot
	if err := within.Recv(t, done, "the queued call did not return"); status.Code(err) != grpccodes.DeadlineExceeded {
		t.Fatalf("Unary = %v", err)
	}
	if got := b.Capacity(); got != 2 {
		t.Errorf("a call whose deadline passed 10ms after 90ms in the queue took the limit from 2 to %d", got)
	}
	b.Release()
	if b.InFlight() != 0 {
		t.Errorf("InFlight = %d", b.InFlight())
	}
}
