package hedge_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	"github.com/bulwarkrpc/bulwark/internal/attempt"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
)

// TestClaimedRoundSendsNoHedge: a client stream under a retry loop whose round the loop has
// claimed (it reported the round's attempt itself: the stream ended while nobody read it),
// whose caller then reads it while its context is still live (gRPC ended the stream, and the
// caller's RecvMsg came as the loop saw the end), sends no hedge past the delay: nothing would
// report it, the loop having reported the round and the policy's reports of a claimed round
// being dropped (attempt.Round.Report). Each request that goes out is reported once: a hedge
// went out with a HedgeSent and no AttemptFinished.
func TestClaimedRoundSendsNoHedge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := clocktest.New(time.Unix(1700000000, 0))
		rec := &testkit.Recorder{}
		p, err := hedge.New(hedge.Config{MaxAttempts: 2, Delay: 20 * time.Millisecond, Idempotent: true},
			hedge.WithClock(clk), hedge.WithObserver(rec))
		if err != nil {
			t.Fatal(err)
		}
		var round attempt.Round
		round.Reset(0, clk.Now(), nil)
		if !round.Claim() {
			t.Fatal("Claim of a fresh round returned false")
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		// Every stream hangs until its context ends.
		streamer := timedStreamer(clk, timedStream{hang: true}, timedStream{hang: true})
		cs, err := p.Stream()(ctx, &grpc.StreamDesc{ClientStreams: true}, nil, testkit.MethodCheck, streamer, &round)
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
		synctest.Wait()
		clk.Advance(50 * time.Millisecond) // past the hedging delay
		synctest.Wait()
		sent := rec.Count(observe.HedgeSent)
		cancel()
		if err := <-done; err == nil {
			t.Fatal("the receive of a stream its caller canceled returned nil")
		}
		synctest.Wait()
		if finished := rec.Count(observe.AttemptFinished); sent != 0 || finished != 0 {
			t.Fatalf("%d hedges sent and %d AttemptFinished in a round the retry loop claimed; want 0 and 0: the loop reported the round's one request", sent, finished)
		}
	})
}
