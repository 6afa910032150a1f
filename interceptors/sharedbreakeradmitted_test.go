package interceptors_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
)

// Two suites share a breaker registry and, through the default profile, the breaker of a
// service outside both configurations, whose chains are built on a first call. A reload of one
// that changes that breaker's settings while the other holds it is refused at the Reload,
// naming the breaker and the field, as for a configured service: the service was admitted (it
// was called), so its chain would be built under the new settings at its next call. Before,
// the Reload succeeded and every later call of the service failed with the chain's build
// error (FailedPrecondition) until another reload.
func TestReloadRefusesSharedBreakerConflictOfAdmittedService(t *testing.T) {
	const svc = "test.v1.AdmittedShared"
	cfg := func(n int) *config.Config {
		return &config.Config{Profiles: map[string]config.Profile{
			config.DefaultProfile: {Breaker: &breaker.Config{ConsecutiveFailures: n, RecoveryTimeout: time.Hour}},
		}}
	}
	a, b, reg := sharingSuites(t, cfg(1), cfg(1))
	var err error
	call := func(s *interceptors.Suite) error {
		inv := &testkit.CountingInvoker{}
		return s.Unary()(t.Context(), "/"+svc+"/Do", nil, nil, nil, inv.Invoke)
	}
	for _, s := range []*interceptors.Suite{a, b} {
		if err := call(s); err != nil {
			t.Fatalf("first call of the unlisted service: %v", err)
		}
	}
	if _, ok := reg.Lookup(svc); !ok {
		t.Fatalf("the registry holds no breaker %q after both suites called it", svc)
	}

	err = a.Reload(cfg(3))
	if err == nil || !strings.Contains(err.Error(), svc) || !strings.Contains(err.Error(), "consecutive_failures: 3") ||
		!errors.Is(err, breaker.ErrSharedConflict) {
		t.Fatalf("a's reload of the breaker b holds to other settings: %v, want breaker.ErrSharedConflict naming %s and consecutive_failures: 3", err, svc)
	}
	if err := call(a); err != nil {
		t.Errorf("a's call after the refused reload: %v, want nil", err)
	}
	// b closes: a is the breaker's last holder, and its reload may change it.
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Reload(cfg(3)); err != nil {
		t.Fatalf("a's reload as the breaker's last holder: %v", err)
	}
	if err := call(a); err != nil {
		t.Errorf("a's call after its reload: %v, want nil", err)
	}
}

// A suite whose first call of a service outside its configuration could not take the
// service's breaker (another suite sharing the registry holds it with other settings: the
// chain's build fails) does not hold it, and its reloads are not refused for it: the reload
// changes no breaker the suite shares, and the call of the service fails as before.
func TestReloadAfterAdmittedServiceBuildConflictIsNotRefused(t *testing.T) {
	const svc = "test.v1.AdmittedConflict"
	cfg := func(n int) *config.Config {
		return &config.Config{Profiles: map[string]config.Profile{
			config.DefaultProfile: {Breaker: &breaker.Config{ConsecutiveFailures: n, RecoveryTimeout: time.Hour}},
		}}
	}
	a, b, _ := sharingSuites(t, cfg(2), cfg(1))
	call := func(s *interceptors.Suite) error {
		inv := &testkit.CountingInvoker{}
		return s.Unary()(t.Context(), "/"+svc+"/Do", nil, nil, nil, inv.Invoke)
	}
	if err := call(b); err != nil {
		t.Fatalf("b's first call: %v", err)
	}
	if err := call(a); err == nil || !strings.Contains(err.Error(), "consecutive_failures") {
		t.Fatalf("a's first call, its breaker's settings differing from b's: %v, want the conflict", err)
	}
	if err := a.Reload(cfg(2)); err != nil {
		t.Errorf("a's reload that changes no breaker it holds: %v, want nil", err)
	}
}

// The same for a method admitted under a configured service whose breaker is scoped to the
// method: the method's chain, built on its first call, holds the breaker of its full method.
func TestReloadRefusesSharedBreakerConflictOfAdmittedMethod(t *testing.T) {
	const svc = "test.v1.AdmittedMethod"
	const method = "/" + svc + "/Do"
	cfg := func(n int) *config.Config {
		return &config.Config{
			Profiles: map[string]config.Profile{"p": {Breaker: &breaker.Config{ConsecutiveFailures: n, RecoveryTimeout: time.Hour, Scope: breaker.ScopeMethod}}},
			Services: map[string]config.Service{svc: {Profile: "p"}},
		}
	}
	a, b, reg := sharingSuites(t, cfg(1), cfg(1))
	var err error
	for _, s := range []*interceptors.Suite{a, b} {
		inv := &testkit.CountingInvoker{}
		if err := s.Unary()(t.Context(), method, nil, nil, nil, inv.Invoke); err != nil {
			t.Fatalf("first call of the unlisted method: %v", err)
		}
	}
	if _, ok := reg.Lookup(method); !ok {
		t.Fatalf("the registry holds no breaker %q after both suites called it", method)
	}
	err = a.Reload(cfg(3))
	if err == nil || !strings.Contains(err.Error(), method) || !strings.Contains(err.Error(), "consecutive_failures: 3") ||
		!errors.Is(err, breaker.ErrSharedConflict) {
		t.Fatalf("a's reload of the breaker b holds to other settings: %v, want breaker.ErrSharedConflict naming %s and consecutive_failures: 3", err, method)
	}
}
