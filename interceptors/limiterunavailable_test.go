package interceptors_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// undecided is a fleet-wide limiter whose store is down (a fail-closed limiter during an
// outage and its probe pause): while down, every Take is an error that wraps
// ratelimit.ErrUnavailable. It counts its takes.
type undecided struct{ takes, down atomic.Int64 }

func (u *undecided) Take(context.Context, time.Duration) (ratelimit.Decision, error) {
	u.takes.Add(1)
	if u.down.Load() != 0 {
		return ratelimit.Decision{}, fmt.Errorf("store down: %w", ratelimit.ErrUnavailable)
	}
	return ratelimit.Decision{Allowed: true}, nil
}

// A fleet-wide limiter that cannot decide refuses the attempt before it reaches the service.
// Through the built-in suite (OCR: retry with backoff and a ratio retry budget, hedging, a
// breaker of 20 failures in a row, an adaptive throttle) the refusal is class rejected: the
// call is neither retried (so no retry runs into the limiter's probe pause) nor hedged, the
// breaker and the throttle do not count it (the service was never called: 30 such refusals
// leave the breaker closed and the throttle's probability at 0, and the calls after the store
// is back all go through), and the caller gets Unavailable with reason
// RATE_LIMITER_UNAVAILABLE naming the policy and the service, matching ErrUnavailable.
func TestLimiterUnavailableIsNotRetriedNorCounted(t *testing.T) {
	cfg := config.Builtin()
	p := cfg.Profiles["ocr"]
	p.RateLimit = &ratelimit.Config{Rate: 5, Redis: &ratelimit.RedisConfig{Addr: "127.0.0.1:1"}}
	cfg.Profiles["ocr"] = p
	lim := &undecided{}
	lim.down.Store(1)
	e := newEnv(t, cfg, &testkit.Server{}, interceptors.WithRemoteLimiter(
		func(string, ratelimit.Config, ratelimit.RemoteEnv) (ratelimit.Limiter, io.Closer, error) {
			return lim, nil, nil
		}))

	const refused = 30 // past the breaker's 20 failures in a row and the throttle's K = 2
	for i := range refused {
		// The refusals answer at once; the deadline only bounds what a retried refusal would
		// cost this test (the built-in backoff sleeps for real).
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := e.ocr.Extract(ctx, &kycv1.ExtractRequest{})
		cancel()
		st, _ := status.FromError(err)
		if st.Code() != grpccodes.Unavailable || reason(st) != ratelimit.ReasonUnavailable || !errors.Is(err, ratelimit.ErrUnavailable) ||
			!strings.Contains(st.Message(), "rate_limit rejected call to "+svcOCR) {
			t.Fatalf("call %d: %v, want Unavailable, reason %s, naming rate_limit and %s, matching ErrUnavailable",
				i, err, ratelimit.ReasonUnavailable, svcOCR)
		}
		if got := lim.takes.Load(); got != int64(i+1) {
			t.Fatalf("after %d calls the limiter was asked %d times, want once per call (no retry, no hedge)", i+1, got)
		}
	}
	if got := e.srv.Calls(testkit.MethodExtract); got != 0 {
		t.Errorf("the server saw %d requests, want 0", got)
	}
	for _, k := range []observe.Kind{observe.RetryScheduled, observe.RetriesExhausted, observe.HedgeSent, observe.BreakerStateChanged} {
		if n := e.rec.Count(k); n != 0 {
			t.Errorf("%d %v events, want none: %+v", n, k, e.rec.Events(k))
		}
	}
	if n := len(e.rec.Events(observe.Rejected)); n != refused {
		t.Errorf("%d Rejected events, want %d (the rate limiter's)", n, refused)
	}
	for _, ev := range e.rec.Events(observe.CallFinished) {
		if ev.Class != codes.Rejected || ev.Reason != ratelimit.ReasonUnavailable {
			t.Errorf("CallFinished %+v, want class rejected, reason %s", ev, ratelimit.ReasonUnavailable)
			break
		}
	}
	e.suite.Levels(func(l observe.Level) bool {
		if l.Service != svcOCR {
			return true
		}
		if l.Kind == observe.LevelBreakerState && l.State != "closed" {
			t.Errorf("breaker %s after %d refusals by the limiter, want closed", l.State, refused)
		}
		if l.Kind == observe.LevelThrottleProbability && l.Value != 0 {
			t.Errorf("throttle probability %v after %d refusals by the limiter, want 0", l.Value, refused)
		}
		return true
	})

	lim.down.Store(0) // the store is back: nothing above it holds the outage against the service
	for i := range refused {
		if _, err := e.ocr.Extract(context.Background(), &kycv1.ExtractRequest{}); err != nil {
			t.Fatalf("call %d after the store came back: %v", i, err)
		}
	}
	// The built-in OCR profile hedges a call slower than its learned delay, which a busy
	// machine makes happen: a hedge sent may be a request more (or be cancelled, its call
	// answered, before it reaches the server).
	hedges := e.rec.Count(observe.HedgeSent)
	if got := e.srv.Calls(testkit.MethodExtract); got < refused || got > refused+hedges {
		t.Errorf("the server saw %d requests after the store came back, want %d (one per call) and at most %d more (the hedges sent)", got, refused, hedges)
	}
}
