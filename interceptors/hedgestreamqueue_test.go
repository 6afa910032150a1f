package interceptors_test

import (
	"context"
	"sync/atomic"
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
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

// Hedged client streams above a bulkhead that queues (max_wait), and under a retry loop's
// per-attempt timeout: what hedgequeue_test.go pins for unary calls, for the stream path.

const queuedStreamSvc = "test.v1.QueuedStream"

// timedStream is a client stream below the suite whose RecvMsg answers err took after it is
// called, on clk (a negative took: never), unless its context ends first.
type timedStream struct {
	ctx  context.Context
	clk  clock.Clock
	took time.Duration
	err  error
}

func (s *timedStream) Header() (metadata.MD, error) { return nil, nil }
func (s *timedStream) Trailer() metadata.MD         { return nil }
func (s *timedStream) CloseSend() error             { return nil }
func (s *timedStream) Context() context.Context     { return s.ctx }
func (s *timedStream) SendMsg(any) error            { return nil }

func (s *timedStream) RecvMsg(any) error {
	ended := func() error { return status.FromContextError(s.ctx.Err()).Err() }
	if s.took < 0 {
		<-s.ctx.Done()
		return ended()
	}
	t := s.clk.NewTimer(s.took)
	defer t.Stop()
	select {
	case <-t.C():
		return s.err
	case <-s.ctx.Done():
		return ended()
	}
}

// plannedStreamer returns a streamer whose k-th stream (1-based, in the order they are
// opened: attempt 1, then the hedges as they pass the gates) answers as plan(k) says.
func plannedStreamer(clk clock.Clock, plan func(k int) (time.Duration, error)) grpc.Streamer {
	var opens atomic.Int32
	return func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
		took, err := plan(int(opens.Add(1)))
		return &timedStream{ctx: ctx, clk: clk, took: took, err: err}, nil
	}
}

// queuedStreamSuite is a suite on clk whose queuedStreamSvc hedges with h above a bulkhead of
// slots slots that queues for up to a second, recording its events in rec.
func queuedStreamSuite(t *testing.T, clk *clocktest.Fake, rec *testkit.Recorder, h hedge.Config, slots int) *interceptors.Suite {
	t.Helper()
	h.Idempotent = true
	cfg := &config.Config{
		Budget: time.Hour,
		Profiles: map[string]config.Profile{"queued": {
			Hedge:    &h,
			Bulkhead: &bulkhead.Config{MaxConcurrent: slots, MaxWait: time.Second},
		}},
		Services: map[string]config.Service{queuedStreamSvc: {Profile: "queued"}},
	}
	s, err := interceptors.New(cfg, interceptors.WithClock(clk), interceptors.WithObserver(rec))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// hedgedStreamCall opens a client stream of method through s with streamer, sends one message,
// closes the send side and receives, advancing clk in steps of step until the receive
// returns (at most a minute of clk). It returns the receive's error.
func hedgedStreamCall(t *testing.T, s *interceptors.Suite, clk *clocktest.Fake, method string, streamer grpc.Streamer, step time.Duration) error {
	t.Helper()
	cs, err := s.Stream()(context.Background(), &grpc.StreamDesc{ClientStreams: true}, nil, method, streamer)
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.SendMsg(&emptypb.Empty{}); err != nil {
		t.Fatal(err)
	}
	if err := cs.CloseSend(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cs.RecvMsg(new(emptypb.Empty)) }()
	for end := clk.Now().Add(time.Minute); clk.Now().Before(end); {
		synctest.Wait()
		select {
		case err := <-done:
			return err
		default:
		}
		clk.Advance(step)
	}
	t.Fatal("the stream's receive did not return within a minute of the fake clock")
	return nil
}

// TestStreamHedgeQueueTimeIsNoLatencySample: a stream's hedge sent at 20ms that waits 40ms
// for the bulkhead's one slot (attempt 1 holds it until it fails, at 60ms) and is answered
// 10ms after its replay teaches the adaptive delay 10ms, the service's time: a stream hedge's
// sample starts at the end of its replay (stream.sampleFrom), which comes after the gates its
// open passed. Attempt 1 opens before the reply phase, where its sample starts, so its own
// queue time is no sample either.
func TestStreamHedgeQueueTimeIsNoLatencySample(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := clocktest.New(time.Unix(1700000000, 0))
		rec := &testkit.Recorder{}
		s := queuedStreamSuite(t, clk, rec, hedge.Config{Delay: 20 * time.Millisecond, MaxAttempts: 2, Percentile: 0.5, MinSamples: 1, Window: 10}, 1)
		defer s.Close()
		method := "/" + queuedStreamSvc + "/Check"
		streamer := plannedStreamer(clk, func(k int) (time.Duration, error) {
			if k == 1 {
				return 60 * time.Millisecond, status.Error(grpccodes.Unavailable, "replica down")
			}
			return 10 * time.Millisecond, nil
		})
		if err := hedgedStreamCall(t, s, clk, method, streamer, 10*time.Millisecond); err != nil {
			t.Fatalf("the hedged stream: %v, want the hedge's answer", err)
		}
		if n := rec.Count(observe.HedgeSent); n != 1 {
			t.Fatalf("%d hedges sent, want 1", n)
		}
		h, _ := interceptors.Object(s, "hedge", queuedStreamSvc).(*hedge.Policy)
		if h == nil {
			t.Fatal("no hedging policy for " + queuedStreamSvc)
		}
		if d := h.Delay(method); d != 10*time.Millisecond {
			t.Errorf("after a stream hedge queued 40ms in the bulkhead and answered 10ms after its replay, the learnt delay is %v; want 10ms, the service's time", d)
		}
	})
}

