package interceptors_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
)

// retiredOf returns how many Retired events of instance rec holds, and the index among rec's
// events of the first one (-1: none).
func retiredOf(rec *testkit.Recorder, instance uint32) (n, first int) {
	first = -1
	for i, e := range rec.Events() {
		if e.Kind == observe.Retired && e.Instance == instance {
			if n++; first < 0 {
				first = i
			}
		}
	}
	return n, first
}

// publishedAt returns the index among rec's events of instance's BreakerPublished (-1: none).
func publishedAt(rec *testkit.Recorder, instance uint32) int {
	for i, e := range rec.Events() {
		if e.Kind == observe.BreakerPublished && e.Instance == instance {
			return i
		}
	}
	return -1
}

// The registry interceptors' Get makes the breaker of test.v1.Pub; a suite sharing the
// registry, whose configuration gives the name other settings, then puts its own breaker in
// its place at its build (New). The Get-made breaker sends its Retired once, before the suite's
// breaker's BreakerPublished, as one Get replaces does. Before, it sent none, and observers
// kept its state (open, here) for good.
func TestSuitePutRetiresTheBreakerGetMade(t *testing.T) {
	clk := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	reg := breaker.NewRegistry()
	rec := &testkit.Recorder{}
	unary, err := breaker.UnaryClientInterceptor(breaker.Config{ConsecutiveFailures: 1}, breaker.WithRegistry(reg),
		breaker.WithClock(clk), breaker.WithObserver(rec))
	if err != nil {
		t.Fatal(err)
	}
	_ = unary(context.Background(), "/test.v1.Pub/Do", nil, nil, nil, failUnavailable)
	old, ok := reg.Lookup("test.v1.Pub")
	if !ok || old.State() != breaker.Open {
		t.Fatalf("the registry interceptors' breaker: %v, %v; want it held, open", old, ok)
	}
	clk.Advance(time.Second)
	s, err := interceptors.New(publishedCfg(t, "2", ""), interceptors.WithObserver(rec),
		interceptors.WithClock(clk), interceptors.WithBreakerRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	put, _ := reg.Lookup("test.v1.Pub")
	if put == old {
		t.Fatal("the suite's build kept the breaker of other settings")
	}
	n, at := retiredOf(rec, old.Instance())
	if n != 1 {
		t.Fatalf("the replaced breaker sent %d Retired, want 1; events %+v", n, rec.Events())
	}
	if p := publishedAt(rec, put.Instance()); p < 0 || at > p {
		t.Errorf("the replaced breaker's Retired is event %d, its replacement's BreakerPublished %d: want the Retired first", at, p)
	}
	if e := rec.Events()[at]; e.Service != "test.v1.Pub" || e.Policy != observe.PolicyBreaker || !e.Time.Equal(clk.Now()) {
		t.Errorf("Retired %+v, want test.v1.Pub's breaker at %v", e, clk.Now())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if n, _ := retiredOf(rec, old.Instance()); n != 1 {
		t.Errorf("after Close the replaced breaker sent %d Retired, want 1", n)
	}
}

// The mirror cases: whoever replaces a breaker under its name, the replaced one sends its
// Retired once (a suite's breaker, to the suite's observer, when the suite stops using it).
func TestReplacedSharedBreakerRetiredOnce(t *testing.T) {
	const name = "test.v1.Pub"
	getOther := func(t *testing.T, reg *breaker.Registry, clk *clocktest.Fake, rec *testkit.Recorder) {
		t.Helper()
		if _, err := reg.Get(name, breaker.Config{ConsecutiveFailures: 7}, breaker.WithClock(clk), breaker.WithObserver(rec)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		// run replaces the breaker the registry holds under name when it starts (the one
		// whose Retired is counted), given the suite a, New'd with settings "1" first.
		run func(t *testing.T, reg *breaker.Registry, clk *clocktest.Fake, rec *testkit.Recorder, a *interceptors.Suite)
		get bool // the registry's Get makes the breaker first, with the suite's settings
		// setup, when set, runs before the breaker to replace is read from the registry.
		setup func(t *testing.T, reg *breaker.Registry, clk *clocktest.Fake, rec *testkit.Recorder)
	}{
		{name: "Get replaces a Get-made breaker a suite took", get: true,
			run: func(t *testing.T, reg *breaker.Registry, clk *clocktest.Fake, rec *testkit.Recorder, a *interceptors.Suite) {
				getOther(t, reg, clk, rec)
			}},
		{name: "a suite's reload replaces the breaker Get made in place of the suite's", setup: getOther,
			run: func(t *testing.T, _ *breaker.Registry, _ *clocktest.Fake, _ *testkit.Recorder, a *interceptors.Suite) {
				if err := a.Reload(publishedCfg(t, "1", "")); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "a suite's reload replaces a Get-made breaker it took", get: true,
			run: func(t *testing.T, _ *breaker.Registry, _ *clocktest.Fake, _ *testkit.Recorder, a *interceptors.Suite) {
				if err := a.Reload(publishedCfg(t, "2", "")); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "Get replaces a breaker the suite made and still uses",
			run: func(t *testing.T, reg *breaker.Registry, clk *clocktest.Fake, rec *testkit.Recorder, a *interceptors.Suite) {
				getOther(t, reg, clk, rec)
				if err := a.Close(); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "Get replaces a breaker no suite uses any more",
			run: func(t *testing.T, reg *breaker.Registry, clk *clocktest.Fake, rec *testkit.Recorder, a *interceptors.Suite) {
				if err := a.Reload(&config.Config{}); err != nil {
					t.Fatal(err)
				}
				getOther(t, reg, clk, rec)
			}},
		{name: "another suite's build replaces a breaker no suite uses any more",
			run: func(t *testing.T, reg *breaker.Registry, clk *clocktest.Fake, rec *testkit.Recorder, a *interceptors.Suite) {
				if err := a.Reload(&config.Config{}); err != nil {
					t.Fatal(err)
				}
				b, err := interceptors.New(publishedCfg(t, "2", ""), interceptors.WithObserver(rec),
					interceptors.WithClock(clk), interceptors.WithBreakerRegistry(reg))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = b.Close() })
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			reg := breaker.NewRegistry()
			rec := &testkit.Recorder{}
			if tt.get {
				if _, err := reg.Get(name, breaker.Config{ConsecutiveFailures: 1}, breaker.WithClock(clk), breaker.WithObserver(rec)); err != nil {
					t.Fatal(err)
				}
			}
			a, err := interceptors.New(publishedCfg(t, "1", ""), interceptors.WithObserver(rec),
				interceptors.WithClock(clk), interceptors.WithBreakerRegistry(reg))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = a.Close() })
			if tt.setup != nil {
				tt.setup(t, reg, clk, rec)
			}
			old, _ := reg.Lookup(name)
			clk.Advance(time.Second)
			tt.run(t, reg, clk, rec, a)
			if now, _ := reg.Lookup(name); now == old {
				t.Fatal("the breaker was not replaced")
			}
			if err := a.Close(); err != nil {
				t.Fatal(err)
			}
			if n, _ := retiredOf(rec, old.Instance()); n != 1 {
				t.Errorf("the replaced breaker sent %d Retired, want 1; events %+v", n, rec.Events(observe.Retired))
			}
		})
	}
}
