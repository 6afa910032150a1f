package interceptors_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
)

// limitPanicSink panics on an adaptive bulkhead's LimitChanged while armed, as a sink with a
// bug does: the bulkhead's Exit, which sends it, then panics.
type limitPanicSink struct{ armed atomic.Bool }

func (s *limitPanicSink) Observe(e observe.Event) {
	if e.Kind == observe.LimitChanged && s.armed.Load() {
		panic("sink: LimitChanged")
	}
}

// A gate whose Exit panics (an adaptive bulkhead whose LimitChanged reaches a sink that
// panics) still lets the gates entered before it exit, as panicked, as nested interceptors
// would: a half-open breaker gets its probe's slot back. Were it lost, the breaker would stay
// half-open with its one probe in flight, and refuse every call from then on. Every path a
// suite runs gates on: the direct chain, the runner with an attempt loop, gates alone.
func TestPanickingGateExitReleasesTheGatesBefore(t *testing.T) {
	for _, tc := range []struct {
		name   string
		retry  bool
		direct bool
	}{
		{name: "direct", retry: true, direct: true},
		{name: "runner", retry: true},
		{name: "gates alone"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := config.Profile{
				Breaker: &breaker.Config{ConsecutiveFailures: 1, RecoveryTimeout: time.Minute, HalfOpenMaxCalls: 1, SuccessThreshold: 1},
				// A failure that signals overload backs the limit off: LimitChanged.
				Bulkhead: &bulkhead.Config{MaxConcurrent: 10, Adaptive: bulkhead.Adaptive{Algorithm: bulkhead.AlgorithmAIMD, InitialLimit: 10}},
			}
			if tc.retry {
				p.Retry = quickRetry(1)
			}
			cfg := &config.Config{Budget: time.Minute, Profiles: map[string]config.Profile{"p": p}, Services: map[string]config.Service{svcFaceMatch: {Profile: "p"}}}
			clk := clocktest.New(time.Now())
			sink := &limitPanicSink{}
			reg := &breaker.Registry{}
			s, err := interceptors.New(cfg, interceptors.WithObserver(sink), interceptors.WithClock(clk), interceptors.WithBreakerRegistry(reg))
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
			call := func(err error) (reached bool, got error, panicked bool) {
				inv := &scriptedInvoker{errs: []error{err}}
				defer func() { reached, panicked = inv.n > 0, recover() != nil }()
				got = s.Unary()(context.Background(), testkit.MethodCompare, nil, nil, nil, inv.invoke)
				return
			}
			// A failure opens the breaker; once its recovery timeout passed, it lets one probe by.
			if _, err, _ := call(unavailable()); err == nil {
				t.Fatal("the failing call succeeded")
			}
			b, _ := reg.Lookup(svcFaceMatch)
			if st := b.State(); st != breaker.Open {
				t.Fatalf("breaker %v after a failure, want open", st)
			}
			clk.Advance(time.Minute)
			// The probe fails, and the bulkhead's Exit panics as it reports its new limit.
			sink.armed.Store(true)
			if reached, _, panicked := call(unavailable()); !reached || !panicked {
				t.Fatalf("the probe reached the service %v, panicked %v; want both", reached, panicked)
			}
			sink.armed.Store(false)
			if st := b.State(); st != breaker.HalfOpen {
				t.Fatalf("breaker %v after a probe that panicked, want half-open", st)
			}
			// The panicked probe counts as nothing and gives its slot back: the next probe goes.
			reached, err, _ := call(nil)
			if !reached || err != nil {
				t.Fatalf("the next probe reached the service %v, err %v; want it admitted", reached, err)
			}
			if st := b.State(); st != breaker.Closed {
				t.Fatalf("breaker %v after a probe that succeeded, want closed", st)
			}
		})
	}
}