// TestNoStreamHedgeWhileAHedgeQueues: a client stream hedged up to 3 attempts 20ms apart,
// above a bulkhead of 2 slots, one held by another stream until 100ms and one by attempt 1:
// hedge 2, sent at 20ms, waits for a slot until 100ms, and no hedge 3 is sent while it waits
// (at 40ms it would queue behind it, paying the allowance and a retry-budget token); hedge 3
// is due 20ms after hedge 2 left the queue, at 120ms. Attempt 1 answers at 130ms.
func TestNoStreamHedgeWhileAHedgeQueues(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := clocktest.New(time.Unix(1700000000, 0))
		rec := &testkit.Recorder{}
		s := queuedStreamSuite(t, clk, rec, hedge.Config{Delay: 20 * time.Millisecond, MaxAttempts: 3}, 2)
		defer s.Close()
		method := "/" + queuedStreamSvc + "/Check"
		// The holder: a server stream (not hedged) whose slot is given back as its context
		// ends, at 100ms.
		hctx, hcancel := clock.WithDeadline(context.Background(), clk, clk.Now().Add(100*time.Millisecond))
		defer hcancel()
		hold := plannedStreamer(clk, func(int) (time.Duration, error) { return -1, nil })
		if _, err := s.Stream()(hctx, &grpc.StreamDesc{ServerStreams: true}, nil, method, hold); err != nil {
			t.Fatal(err)
		}
		streamer := plannedStreamer(clk, func(k int) (time.Duration, error) {
			if k == 1 {
				return 130 * time.Millisecond, nil
			}
			return -1, nil
		})
		if err := hedgedStreamCall(t, s, clk, method, streamer, 10*time.Millisecond); err != nil {
			t.Fatalf("the hedged stream: %v, want attempt 1's answer", err)
		}
		sent := rec.Events(observe.HedgeSent)
		var at []time.Duration
		for _, e := range sent {
			at = append(at, e.Delay)
		}
		if len(at) != 2 || at[0] != 20*time.Millisecond || at[1] != 120*time.Millisecond {
			t.Fatalf("hedges sent at %v after the reply phase began, want [20ms 120ms]: none while hedge 2 queued (20ms-100ms), the next 20ms after it left the queue", at)
		}
	})
}

