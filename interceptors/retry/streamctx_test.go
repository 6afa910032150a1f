package retry_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/deadline"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
)

// TestStreamAttemptTimeoutWithNobodyReading: a client stream's first attempt times out (the
// per-attempt timer) while the caller is between two sends. The retry stream goes on: the
// caller's next sends are kept, and its CloseAndRecv retries and gets the second attempt's
// reply. A policy above the retry loop that watches the stream's end through the stream's
// Context (the deadline's, the suite's) must not take the first attempt's end for the
// stream's: it used to (a Transport end), and the deadline then canceled the context of the
// whole call, which the caller got as the attempt's DeadlineExceeded, never retried.
func TestStreamAttemptTimeoutWithNobodyReading(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := clocktest.New(time.Now())
		p, err := retry.New(retry.Config{MaxAttempts: 3, PerAttemptTimeout: 5 * time.Second, Idempotent: true},
			retry.WithClock(clk), retry.WithRand(seq(0.5)))
		if err != nil {
			t.Fatal(err)
		}
		dl, err := deadline.New(deadline.Config{Default: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		var opens atomic.Int32
		attempts := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
			return testkit.NewScriptedStream(ctx, opens.Add(1) == 1), nil
		}
		desc := &grpc.StreamDesc{ClientStreams: true}
		retried := func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			return p.Stream()(ctx, desc, cc, method, attempts, opts...)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		cs, err := dl.Stream()(ctx, desc, nil, testkit.MethodCheck, retried)
		if err != nil {
			t.Fatal(err)
		}
		if err := cs.SendMsg(&kycv1.CheckRequest{Index: 0}); err != nil {
			t.Fatal(err)
		}
		clk.Advance(5 * time.Second) // attempt 1's timeout, with nobody reading
		synctest.Wait()              // every context callback has run

		err = testkit.CloseAndRecvInBubble(cs, clk, &kycv1.CheckRequest{Index: 1}, new(kycv1.CheckResponse))
		if err != nil {
			t.Fatalf("CloseAndRecv = %v after %d attempts, want the second attempt's reply", err, opens.Load())
		}
		if n := opens.Load(); n != 2 {
			t.Fatalf("%d attempts, want 2", n)
		}
	})
}

// TestStreamContextValuesAndEnd: the retry stream's Context holds what the attempt's stream
// context holds (gRPC's peer), and it ends, with the contexts derived from it, when the stream
// does.
func TestStreamContextValuesAndEnd(t *testing.T) {
	p, err := retry.New(retry.Config{MaxAttempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	want := &peer.Peer{Addr: &net.UnixAddr{Name: "attempt", Net: "unix"}}
	attempts := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
		return testkit.NewScriptedStream(peer.NewContext(ctx, want), false), nil
	}
	cs, err := p.Stream()(context.Background(), &grpc.StreamDesc{ClientStreams: true}, nil, testkit.MethodCheck, attempts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := cs.Context()
	if got, ok := peer.FromContext(ctx); !ok || got != want {
		t.Fatalf("peer = %v, %v; want the attempt's", got, ok)
	}
	derived, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := cs.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if err := cs.RecvMsg(new(kycv1.CheckResponse)); err != nil {
		t.Fatal(err)
	}
	if ctx.Err() == nil || derived.Err() == nil {
		t.Fatalf("after the reply: context %v, derived %v; want both ended", ctx.Err(), derived.Err())
	}
}

// TestStreamAttemptTimeoutsInTurn: the first two attempts of a client stream time out in turn
// (the first on the timeout state the stream holds itself, the second on one of its own), and
// the third answers: each timed-out attempt's context reads DeadlineExceeded, and so does its
// AttemptFinished, while the third's context is live when it opens.
func TestStreamAttemptTimeoutsInTurn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := clocktest.New(time.Now())
		rec := new(testkit.Recorder)
		p, err := retry.New(retry.Config{MaxAttempts: 3, PerAttemptTimeout: 5 * time.Second, Idempotent: true},
			retry.WithClock(clk), retry.WithRand(seq(0.5)), retry.WithObserver(rec))
		if err != nil {
			t.Fatal(err)
		}
		var ctxs []context.Context
		attempts := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
			if err := ctx.Err(); err != nil {
				t.Errorf("attempt %d opened on an ended context: %v", len(ctxs)+1, err)
			}
			ctxs = append(ctxs, ctx)
			return testkit.NewScriptedStream(ctx, len(ctxs) < 3), nil
		}
		cs, err := p.Stream()(context.Background(), &grpc.StreamDesc{ClientStreams: true}, nil, testkit.MethodCheck, attempts)
		if err != nil {
			t.Fatal(err)
		}
		if err := testkit.CloseAndRecvInBubble(cs, clk, &kycv1.CheckRequest{Index: 0}, new(kycv1.CheckResponse)); err != nil {
			t.Fatalf("CloseAndRecv = %v after %d attempts, want the third attempt's reply", err, len(ctxs))
		}
		if len(ctxs) != 3 {
			t.Fatalf("%d attempts, want 3", len(ctxs))
		}
		for i, ctx := range ctxs[:2] {
			if err := ctx.Err(); err != context.DeadlineExceeded {
				t.Errorf("attempt %d's context: Err = %v, want %v", i+1, err, context.DeadlineExceeded)
			}
		}
		ev := rec.Events(observe.AttemptFinished)
		if len(ev) != 3 {
			t.Fatalf("%d AttemptFinished events, want 3", len(ev))
		}
		for i, e := range ev[:2] {
			if e.Code != grpccodes.DeadlineExceeded {
				t.Errorf("attempt %d finished with %v, want DeadlineExceeded", i+1, e.Code)
			}
		}
	})
}
