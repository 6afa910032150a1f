package interceptors_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
)

// TestDirectChainResolvesItsMethodOnce checks that a direct chain built for one full method
// resolves its retry state when built, and a chain that serves a service's methods does not:
// each call's events name the method called either way, a resolved chain's included.
func TestDirectChainResolvesItsMethodOnce(t *testing.T) {
	const (
		svc     = "test.v1.Resolve"
		special = "/" + svc + "/Special"
		plain   = "/" + svc + "/Plain"
		other   = "/" + svc + "/Other"
	)
	rec := new(testkit.Recorder)
	s, err := interceptors.New(&config.Config{
		Profiles: map[string]config.Profile{"p": {
			Retry:   quickRetry(2),
			Breaker: &breaker.Config{ConsecutiveFailures: 3, RecoveryTimeout: time.Hour},
		}},
		Services: map[string]config.Service{svc: {Profile: "p", Methods: map[string]config.Method{
			"Special": {Overrides: config.Overrides{Breaker: config.Set(breaker.Config{ConsecutiveFailures: 9, RecoveryTimeout: time.Hour}, "consecutive_failures")}},
		}}},
	}, interceptors.WithObserver(rec))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, tc := range []struct{ method, chain, resolved string }{
		{special, special, special},
		{plain, "/" + svc + "/*", ""},
		{other, "/" + svc + "/*", ""},
	} {
		if !interceptors.Direct(s, tc.method) {
			t.Fatalf("%s: the chain of a retry loop and gates alone is not direct", tc.method)
		}
		if got := interceptors.ChainMethod(s, tc.method); got != tc.chain {
			t.Fatalf("%s: served by the chain of %q, want %q", tc.method, got, tc.chain)
		}
		if got := interceptors.ResolvedMethod(s, tc.method); got != tc.resolved {
			t.Errorf("%s: its chain resolved the retry state of %q, want %q", tc.method, got, tc.resolved)
		}
		rec.Reset()
		inv := new(testkit.CountingInvoker)
		if err := s.Unary()(ctx, tc.method, nil, nil, nil, inv.Invoke); err != nil {
			t.Fatalf("%s: %v", tc.method, err)
		}
		var attempts int
		for _, e := range rec.Events() {
			if e.Method != tc.method {
				t.Errorf("%s: a %v event names %q", tc.method, e.Kind, e.Method)
			}
			if e.Kind == observe.AttemptFinished && e.Policy == observe.PolicyRetry {
				attempts++
			}
		}
		if attempts != 1 {
			t.Errorf("%s: %d retry AttemptFinished events, want 1", tc.method, attempts)
		}
	}
}
