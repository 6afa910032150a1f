package hedge_test

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// retryAroundHedge returns the policies of the under-retry tests on a fake clock: a retry of 3
// attempts 10 ms apart (perAttempt its per-attempt timeout, 0 for none) to put around a hedge
// of delay, both reporting to rec; scheduled gets a value at each RetryScheduled.
func retryAroundHedge(t *testing.T, perAttempt time.Duration) (*clocktest.Fake, *testkit.Recorder, chan struct{}, *retry.Policy, *hedge.Policy) {
	t.Helper()
	clk := clocktest.New(time.Now())
	rec := &testkit.Recorder{}
	scheduled := make(chan struct{}, 4)
	sink := observe.Multi(rec, observe.SinkFunc(func(e observe.Event) {
		if e.Kind == observe.RetryScheduled {
			scheduled <- struct{}{}
		}
	}))
	rp, err := retry.New(retry.Config{MaxAttempts: 3, InitialBackoff: 10 * time.Millisecond, Jitter: retry.JitterNone, PerAttemptTimeout: perAttempt},
		retry.WithClock(clk), retry.WithObserver(sink))
	if err != nil {
		t.Fatal(err)
	}
	hp, err := hedge.New(hedge.Config{Delay: delay}, hedge.WithClock(clk), hedge.WithObserver(sink))
	if err != nil {
		t.Fatal(err)
	}
	return clk, rec, scheduled, rp, hp
}

