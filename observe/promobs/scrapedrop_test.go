package promobs_test

import (
	"context"
	"maps"
	"runtime"
	"testing"
	"weak"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/observe/promobs"
	"google.golang.org/grpc"
)

func breakerConfig(svc string) *config.Config {
	return &config.Config{
		Profiles: map[string]config.Profile{"p": {Breaker: &breaker.Config{ConsecutiveFailures: 1}}},
		Services: map[string]config.Service{svc: {Profile: "p", Methods: map[string]config.Method{"Do": {}}}},
	}
}

func failingInvoker(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
	return errDown
}

// A program that replaces its suite (builds a new one, gives it to Scrape, closes the old)
// leaves no closed suite in the Metrics: the closed one is dropped at the next scrape and can
// be collected, while the new one's levels still show. Before, every closed suite stayed a
// source for good, reading nothing and holding its objects, so memory grew with each one.
func TestScrapeDropsClosedSuite(t *testing.T) {
	const svc = "test.v1.Dropped"
	m, reg := newMetrics(t)
	old, err := interceptors.New(breakerConfig(svc), interceptors.WithObserver(m))
	if err != nil {
		t.Fatal(err)
	}
	removeOld := m.Scrape(old)
	_ = old.Unary()(context.Background(), "/"+svc+"/Do", nil, nil, nil, failingInvoker)
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), stateSamples(svc, "open"))

	s, err := interceptors.New(breakerConfig(svc), interceptors.WithObserver(m))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	m.Scrape(s)
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	gone := weak.Make(old)
	old = nil //nolint:ineffassign,wastedassign // the test's own reference goes
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), stateSamples(svc, "closed"))

	for range 3 {
		runtime.GC()
	}
	if gone.Value() != nil {
		t.Fatal("the closed suite is still reachable after a scrape: the Metrics keeps it as a source")
	}
	removeOld() // a source dropped as closed: nothing left to remove
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), stateSamples(svc, "closed"))
}

// The function Scrape returns removes that source, and only it: a source given twice is still
// read through its other registration, and it is no longer held once both are removed.
// Removing twice, or the source of a nil src, does nothing.
func TestScrapeRemove(t *testing.T) {
	m, reg := newMetrics(t)
	live := newFakeSource(stateLevel(ocr, "", "half_open"))
	m.Scrape(live)
	src := newFakeSource(bulkheadLevels(ocr, 2, 8)...)
	first, second := m.Scrape(src), m.Scrape(src)
	m.Scrape(nil)()
	want := stateSamples(ocr, "half_open")
	want[`bulwark_bulkhead_in_flight{method="",service="`+ocr+`"}`] = 2
	want[`bulwark_bulkhead_capacity{method="",service="`+ocr+`"}`] = 8
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState, promobs.NameBulkheadInFlight, promobs.NameBulkheadCapacity), want)

	first()
	first()
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState, promobs.NameBulkheadInFlight, promobs.NameBulkheadCapacity), want)

	gone := weak.Make(src)
	src = nil //nolint:ineffassign,wastedassign // the test's own reference goes
	second()
	for range 3 {
		runtime.GC()
	}
	if gone.Value() != nil {
		t.Fatal("a removed source is still reachable")
	}
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState, promobs.NameBulkheadInFlight, promobs.NameBulkheadCapacity), stateSamples(ocr, "half_open"))
	first()
	second()
}

