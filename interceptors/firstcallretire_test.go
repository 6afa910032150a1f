package interceptors_test

import (
	"testing"

	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
)

// A suite shares a registry; the first call of Other, a method of test.v1.PubM (breakers of
// scope method) its configuration does not list, takes the breaker of /test.v1.PubM/Other. A
// reload keeps it, unchanged, for the chain Other's next call builds. The registry's Get (or
// Delete) then puts another in its place, or none, and Other's first call under the reload's
// configuration takes the registry's breaker (or a new one) in place of the suite's: the old
// one, which the suite held and no longer calls through, is retired, once.
func TestFirstCallReplacingHeldBreakerRetiresIt(t *testing.T) {
	const name = "/test.v1.PubM/Other"
	for _, tc := range []struct {
		name    string
		replace func(reg *breaker.Registry, opts ...breaker.Option)
	}{
		{"get of other settings", func(reg *breaker.Registry, opts ...breaker.Option) {
			if _, err := reg.Get(name, breaker.Config{ConsecutiveFailures: 7}, opts...); err != nil {
				t.Fatal(err)
			}
		}},
		{"delete", func(reg *breaker.Registry, _ ...breaker.Option) { reg.Delete(name) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, reg, clk, rec, recG := registrySuite(t)
			call := func() {
				t.Helper()
				inv := &testkit.CountingInvoker{}
				if err := s.Unary()(t.Context(), name, nil, nil, nil, inv.Invoke); err != nil {
					t.Fatal(err)
				}
			}
			call()
			old, ok := reg.Lookup(name)
			if !ok {
				t.Fatalf("no breaker %s after Other's first call", name)
			}
			if err := s.Reload(publishedCfg(t, "1", "")); err != nil {
				t.Fatal(err)
			}
			tc.replace(reg, breaker.WithClock(clk), breaker.WithObserver(recG))
			if n, _ := retiredOf(rec, old.Instance()); n != 0 {
				t.Fatalf("the suite's breaker, which it holds, sent %d Retired at the replacement, want 0", n)
			}
			call()
			now, _ := reg.Lookup(name)
			if now == old {
				t.Fatalf("Other's first call after the replacement put the old breaker %d back", old.Instance())
			}
			n, first := retiredOf(rec, old.Instance())
			if n != 1 {
				t.Errorf("the suite's old breaker, which Other's first call under the reload's configuration replaced, sent %d Retired, want 1", n)
			}
			if pub := publishedAt(rec, now.Instance()); n == 1 && (pub < 0 || first > pub) {
				t.Errorf("the old breaker's Retired is event %d, its replacement's BreakerPublished %d: want the Retired first", first, pub)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if n, _ := retiredOf(rec, old.Instance()); n != 1 {
				t.Errorf("the old breaker sent %d Retired in all, want 1", n)
			}
		})
	}
}