// TestStreamPerAttemptTimeoutTeachesTheDelay: a client-streaming service slower than the retry
// loop's per-attempt timeout (50ms) answers no attempt in time; each round's reply phase,
// ended by the timeout after the hedging delay (20ms), ran at least 50ms, a lower bound of the
// latency, and the delay learns it, as for a unary call (TestPerAttemptTimeoutTeachesTheDelay).
// A stream the caller's own deadline (40ms, before the per-attempt timeout) ends teaches
// nothing.
func TestStreamPerAttemptTimeoutTeachesTheDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := clocktest.New(time.Unix(1700000000, 0))
		const svc = "test.v1.SlowStream"
		s := slowSuite(t, clk, svc, &retry.Config{MaxAttempts: 2, InitialBackoff: 10 * time.Millisecond, Jitter: retry.JitterNone,
			PerAttemptTimeout: 50 * time.Millisecond, Idempotent: true},
			&hedge.Config{Delay: 20 * time.Millisecond, Percentile: 0.5, MinSamples: 1, Window: 10, Idempotent: true})
		defer s.Close()
		hang := plannedStreamer(clk, func(int) (time.Duration, error) { return -1, nil })
		method := "/" + svc + "/Check"
		if err := hedgedStreamCall(t, s, clk, method, hang, 5*time.Millisecond); status.Code(err) != grpccodes.DeadlineExceeded {
			t.Fatalf("the stream: %v, want DeadlineExceeded", err)
		}
		h, _ := interceptors.Object(s, "hedge", svc).(*hedge.Policy)
		if h == nil {
			t.Fatal("no hedging policy for " + svc)
		}
		if d := h.Delay(method); d != 50*time.Millisecond {
			t.Errorf("after two rounds of a stream ended by the 50ms per-attempt timeout, the learnt delay is %v; want 50ms, the lower bound they taught", d)
		}
		other := "/" + svc + "/Other"
		ctx, cancel := clock.WithDeadline(context.Background(), clk, clk.Now().Add(40*time.Millisecond))
		defer cancel()
		cs, err := s.Stream()(ctx, &grpc.StreamDesc{ClientStreams: true}, nil, other, hang)
		if err != nil {
			t.Fatal(err)
		}
		if err := testkit.CloseAndRecvInBubble(cs, clk, &emptypb.Empty{}, new(emptypb.Empty)); status.Code(err) != grpccodes.DeadlineExceeded {
			t.Fatalf("the stream with a 40ms deadline: %v, want DeadlineExceeded", err)
		}
		if d := h.Delay(other); d != 20*time.Millisecond {
			t.Errorf("after a stream ended by the caller's 40ms deadline, the learnt delay is %v; want the 20ms configured", d)
		}
	})
}

// TestNoStreamHedgeNearThePerAttemptTimeout: a client stream's hedge due 48ms into a reply
// phase that the retry loop's per-attempt timeout ends at 50ms, with less than
// retry.MinAttemptTime left, is not sent, as a unary call's is not: the stream attempt's
// context does not carry the timeout as a deadline (the stream's commit lifts it), and the
// hedge went out into a certain timeout, taking the allowance and a retry-budget token. One due
// at 40ms, with 10ms left, is sent.
func TestNoStreamHedgeNearThePerAttemptTimeout(t *testing.T) {
	for _, tt := range []struct {
		delay  time.Duration
		hedges int
	}{{48 * time.Millisecond, 0}, {40 * time.Millisecond, 1}} {
		t.Run(tt.delay.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				clk := clocktest.New(time.Unix(1700000000, 0))
				const svc = "test.v1.SlowStream"
				rec := &testkit.Recorder{}
				s := slowSuite(t, clk, svc, &retry.Config{MaxAttempts: 1, PerAttemptTimeout: 50 * time.Millisecond, Idempotent: true},
					&hedge.Config{Delay: tt.delay, MaxAttempts: 2, Idempotent: true}, interceptors.WithObserver(rec))
				defer s.Close()
				hang := plannedStreamer(clk, func(int) (time.Duration, error) { return -1, nil })
				if err := hedgedStreamCall(t, s, clk, "/"+svc+"/Check", hang, 2*time.Millisecond); status.Code(err) != grpccodes.DeadlineExceeded {
					t.Fatalf("the stream: %v, want DeadlineExceeded", err)
				}
				if n := rec.Count(observe.HedgeSent); n != tt.hedges {
					t.Errorf("%d hedges sent with the delay at %v of a 50ms per-attempt timeout, want %d", n, tt.delay, tt.hedges)
				}
			})
		})
	}
}
