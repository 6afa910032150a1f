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

// A Reload checks the chains of the names the suite admitted (a service outside its
// configuration that was called) against a breaker registry shared with another suite, outside
// the suite's lock. A first call that admitted a name between that check and the publish took
// the name's breaker under the configuration in force, and the Reload went on: it succeeded,
// and the name's next call failed (FailedPrecondition, the breaker held by the other suite with
// other settings) instead of the Reload being refused. A name admitted meanwhile is checked
// before the publish.
func TestReloadChecksANameAdmittedDuringItsCheck(t *testing.T) {
	cfg := func(n int) *config.Config {
		return &config.Config{Profiles: map[string]config.Profile{
			config.DefaultProfile: {Breaker: &breaker.Config{ConsecutiveFailures: n, RecoveryTimeout: time.Hour}},
		}}
	}
	call := func(s *interceptors.Suite, svc string) error {
		inv := &testkit.CountingInvoker{}
		return s.Unary()(t.Context(), "/"+svc+"/Do", nil, nil, nil, inv.Invoke)
	}

	t.Run("conflict", func(t *testing.T) {
		const svc = "test.v1.AdmittedDuringCheck"
		a, b, _ := sharingSuites(t, cfg(1), cfg(1))
		if err := call(b, svc); err != nil {
			t.Fatalf("b's first call: %v", err)
		}
		hooked := 0
		interceptors.SetAfterCheck(a, func() {
			if hooked++; hooked == 1 {
				// a's first call of svc, under the configuration in force: it admits svc
				// and takes the breaker b holds, with the same settings.
				if err := call(a, svc); err != nil {
					t.Errorf("a's first call between the check and the publish: %v", err)
				}
			}
		})
		err := a.Reload(cfg(3))
		if hooked == 0 {
			t.Fatal("the hook did not run: the reload did not check the admitted names")
		}
		if err == nil || !errors.Is(err, breaker.ErrSharedConflict) || !strings.Contains(err.Error(), svc) ||
			!strings.Contains(err.Error(), "consecutive_failures: 3") {
			t.Fatalf("a's reload, %s admitted during its check with the breaker b holds: %v; want breaker.ErrSharedConflict naming %s and consecutive_failures: 3",
				svc, err, svc)
		}
		if err := call(a, svc); err != nil {
			t.Errorf("a's call of %s after the refused reload: %v, want nil", svc, err)
		}
	})

	t.Run("no conflict", func(t *testing.T) {
		// A name admitted during the check whose chain fits the new configuration: the reload
		// checks it and takes effect.
		const svc = "test.v1.AdmittedDuringCheckAlone"
		a, _, reg := sharingSuites(t, cfg(1), cfg(1))
		hooked := 0
		interceptors.SetAfterCheck(a, func() {
			if hooked++; hooked == 1 {
				if err := call(a, svc); err != nil {
					t.Errorf("a's first call between the check and the publish: %v", err)
				}
			}
		})
		if err := a.Reload(cfg(3)); err != nil {
			t.Fatalf("a's reload, %s admitted during its check and held by a alone: %v", svc, err)
		}
		if err := call(a, svc); err != nil {
			t.Errorf("a's call of %s after the reload: %v, want nil", svc, err)
		}
		if br, ok := reg.Lookup(svc); !ok || br.Config().ConsecutiveFailures != 3 {
			t.Errorf("after the reload and a call, the registry's breaker %s: %v (held: %v), want one of consecutive_failures 3", svc, br, ok)
		}
	})
}
