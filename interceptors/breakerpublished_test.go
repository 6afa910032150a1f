package interceptors_test

import (
	"cmp"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
)

// publishedCfg is a configuration with a service breaker (test.v1.Pub, tripping after
// failures failures), a method-scoped one (test.v1.PubM), and the extra services' YAML.
func publishedCfg(t *testing.T, failures string, extra string) *config.Config {
	t.Helper()
	cfg, _, err := config.Parse("bulwark.yaml", []byte(`
profiles:
  p: {breaker: {consecutive_failures: `+failures+`}}
  m: {breaker: {consecutive_failures: 3, scope: method}}
  down: {breaker: {consecutive_failures: 3}, rate_limit: {rate: 5, burst: 1, redis: {addr: "127.0.0.1:1"}}}
services:
  test.v1.Pub: {profile: p, methods: {Do: {}}}
  test.v1.PubM: {profile: m, methods: {Do: {}}}
`+extra))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// sharingSuite is a suite of publishedCfg(t, "2", extra) on clk that shares reg, observed by rec
// (nil: no observer), closed when t ends (a test may Close it before: a second Close does
// nothing).
func sharingSuite(t *testing.T, clk *clocktest.Fake, reg *breaker.Registry, extra string, rec *testkit.Recorder) *interceptors.Suite {
	t.Helper()
	opts := []interceptors.Option{interceptors.WithClock(clk), interceptors.WithBreakerRegistry(reg)}
	if rec != nil {
		opts = append(opts, interceptors.WithObserver(rec))
	}
	s, err := interceptors.New(publishedCfg(t, "2", extra), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// The suite sends a BreakerPublished for each breaker a build of it puts in service, with the
// breaker's state and names: at New, for a chain built on a method's first call, and at a
// Reload for a breaker it replaced (after the old one's Retired); none for a breaker a reload
// keeps, nor for one of a build rolled back. An observer that keeps states from events so
// knows a breaker from the start, not from its first change.
func TestSuitePublishesTheBreakersItBuilds(t *testing.T) {
	errDown := errors.New("remote limiter down")
	factory := func(string, ratelimit.Config, ratelimit.RemoteEnv) (ratelimit.Limiter, io.Closer, error) {
		return nil, nil, errDown
	}
	rec := &testkit.Recorder{}
	s, err := interceptors.New(publishedCfg(t, "3", ""), interceptors.WithObserver(rec),
		interceptors.WithClock(clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))),
		interceptors.WithRemoteLimiter(factory))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	type named struct{ service, method, state string }
	published := func() (got []named) {
		for _, e := range rec.Events(observe.BreakerPublished) {
			if !strings.HasPrefix(e.Service, "test.v1.") {
				continue // the built-in services' (config.Parse starts from the built-in profiles)
			}
			if e.Policy != observe.PolicyBreaker || e.From != "" || e.Time.IsZero() {
				t.Errorf("BreakerPublished %+v: want policy breaker, no From, a Time", e)
			}
			got = append(got, named{e.Service, e.Method, e.To})
		}
		slices.SortFunc(got, func(a, b named) int {
			return cmp.Or(cmp.Compare(a.service, b.service), cmp.Compare(a.method, b.method))
		})
		return got
	}
	check := func(when string, want ...named) {
		t.Helper()
		if got := published(); !slices.Equal(got, want) {
			t.Fatalf("%s: published %+v, want %+v", when, got, want)
		}
	}
	pub := named{"test.v1.Pub", "", "closed"}
	pubM := named{"test.v1.PubM", "/test.v1.PubM/Do", "closed"}
	check("after New", pub, pubM)

	// A method's chain built on its first call, with a method-scoped breaker of its own.
	inv := &testkit.CountingInvoker{}
	if err := s.Unary()(context.Background(), "/test.v1.PubM/Other", nil, nil, nil, inv.Invoke); err != nil {
		t.Fatal(err)
	}
	other := named{"test.v1.PubM", "/test.v1.PubM/Other", "closed"}
	check("after a first call", pub, pubM, other)

	// A reload that keeps every breaker publishes none.
	if err := s.Reload(publishedCfg(t, "3", "")); err != nil {
		t.Fatal(err)
	}
	check("after a reload that kept them", pub, pubM, other)

	// A build rolled back (a fleet-wide limiter that fails to build, after its service's
	// breaker was built) publishes none.
	if err := s.Reload(publishedCfg(t, "3", "  test.v1.Zdown: {profile: down, methods: {Do: {}}}\n")); !errors.Is(err, errDown) {
		t.Fatalf("Reload with a failing limiter: %v, want %v", err, errDown)
	}
	check("after a rolled back reload", pub, pubM, other)

	// A reload that replaces the service's breaker publishes the new one after the old one's
	// Retired.
	rec.Reset()
	if err := s.Reload(publishedCfg(t, "4", "")); err != nil {
		t.Fatal(err)
	}
	check("after a reload that replaced test.v1.Pub's breaker", pub)
	var events []observe.Event
	for _, e := range rec.Events(observe.Retired, observe.BreakerPublished) {
		if strings.HasPrefix(e.Service, "test.v1.") {
			events = append(events, e)
		}
	}
	if len(events) != 2 || events[0].Kind != observe.Retired || events[0].Service != "test.v1.Pub" || events[1].Kind != observe.BreakerPublished {
		t.Fatalf("the replacing reload's events %+v: want the old breaker's Retired, then the new one's BreakerPublished", events)
	}
}
