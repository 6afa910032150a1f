package hedge_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// requestOf numbers a request over the call from its grpc-previous-rpc-attempts (1 for the
// first).
func requestOf(ctx context.Context) int {
	md, _ := metadata.FromOutgoingContext(ctx)
	v := md.Get(hedge.PreviousAttemptsKey)
	if len(v) == 0 {
		return 1
	}
	n, _ := strconv.Atoi(v[len(v)-1])
	return n + 1
}

// hedgedRounds is an invoker for a retry around a hedge of 2 attempts: every round's first
// request (odd) waits for its hedge (even) to arrive, then fails Unavailable; the hedge fails
// Unavailable at once with a RetryInfo of backoff, so that it is the failure the round
// returns whichever of the two ends first (the hedge returns the one with pushback). arrivals
// gets each request's number.
func hedgedRounds(backoff time.Duration, arrivals chan<- int) grpc.UnaryInvoker {
	var (
		mu     sync.Mutex
		hedged = map[int]chan struct{}{}
	)
	ch := func(k int) chan struct{} {
		mu.Lock()
		defer mu.Unlock()
		c, ok := hedged[k]
		if !ok {
			c = make(chan struct{})
			hedged[k] = c
		}
		return c
	}
	return func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
		k := requestOf(ctx)
		arrivals <- k
		if k%2 == 1 {
			select {
			case <-ch(k + 1):
			case <-ctx.Done():
			}
			return status.Error(grpccodes.Unavailable, "down")
		}
		close(ch(k))
		st, _ := status.New(grpccodes.Unavailable, "busy").WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(backoff)})
		return st.Err()
	}
}

// TestUnderRetryCountsRequestsNotRounds: a retry of 2 attempts around a hedge of 2 sends 4
// requests when every one fails. Every number and count of attempts speaks of requests, as
// AttemptFinished's does: retry.Info.Attempts, RetriesExhausted's Attempt and the error's
// "(after N attempts)" say 4, not the 2 rounds; RetryScheduled's Attempt is the request whose
// failure the round returned (the hedge, 2), not the round (1).
func TestUnderRetryCountsRequestsNotRounds(t *testing.T) {
	clk, rec, scheduled, rp, hp := retryAroundHedge(t, 0)
	arrivals := make(chan int, 8)
	last := hedgedRounds(10*time.Millisecond, arrivals)
	hedged := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
		return hp.Unary()(ctx, method, req, reply, cc, last, opts...)
	}
	var info retry.Info
	done := make(chan error, 1)
	go func() {
		done <- rp.Unary()(context.Background(), testkit.MethodCompare, &kycv1.CompareRequest{}, &kycv1.CompareResponse{}, nil, hedged,
			retry.WithMax(2), retry.Report(&info))
	}()
	for round := range 2 {
		if k := <-arrivals; k != 2*round+1 {
			t.Fatalf("request %d first in round %d, want %d", k, round+1, 2*round+1)
		}
		clk.Advance(delay) // the hedging timer was armed before the round's first request went
		if k := <-arrivals; k != 2*round+2 {
			t.Fatalf("hedge %d in round %d, want %d", k, round+1, 2*round+2)
		}
		if round == 0 {
			<-scheduled
			clk.BlockUntil(1)
			clk.Advance(10 * time.Millisecond)
		}
	}
	err := <-done
	if status.Code(err) != grpccodes.Unavailable || !strings.Contains(err.Error(), "after 4 attempts") {
		t.Fatalf("err = %v, want Unavailable after 4 attempts", err)
	}
	if info.Attempts != 4 || info.Reason != observe.ReasonMaxAttempts {
		t.Errorf("retry.Info = %+v, want 4 attempts (the requests sent), max_attempts", info)
	}
	if got := len(rec.Events(observe.AttemptFinished)); got != 4 {
		t.Errorf("%d AttemptFinished, want 4", got)
	}
	if ev := rec.Events(observe.RetriesExhausted); len(ev) != 1 || ev[0].Attempt != 4 {
		t.Errorf("RetriesExhausted = %+v, want one, attempt 4", ev)
	}
	if ev := rec.Events(observe.RetryScheduled); len(ev) != 1 || ev[0].Attempt != 2 || ev[0].Reason != observe.ReasonPushback {
		t.Errorf("RetryScheduled = %+v, want one, attempt 2 (the hedge whose pushback the round returned)", ev)
	}
}

