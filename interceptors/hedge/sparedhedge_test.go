package hedge_test

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
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

// A retry loop whose per-attempt timeout (50ms) cuts overtaken attempts only, above a hedge
// due at 48ms, less than retry.MinAttemptTime before that timeout, with a service slow for
// every caller (100ms a request). The timeout spares attempt 1, which nobody overtook, and
// lifts its round's end: the hedge held back for that end goes 5ms past it. Under CutAlways,
// where every attempt is cut at its timeout, no hedge goes, and nothing is left armed.

const (
	sparedTimeout = 50 * time.Millisecond
	sparedDelay   = 48 * time.Millisecond
	sparedTakes   = 100 * time.Millisecond // the slow service's answer, to every request
)

// sparedCases are the two cuts of the spared-hedge tests, and what each must do: the time of
// each HedgeSent from the call's start, the attempts spared, and the call's code.
var sparedCases = []struct {
	cut     retry.Cut
	hedges  []time.Duration
	spared  int
	code    grpccodes.Code
	answers int // requests the service got
}{
	// Attempt 1 spared at 50ms, the hedge at 55ms (endGrace past the end), and attempt 1's
	// answer at 100ms wins.
	{cut: retry.CutOvertaken, hedges: []time.Duration{55 * time.Millisecond}, spared: 1, code: grpccodes.OK, answers: 2},
	// Attempt 1 cut at 50ms, its retry at 60ms cut at 110ms: each round's hedge, due 2ms
	// before the cut, never goes.
	{cut: retry.CutAlways, code: grpccodes.DeadlineExceeded, answers: 2},
}

// sparedPolicies returns the policies of the spared-hedge tests on a fake clock made in the
// caller's bubble: a retry of 2 attempts 10ms apart with a per-attempt timeout of
// sparedTimeout that cuts as cut says, around a hedge of 2 attempts due sparedDelay apart,
// both reporting to rec.
func sparedPolicies(t *testing.T, cut retry.Cut) (*clocktest.Fake, *testkit.Recorder, *retry.Policy, *hedge.Policy) {
	t.Helper()
	clk := clocktest.New(time.Unix(1700000000, 0))
	rec := &testkit.Recorder{}
	rp, err := retry.New(retry.Config{MaxAttempts: 2, InitialBackoff: 10 * time.Millisecond, Jitter: retry.JitterNone,
		PerAttemptTimeout: sparedTimeout, PerAttemptCut: cut}, retry.WithClock(clk), retry.WithObserver(rec))
	if err != nil {
		t.Fatal(err)
	}
	hp, err := hedge.New(hedge.Config{Delay: sparedDelay, MaxAttempts: 2}, hedge.WithClock(clk), hedge.WithObserver(rec))
	if err != nil {
		t.Fatal(err)
	}
	return clk, rec, rp, hp
}

// slowAnswer waits sparedTakes on clk and answers, unless ctx ends first.
func slowAnswer(ctx context.Context, clk clock.Clock) error {
	tm := clk.NewTimer(sparedTakes)
	defer tm.Stop()
	select {
	case <-tm.C():
		return nil
	case <-ctx.Done():
		return status.FromContextError(ctx.Err()).Err()
	}
}

// slowStream is a client stream of the slow service: its reply comes sparedTakes after it is
// asked for.
type slowStream struct {
	ctx context.Context
	clk clock.Clock
}

func (s *slowStream) Header() (metadata.MD, error) { return nil, nil }
func (s *slowStream) Trailer() metadata.MD         { return nil }
func (s *slowStream) CloseSend() error             { return nil }
func (s *slowStream) Context() context.Context     { return s.ctx }
func (s *slowStream) SendMsg(any) error            { return nil }
func (s *slowStream) RecvMsg(any) error            { return slowAnswer(s.ctx, s.clk) }

