package interceptors_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/internal/calloption"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
)

// deadlinePanicSink panics on DeadlineApplied, as a sink with a bug does.
type deadlinePanicSink struct{}

func (deadlinePanicSink) Observe(e observe.Event) {
	if e.Kind == observe.DeadlineApplied {
		panic("sink: DeadlineApplied")
	}
}

// TestDeadlineAppliedPanicRunsOnFinish: the deadline step sends DeadlineApplied before the
// call reaches grpc, which would have run the call's grpc.OnFinish; should the sink panic on
// it, the suite runs OnFinish once, with calloption.ErrPanicked, and the panic goes on, as
// for a refusal's Rejected. Every unary path that sends the event at once: the direct chain
// (a sink that is not fused), the runner with an attempt loop, a chain without one.
func TestDeadlineAppliedPanicRunsOnFinish(t *testing.T) {
	for _, tc := range []struct {
		name   string
		retry  bool
		direct bool
	}{
		{name: "direct", retry: true, direct: true},
		{name: "runner", retry: true},
		{name: "no retry step"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := config.Profile{Breaker: &breaker.Config{ConsecutiveFailures: 5, RecoveryTimeout: time.Minute}}
			if tc.retry {
				p.Retry = quickRetry(2)
			}
			// The budget caps every call that has no deadline of its own: DeadlineApplied.
			cfg := &config.Config{Budget: time.Minute, Profiles: map[string]config.Profile{"p": p}, Services: map[string]config.Service{svcFaceMatch: {Profile: "p"}}}
			s, err := interceptors.New(cfg, interceptors.WithObserver(deadlinePanicSink{}), interceptors.WithClock(clocktest.New(time.Now())))
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = s.Close() }()
			if tc.direct && !interceptors.Direct(s, testkit.MethodCompare) {
				t.Fatal("the chain of a retry loop and gates alone is not direct")
			}
			if tc.retry && !tc.direct {
				interceptors.DisableDirect(s, testkit.MethodCompare)
			}
			inv := &scriptedInvoker{errs: []error{nil}}
			var f testkit.Finishes
			panicked := func() (p any) {
				defer func() { p = recover() }()
				_ = s.Unary()(context.Background(), testkit.MethodCompare, nil, nil, nil, inv.invoke, f.Option())
				return nil
			}()
			if panicked == nil {
				t.Fatal("the call did not panic, want the sink's panic to go on")
			}
			if inv.n != 0 {
				t.Errorf("the call reached the invoker %d times, want none", inv.n)
			}
			if errs := f.Errs(); len(errs) != 1 || errs[0] != calloption.ErrPanicked {
				t.Fatalf("OnFinish ran %d times with %v, want once with calloption.ErrPanicked", len(errs), errs)
			}
		})
	}
}
