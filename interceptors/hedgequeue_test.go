package interceptors_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

// A hedge above a bulkhead that queues (max_wait): the time an attempt waits for a slot is the
// client's, not the service's.

const queuedSvc = "test.v1.Queued"

// queuedSuite is a suite on clk whose queuedSvc hedges with h above a bulkhead of one slot
// that queues for up to a second, recording its events in rec.
func queuedSuite(t *testing.T, clk *clocktest.Fake, rec *testkit.Recorder, h hedge.Config) *interceptors.Suite {
	t.Helper()
	h.Idempotent = true
	cfg := &config.Config{
		Budget: time.Hour,
		Profiles: map[string]config.Profile{"queued": {
			Hedge:    &h,
			Bulkhead: &bulkhead.Config{MaxConcurrent: 1, MaxWait: time.Second},
		}},
		Services: map[string]config.Service{queuedSvc: {Profile: "queued"}},
	}
	s, err := interceptors.New(cfg, interceptors.WithClock(clk), interceptors.WithObserver(rec))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// queuedCall makes a call of method through s that first waits for the bulkhead's one slot,
// held by another call for queued, and is then answered in took (the clock advanced in steps of
// 10ms). It returns how many requests
// reached the invoker.
func queuedCall(t *testing.T, s *interceptors.Suite, clk *clocktest.Fake, method string, queued, took time.Duration) int {
	t.Helper()
	release := testkit.Hold(context.Background(), s.Unary(), method)
	reached := 0
	answer := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		reached++
		// In steps of 10ms: a hedge due goes out at its time (and waits for the slot this
		// attempt holds).
		for d := time.Duration(0); d < took; d += 10 * time.Millisecond {
			clk.Advance(min(10*time.Millisecond, took-d))
			synctest.Wait()
		}
		return nil
	}
	done := make(chan error, 1)
	go func() { done <- s.Unary()(context.Background(), method, nil, new(emptypb.Empty), nil, answer) }()
	synctest.Wait() // the call waits in the bulkhead's queue
	clk.Advance(queued)
	synctest.Wait()
	if err := release(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("the queued call: %v", err)
	}
	return reached
}

// TestQueueTimeIsNoLatencySample: a call that waits 50ms for the bulkhead's slot and is then
// answered in 10ms teaches the adaptive delay 10ms, the service's time, not the 60ms from the
// attempt's start: a saturated bulkhead raised the learnt delay.
func TestQueueTimeIsNoLatencySample(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := clocktest.New(time.Unix(1700000000, 0))
		rec := &testkit.Recorder{}
		s := queuedSuite(t, clk, rec, hedge.Config{Delay: 100 * time.Millisecond, Percentile: 0.5, MinSamples: 1, Window: 10})
		defer s.Close()
		method := "/" + queuedSvc + "/Do"
		if n := queuedCall(t, s, clk, method, 50*time.Millisecond, 10*time.Millisecond); n != 1 {
			t.Fatalf("%d requests reached the invoker, want 1 (no hedge: the delay is 100ms)", n)
		}
		h, _ := interceptors.Object(s, "hedge", queuedSvc).(*hedge.Policy)
		if h == nil {
			t.Fatal("no hedging policy for " + queuedSvc)
		}
		if d := h.Delay(method); d != 10*time.Millisecond {
			t.Errorf("after a call queued 50ms in the bulkhead and answered in 10ms, the learnt delay is %v; want 10ms, the service's time", d)
		}
		if n := rec.Count(observe.HedgeSent); n != 0 {
			t.Errorf("%d hedges sent, want none", n)
		}
	})
}

// TestNoHedgeWhileTheFirstAttemptQueues: a call whose first attempt waits 100ms for the
// bulkhead's slot, with a hedging delay of 20ms, sends no hedge while it waits: the service is
// not slow, the client is saturated, and a hedge would queue behind it, paying a retry-budget
// token and the losing-hedge allowance. The hedging delay runs from when the attempt left the
// queue: answered 10ms later, the call sends no hedge at all; answered 30ms later, it sends one
// 20ms after the attempt left the queue.
func TestNoHedgeWhileTheFirstAttemptQueues(t *testing.T) {
	for _, tt := range []struct {
		took   time.Duration
		hedges int
	}{{10 * time.Millisecond, 0}, {30 * time.Millisecond, 1}} {
		t.Run(tt.took.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				clk := clocktest.New(time.Unix(1700000000, 0))
				rec := &testkit.Recorder{}
				s := queuedSuite(t, clk, rec, hedge.Config{Delay: 20 * time.Millisecond, MaxAttempts: 2})
				defer s.Close()
				n := queuedCall(t, s, clk, "/"+queuedSvc+"/Do", 100*time.Millisecond, tt.took)
				sent := rec.Events(observe.HedgeSent)
				if len(sent) != tt.hedges {
					t.Fatalf("%d hedges sent (%d requests reached the invoker) for a call queued 100ms and answered %v after, want %d", len(sent), n, tt.took, tt.hedges)
				}
				if tt.hedges == 1 && sent[0].Delay != 120*time.Millisecond {
					t.Errorf("the hedge went %v after the call's start, want 120ms: 20ms after its first attempt left the queue", sent[0].Delay)
				}
			})
		})
	}
}