// untilDone moves clk on 1ms at a time, once the bubble's goroutines are all blocked, until
// the call sends its error on done (within a second of clk), and returns it.
func untilDone(t *testing.T, clk *clocktest.Fake, done <-chan error) error {
	t.Helper()
	for end := clk.Now().Add(time.Second); clk.Now().Before(end); clk.Advance(time.Millisecond) {
		synctest.Wait()
		select {
		case err := <-done:
			return err
		default:
		}
	}
	t.Fatal("the call did not return within a second of the fake clock")
	return nil
}

// checkSpared checks what a spared-hedge call that started at start did against want's row.
func checkSpared(t *testing.T, clk *clocktest.Fake, rec *testkit.Recorder, start time.Time, err error, answers int32, i int) {
	t.Helper()
	want := sparedCases[i]
	if status.Code(err) != want.code {
		t.Fatalf("the call = %v, want %v", err, want.code)
	}
	var hedges []time.Duration
	for _, e := range rec.Events(observe.HedgeSent) {
		hedges = append(hedges, e.Time.Sub(start))
		if e.Attempt != 2 {
			t.Errorf("HedgeSent of attempt %d, want 2", e.Attempt)
		}
	}
	if !slices.Equal(hedges, want.hedges) {
		t.Errorf("hedges sent at %v from the call's start, want %v", hedges, want.hedges)
	}
	spared := rec.Events(observe.AttemptSpared)
	if len(spared) != want.spared {
		t.Fatalf("%d AttemptSpared, want %d", len(spared), want.spared)
	}
	for _, e := range spared {
		if e.Attempt != 1 || e.Delay != sparedTimeout || e.Time.Sub(start) != sparedTimeout {
			t.Errorf("AttemptSpared {Attempt %d Delay %v at %v}, want attempt 1 spared at its %v timeout", e.Attempt, e.Delay, e.Time.Sub(start), sparedTimeout)
		}
	}
	if int(answers) != want.answers {
		t.Errorf("the service got %d requests, want %d", answers, want.answers)
	}
	synctest.Wait()
	if n := clk.Timers(); n != 0 {
		t.Errorf("%d timers left armed after the call", n)
	}
}

// TestUnderRetryASparedAttemptIsHedged: a unary call (see the file's comment).
func TestUnderRetryASparedAttemptIsHedged(t *testing.T) {
	for i, tc := range sparedCases {
		t.Run(string(tc.cut), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				clk, rec, rp, hp := sparedPolicies(t, tc.cut)
				var answers atomic.Int32
				slow := func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
					answers.Add(1)
					return slowAnswer(ctx, clk)
				}
				hedged := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
					return hp.Unary()(ctx, method, req, reply, cc, slow, opts...)
				}
				start := clk.Now()
				done := make(chan error, 1)
				go func() {
					done <- rp.Unary()(context.Background(), testkit.MethodCompare, &kycv1.CompareRequest{}, &kycv1.CompareResponse{}, nil, hedged)
				}()
				checkSpared(t, clk, rec, start, untilDone(t, clk, done), answers.Load(), i)
			})
		})
	}
}

// TestStreamUnderRetryASparedAttemptIsHedged: a client stream, retry's stream interceptor
// around hedge's (see the file's comment); its reply phase begins as it opens.
func TestStreamUnderRetryASparedAttemptIsHedged(t *testing.T) {
	for i, tc := range sparedCases {
		t.Run(string(tc.cut), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				clk, rec, rp, hp := sparedPolicies(t, tc.cut)
				var answers atomic.Int32
				slow := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
					answers.Add(1)
					return &slowStream{ctx: ctx, clk: clk}, nil
				}
				hedged := func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
					return hp.Stream()(ctx, desc, cc, method, slow, opts...)
				}
				start := clk.Now()
				cs, err := rp.Stream()(context.Background(), &grpc.StreamDesc{ClientStreams: true}, nil, testkit.MethodCheck, hedged)
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
				go func() { done <- cs.RecvMsg(&kycv1.CheckResponse{}) }()
				checkSpared(t, clk, rec, start, untilDone(t, clk, done), answers.Load(), i)
			})
		})
	}
}
