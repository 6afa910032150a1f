package interceptors_test

import (
	"errors"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
)

// A suite shares a registry and holds the breaker of test.v1.Pub, which its chain of Do (built
// at the reload) calls through. The registry's Get (or Delete, then Get) puts another breaker
// in its place. The first call of another method of the service built its chain with a
// breaker taken from the registry afresh (a new one of the suite's settings in place of Get's,
// or Get's own), while Do's chain kept the old one: one suite had two breakers for one name,
// one open while the other was closed, and the old one, which the suite no longer recorded as
// held, was never retired. The suite keeps the breaker it holds for every chain of the name
// until its next reload, which moves them all to the registry's and retires the old one once.
func TestFirstCallAfterOutsideReplacementKeepsTheSuitesBreaker(t *testing.T) {
	const name = "test.v1.Pub"
	for _, tc := range []struct {
		name     string
		failures int // the settings of the breaker put in place from outside
		replace  func(reg *breaker.Registry, cfg breaker.Config, opts ...breaker.Option) (*breaker.Breaker, error)
	}{
		{"get of other settings", 7, func(reg *breaker.Registry, cfg breaker.Config, opts ...breaker.Option) (*breaker.Breaker, error) {
			return reg.Get(name, cfg, opts...)
		}},
		{"delete then get of the suite's settings", 1, func(reg *breaker.Registry, cfg breaker.Config, opts ...breaker.Option) (*breaker.Breaker, error) {
			reg.Delete(name)
			return reg.Get(name, cfg, opts...)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, reg, clk, rec, recG := registrySuite(t)
			old, _ := reg.Lookup(name)
			if err := holdersCall(s, name, nil); err != nil {
				t.Fatal(err)
			}
			outside, err := tc.replace(reg, breaker.Config{ConsecutiveFailures: tc.failures}, breaker.WithClock(clk), breaker.WithObserver(recG))
			if err != nil {
				t.Fatal(err)
			}

			// Other's first call builds its chain: it fails once, which trips the breaker
			// Do's chain goes through.
			other := &testkit.CountingInvoker{Err: unavailable()}
			if err := s.Unary()(t.Context(), "/"+name+"/Other", nil, nil, nil, other.Invoke); errors.Is(err, breaker.ErrOpen) {
				t.Fatalf("Other's first call: %v, want the service's own error", err)
			}
			if err := holdersCall(s, name, nil); !errors.Is(err, breaker.ErrOpen) {
				t.Errorf("Do's call after Other's failure: %v, want breaker.ErrOpen (one breaker per name in a suite)", err)
			}
			if held, _ := reg.Lookup(name); held != outside {
				t.Errorf("after Other's first call the registry holds %d, want %d, put there from outside (a first call changes no breaker the suite holds)", held.Instance(), outside.Instance())
			}
			if st := old.State(); st != breaker.Open {
				t.Errorf("the suite's breaker after Other's failure: %v, want open", st)
			}
			if n, _ := retiredOf(rec, old.Instance()); n != 0 {
				t.Errorf("the suite's breaker, which its chains call through, sent %d Retired, want 0", n)
			}

			// The next reload moves every chain to the registry's breaker of the suite's
			// settings, and retires the old one, once.
			if err := s.Reload(publishedCfg(t, "1", "")); err != nil {
				t.Fatal(err)
			}
			now, _ := reg.Lookup(name)
			if now == old {
				t.Fatalf("after the reload the registry holds the old breaker %d", old.Instance())
			}
			if n, _ := retiredOf(rec, old.Instance()); n != 1 {
				t.Errorf("the old breaker, let go at the reload, sent %d Retired to its maker's observer, want 1", n)
			}
			if err := s.Unary()(t.Context(), "/"+name+"/Other", nil, nil, nil, other.Invoke); errors.Is(err, breaker.ErrOpen) {
				t.Fatalf("Other's call after the reload: %v, want the service's own error (the registry's breaker is closed)", err)
			}
			if err := holdersCall(s, name, nil); !errors.Is(err, breaker.ErrOpen) {
				t.Errorf("Do's call after Other's failure since the reload: %v, want breaker.ErrOpen", err)
			}
			if st := now.State(); st != breaker.Open {
				t.Errorf("the registry's breaker after the reload and Other's failure: %v, want open (the suite's chains go through it)", st)
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

// The Registry's doc said that a suite's build asking for a name with the settings of the
// breaker the registry holds gets that breaker, with its state, while a reload that changes
// the suite's breaker values starts afresh. The doc now says both: a suite's first build, or a
// reload that leaves its settings of the name alone, takes the registry's breaker with its
// state; a reload that changes them gets a new, closed breaker in place of the registry's,
// even of the settings it asks for (no other suite holds it), as a reload that changes a
// breaker's settings does without a shared registry.
func TestRegistrysBreakerOfTheSettingsAskedTakenWithItsStateUnlessTheSuiteChangedThem(t *testing.T) {
	const name = "test.v1.Pub"
	for _, tc := range []struct {
		name      string
		from      string // the suite's consecutive_failures before, "" for none (a new suite)
		wantState bool   // the suite takes the registry's breaker, open
	}{
		{"a new suite's first build takes it", "", true},
		{"a reload that changes the settings starts afresh", "3", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			reg := breaker.NewRegistry()
			rec, recG := &testkit.Recorder{}, &testkit.Recorder{}
			newSuite := func(failures string) *interceptors.Suite {
				s, err := interceptors.New(publishedCfg(t, failures, ""), interceptors.WithObserver(rec),
					interceptors.WithClock(clk), interceptors.WithBreakerRegistry(reg))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = s.Close() })
				return s
			}
			var s *interceptors.Suite
			if tc.from != "" {
				s = newSuite(tc.from)
			}
			outside, err := reg.Get(name, breaker.Config{ConsecutiveFailures: 1}, breaker.WithClock(clk), breaker.WithObserver(recG))
			if err != nil {
				t.Fatal(err)
			}
			p, err := outside.Allow()
			if err != nil {
				t.Fatal(err)
			}
			p.Done(unavailable())
			if st := outside.State(); st != breaker.Open {
				t.Fatalf("the registry's breaker after a failure: %v, want open", st)
			}
			if s == nil {
				s = newSuite("1")
			} else if err := s.Reload(publishedCfg(t, "1", "")); err != nil {
				t.Fatal(err)
			}
			held, _ := reg.Lookup(name)
			err = holdersCall(s, name, nil)
			if tc.wantState {
				if held != outside || !errors.Is(err, breaker.ErrOpen) {
					t.Errorf("the registry holds %d after the build, the suite's call: %v; want %d, open: breaker.ErrOpen", held.Instance(), err, outside.Instance())
				}
				if n, _ := retiredOf(recG, outside.Instance()); n != 0 {
					t.Errorf("the registry's breaker, which the suite took, sent %d Retired, want 0", n)
				}
				return
			}
			if held == outside || err != nil {
				t.Errorf("the registry holds %d after the reload, the suite's call: %v; want a new breaker in place of %d, closed: nil", held.Instance(), err, outside.Instance())
			}
			if n, _ := retiredOf(recG, outside.Instance()); n != 1 {
				t.Errorf("the registry's breaker the reload replaced sent %d Retired, want 1", n)
			}
		})
	}
}

// registrySuite returns a suite of publishedCfg(t, "1", "") (breakers of one consecutive
// failure) sharing a new registry, on a fake clock, its events recorded by rec, with the clock
// and a second recorder for a breaker put in the registry from outside.
func registrySuite(t *testing.T) (*interceptors.Suite, *breaker.Registry, *clocktest.Fake, *testkit.Recorder, *testkit.Recorder) {
	t.Helper()
	clk := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	reg := breaker.NewRegistry()
	rec, recG := &testkit.Recorder{}, &testkit.Recorder{}
	s, err := interceptors.New(publishedCfg(t, "1", ""), interceptors.WithObserver(rec),
		interceptors.WithClock(clk), interceptors.WithBreakerRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, reg, clk, rec, recG
}
