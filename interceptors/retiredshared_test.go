package interceptors_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Two suites share a breaker registry (WithBreakerRegistry), and so the breaker of the service
// both call. When one suite's reload stops using it, the breaker is not retired: the other
// suite's calls still go through it. A Retired for it made the observers drop its state
// (promobs' bulwark_breaker_state, otelobs' breaker attribute) while it was open and
// rejecting the other suite's calls.
func TestReloadRetiresNoBreakerASharedRegistryStillServes(t *testing.T) {
	const svc = "test.v1.SharedRetire"
	cfg := &config.Config{
		Profiles: map[string]config.Profile{"p": {Breaker: &breaker.Config{ConsecutiveFailures: 1}}},
		Services: map[string]config.Service{svc: {Profile: "p", Methods: map[string]config.Method{"Do": {}}}},
	}
	clk := clocktest.New(time.Unix(1700000000, 0)) // the open breaker stays open
	r := &breaker.Registry{}
	rec := &testkit.Recorder{}
	a, b := suitesSharing(t, cfg, r, rec, clk)
	_ = b.Unary()(context.Background(), "/"+svc+"/Do", nil, nil, nil, failUnavailable)

	if err := a.Reload(&config.Config{}); err != nil {
		t.Fatal(err)
	}
	if got := rec.Events(observe.Retired); len(got) != 0 {
		t.Errorf("a reload reported %+v retired, though the shared registry's breaker still serves the other suite", got)
	}
	inv := &testkit.CountingInvoker{}
	if err := b.Unary()(context.Background(), "/"+svc+"/Do", nil, nil, nil, inv.Invoke); status.Code(err) != grpccodes.Unavailable {
		t.Fatalf("the other suite's call: %v, want its open breaker's rejection", err)
	}

	// A breaker the registry no longer holds (the registry interceptors' Get replaced it
	// there; a suite's reload may not while another suite holds it) is retired with the last
	// suite that used it: not by the first to let it go, while the other still calls through
	// it.
	r = &breaker.Registry{}
	a, b = suitesSharing(t, cfg, r, rec, clk)
	if _, err := r.Get(svc, breaker.Config{ConsecutiveFailures: 2}); err != nil {
		t.Fatal(err)
	}
	rec.Reset()
	if err := a.Reload(&config.Config{}); err != nil {
		t.Fatal(err)
	}
	if got := rec.Events(observe.Retired); len(got) != 0 {
		t.Errorf("retired %+v at the first suite's reload, though the other suite still calls through it", got)
	}
	if err := b.Reload(&config.Config{}); err != nil {
		t.Fatal(err)
	}
	got := rec.Events(observe.Retired)
	if len(got) != 1 || got[0].Service != svc || got[0].Policy != observe.PolicyBreaker {
		t.Errorf("retired %+v, want the breaker of %s that the registry no longer holds", got, svc)
	}
}

// As a reload, Close retires no breaker a registry given by WithBreakerRegistry still holds:
// another suite sharing the registry still calls through it, open and rejecting, and a Retired
// would make the observers drop its state. The closed suite's other objects (its bulkhead) are
// retired as ever.
func TestCloseRetiresNoBreakerASharedRegistryStillServes(t *testing.T) {
	const svc = "test.v1.SharedCloseRetire"
	cfg := &config.Config{
		Profiles: map[string]config.Profile{"p": {
			Breaker:  &breaker.Config{ConsecutiveFailures: 1},
			Bulkhead: &bulkhead.Config{MaxConcurrent: 4},
		}},
		Services: map[string]config.Service{svc: {Profile: "p", Methods: map[string]config.Method{"Do": {}}}},
	}
	clk := clocktest.New(time.Unix(1700000000, 0)) // the open breaker stays open
	r := &breaker.Registry{}
	rec := &testkit.Recorder{}
	a, b := suitesSharing(t, cfg, r, rec, clk)
	_ = b.Unary()(context.Background(), "/"+svc+"/Do", nil, nil, nil, failUnavailable) // the shared breaker opens
	rec.Reset()

	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	got := rec.Events(observe.Retired)
	for _, e := range got {
		if e.Policy == observe.PolicyBreaker {
			t.Errorf("Close reported the breaker of %s retired (%+v), though the shared registry still holds it for the other suite", e.Service, e)
		}
	}
	if len(got) != 1 || got[0].Policy != observe.PolicyBulkhead || got[0].Service != svc {
		t.Errorf("Close retired %+v, want the closed suite's bulkhead of %s alone", got, svc)
	}
	inv := &testkit.CountingInvoker{}
	if err := b.Unary()(context.Background(), "/"+svc+"/Do", nil, nil, nil, inv.Invoke); status.Code(err) != grpccodes.Unavailable {
		t.Fatalf("the other suite's call: %v, want its open breaker's rejection", err)
	}
}

// suitesSharing returns two suites of cfg sharing the breaker registry r, with rec as their
// observer and clk as their clock, closed when t ends.
func suitesSharing(t *testing.T, cfg *config.Config, r *breaker.Registry, rec *testkit.Recorder, clk *clocktest.Fake) (a, b *interceptors.Suite) {
	t.Helper()
	for _, s := range []**interceptors.Suite{&a, &b} {
		var err error
		if *s, err = interceptors.New(cfg, interceptors.WithObserver(rec), interceptors.WithBreakerRegistry(r), interceptors.WithClock(clk)); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = (*s).Close() })
	}
	return a, b
}

// failUnavailable is an invoker whose every call fails with Unavailable.
func failUnavailable(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
	return status.Error(grpccodes.Unavailable, "down")
}
