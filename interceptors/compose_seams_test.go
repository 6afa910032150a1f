package interceptors_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/interceptors/fallback"
	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/interceptors/throttle"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// composed is a suite of every policy for FaceMatchService, on a fake clock, with its
// recorder and breaker registry.
type composed struct {
	s   *interceptors.Suite
	clk *clocktest.Fake
	rec *testkit.Recorder
	reg *breaker.Registry
}

func composeAll(t *testing.T, p config.Profile, opts ...interceptors.Option) *composed {
	t.Helper()
	c := &composed{clk: clocktest.New(time.Unix(1700000000, 0)), rec: &testkit.Recorder{}, reg: &breaker.Registry{}}
	cfg := &config.Config{
		Profiles: map[string]config.Profile{"p": p},
		Services: map[string]config.Service{svcFaceMatch: {Profile: "p"}},
	}
	opts = append([]interceptors.Option{interceptors.WithClock(c.clk), interceptors.WithObserver(c.rec), interceptors.WithBreakerRegistry(c.reg)}, opts...)
	s, err := interceptors.New(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	c.s = s
	return c
}

func (c *composed) breakerState(t *testing.T) breaker.State {
	t.Helper()
	b, ok := c.reg.Lookup(svcFaceMatch)
	if !ok {
		t.Fatal("no breaker for the service")
	}
	return b.State()
}

func (c *composed) kinds() []string {
	var out []string
	for _, e := range c.rec.Events() {
		if e.Kind == observe.DeadlineApplied {
			continue
		}
		out = append(out, fmt.Sprintf("%v/%s", e.Kind, e.Policy))
	}
	return out
}

// call makes one call of MethodCompare through the suite. Nothing moves the clock: the calls
// these tests make never wait on it.
func (c *composed) call(ctx context.Context, inv *scriptedInvoker, out *kycv1.CompareResponse, opts ...grpc.CallOption) error {
	return c.s.Unary()(ctx, testkit.MethodCompare, &kycv1.CompareRequest{}, out, nil, inv.invoke, opts...)
}

func fullProfile() config.Profile {
	r := quickRetry(3)
	r.Idempotent = true
	return config.Profile{
		Retry:            r,
		Hedge:            &hedge.Config{MaxAttempts: 2, Delay: time.Minute, Idempotent: true}, // sent only where a test moves the clock a minute
		Breaker:          &breaker.Config{ConsecutiveFailures: 1, RecoveryTimeout: time.Hour},
		AdaptiveThrottle: &throttle.Config{K: 2, MinRequests: 1},
		RateLimit:        &ratelimit.Config{Rate: 1e6, Burst: 1000},
		Bulkhead:         &bulkhead.Config{MaxConcurrent: 8},
		Fallback:         &fallback.Config{},
	}
}

// A business error ends the call at once through every policy: one attempt, no retry, no
// hedge, the breaker (tripping at one failure) stays closed, and the fallback, configured with
// its default classes, lets the error stand.
func TestComposeBusinessErrorEndsTheCall(t *testing.T) {
	c := composeAll(t, fullProfile(), interceptors.WithFallback(testkit.MethodCompare, fallback.Message(&kycv1.CompareResponse{Similarity: 0.5})))
	inv := &scriptedInvoker{errs: []error{status.Error(grpccodes.InvalidArgument, "unreadable")}}
	var out kycv1.CompareResponse
	err := c.call(context.Background(), inv, &out)
	if status.Code(err) != grpccodes.InvalidArgument || inv.n != 1 {
		t.Fatalf("call = %v after %d attempts; want InvalidArgument after 1", err, inv.n)
	}
	if st := c.breakerState(t); st != breaker.Closed {
		t.Errorf("breaker %v after a business error; want closed", st)
	}
	for _, e := range c.rec.Events() {
		switch e.Kind {
		case observe.RetryScheduled, observe.RetriesExhausted, observe.HedgeSent, observe.FallbackServed, observe.Rejected, observe.BreakerStateChanged:
			t.Errorf("event %v (%s) after a business error; events %v", e.Kind, e.Policy, c.kinds())
		case observe.CallFinished:
			if e.Code != grpccodes.InvalidArgument || e.Class != codes.Business || e.Attempt != 1 {
				t.Errorf("CallFinished %v %v attempt %d; want InvalidArgument business 1", e.Code, e.Class, e.Attempt)
			}
		}
	}
}

// An attempt an open breaker refuses is not sent and not retried, whatever the retry budget;
// the fallback answers it and says so, with the refusal's class and reason.
func TestComposeOpenBreakerRefusalIsServedByTheFallback(t *testing.T) {
	c := composeAll(t, fullProfile(), interceptors.WithFallback(testkit.MethodCompare, fallback.Message(&kycv1.CompareResponse{Similarity: 0.5})))
	fail := &scriptedInvoker{errs: []error{unavailable()}}
	var out kycv1.CompareResponse
	// The first call, of one attempt, fails and trips the breaker; the fallback answers it,
	// reporting the service's failure underneath.
	err := c.call(context.Background(), fail, &out, retry.WithMax(1))
	if err != nil || out.Similarity != 0.5 || fail.n != 1 {
		t.Fatalf("first call = %v, %v, %d sent; want the fallback after 1", err, out.Similarity, fail.n)
	}
	if st := c.breakerState(t); st != breaker.Open {
		t.Fatalf("breaker %v; want open", st)
	}
	if fs := c.rec.Events(observe.FallbackServed); len(fs) != 1 || fs[0].Code != grpccodes.Unavailable || fs[0].Class != codes.Transient {
		t.Errorf("FallbackServed %+v; want one, of the Unavailable failure", fs)
	}
	c.rec.Reset()
	out.Reset()
	next := &scriptedInvoker{errs: []error{nil}}
	err = c.call(context.Background(), next, &out)
	if err != nil || out.Similarity != 0.5 || next.n != 0 {
		t.Fatalf("call under an open breaker = %v, %v, %d sent; want the fallback, none sent", err, out.Similarity, next.n)
	}
	if n := c.rec.Count(observe.RetryScheduled); n != 0 {
		t.Errorf("%d retries scheduled after the open breaker's refusal; want none", n)
	}
	if fs := c.rec.Events(observe.FallbackServed); len(fs) != 1 || fs[0].Class != codes.Rejected || fs[0].Reason != "CIRCUIT_OPEN" {
		t.Errorf("FallbackServed %+v; want one, of the CIRCUIT_OPEN rejection", fs)
	}
	// The refused attempt is made and counted, though never sent (observe's Kind doc): its
	// AttemptFinished says rejected, and the call counts it.
	if as := c.rec.Events(observe.AttemptFinished); len(as) != 1 || as[0].Attempt != 1 || as[0].Class != codes.Rejected {
		t.Errorf("AttemptFinished %+v; want one, attempt 1, rejected", as)
	}
	if cf := c.rec.Events(observe.CallFinished); len(cf) != 1 || cf[0].Attempt != 1 {
		t.Errorf("CallFinished %+v; want one, of 1 attempt", cf)
	}
}
