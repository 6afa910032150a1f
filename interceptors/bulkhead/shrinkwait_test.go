package bulkhead_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/internal/testkit/within"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Waiters queued on an adaptive limit that then shrinks are not stranded: a waiter that gives
// up leaves the queue without taking a place, and the others are admitted, oldest first, as
// soon as the calls in flight fall below the lower limit. InFlight, Capacity and Available
// agree throughout.
func TestAdaptiveShrinkWithWaiters(t *testing.T) {
	clk := clocktest.New(time.Time{})
	b := newAdaptive(t, bulkhead.Config{MaxConcurrent: 10, MaxWait: time.Hour,
		Adaptive: bulkhead.Adaptive{Algorithm: bulkhead.AlgorithmAIMD, InitialLimit: 4, BackoffRatio: 0.5}}, bulkhead.WithClock(clk))
	check := func(limit, inFlight int) {
		t.Helper()
		if b.Capacity() != limit || b.InFlight() != inFlight || b.Available() != max(limit-inFlight, 0) {
			t.Fatalf("limit %d in flight %d available %d, want %d %d %d", b.Capacity(), b.InFlight(), b.Available(), limit, inFlight, max(limit-inFlight, 0))
		}
	}
	for range 4 {
		if !b.TryAcquire() {
			t.Fatal("TryAcquire below the limit failed")
		}
	}
	const n = 3
	order := make(chan int, n)
	errs := make([]chan error, n)
	ctxs := make([]context.CancelFunc, n)
	for i := range n {
		ctx, cancel := context.WithCancel(context.Background())
		ctxs[i], errs[i] = cancel, make(chan error, 1)
		go func() {
			err := b.Acquire(ctx)
			if err == nil {
				order <- i
			}
			errs[i] <- err
		}()
		clk.BlockUntil(i + 1) // waiter i is queued before waiter i+1 starts
	}
	defer func() {
		for _, cancel := range ctxs {
			cancel()
		}
	}()
	// A drop halves the limit below the calls in flight: 4 → 2, with 3 in flight.
	b.ReleaseWith(time.Millisecond, status.Error(grpccodes.Unavailable, ""))
	check(2, 3)
	// Waiter 0 gives up: it leaves the queue and takes nothing.
	ctxs[0]()
	if err := within.Recv(t, errs[0], "the cancelled waiter did not return"); err == nil {
		t.Fatal("a canceled waiter was admitted")
	}
	check(2, 3)
	b.Release() // 2 in flight: at the limit, nobody gets in
	check(2, 2)
	b.Release() // 1 in flight: waiter 1, the oldest left, gets in
	if got := within.Recv(t, order, "no waiter was admitted at one in flight"); got != 1 {
		t.Fatalf("admitted waiter %d, want 1", got)
	}
	check(2, 2)
	b.Release()
	if got := within.Recv(t, order, "no second waiter was admitted"); got != 2 {
		t.Fatalf("admitted waiter %d, want 2", got)
	}
	check(2, 2)
	for _, i := range []int{1, 2} {
		if err := within.Recv(t, errs[i], fmt.Sprintf("waiter %d did not return", i)); err != nil {
			t.Fatalf("waiter %d: %v", i, err)
		}
	}
	b.Release()
	b.Release()
	check(2, 0)
}
