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
)

// breakerEvent is a BreakerStateChanged of the breaker instance of svc, at at.
func breakerEvent(svc string, instance uint32, at time.Time, from, to string) observe.Event {
	return observe.Event{Kind: observe.BreakerStateChanged, Instance: instance, Time: at, Service: svc, Policy: observe.PolicyBreaker, From: from, To: to}
}

// breakerRetired is the Retired of the breaker instance of svc, at at.
func breakerRetired(svc string, instance uint32, at time.Time) observe.Event {
	return observe.Event{Kind: observe.Retired, Instance: instance, Time: at, Service: svc, Policy: observe.PolicyBreaker}
}

// With events alone, a breaker's event that comes after its Retired (a call that was in flight
// through it at the reload, whose failure opens it later) brings no state series back: the
// Retired names the breaker's Instance, and that instance's later events are dropped, as
// zapobs and otelobs drop them. Its transitions are still counted: they happened. Before, the
// late "open" stood as the series of a breaker no call reaches, until the name's next event.
func TestRetiredInstancesLateEventBringsNoSeries(t *testing.T) {
	const svc = "test.v1.LateEvent"
	m, reg := newMetrics(t)
	at := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	m.Observe(breakerEvent(svc, 7, at, "closed", "half_open"))
	m.Observe(breakerRetired(svc, 7, at.Add(time.Second)))
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), map[string]float64{})

	m.Observe(breakerEvent(svc, 7, at.Add(2*time.Second), "half_open", "open"))
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), map[string]float64{})
	assertSamples(t, scrape(t, reg, promobs.NameBreakerTransitions), map[string]float64{
		`bulwark_breaker_transitions_total{from="closed",method="",service="` + svc + `",to="half_open"}`: 1,
		`bulwark_breaker_transitions_total{from="half_open",method="",service="` + svc + `",to="open"}`:   1,
	})

	// Another instance under the name (the replacement) is followed as before.
	m.Observe(breakerEvent(svc, 8, at.Add(3*time.Second), "closed", "open"))
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), stateSamples(svc, "open"))
}

// A Retired that names an Instance forgets that instance's state alone, whatever the Times: a
// replacement's event at the same Time (a clock that does not move, as a fake one) keeps its
// series. Before, the Retired dropped it as the old breaker's, until its next event.
func TestRetiredInstanceKeepsReplacementAtSameTime(t *testing.T) {
	const svc = "test.v1.SameTime"
	m, reg := newMetrics(t)
	at := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	m.Observe(breakerEvent(svc, 1, at, "closed", "open"))
	m.Observe(breakerEvent(svc, 2, at, "closed", "open")) // the replacement, before the old one's Retired
	m.Observe(breakerRetired(svc, 1, at))
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), stateSamples(svc, "open"))

	// Events without an Instance (an emitter of its own) keep the Time rule: a state not
	// later than the Retired is dropped, a later one kept.
	const timed = "test.v1.Timed"
	m.Observe(breakerEvent(timed, 0, at, "closed", "open"))
	m.Observe(breakerRetired(timed, 0, at))
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), stateSamples(svc, "open"))
	m.Observe(breakerEvent(timed, 0, at.Add(time.Second), "closed", "open"))
	m.Observe(breakerRetired(timed, 0, at))
	want := stateSamples(svc, "open")
	for k, v := range stateSamples(timed, "open") {
		want[k] = v
	}
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), want)
}

// With events alone and a clock that does not move, a suite built to replace another before
// that one is closed keeps the "open" its breaker reached: the closed suite's Close retires
// its own breaker's Instance, at the same Time as the replacement's event. Before, the Close
// dropped the replacement's state (its Time not after the Retired's), and BulwarkBreakerOpen
// missed an open breaker serving calls.
func TestCloseAfterReplacementKeepsItsStateAtSameTime(t *testing.T) {
	const svc = "test.v1.BlueGreenStill"
	cfg := &config.Config{
		Profiles: map[string]config.Profile{"p": {Breaker: &breaker.Config{ConsecutiveFailures: 1}}},
		Services: map[string]config.Service{svc: {Profile: "p", Methods: map[string]config.Method{"Do": {}}}},
	}
	clk := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	m, reg := newMetrics(t)
	old, err := interceptors.New(cfg, interceptors.WithObserver(m), interceptors.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	_ = old.Unary()(context.Background(), "/"+svc+"/Do", nil, nil, nil, failingInvoker) // the old breaker opens
	s, err := interceptors.New(cfg, interceptors.WithObserver(m), interceptors.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	_ = s.Unary()(context.Background(), "/"+svc+"/Do", nil, nil, nil, failingInvoker) // the new one opens
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), stateSamples(svc, "open"))
}
