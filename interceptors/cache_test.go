package interceptors_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	grpccodes "google.golang.org/grpc/codes"
)

// Suites that share a breaker registry take its breaker on every build, as each chain takes
// the registry's: when one suite replaces the breaker, another's next reload picks the new one
// up although its own fingerprint held.
func TestSharedRegistryBreakerFollowsTheRegistry(t *testing.T) {
	const svc = "test.v1.Shared"
	const method = "/" + svc + "/Do"
	cfg := func(business bool) *config.Config {
		p := config.Profile{Breaker: &breaker.Config{ConsecutiveFailures: 3, RecoveryTimeout: time.Hour}}
		if business {
			p.Classifier = codes.Overrides{Codes: map[grpccodes.Code]codes.Class{grpccodes.NotFound: codes.Business}}
		}
		return &config.Config{Profiles: map[string]config.Profile{"p": p}, Services: map[string]config.Service{svc: {Profile: "p", Methods: map[string]config.Method{"Do": {}}}}}
	}
	reg := &breaker.Registry{}
	a, err := interceptors.New(cfg(false), interceptors.WithBreakerRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := interceptors.New(cfg(false), interceptors.WithBreakerRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	first, _ := reg.Lookup(svc)

	// a's classifier changes: a replaces the breaker in the registry.
	if err := a.Reload(cfg(true)); err != nil {
		t.Fatal(err)
	}
	second, _ := reg.Lookup(svc)
	if second == first {
		t.Fatal("a classifier change kept the breaker")
	}

	// b reloads a configuration unchanged for it: its calls go through the registry's breaker.
	if err := b.Reload(cfg(false)); err != nil {
		t.Fatal(err)
	}
	inv := &testkit.CountingInvoker{}
	if err := b.Unary()(context.Background(), method, nil, nil, nil, inv.Invoke); err != nil {
		t.Fatal(err)
	}
	if got, old := second.Stats().Calls, first.Stats().Calls; got != 1 || old != 0 {
		t.Fatalf("b's call reached the registry's breaker %d times and the replaced one %d, want 1 and 0", got, old)
	}
}

// A reload that turns a service's breaker off forgets it; a later reload that turns it back on
// starts a fresh, closed breaker, not the one that was open (the suite's objects start afresh
// once forgotten, and the breaker lives in a registry that would otherwise hand it back).
func TestBreakerTurnedOffAndOnStartsAfresh(t *testing.T) {
	const svc = "test.v1.Toggled"
	const method = "/" + svc + "/Do"
	cfg := func(withBreaker bool) *config.Config {
		p := config.Profile{Retry: quickRetry(1)}
		if withBreaker {
			p.Breaker = &breaker.Config{ConsecutiveFailures: 2, RecoveryTimeout: time.Hour}
		}
		return &config.Config{Profiles: map[string]config.Profile{"p": p}, Services: map[string]config.Service{svc: {Profile: "p"}}}
	}
	s, err := interceptors.New(cfg(true))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fail := &testkit.CountingInvoker{Err: unavailable()}
	for range 2 {
		_ = s.Unary()(context.Background(), method, nil, nil, nil, fail.Invoke)
	}
	if err := s.Unary()(context.Background(), method, nil, nil, nil, fail.Invoke); !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("after 2 failures: %v, want the breaker open", err)
	}
	if err := s.Reload(cfg(false)); err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(cfg(true)); err != nil {
		t.Fatal(err)
	}
	ok := &testkit.CountingInvoker{}
	if err := s.Unary()(context.Background(), method, nil, nil, nil, ok.Invoke); err != nil {
		t.Fatalf("first call after the breaker was turned off and on again: %v, want a fresh (closed) breaker", err)
	}
	if b, _ := s.Breakers().Lookup(svc); b == nil || b.Stats().Calls != 1 {
		t.Fatalf("registry's breaker %v: want a fresh one that saw the one call", b)
	}
}
