package interceptors_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
)

// Two suites share a breaker registry (WithBreakerRegistry) and the breaker of one service. A
// reload of one that changed the breaker's settings made a new breaker and put it in the
// registry in place of the shared one: the other suite's calls went on through a breaker the
// registry no longer held, so that a failure there opened it for that suite alone, and the
// registry's Snapshot showed another breaker's state. A name stands for one breaker: while
// another suite holds it, such a reload is refused, naming the breaker and the field, and
// changes nothing; the last suite that holds it may replace it.

const shareReloadSvc = "test.v1.SharedReload"

// shareReloadCfg configures shareReloadSvc's breaker to open after n failures in a row, for
// an hour.
func shareReloadCfg(n int) *config.Config {
	return &config.Config{
		Profiles: map[string]config.Profile{"p": {Breaker: &breaker.Config{ConsecutiveFailures: n, RecoveryTimeout: time.Hour}}},
		Services: map[string]config.Service{shareReloadSvc: {Profile: "p", Methods: map[string]config.Method{"Do": {}}}},
	}
}

// sharingSuites returns two suites, of cfgA and cfgB, on one fake clock and sharing a new
// breaker registry; both are closed when the test ends (a second Close does nothing).
func sharingSuites(t *testing.T, cfgA, cfgB *config.Config) (a, b *interceptors.Suite, reg *breaker.Registry) {
	t.Helper()
	reg = &breaker.Registry{}
	clk := interceptors.WithClock(clocktest.New(time.Unix(1700000000, 0)))
	suites := [2]*interceptors.Suite{}
	for i, cfg := range []*config.Config{cfgA, cfgB} {
		s, err := interceptors.New(cfg, clk, interceptors.WithBreakerRegistry(reg))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		suites[i] = s
	}
	return suites[0], suites[1], reg
}

func shareReloadCall(s *interceptors.Suite, err error) error {
	inv := &testkit.CountingInvoker{Err: err}
	return s.Unary()(context.Background(), "/"+shareReloadSvc+"/Do", nil, nil, nil, inv.Invoke)
}

func TestReloadOfASharedBreakerAnotherSuiteHoldsIsRefused(t *testing.T) {
	a, b, reg := sharingSuites(t, shareReloadCfg(1), shareReloadCfg(1))
	var err error
	shared, _ := reg.Lookup(shareReloadSvc)

	err = a.Reload(shareReloadCfg(3))
	if err == nil || !strings.Contains(err.Error(), shareReloadSvc) || !strings.Contains(err.Error(), "consecutive_failures: 3") ||
		!errors.Is(err, breaker.ErrSharedConflict) {
		t.Fatalf("a's reload of the breaker b holds to other settings: %v, want breaker.ErrSharedConflict naming %s and consecutive_failures: 3", err, shareReloadSvc)
	}
	if held, _ := reg.Lookup(shareReloadSvc); held != shared {
		t.Fatalf("after the refused reload the registry holds %p, want the shared %p", held, shared)
	}
	// Still one breaker, of the old settings: one failure of b's opens it for a's calls.
	_ = shareReloadCall(b, unavailable())
	if err := shareReloadCall(a, nil); !errors.Is(err, breaker.ErrOpen) {
		t.Errorf("a's call after b's failure: %v, want breaker.ErrOpen (one breaker for both)", err)
	}
	if st := reg.Snapshot()[shareReloadSvc]; st.State != breaker.Open {
		t.Errorf("the registry's breaker: %+v, want open", st)
	}

	// b, the other holder, closes: a is the last, and its reload replaces the breaker.
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Reload(shareReloadCfg(3)); err != nil {
		t.Fatalf("a's reload as the breaker's last holder: %v", err)
	}
	held, _ := reg.Lookup(shareReloadSvc)
	if held == shared || held.State() != breaker.Closed {
		t.Fatalf("the registry's breaker after a's reload: %p (%v), want a new, closed one", held, held.State())
	}
	for range 3 {
		_ = shareReloadCall(a, unavailable())
	}
	if st := held.State(); st != breaker.Open {
		t.Errorf("the registry's breaker after a's 3 failures: %v, want open (a's calls go through it)", st)
	}
}

// A suite that stopped using the breaker is no holder: the other suite may change it.
func TestReloadOfASharedBreakerAnotherSuiteDroppedReplacesIt(t *testing.T) {
	a, b, reg := sharingSuites(t, shareReloadCfg(1), shareReloadCfg(1))
	if err := b.Reload(&config.Config{}); err != nil {
		t.Fatal(err)
	}
	if err := a.Reload(shareReloadCfg(2)); err != nil {
		t.Fatalf("a's reload once b no longer uses the breaker: %v", err)
	}
	_ = shareReloadCall(a, unavailable())
	if err := shareReloadCall(a, unavailable()); err == nil || errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("a's second failing call: %v, want the service's own error (2 failures in a row to open)", err)
	}
	if st := reg.Snapshot()[shareReloadSvc]; st.State != breaker.Open {
		t.Errorf("the registry's breaker after a's 2 failures: %+v, want open", st)
	}
	// b comes back with the old settings while a holds the new: refused too.
	if err := b.Reload(shareReloadCfg(1)); !errors.Is(err, breaker.ErrSharedConflict) {
		t.Errorf("b's reload back to the old settings while a holds the breaker: %v, want breaker.ErrSharedConflict", err)
	}
}
