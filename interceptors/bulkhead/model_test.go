package bulkhead_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestBulkheadAgainstModel drives fixed and adaptive bulkheads with seeded random sequences of
// waiting acquires, releases (with and without samples), cancellations, timeouts and
// TryAcquires, one at a time in a synctest bubble, and checks each outcome against a FIFO
// queue model whose limit is the bulkhead's Capacity: a call is admitted at once only when
// nobody waits and a slot is free; a freed slot (or a raised limit) goes to the oldest waiters;
// a canceled or timed-out waiter leaves the queue with nothing; InFlight counts the slots
// held, and no waiter waits while a slot is free.
func TestBulkheadAgainstModel(t *testing.T) {
	const maxWait = 10 * time.Second
	modes := []bulkhead.Adaptive{
		{},
		{Algorithm: bulkhead.AlgorithmAIMD, InitialLimit: 4, BackoffRatio: 0.5, LatencyThreshold: 50 * time.Millisecond},
		{Algorithm: bulkhead.AlgorithmGradient, InitialLimit: 4, MinLimit: 2, Smoothing: 1},
	}
	outcomes := []error{nil, nil, status.Error(grpccodes.Unavailable, ""), status.Error(grpccodes.Canceled, ""), status.Error(grpccodes.InvalidArgument, "")}
	for mi, mode := range modes {
		for seed := range uint64(10) {
			t.Run(fmt.Sprintf("mode%d/seed%d", mi, seed), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					clk := clocktest.New(time.Time{})
					b := newAdaptive(t, bulkhead.Config{MaxConcurrent: 6, MaxWait: maxWait, Adaptive: mode}, bulkhead.WithClock(clk))
					rng := rand.New(rand.NewPCG(seed, uint64(mi)))
					type waiter struct {
						cancel   context.CancelFunc
						done     chan error
						deadline time.Time
					}
					var (
						held  int
						queue []*waiter
					)
					ended := func(w *waiter) (error, bool) {
						select {
						case err := <-w.done:
							return err, true
						default:
							return nil, false
						}
					}
					// settle lets the woken waiters run, then checks that the oldest ones holding
					// a slot are the ones the model admits, in order.
					settle := func(step int) {
						synctest.Wait()
						for len(queue) > 0 && held < b.Capacity() {
							w := queue[0]
							err, ok := ended(w)
							if !ok || err != nil {
								t.Fatalf("step %d: a slot is free (%d held of %d) and the oldest waiter got %v (ended %v)", step, held, b.Capacity(), err, ok)
							}
							w.cancel()
							queue, held = queue[1:], held+1
						}
						for i, w := range queue {
							if err, ok := ended(w); ok {
								t.Fatalf("step %d: waiter %d of %d ended with %v while %d held of %d", step, i, len(queue), err, held, b.Capacity())
							}
						}
						if got := b.InFlight(); got != held {
							t.Fatalf("step %d: InFlight %d, want %d", step, got, held)
						}
					}
					for step := range 400 {
						switch r := rng.IntN(100); {
						case r < 35: // A call that may wait.
							ctx, cancel := context.WithCancel(context.Background())
							w := &waiter{cancel: cancel, done: make(chan error, 1), deadline: clk.Now().Add(maxWait)}
							admit := len(queue) == 0 && held < b.Capacity()
							go func() { w.done <- b.Acquire(ctx) }()
							synctest.Wait()
							err, ok := ended(w)
							if admit != (ok && err == nil) || (!admit && ok) {
								t.Fatalf("step %d: Acquire ended %v with %v; model admits at once: %v (%d held of %d, %d waiting)", step, ok, err, admit, held, b.Capacity(), len(queue))
							}
							if admit {
								cancel()
								held++
							} else {
								queue = append(queue, w)
							}
						case r < 70: // A call ends.
							if held == 0 {
								continue
							}
							held--
							if rng.IntN(4) == 0 {
								b.Release()
							} else {
								b.ReleaseWith(time.Duration(rng.IntN(100))*time.Millisecond, outcomes[rng.IntN(len(outcomes))])
							}
						case r < 80: // A waiter's caller gives up.
							if len(queue) == 0 {
								continue
							}
							i := rng.IntN(len(queue))
							w := queue[i]
							w.cancel()
							synctest.Wait()
							if err, ok := ended(w); !ok || !errors.Is(err, context.Canceled) {
								t.Fatalf("step %d: canceled waiter ended %v with %v, want context.Canceled", step, ok, err)
							}
							queue = append(queue[:i], queue[i+1:]...)
						case r < 90: // Time passes: the waiters whose wait ran out are rejected.
							d := time.Duration(rng.IntN(int(maxWait / 2)))
							if len(queue) > 0 && rng.IntN(2) == 0 {
								d = queue[0].deadline.Sub(clk.Now())
							}
							clk.Advance(d)
							synctest.Wait()
							var left []*waiter
							for _, w := range queue {
								if w.deadline.After(clk.Now()) {
									left = append(left, w)
									continue
								}
								if err, ok := ended(w); !ok || !errors.Is(err, bulkhead.ErrFull) {
									t.Fatalf("step %d: waiter past its wait ended %v with %v, want ErrFull", step, ok, err)
								}
							}
							queue = left
						default:
							want := len(queue) == 0 && held < b.Capacity()
							if got := b.TryAcquire(); got != want {
								t.Fatalf("step %d: TryAcquire = %v, want %v (%d held of %d, %d waiting)", step, got, want, held, b.Capacity(), len(queue))
							}
							if want {
								held++
							}
						}
						settle(step)
					}
					for _, w := range queue {
						w.cancel()
					}
					synctest.Wait()
					for _, w := range queue {
						if err := <-w.done; err == nil {
							held++
						}
					}
					for range held {
						b.Release()
					}
					if b.InFlight() != 0 {
						t.Fatalf("InFlight %d after every slot was given back", b.InFlight())
					}
				})
			})
		}
	}
}