// TestUnderRetryCountsEachAttemptOnce: a hedging policy inside a retry loop (the suite's
// arrangement). Round 1 is one attempt that fails at once; the loop retries; in round 2 the
// first attempt stalls and its hedge answers. Three requests went out: each is reported once,
// by the hedge (the retry loop reports none of the rounds the hedge reported), numbered 1, 2,
// 3 over the call, and each later one carries grpc-previous-rpc-attempts = the requests
// before it (the retry's own value replaced on the hedge, not repeated), the retry also
// x-retry-attempt = 2. With a per-attempt timeout the retry gives each round a context, whose
// cancel the hedge uses for round 2's first attempt: it still ends when the hedge wins.
func TestUnderRetryCountsEachAttemptOnce(t *testing.T) {
	for _, perAttempt := range []time.Duration{0, time.Minute} {
		t.Run("per_attempt_"+perAttempt.String(), func(t *testing.T) {
			clk, rec, scheduled, rp, hp := retryAroundHedge(t, perAttempt)
			var (
				mu  sync.Mutex
				mds []metadata.MD
			)
			arrived := make(chan int, 4)
			last := func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
				md, _ := metadata.FromOutgoingContext(ctx)
				mu.Lock()
				mds = append(mds, md)
				n := len(mds)
				mu.Unlock()
				arrived <- n
				switch n {
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
			var info retry.Info
			done := make(chan error, 1)
			go func() {
				done <- rp.Unary()(context.Background(), testkit.MethodCompare, &kycv1.CompareRequest{}, &kycv1.CompareResponse{}, nil, hedged, retry.Report(&info))
			}()
			<-arrived
			<-scheduled
			clk.BlockUntil(1)
			clk.Advance(10 * time.Millisecond)
			<-arrived
			clk.Advance(delay) // the hedging timer was armed before round 2's first attempt went
			<-arrived
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if info.Attempts != 3 {
				t.Errorf("retry.Info.Attempts = %d, want 3 (the requests sent, the hedge included)", info.Attempts)
			}
			var got []string
			for _, e := range rec.Events(observe.AttemptFinished) {
				got = append(got, e.Policy+"/"+strconv.Itoa(e.Attempt)+"/"+e.Code.String())
			}
			slices.Sort(got)
			if want := []string{"hedge/1/Unavailable", "hedge/2/Canceled", "hedge/3/OK"}; !slices.Equal(got, want) {
				t.Fatalf("AttemptFinished = %v, want %v", got, want)
			}
			if sent := rec.Events(observe.HedgeSent); len(sent) != 1 || sent[0].Attempt != 3 {
				t.Fatalf("HedgeSent = %+v, want one, attempt 3", sent)
			}
			if won := rec.Events(observe.HedgeWon); len(won) != 1 || won[0].Attempt != 3 {
				t.Fatalf("HedgeWon = %+v, want one, attempt 3", won)
			}
			wantPrev := [][]string{nil, {"1"}, {"2"}}
			wantRetry := [][]string{nil, {"2"}, {"2"}}
			for i, md := range mds {
				if p, r := md.Get(hedge.PreviousAttemptsKey), md.Get(xRetryAttempt); !slices.Equal(p, wantPrev[i]) || !slices.Equal(r, wantRetry[i]) {
					t.Errorf("request %d: %s %v, %s %v; want %v, %v", i+1, hedge.PreviousAttemptsKey, p, xRetryAttempt, r, wantPrev[i], wantRetry[i])
				}
			}
		})
	}
}

// TestRetryAloneCountsItsAttempts: without a hedging policy below, the retry loop reports its
// attempts itself, numbered 1, 2, 3, each later one carrying grpc-previous-rpc-attempts.
func TestRetryAloneCountsItsAttempts(t *testing.T) {
	clk := clocktest.New(time.Now())
	rec := &testkit.Recorder{}
	rp, err := retry.New(retry.Config{MaxAttempts: 3, InitialBackoff: 10 * time.Millisecond, Multiplier: 1, Jitter: retry.JitterNone},
		retry.WithClock(clk), retry.WithObserver(rec))
	if err != nil {
		t.Fatal(err)
	}
	var prevs [][]string
	last := func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
		md, _ := metadata.FromOutgoingContext(ctx)
		prevs = append(prevs, md.Get(hedge.PreviousAttemptsKey))
		if len(prevs) < 3 {
			return status.Error(grpccodes.Unavailable, "down")
		}
		return nil
	}
	done := make(chan error, 1)
	go func() {
		done <- rp.Unary()(context.Background(), testkit.MethodCompare, &kycv1.CompareRequest{}, &kycv1.CompareResponse{}, nil, last)
	}()
	for range 2 {
		clk.BlockUntil(1)
		clk.Advance(10 * time.Millisecond)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range rec.Events(observe.AttemptFinished) {
		got = append(got, e.Policy+"/"+strconv.Itoa(e.Attempt)+"/"+e.Code.String())
	}
	if want := []string{"retry/1/Unavailable", "retry/2/Unavailable", "retry/3/OK"}; !slices.Equal(got, want) {
		t.Fatalf("AttemptFinished = %v, want %v", got, want)
	}
	if want := [][]string{nil, {"1"}, {"2"}}; !slices.EqualFunc(prevs, want, slices.Equal) {
		t.Fatalf("%s = %v, want %v", hedge.PreviousAttemptsKey, prevs, want)
	}
}

// xRetryAttempt is the deprecated header retries still send (retry.AttemptMetadataKey).
const xRetryAttempt = "x-retry-attempt"

// TestStreamUnderRetryCountsEachAttemptOnce is TestUnderRetryCountsEachAttemptOnce for a
// client stream (liveness Check), retry's stream interceptor around hedge's: round 1 fails at
// once, round 2's first attempt stalls and its hedge, a replay, answers.
func TestStreamUnderRetryCountsEachAttemptOnce(t *testing.T) {
	clk, rec, scheduled, rp, hp := retryAroundHedge(t, 0)
	st := newStub(map[int]act{1: unavailable, 2: hang, 3: ok})
	srv := testkit.Start(t, &testkit.Server{CheckF: st.check})
	client := kycv1.NewLivenessServiceClient(srv.Dial(t, grpc.WithChainStreamInterceptor(rp.Stream(), hp.Stream())))
	done := make(chan error, 1)
	go func() {
		done <- func() error {
			cs, err := client.Check(context.Background())
			if err != nil {
				return err
			}
			for i := range 3 {
				if err := cs.Send(&kycv1.CheckRequest{Index: uint32(i), Image: make([]byte, 10)}); err != nil {
					return err
				}
			}
			resp, err := cs.CloseAndRecv()
			if err == nil && resp.GetScore() != 0.3 {
				t.Errorf("reply from attempt %v, want 3", resp.GetScore()*10)
			}
			return err
		}()
	}()
	<-st.arrival(1)
	<-scheduled
	clk.BlockUntil(1)
	clk.Advance(10 * time.Millisecond)
	<-st.arrival(2)
	clk.BlockUntil(1)
	clk.Advance(delay)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st.settle(t)
	var got []string
	for _, e := range rec.Events(observe.AttemptFinished) {
		got = append(got, e.Policy+"/"+strconv.Itoa(e.Attempt)+"/"+e.Code.String())
	}
	slices.Sort(got)
	if want := []string{"hedge/1/Unavailable", "hedge/2/Canceled", "hedge/3/OK"}; !slices.Equal(got, want) {
		t.Fatalf("AttemptFinished = %v, want %v", got, want)
	}
	wantPrev := [][]string{nil, {"1"}, {"2"}}
	for i, md := range srv.Metadata(testkit.MethodCheck) {
		if p := md.Get(hedge.PreviousAttemptsKey); !slices.Equal(p, wantPrev[i]) {
			t.Errorf("request %d: %s %v, want %v", i+1, hedge.PreviousAttemptsKey, p, wantPrev[i])
		}
	}
}

// stalledFirst runs one call through s whose first attempt stalls until the hedge, sent after
// the delay, answers; it returns the call's error.
func stalledFirst(s *setup) error {
	done := make(chan error, 1)
	go func() {
		done <- s.p.Unary()(context.Background(), testkit.MethodCompare, &kycv1.CompareRequest{}, &kycv1.CompareResponse{}, nil,
			func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
				if attemptOf(metadataIn(ctx)) == 1 {
					<-ctx.Done()
					return status.FromContextError(ctx.Err()).Err()
				}
				return nil
			})
	}()
	s.clk.BlockUntil(1)
	s.clk.Advance(delay)
	return <-done
}

