package interceptors_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
)

// holdersPair returns two suites of publishedCfg(t, "1", "") on clk sharing reg, each with a
// recorder of its own as its observer, closed when t ends: a makes the breaker of test.v1.Pub
// (its Retired goes to recA) and b takes it.
func holdersPair(t *testing.T, reg *breaker.Registry, clk *clocktest.Fake) (a, b *interceptors.Suite, recA, recB *testkit.Recorder) {
	t.Helper()
	recA, recB = &testkit.Recorder{}, &testkit.Recorder{}
	for _, p := range []struct {
		s   **interceptors.Suite
		rec *testkit.Recorder
	}{{&a, recA}, {&b, recB}} {
		s, err := interceptors.New(publishedCfg(t, "1", ""), interceptors.WithObserver(p.rec),
			interceptors.WithClock(clk), interceptors.WithBreakerRegistry(reg))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		*p.s = s
	}
	return a, b, recA, recB
}

// holdersCall makes one call of svc's method Do through s, answered with err.
func holdersCall(s *interceptors.Suite, svc string, err error) error {
	inv := &testkit.CountingInvoker{Err: err}
	return s.Unary()(context.Background(), "/"+svc+"/Do", nil, nil, nil, inv.Invoke)
}

// Two suites hold the breaker of test.v1.Pub; the registry's Get (or Delete, then Get) puts
// in its place a breaker of other settings, which no suite holds: both still call through the
// old one. The registry counted holders by name, whatever instance they held, so a reload of
// either suite that asked for the name with other settings than the new breaker's, its own
// unchanged ones included, was refused with ErrSharedConflict, for good: the other suite
// "held" a breaker the registry no longer had. The conflict is about the breaker the registry
// holds (see breaker.Registry): no other suite holds it, so the reload replaces it. Each
// breaker is retired once, to its own observer: the one Get made when the reload replaces it,
// the old one when the last suite that calls through it lets it go, the reload's when the
// registry forgets it.
func TestReloadAfterOutsideReplacementOfSharedBreakerIsNotRefused(t *testing.T) {
	const name = "test.v1.Pub"
	for _, tc := range []struct {
		name    string
		replace func(reg *breaker.Registry, opts ...breaker.Option) (*breaker.Breaker, error)
	}{
		{"get", func(reg *breaker.Registry, opts ...breaker.Option) (*breaker.Breaker, error) {
			return reg.Get(name, breaker.Config{ConsecutiveFailures: 7}, opts...)
		}},
		{"delete then get", func(reg *breaker.Registry, opts ...breaker.Option) (*breaker.Breaker, error) {
			reg.Delete(name)
			return reg.Get(name, breaker.Config{ConsecutiveFailures: 7}, opts...)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			reg := breaker.NewRegistry()
			a, b, recA, recB := holdersPair(t, reg, clk)
			old, _ := reg.Lookup(name)
			recG := &testkit.Recorder{}
			outside, err := tc.replace(reg, breaker.WithClock(clk), breaker.WithObserver(recG))
			if err != nil {
				t.Fatal(err)
			}
			if n, _ := retiredOf(recA, old.Instance()); n != 0 {
				t.Fatalf("the replacement sent %d Retired of a breaker both suites call through, want 0", n)
			}

			if err := a.Reload(publishedCfg(t, "3", "")); err != nil {
				t.Fatalf("a's reload to other settings than the breaker no suite holds: %v, want nil", err)
			}
			mine, _ := reg.Lookup(name)
			if mine == outside || mine == old {
				t.Fatalf("after a's reload the registry holds %d, want a new breaker in place of %d", mine.Instance(), outside.Instance())
			}
			if n, _ := retiredOf(recG, outside.Instance()); n != 1 {
				t.Errorf("the breaker the reload replaced (no suite held it) sent %d Retired to its observer, want 1", n)
			}
			if n, _ := retiredOf(recA, old.Instance()); n != 0 {
				t.Errorf("the old breaker, which b still calls through, sent %d Retired, want 0", n)
			}
			// a's calls go through its new breaker (3 failures), b's through the old one (1).
			if err := holdersCall(b, name, unavailable()); err == nil {
				t.Fatal("b's failing call: nil error")
			}
			if err := holdersCall(b, name, nil); !errors.Is(err, breaker.ErrOpen) {
				t.Errorf("b's call after its failure: %v, want breaker.ErrOpen (its breaker trips on 1)", err)
			}
			if err := holdersCall(a, name, nil); err != nil {
				t.Errorf("a's call: %v, want nil (its breaker is not b's)", err)
			}

			// a now holds the registry's breaker: b's reload to yet other settings is refused.
			err = b.Reload(publishedCfg(t, "5", ""))
			if !errors.Is(err, breaker.ErrSharedConflict) || !strings.Contains(err.Error(), "consecutive_failures: 5") {
				t.Fatalf("b's reload to other settings than the breaker a holds: %v, want breaker.ErrSharedConflict naming consecutive_failures: 5", err)
			}
			// b takes a's breaker and lets the old one go: its last holder retires it, to its
			// maker's observer.
			if err := b.Reload(publishedCfg(t, "3", "")); err != nil {
				t.Fatal(err)
			}
			if held, _ := reg.Lookup(name); held != mine {
				t.Errorf("after b's reload to a's settings the registry holds %d, want a's %d", held.Instance(), mine.Instance())
			}
			if n, _ := retiredOf(recA, old.Instance()); n != 1 {
				t.Errorf("the old breaker, let go by its last holder, sent %d Retired to its maker's observer, want 1", n)
			}
			if err := a.Close(); err != nil {
				t.Fatal(err)
			}
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			if n, _ := retiredOf(recA, mine.Instance()); n != 0 {
				t.Errorf("a's reload's breaker, which the registry still holds, sent %d Retired at the Closes, want 0", n)
			}
			reg.Delete(name) // no suite holds it: the registry retires it
			for _, c := range []struct {
				what string
				rec  *testkit.Recorder
				br   *breaker.Breaker
			}{{"old", recA, old}, {"Get's", recG, outside}, {"a's reload's", recA, mine}} {
				if n, _ := retiredOf(c.rec, c.br.Instance()); n != 1 {
					t.Errorf("the %s breaker sent %d Retired to its own observer in all, want 1", c.what, n)
				}
			}
			for _, e := range recB.Events(observe.Retired) {
				if e.Policy == observe.PolicyBreaker && e.Service == name {
					t.Errorf("b's observer got the Retired of breaker %d, which b did not make", e.Instance)
				}
			}
		})
	}
}

