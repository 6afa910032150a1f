package promobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/observe/promobs"
	"google.golang.org/grpc"
)

// With events alone (no Scrape), a suite's breaker reads closed from the moment the suite
// puts it in service (its BreakerPublished), before it changes state, with no transition
// counted (its transitions series at 0); the suite's Close retires it, by its Instance, and
// its state series goes. Before, a breaker had no state series until its first change, so a
// dashboard of breakers showed none of those that never tripped.
func TestPublishedBreakerReadsClosedWithoutTransition(t *testing.T) {
	const svc = "test.v1.Published"
	cfg := &config.Config{
		Profiles: map[string]config.Profile{"p": {Breaker: &breaker.Config{ConsecutiveFailures: 1}}},
		Services: map[string]config.Service{svc: {Profile: "p", Methods: map[string]config.Method{"Do": {}}}},
	}
	m, reg := newMetrics(t)
	s, err := interceptors.New(cfg, interceptors.WithObserver(m), interceptors.WithClock(clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))))
	if err != nil {
		t.Fatal(err)
	}
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), stateSamples(svc, "closed"))
	assertSamples(t, scrape(t, reg, promobs.NameBreakerTransitions), publishedTransitionSamples(svc, ""))

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), map[string]float64{})
}

// A BreakerPublished that reaches the sink after a change of the same breaker (the breaker
// changed as the suite published it) does not take its state back to the one it read before
// the change; without an Instance, a publication does not replace a later state. A
// publication of another instance (a replacement put in service under the name) does.
func TestPublishedAfterChangeKeepsTheChange(t *testing.T) {
	const svc, anon = "test.v1.PublishedLate", "test.v1.PublishedAnon"
	m, reg := newMetrics(t)
	at := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	published := func(svc string, instance uint32, at time.Time, to string) observe.Event {
		return observe.Event{Kind: observe.BreakerPublished, Instance: instance, Time: at, Service: svc, Policy: observe.PolicyBreaker, To: to}
	}
	m.Observe(published(svc, 4, at, "closed"))
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), stateSamples(svc, "closed"))

	m.Observe(breakerEvent(svc, 5, at, "closed", "open"))
	m.Observe(published(svc, 5, at, "closed"))
	m.Observe(breakerEvent(anon, 0, at.Add(time.Second), "closed", "open"))
	m.Observe(published(anon, 0, at, "closed"))
	want := stateSamples(svc, "open")
	for k, v := range stateSamples(anon, "open") {
		want[k] = v
	}
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), want)

	m.Observe(published(svc, 6, at, "closed"))
	want = stateSamples(svc, "closed")
	for k, v := range stateSamples(anon, "open") {
		want[k] = v
	}
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), want)
	assertSamples(t, scrape(t, reg, promobs.NameBreakerTransitions), merge(
		publishedTransitionSamples(svc, ""), publishedTransitionSamples(anon, ""), map[string]float64{
			`bulwark_breaker_transitions_total{from="closed",method="",service="` + svc + `",to="open"}`:  1,
			`bulwark_breaker_transitions_total{from="closed",method="",service="` + anon + `",to="open"}`: 1,
		}))
}

// A breaker the registry interceptors make at a name's first call reads closed with events
// alone from then on, before it changes state, with no transition counted (its transitions
// series at 0); Delete retires it, and its state series goes. Before, such a breaker (as one
// of breaker.New) had no state series until its first change: only a suite's breakers were
// published.
func TestRegistryBreakerReadsClosedWithoutTransition(t *testing.T) {
	const svc = "test.v1.RegistryPublished"
	m, reg := newMetrics(t)
	breakers := breaker.NewRegistry()
	unary, err := breaker.UnaryClientInterceptor(breaker.Config{ConsecutiveFailures: 5}, breaker.WithRegistry(breakers),
		breaker.WithClock(clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))), breaker.WithObserver(m))
	if err != nil {
		t.Fatal(err)
	}
	ok := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
	if err := unary(context.Background(), "/"+svc+"/Do", nil, nil, nil, ok); err != nil {
		t.Fatal(err)
	}
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), stateSamples(svc, "closed"))
	assertSamples(t, scrape(t, reg, promobs.NameBreakerTransitions), publishedTransitionSamples(svc, ""))

	breakers.Delete(svc)
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), map[string]float64{})
}