// TestHedgeWonUnderRetryTimesTheWholeCall: round 1 fails at once, the retry sleeps 10ms, and
// in round 2 the hedge, sent a hedging delay after the round's first request, wins. HedgeWon's
// Duration is the whole call's (10ms + delay), as observe documents it, not the round's;
// HedgeSent's Delay is the hedging delay waited within the round (delay), not the time since
// the call began.
func TestHedgeWonUnderRetryTimesTheWholeCall(t *testing.T) {
	clk, rec, scheduled, rp, hp := retryAroundHedge(t, 0)
	arrivals := make(chan int, 8)
	last := func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
		k := requestOf(ctx)
		arrivals <- k
		switch k {
		case 1:
			return status.Error(grpccodes.Unavailable, "down")
		case 2:
			<-ctx.Done() // stalls until the hedge wins
			return status.FromContextError(ctx.Err()).Err()
		}
		return nil
	}
	hedged := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
		return hp.Unary()(ctx, method, req, reply, cc, last, opts...)
	}
	done := make(chan error, 1)
	go func() {
		done <- rp.Unary()(context.Background(), testkit.MethodCompare, &kycv1.CompareRequest{}, &kycv1.CompareResponse{}, nil, hedged)
	}()
	<-arrivals
	<-scheduled
	clk.BlockUntil(1)
	clk.Advance(10 * time.Millisecond)
	<-arrivals
	clk.Advance(delay)
	<-arrivals
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if won := rec.Events(observe.HedgeWon); len(won) != 1 || won[0].Attempt != 3 || won[0].Duration != 10*time.Millisecond+delay {
		t.Fatalf("HedgeWon = %+v, want one, attempt 3, duration %v (the whole call)", won, 10*time.Millisecond+delay)
	}
	if sent := rec.Events(observe.HedgeSent); len(sent) != 1 || sent[0].Attempt != 3 || sent[0].Delay != delay {
		t.Fatalf("HedgeSent = %+v, want one, attempt 3, delay %v (the hedging delay in its round)", sent, delay)
	}
}

// TestStreamHedgeWonTimesTheWholeStream: a client stream spends 30ms sending before its reply
// phase, where its hedge goes a delay later and wins. HedgeWon's Duration is the whole call's,
// from the stream's open (30ms + delay); HedgeSent's Delay is the hedging delay waited, from
// the reply phase's start.
func TestStreamHedgeWonTimesTheWholeStream(t *testing.T) {
	s := newSetup(t, hedge.Config{Delay: delay})
	st := newStub(map[int]act{1: hang, 2: ok})
	srv := testkit.Start(t, &testkit.Server{CheckF: st.check})
	cs, err := kycv1.NewLivenessServiceClient(s.dial(t, srv)).Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.Send(&kycv1.CheckRequest{Index: 0}); err != nil {
		t.Fatal(err)
	}
	s.clk.Advance(30 * time.Millisecond) // the caller takes its time sending
	done := make(chan error, 1)
	go func() {
		_, err := cs.CloseAndRecv()
		done <- err
	}()
	<-st.arrival(1)
	s.clk.BlockUntil(1)
	s.clk.Advance(delay)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st.settle(t)
	if won := s.rec.Events(observe.HedgeWon); len(won) != 1 || won[0].Attempt != 2 || won[0].Duration != 30*time.Millisecond+delay {
		t.Fatalf("HedgeWon = %+v, want one, attempt 2, duration %v (from the stream's open)", won, 30*time.Millisecond+delay)
	}
	if sent := s.rec.Events(observe.HedgeSent); len(sent) != 1 || sent[0].Delay != delay {
		t.Fatalf("HedgeSent = %+v, want one, delay %v", sent, delay)
	}
}
