package interceptors_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// scriptedInvoker answers the attempts of a call in turn with errs (nil: success), the last
// one for every attempt after.
type scriptedInvoker struct {
	errs []error
	mu   sync.Mutex
	n    int
}

func (s *scriptedInvoker) invoke(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	return s.errs[min(s.n, len(s.errs))-1]
}

// callOutcome is what a call through a suite did, with its events' times and durations left
// out: they differ from one run to the next.
type callOutcome struct {
	code      grpccodes.Code
	exhausted bool
	report    retry.Info
	attempts  int
	events    []string
	breaker   breaker.State
}

// A chain of a retry loop and gates alone (the built-in profiles without hedging and
// fallback) runs without the suite's runner: the loop enters the gates itself and makes a
// call's first attempt before setting up its retry state. It must do exactly what the runner
// does: the same attempts, errors, reports, events and breaker state, whatever the call's
// outcome and options.
func TestDirectChainDoesWhatTheRunnerDoes(t *testing.T) {
	business := status.Error(grpccodes.InvalidArgument, "unreadable")
	cases := []struct {
		name   string
		errs   []error
		opts   func(*retry.Info) []grpc.CallOption
		before []prelude // calls before the measured one
	}{
		{name: "success", errs: []error{nil}},
		{name: "retried once", errs: []error{unavailable(), nil}},
		{name: "exhausted", errs: []error{unavailable()}},
		{name: "business error", errs: []error{business}},
		{name: "max one attempt", errs: []error{unavailable(), nil}, opts: func(*retry.Info) []grpc.CallOption {
			return []grpc.CallOption{retry.WithMax(1)}
		}},
		{name: "disabled", errs: []error{unavailable(), nil}, opts: func(*retry.Info) []grpc.CallOption {
			return []grpc.CallOption{retry.Disable()}
		}},
		{name: "report", errs: []error{unavailable(), nil}, opts: func(i *retry.Info) []grpc.CallOption {
			return []grpc.CallOption{retry.Report(i)}
		}},
		{name: "call observer", errs: []error{unavailable(), nil}, opts: func(*retry.Info) []grpc.CallOption {
			return []grpc.CallOption{retry.WithCallObserver(&testkit.Recorder{})}
		}},
		{name: "not idempotent", errs: []error{unavailable(), nil}, opts: func(*retry.Info) []grpc.CallOption {
			return []grpc.CallOption{retry.WithIdempotent(false)}
		}},
		// The breaker trips after 3 failures.
		{name: "breaker open", errs: []error{nil}, before: slices.Repeat([]prelude{{err: unavailable(), max: 1}}, 3)},
		// The retry budget (4 tokens, 0.1 per success) allows a retry while it holds more than
		// 2: a failed call leaves 3, a success 3.1, and the measured call's failure 2.1 if the
		// success was counted (it is retried), else 2 (it is not).
		{name: "retry budget", errs: []error{unavailable(), nil}, before: []prelude{{err: unavailable(), max: 1}, {}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got [2]callOutcome
			for i, direct := range []bool{true, false} {
				got[i] = directOutcome(t, direct, tc.errs, tc.opts, tc.before)
			}
			if fmt.Sprint(got[0]) != fmt.Sprint(got[1]) {
				t.Errorf("direct chain:\n  %+v\nthrough the runner:\n  %+v", got[0], got[1])
			}
		})
	}
}

// prelude is a call made before the measured one: one attempt's outcome, with at most max
// attempts (0: the policy's).
type prelude struct {
	err error
	max int
}

// directOutcome makes one call of MethodCompare through a suite of retry (3 attempts, a retry
// budget of 2 tokens), breaker, limiter and bulkhead, its chain direct or not, after the calls
// before.
func directOutcome(t *testing.T, direct bool, errs []error, opts func(*retry.Info) []grpc.CallOption, before []prelude) callOutcome {
	t.Helper()
	cfg := &config.Config{
		Profiles: map[string]config.Profile{"p": {
			Retry:     budgeted(quickRetry(3)),
			Breaker:   &breaker.Config{ConsecutiveFailures: 3, RecoveryTimeout: time.Hour},
			RateLimit: &ratelimit.Config{Rate: 1e6, Burst: 1000},
			Bulkhead:  &bulkhead.Config{MaxConcurrent: 8},
		}},
		Services: map[string]config.Service{svcFaceMatch: {Profile: "p"}},
	}
	rec := &testkit.Recorder{}
	reg := &breaker.Registry{}
	s, err := interceptors.New(cfg, interceptors.WithObserver(rec), interceptors.WithBreakerRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	if !interceptors.Direct(s, testkit.MethodCompare) {
		t.Fatal("the chain of a retry loop and gates alone is not direct")
	}
	if !direct {
		interceptors.DisableDirect(s, testkit.MethodCompare)
	}
	// The caller's deadline comes before the call budget's end (8 s by default): the loop
	// needs no context of its own for the call's attempts.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, p := range before {
		inv := &scriptedInvoker{errs: []error{p.err}}
		var o []grpc.CallOption
		if p.max > 0 {
			o = append(o, retry.WithMax(p.max))
		}
		_ = s.Unary()(ctx, testkit.MethodCompare, nil, nil, nil, inv.invoke, o...)
	}
	rec.Reset()
	var info retry.Info
	var callOpts []grpc.CallOption
	if opts != nil {
		callOpts = opts(&info)
	}
	inv := &scriptedInvoker{errs: errs}
	err = s.Unary()(ctx, testkit.MethodCompare, nil, nil, nil, inv.invoke, callOpts...)
	var ex *retry.ExhaustedError
	out := callOutcome{code: status.Code(err), exhausted: errors.As(err, &ex), report: info, attempts: inv.n}
	out.report.Elapsed = 0
	for _, e := range rec.Events() {
		out.events = append(out.events, fmt.Sprintf("%v %s %s %s #%d %v %v %q", e.Kind, e.Service, e.Method, e.Policy, e.Attempt, e.Code, e.Class, e.Reason))
	}
	if slices.ContainsFunc(rec.Events(), func(e observe.Event) bool { return e.Kind == observe.CallFinished && e.Duration <= 0 }) {
		t.Errorf("direct %v: a CallFinished without a duration", direct)
	}
	if b, ok := reg.Lookup(svcFaceMatch); ok {
		out.breaker = b.State()
	}
	return out
}

// budgeted returns c with a retry budget of 4 tokens, 0.1 per success.
func budgeted(c *retry.Config) *retry.Config {
	c.Throttle = retry.RetryBudgetConfig{MaxTokens: 4, TokenRatio: 0.1}
	return c
}