// TestWithBudgetRetryTypedNil: what retry.Policy.Budget returns with throttling off, a nil
// *retry.RetryBudget, given to WithBudget means no limit (found without reflection), and a
// real one is drawn from.
func TestWithBudgetRetryTypedNil(t *testing.T) {
	rp, err := retry.New(retry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	none := rp.Budget("kyc.v1.FaceMatchService")
	if none != nil {
		t.Fatal("a policy without throttling has a retry budget")
	}
	s := newSetup(t, hedge.Config{Delay: delay}, hedge.WithBudget(none))
	if err := stalledFirst(s); err != nil || s.rec.Count(observe.HedgeSent) != 1 {
		t.Fatalf("err %v, hedges %d; want a hedge, no budget in the way", err, s.rec.Count(observe.HedgeSent))
	}

	// A real bucket is drawn from: the hedge takes one of its tokens.
	rp, err = retry.New(retry.Config{Throttle: retry.RetryBudgetConfig{MaxTokens: 4, TokenRatio: 1}})
	if err != nil {
		t.Fatal(err)
	}
	b := rp.Budget("kyc.v1.FaceMatchService")
	s = newSetup(t, hedge.Config{Delay: delay}, hedge.WithBudget(b))
	if err := stalledFirst(s); err != nil || s.rec.Count(observe.HedgeSent) != 1 || b.Tokens() != 3 {
		t.Fatalf("err %v, hedges %d, tokens %v; want a hedge paid with one of 4 tokens", err, s.rec.Count(observe.HedgeSent), b.Tokens())
	}
}