// TestPerAttemptTimeoutTeachesTheDelay: a service slower than the retry loop's per-attempt
// timeout (50ms) for every call answers no attempt in time; each round's attempt ended by the
// timeout after the hedging delay (20ms) ran at least 50ms, a lower bound of the latency as a
// late loser's is, and the delay learns it. It stayed at 20ms, and every round sent its hedge
// into a certain timeout.
func TestPerAttemptTimeoutTeachesTheDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := clocktest.New(time.Unix(1700000000, 0))
		const svc = "test.v1.Slow"
		s := slowSuite(t, clk, svc, &retry.Config{MaxAttempts: 2, InitialBackoff: 10 * time.Millisecond, Jitter: retry.JitterNone,
			PerAttemptTimeout: 50 * time.Millisecond, Idempotent: true},
			&hedge.Config{Delay: 20 * time.Millisecond, Percentile: 0.5, MinSamples: 1, Window: 10, Idempotent: true})
		defer s.Close()
		method := "/" + svc + "/Do"
		hang := func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
			<-ctx.Done()
			return status.FromContextError(ctx.Err()).Err()
		}
		done := make(chan error, 1)
		go func() { done <- s.Unary()(context.Background(), method, nil, new(emptypb.Empty), nil, hang) }()
		err := advanceUntil(clk, done)
		if status.Code(err) != grpccodes.DeadlineExceeded {
			t.Fatalf("the call: %v, want DeadlineExceeded", err)
		}
		h, _ := interceptors.Object(s, "hedge", svc).(*hedge.Policy)
		if h == nil {
			t.Fatal("no hedging policy for " + svc)
		}
		if d := h.Delay(method); d != 50*time.Millisecond {
			t.Errorf("after two rounds ended by the 50ms per-attempt timeout, the learnt delay is %v; want 50ms, the lower bound they taught", d)
		}
		// A call the caller's own deadline (40ms, before the per-attempt timeout) ends teaches
		// nothing: the call is over, and no retry follows.
		ctx, cancel := clock.WithDeadline(context.Background(), clk, clk.Now().Add(40*time.Millisecond))
		defer cancel()
		go func() { done <- s.Unary()(ctx, "/"+svc+"/Other", nil, new(emptypb.Empty), nil, hang) }()
		err = advanceUntil(clk, done)
		if status.Code(err) != grpccodes.DeadlineExceeded {
			t.Fatalf("the call with a 40ms deadline: %v, want DeadlineExceeded", err)
		}
		if d := h.Delay("/" + svc + "/Other"); d != 20*time.Millisecond {
			t.Errorf("after a call ended by the caller's 40ms deadline, the learnt delay is %v; want the 20ms configured", d)
		}
	})
}

// advanceUntil moves clk on 5ms at a time, once the bubble's goroutines are all blocked,
// until the call sends its error on done, and returns it.
func advanceUntil(clk *clocktest.Fake, done <-chan error) error {
	for {
		synctest.Wait()
		select {
		case err := <-done:
			return err
		default:
			clk.Advance(5 * time.Millisecond)
		}
	}
}

// slowSuite is a suite on clk whose profile for svc has the retry r and the hedge h, under a
// call budget of an hour.
func slowSuite(t *testing.T, clk *clocktest.Fake, svc string, r *retry.Config, h *hedge.Config, opts ...interceptors.Option) *interceptors.Suite {
	t.Helper()
	cfg := &config.Config{
		Budget:   time.Hour,
		Profiles: map[string]config.Profile{"slow": {Retry: r, Hedge: h}},
		Services: map[string]config.Service{svc: {Profile: "slow"}},
	}
	s, err := interceptors.New(cfg, append([]interceptors.Option{interceptors.WithClock(clk)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