// Two suites share a breaker registry, and only one of them is given to Scrape: once it is
// closed and dropped, the registry's breaker, which the other suite still uses, shows the
// state its events said, though the closed suite's source had read it and it opened while
// that source was kept. Before, a breaker a source had read once never counted its events
// again, and the live breaker had no series.
func TestSharedBreakerCountsEventsAfterItsSourceIsDropped(t *testing.T) {
	const svc = "test.v1.Shared"
	m, reg := newMetrics(t)
	var breakers breaker.Registry
	closing, err := interceptors.New(breakerConfig(svc), interceptors.WithObserver(m), interceptors.WithBreakerRegistry(&breakers))
	if err != nil {
		t.Fatal(err)
	}
	m.Scrape(closing)
	live, err := interceptors.New(breakerConfig(svc), interceptors.WithObserver(m), interceptors.WithBreakerRegistry(&breakers))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = live.Close() })
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), stateSamples(svc, "closed"))

	_ = live.Unary()(context.Background(), "/"+svc+"/Do", nil, nil, nil, failingInvoker) // the shared breaker opens
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), stateSamples(svc, "open"))
	if err := closing.Close(); err != nil {
		t.Fatal(err)
	}
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), stateSamples(svc, "open"))
}

// A closed suite given to Scrape inside an observe.LevelSources is dropped at the next scrape
// as it is given alone, and a closed part of a LevelSources whose other parts live is no
// longer held: the live part still shows. Before, a LevelSources was never seen as closed, so
// the Metrics kept it, and the closed suites it holds, until its remove.
func TestScrapeDropsClosedSuiteInLevelSources(t *testing.T) {
	const svc, other = "test.v1.DroppedInSources", "test.v1.LiveInSources"
	m, reg := newMetrics(t)
	old, err := interceptors.New(breakerConfig(svc), interceptors.WithObserver(m))
	if err != nil {
		t.Fatal(err)
	}
	m.Scrape(observe.LevelSources{old})
	part, err := interceptors.New(breakerConfig(svc), interceptors.WithObserver(m))
	if err != nil {
		t.Fatal(err)
	}
	live, err := interceptors.New(breakerConfig(other), interceptors.WithObserver(m))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = live.Close() })
	m.Scrape(observe.LevelSources{part, live})
	_ = old.Unary()(context.Background(), "/"+svc+"/Do", nil, nil, nil, failingInvoker)
	want := stateSamples(svc, "open")
	maps.Copy(want, stateSamples(other, "closed"))
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), want)

	for _, s := range []*interceptors.Suite{old, part} {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	goneOld, gonePart := weak.Make(old), weak.Make(part)
	old, part = nil, nil //nolint:ineffassign,wastedassign // the test's own references go
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), stateSamples(other, "closed"))
	for range 3 {
		runtime.GC()
	}
	if goneOld.Value() != nil {
		t.Fatal("a closed suite in a LevelSources is still reachable after a scrape: the Metrics keeps it")
	}
	if gonePart.Value() != nil {
		t.Fatal("a closed suite beside a live one in a LevelSources is still reachable after a scrape: the Metrics keeps it")
	}
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), stateSamples(other, "closed"))
}

// Two suites share a breaker registry, and only one of them is given to Scrape: once a reload
// of that one no longer uses the shared breaker (its source no longer reads it), the state
// the breaker's events say shows, as the other suite's calls open it. Before, a breaker a
// kept source had read once hid its events for as long as the source was kept, and the live
// breaker had no series.
func TestSharedBreakerCountsEventsOnceItsSourceNoLongerReadsIt(t *testing.T) {
	const svc = "test.v1.SharedReloaded"
	m, reg := newMetrics(t)
	var breakers breaker.Registry
	scraped, err := interceptors.New(breakerConfig(svc), interceptors.WithObserver(m), interceptors.WithBreakerRegistry(&breakers))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = scraped.Close() })
	m.Scrape(scraped)
	other, err := interceptors.New(breakerConfig(svc), interceptors.WithObserver(m), interceptors.WithBreakerRegistry(&breakers))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Close() })
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), stateSamples(svc, "closed"))

	if err := scraped.Reload(&config.Config{}); err != nil {
		t.Fatal(err)
	}
	_ = other.Unary()(context.Background(), "/"+svc+"/Do", nil, nil, nil, failingInvoker) // the shared breaker opens
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), stateSamples(svc, "open"))
}