// Two suites hold the breaker of test.v1.Pub; Get puts one of other settings in its place,
// and b's reload to those settings puts its own (its breaker's value changed: a new one, as
// no suite holds Get's), while a still calls through the old one. a's reload to yet other
// settings is refused (ErrSharedConflict): b holds the breaker the registry holds, whichever
// breaker a holds, and the registry keeps b's.
func TestReloadAfterOutsideReplacementRefusedWhileAnotherSuiteHoldsTheNewBreaker(t *testing.T) {
	const name = "test.v1.Pub"
	clk := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	reg := breaker.NewRegistry()
	a, b, recA, _ := holdersPair(t, reg, clk)
	old, _ := reg.Lookup(name)
	recG := &testkit.Recorder{}
	outside, err := reg.Get(name, breaker.Config{ConsecutiveFailures: 7}, breaker.WithClock(clk), breaker.WithObserver(recG))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Reload(publishedCfg(t, "7", "")); err != nil {
		t.Fatalf("b's reload to the settings of the breaker no suite holds: %v", err)
	}
	bs, _ := reg.Lookup(name)
	if bs == old || bs == outside {
		t.Fatalf("after b's reload the registry holds %d, want b's new breaker", bs.Instance())
	}
	if n, _ := retiredOf(recG, outside.Instance()); n != 1 {
		t.Errorf("Get's breaker, which b's reload replaced, sent %d Retired to its observer, want 1", n)
	}
	err = a.Reload(publishedCfg(t, "3", ""))
	if !errors.Is(err, breaker.ErrSharedConflict) || !strings.Contains(err.Error(), "consecutive_failures: 3") {
		t.Fatalf("a's reload to other settings than the breaker b holds: %v, want breaker.ErrSharedConflict naming consecutive_failures: 3", err)
	}
	if held, _ := reg.Lookup(name); held != bs {
		t.Errorf("after a's refused reload the registry holds %d, want b's %d", held.Instance(), bs.Instance())
	}
	// a takes b's breaker (b holds it: not a new one), and lets the old one go, which no
	// suite calls through any more.
	if err := a.Reload(publishedCfg(t, "7", "")); err != nil {
		t.Fatal(err)
	}
	if held, _ := reg.Lookup(name); held != bs {
		t.Errorf("after a's reload to b's settings the registry holds %d, want b's %d", held.Instance(), bs.Instance())
	}
	if n, _ := retiredOf(recG, outside.Instance()); n != 1 {
		t.Errorf("Get's breaker sent %d Retired in all, want 1", n)
	}
	if n, _ := retiredOf(recA, old.Instance()); n != 1 {
		t.Errorf("the old breaker, let go by its last holder, sent %d Retired to its maker's observer, want 1", n)
	}
}
