package hedge_test

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// answerAtStream is a client stream whose RecvMsg answers at a time of clk (never, when at is
// zero), unless its context ends first.
type answerAtStream struct {
	ctx context.Context
	clk clock.Clock
	at  time.Time
}

func (s *answerAtStream) Header() (metadata.MD, error) { return nil, nil }
func (s *answerAtStream) Trailer() metadata.MD         { return nil }
func (s *answerAtStream) CloseSend() error             { return nil }
func (s *answerAtStream) Context() context.Context     { return s.ctx }
func (s *answerAtStream) SendMsg(any) error            { return nil }

func (s *answerAtStream) RecvMsg(any) error {
	var due <-chan time.Time
	if !s.at.IsZero() {
		t := s.clk.NewTimer(s.at.Sub(s.clk.Now()))
		defer t.Stop()
		due = t.C()
	}
	select {
	case <-due:
		return nil
	case <-s.ctx.Done():
		return status.FromContextError(s.ctx.Err()).Err()
	}
}

// TestNoStreamHedgeWhileQueuedInAGateChainedBelow: a hedging policy above a bulkhead, or a rate
// limiter, that queues (max_wait), chained as plain grpc stream interceptors rather than
// through the suite, behaves as in the suite (TestNoStreamHedgeWhileAHedgeQueues): a client
// stream hedged up to 3 attempts 20ms apart whose attempt 1 took the gate's last slot (token)
// sends hedge 2 at 20ms, which waits for a slot (token) until 100ms, and no hedge 3 while it
// waits: hedge 3 is due 20ms after hedge 2 left the gate, at 120ms. Attempt 1 answers at 130ms.
func TestNoStreamHedgeWhileQueuedInAGateChainedBelow(t *testing.T) {
	for _, gate := range []string{"bulkhead", "rate limiter"} {
		t.Run(gate, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				clk := clocktest.New(time.Unix(1700000000, 0))
				base := clk.Now()
				rec := &testkit.Recorder{}
				p, err := hedge.New(hedge.Config{MaxAttempts: 3, Delay: 20 * time.Millisecond}, hedge.WithClock(clk), hedge.WithObserver(rec))
				if err != nil {
					t.Fatal(err)
				}
				var (
					below   grpc.StreamClientInterceptor
					release func() // at 100ms: a slot is given back
				)
				switch gate {
				case "bulkhead":
					bh, err := bulkhead.New("kyc.v1.FaceMatchService", bulkhead.Config{MaxConcurrent: 2, MaxWait: time.Second}, bulkhead.WithClock(clk))
					if err != nil {
						t.Fatal(err)
					}
					if !bh.TryAcquire() { // another call holds one of the two slots until 100ms
						t.Fatal("TryAcquire of an empty bulkhead failed")
					}
					below, release = bh.Stream(), bh.Release
				default:
					// One token, taken by attempt 1; the next comes at 100ms, the one after at 200ms.
					rl, err := ratelimit.New("kyc.v1.FaceMatchService", nil, ratelimit.Config{Rate: 10, Burst: 1, MaxWait: time.Second}, ratelimit.WithClock(clk))
					if err != nil {
						t.Fatal(err)
					}
					below, release = rl.Stream(), func() {}
				}
				var opens atomic.Int32
				open := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
					s := &answerAtStream{ctx: ctx, clk: clk}
					if opens.Add(1) == 1 {
						s.at = base.Add(130 * time.Millisecond)
					}
					return s, nil
				}
				streamer := func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
					return below(ctx, desc, cc, method, open, opts...)
				}
				cs, err := p.Stream()(context.Background(), &grpc.StreamDesc{ClientStreams: true}, nil, testkit.MethodCheck, streamer)
				if err != nil {
					t.Fatal(err)
				}
				if err := cs.SendMsg(&kycv1.CheckRequest{}); err != nil {
					t.Fatal(err)
				}
				if err := cs.CloseSend(); err != nil {
					t.Fatal(err)
				}
				done := make(chan error, 1)
				go func() { done <- cs.RecvMsg(new(kycv1.CheckResponse)) }()
				var recvErr error
			steps:
				for range 100 { // 10ms steps, up to a second of clk
					synctest.Wait()
					select {
					case recvErr = <-done:
						break steps
					default:
					}
					if clk.Now().Sub(base) == 100*time.Millisecond {
						release()
						synctest.Wait() // hedge 2 leaves the queue at 100ms
					}
					clk.Advance(10 * time.Millisecond)
				}
				if recvErr != nil {
					t.Fatalf("the hedged stream: %v, want attempt 1's answer", recvErr)
				}
				var at []time.Duration
				for _, e := range rec.Events(observe.HedgeSent) {
					at = append(at, e.Delay)
				}
				if len(at) != 2 || at[0] != 20*time.Millisecond || at[1] != 120*time.Millisecond {
					t.Errorf("hedges sent at %v after the reply phase began, want [20ms 120ms]: none while hedge 2 queued in the %s below (20ms-100ms), the next 20ms after it left the queue", at, gate)
				}
			})
		})
	}
}
