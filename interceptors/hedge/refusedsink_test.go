package hedge

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
)

// A hedge refused by a policy below it, while attempt 1 goes on and answers, is told to the
// call's sink (observe.WithCallSink) as a Rejected event naming the hedge, the refusing policy,
// its reason and when to come back, so that a tracer can show on the call's trace why the
// hedge went nowhere. The refusing policy's own Rejected, which knows neither the call nor the
// attempt, goes to its sink alone, and the hedge's sink gets no second one: a rejection is
// counted once. The call sink used to hear nothing of the refusal.
func TestRefusedHedgeIsToldTheCallSink(t *testing.T) {
	const (
		d   = 10 * time.Millisecond
		svc = "kyc.v1.FaceMatchService"
	)
	for _, tc := range []struct {
		name       string
		below      func(clk *clocktest.Fake, sink observe.Sink) (grpc.UnaryClientInterceptor, error)
		wantPolicy string
		wantReason string
		wantCode   grpccodes.Code
		wantAfter  time.Duration
	}{
		{"a full bulkhead", func(clk *clocktest.Fake, sink observe.Sink) (grpc.UnaryClientInterceptor, error) {
			bh, err := bulkhead.New(svc, bulkhead.Config{MaxConcurrent: 1}, bulkhead.WithClock(clk), bulkhead.WithObserver(sink))
			if err != nil {
				return nil, err
			}
			return bh.Unary(), nil
		}, observe.PolicyBulkhead, bulkhead.ReasonFull, grpccodes.ResourceExhausted, 0},
		// One token a second: attempt 1 takes it, and the hedge, d later, is told to come back
		// when the next one is in.
		{"an empty rate limit", func(clk *clocktest.Fake, sink observe.Sink) (grpc.UnaryClientInterceptor, error) {
			rl, err := ratelimit.New(svc, nil, ratelimit.Config{Rate: 1, Burst: 1}, ratelimit.WithClock(clk), ratelimit.WithObserver(sink))
			if err != nil {
				return nil, err
			}
			return rl.Unary(), nil
		}, observe.PolicyRateLimit, ratelimit.ReasonLimited, grpccodes.ResourceExhausted, time.Second - d},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := clocktest.New(time.Time{})
			own, below, call := &testkit.Recorder{}, &testkit.Recorder{}, &testkit.Recorder{}
			p, err := New(Config{MaxAttempts: 3, Delay: d}, WithClock(clk), WithObserver(own))
			if err != nil {
				t.Fatal(err)
			}
			down, err := tc.below(clk, below)
			if err != nil {
				t.Fatal(err)
			}
			release := make(chan struct{})
			s := slowFirst(release)
			invoker := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
				return down(ctx, method, req, reply, cc, s.invoke, opts...)
			}
			ctx := observe.WithCallSink(context.Background(), call)
			done := make(chan error, 1)
			go func() {
				done <- p.Unary()(ctx, compare, &kycv1.CompareRequest{}, &kycv1.CompareResponse{}, nil, invoker)
			}()
			s.waitFor(t, 1)
			clk.BlockUntil(1)
			clk.Advance(d) // the hedge goes, and the policy below refuses it at once
			eventually(t, func() bool { return len(own.Events(observe.AttemptFinished)) == 1 })
			close(release) // attempt 1 answers
			if err := <-done; err != nil {
				t.Fatalf("call: %v; want attempt 1's success", err)
			}
			got := call.Events(observe.Rejected)
			if len(got) != 1 {
				t.Fatalf("%d Rejected events to the call's sink, want 1 (the hedge's): %+v", len(got), call.Events())
			}
			e := got[0]
			if e.Attempt != 2 || e.Policy != tc.wantPolicy || e.Reason != tc.wantReason || e.Code != tc.wantCode ||
				e.Class != codes.Rejected || e.Delay != tc.wantAfter || e.Method != compare || e.Service != svc || !e.Time.Equal(clk.Now()) {
				t.Errorf("the call's Rejected = %+v; want attempt 2, policy %s, reason %s, code %v, class rejected, retry after %v, at %v",
					e, tc.wantPolicy, tc.wantReason, tc.wantCode, tc.wantAfter, clk.Now())
			}
			if n := len(call.Events()); n != 1 {
				t.Errorf("%d events to the call's sink, want the Rejected alone (the hedge has no call observer here)", n)
			}
			if n := len(own.Events(observe.Rejected)); n != 0 {
				t.Errorf("%d Rejected events to the hedge's sink, want none: the refusing policy reported it", n)
			}
			if n := len(below.Events(observe.Rejected)); n != 1 {
				t.Errorf("%d Rejected events to the refusing policy's sink, want 1", n)
			}
		})
	}
}
