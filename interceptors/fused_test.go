package interceptors_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/interceptors/deadline"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/fastobs"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// lineSink records the events it is given as lines (eventLine), and is its own chain sink.
type lineSink struct {
	mu  sync.Mutex
	log []string
}

func (r *lineSink) add(l string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = append(r.log, l)
}

func (r *lineSink) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.log)
}

func (r *lineSink) Observe(e observe.Event)               { r.add(eventLine(e)) }
func (r *lineSink) ForMethod(string, string) observe.Sink { return r }
func eventLine(e observe.Event) string {
	return fmt.Sprintf("%v %s %s %s #%d %v %v %q d=%v delay=%v", e.Kind, e.Service, e.Method, e.Policy, e.Attempt, e.Code, e.Class, e.Reason, e.Duration, e.Delay)
}
func successLine(svc, m string, d time.Duration, r string, delay time.Duration) string {
	return fmt.Sprintf("success %s %s d=%v %q delay=%v", svc, m, d, r, delay)
}

// fusingSink is a lineSink that records a call that succeeds at once in one line
// (fastobs.SuccessRecorder).
type fusingSink struct{ lineSink }

func (r *fusingSink) ForMethod(string, string) observe.Sink { return r }

func (r *fusingSink) ObserveSuccess(service, method string, d time.Duration, deadline string, delay time.Duration) {
	r.add(successLine(service, method, d, deadline, delay))
}

var _ fastobs.SuccessRecorder = (*fusingSink)(nil)

// attemptTime is how long each attempt of fusedCase takes on the fake clock.
const attemptTime = 7 * time.Millisecond

// fusedCase is a call through a suite of deadline (default 2 s, max 10 s), retry (3
// attempts), breaker, limiter and bulkhead, on a fake clock, after the calls before.
type fusedCase struct {
	name     string
	errs     []error       // the attempts' outcomes (see scriptedInvoker)
	caller   time.Duration // the caller's timeout, 0: none
	opts     []grpc.CallOption
	before   []prelude
	profile  func(*config.Profile)
	sleeps   int  // backoff sleeps the call takes (with the caller's deadline in force only: a deadline the step sets is a fake timer per attempt)
	panics   bool // the invoker panics
	inflight bool // another call holds the bulkhead's slot meanwhile
	callSink bool // the call brings a sink of its own (observe.WithCallSink)
	fused    bool // the chain's SuccessRecorder gets it in one ObserveSuccess
}

func fusedCases() []fusedCase {
	business := status.Error(grpccodes.InvalidArgument, "unreadable")
	return []fusedCase{
		{name: "success, caller's deadline within the cap", errs: []error{nil}, caller: 3 * time.Second, fused: true},
		// Under a fake clock, a deadline the step sets needs a context per attempt: the loop
		// takes its slow path and sends the AttemptFinished itself.
		{name: "success, no caller's deadline", errs: []error{nil}},
		{name: "success, caller's deadline beyond the cap", errs: []error{nil}, caller: time.Hour},
		{name: "retried once", errs: []error{unavailable(), nil}, caller: 3 * time.Second, sleeps: 1},
		{name: "exhausted", errs: []error{unavailable()}, caller: 3 * time.Second, sleeps: 2},
		{name: "business error", errs: []error{business}, caller: 3 * time.Second},
		{name: "business error, deadline set", errs: []error{business}},
		{name: "breaker open", errs: []error{nil}, before: slices.Repeat([]prelude{{err: unavailable(), max: 1}}, 3)},
		{name: "rate limited", errs: []error{nil}, before: []prelude{{}}, profile: func(p *config.Profile) {
			p.RateLimit = &ratelimit.Config{Rate: 0.001, Burst: 1}
		}},
		{name: "bulkhead full", errs: []error{nil}, inflight: true, profile: func(p *config.Profile) {
			p.Bulkhead = &bulkhead.Config{MaxConcurrent: 1}
		}},
		{name: "disabled", errs: []error{nil}, opts: []grpc.CallOption{retry.Disable()}},
		{name: "disabled, caller's deadline within the cap", errs: []error{nil}, caller: 3 * time.Second, opts: []grpc.CallOption{retry.Disable()}},
		{name: "call observer", errs: []error{nil}, caller: 3 * time.Second, opts: []grpc.CallOption{retry.WithCallObserver(&testkit.Recorder{})}},
		{name: "call sink", errs: []error{nil}, callSink: true},
		{name: "call sink, caller's deadline within the cap", errs: []error{nil}, caller: 3 * time.Second, callSink: true},
		{name: "panic", errs: []error{nil}, panics: true},
	}
}

// runFused makes tc's call through a suite whose observer is sink, and returns what sink
// recorded of it.
func runFused(t *testing.T, tc fusedCase, sink interface {
	observe.Sink
	lines() []string
}) []string {
	t.Helper()
	p := config.Profile{
		Deadline:  &deadline.Config{Default: 2 * time.Second, Max: 10 * time.Second},
		Retry:     quickRetry(3),
		Breaker:   &breaker.Config{ConsecutiveFailures: 3, RecoveryTimeout: time.Hour},
		RateLimit: &ratelimit.Config{Rate: 1e6, Burst: 1000},
		Bulkhead:  &bulkhead.Config{MaxConcurrent: 8},
	}
	if tc.profile != nil {
		tc.profile(&p)
	}
	cfg := &config.Config{Budget: time.Minute, Profiles: map[string]config.Profile{"p": p}, Services: map[string]config.Service{svcFaceMatch: {Profile: "p"}}}
	clk := clocktest.New(time.Now())
	s, err := interceptors.New(cfg, interceptors.WithObserver(sink), interceptors.WithClock(clk), interceptors.WithBreakerRegistry(&breaker.Registry{}))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	if !interceptors.Direct(s, testkit.MethodCompare) {
		t.Fatal("the chain is not direct")
	}
	ctx := context.Background()
	if tc.caller > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, clk.Now().Add(tc.caller))
		defer cancel()
	}
	for _, pr := range tc.before {
		inv := &scriptedInvoker{errs: []error{pr.err}}
		var o []grpc.CallOption
		if pr.max > 0 {
			o = append(o, retry.WithMax(pr.max))
		}
		_ = s.Unary()(ctx, testkit.MethodCompare, nil, nil, nil, inv.invoke, o...)
	}
	release := func() error { return nil }
	if tc.inflight {
		release = testkit.Hold(ctx, s.Unary(), testkit.MethodCompare)
	}
	skip := len(sink.lines())
	inv := &scriptedInvoker{errs: tc.errs}
	invoke := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
		if tc.panics {
			panic("invoker")
		}
		clk.Advance(attemptTime)
		return inv.invoke(ctx, method, req, reply, cc, opts...)
	}
	callCtx := ctx
	if tc.callSink {
		callCtx = observe.WithCallSink(ctx, &testkit.Recorder{})
	}
	done := make(chan any, 1)
	go func() {
		defer func() { done <- recover() }()
		_ = s.Unary()(callCtx, testkit.MethodCompare, nil, nil, nil, invoke, tc.opts...)
	}()
	for range tc.sleeps {
		clk.AdvanceWhenWaiting()
	}
	if r := <-done; (r != nil) != tc.panics {
		t.Fatalf("panic %v, want one: %v", r, tc.panics)
	}
	out := sink.lines()[skip:]
	_ = release()
	return out
}

// A chain's sink that records a call that succeeds at once in one call (fastobs.SuccessRecorder)
// gets exactly that for such a call, with what its three events would say; for any other
// call, the events every other sink gets, the deadline's DeadlineApplied moved to just before
// the call's CallFinished, or to the end when it panicked; a call with a call sink of its own
// is not fused, and the chain's sink gets the events in their usual order. A sink that is not one (lineSink) gets the events as the runner
// sends them (TestDirectChainDoesWhatTheRunnerDoes holds the direct chain to the runner).
func TestFusedSuccessRecordsWhatTheEventsWould(t *testing.T) {
	for _, tc := range fusedCases() {
		t.Run(tc.name, func(t *testing.T) {
			plain := runFused(t, tc, &lineSink{})
			got := runFused(t, tc, &fusingSink{})
			if len(plain) == 0 {
				t.Fatal("the plain sink got no events")
			}
			want := fusedFrom(t, plain, tc.fused)
			if tc.callSink {
				// Not the fused path: the chain's sink is one of two the call's events go to.
				want = plain
			}
			if !slices.Equal(got, want) {
				t.Errorf("fusing sink got\n  %s\nwant\n  %s\n(the events: %s)", lines(got), lines(want), lines(plain))
			}
		})
	}
}

func lines(ls []string) string {
	out := ""
	for _, l := range ls {
		out += "\n  " + l
	}
	return out
}

// fusedFrom is what a fusing sink must get of a call whose events are plain: one success line
// when fused, else plain with its DeadlineApplied moved to just before its last event, the
// CallFinished (to the end when the call panicked and has none).
func fusedFrom(t *testing.T, plain []string, fused bool) []string {
	t.Helper()
	var dl string
	var rest []string
	for _, l := range plain {
		if strings.HasPrefix(l, observe.DeadlineApplied.String()+" ") {
			dl = l
			continue
		}
		rest = append(rest, l)
	}
	if fused {
		// The events: AttemptFinished #1 OK, CallFinished #1 OK, of attemptTime each.
		want := []string{
			eventLine(observe.Event{Kind: observe.AttemptFinished, Service: svcFaceMatch, Method: testkit.MethodCompare, Policy: observe.PolicyRetry, Attempt: 1, Code: grpccodes.OK, Class: codes.Success, Duration: attemptTime}),
			eventLine(observe.Event{Kind: observe.CallFinished, Service: svcFaceMatch, Method: testkit.MethodCompare, Policy: observe.PolicySuite, Attempt: 1, Code: grpccodes.OK, Class: codes.Success, Duration: attemptTime}),
		}
		if dl != "" || !slices.Equal(rest, want) {
			t.Fatalf("a fused case's events:%s\nwant:%s", lines(plain), lines(want))
		}
		return []string{successLine(svcFaceMatch, testkit.MethodCompare, attemptTime, "", 0)}
	}
	if dl == "" {
		return plain
	}
	if len(rest) > 0 && strings.HasPrefix(rest[len(rest)-1], observe.CallFinished.String()+" ") {
		return append(slices.Clone(rest[:len(rest)-1]), dl, rest[len(rest)-1])
	}
	return append(rest, dl)
}
