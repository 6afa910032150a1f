package promobs_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/observe/promobs"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// publishedTransitionSamples are the transitions series a breaker of svc and method has at 0
// from its BreakerPublished on, before any transition.
func publishedTransitionSamples(svc, method string) map[string]float64 {
	want := map[string]float64{}
	for _, ft := range [][2]string{
		{"closed", "open"}, {"open", "half_open"}, {"half_open", "open"}, {"half_open", "closed"},
		{"closed", "forced_open"}, {"closed", "disabled"},
	} {
		want[`bulwark_breaker_transitions_total{from="`+ft[0]+`",method="`+method+`",service="`+svc+`",to="`+ft[1]+`"}`] = 0
	}
	return want
}

// A published breaker exports its transitions at 0 before any transition, so that its first
// trip is an increase from 0, which increase() and the BulwarkBreakerTripping alert count.
// Before, the to="open" series was made at the first trip, starting at 1: increase() over a
// series that starts at 1 counts nothing, and a breaker that opened and closed again between
// two scrapes was seen by no alert.
func TestPublishedBreakerExportsTransitionsAtZero(t *testing.T) {
	const svc = "test.v1.TripZero"
	m, reg := newMetrics(t)
	at := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	m.Observe(observe.Event{Kind: observe.BreakerPublished, Instance: 3, Time: at, Service: svc, Policy: observe.PolicyBreaker, To: "closed"})
	m.Observe(observe.Event{Kind: observe.BreakerPublished, Instance: 4, Time: at, Service: svc, Method: "/" + svc + "/Do", Policy: observe.PolicyBreaker, To: "closed"})
	want := merge(publishedTransitionSamples(svc, ""), publishedTransitionSamples(svc, "/"+svc+"/Do"))
	assertSamples(t, scrape(t, reg, promobs.NameBreakerTransitions), want)

	// The first trip, and the probe that closes it again (between two scrapes), count from 0.
	m.Observe(breakerEvent(svc, 3, at.Add(time.Second), "closed", "open"))
	m.Observe(breakerEvent(svc, 3, at.Add(2*time.Second), "open", "half_open"))
	m.Observe(breakerEvent(svc, 3, at.Add(3*time.Second), "half_open", "closed"))
	for _, k := range []string{
		`bulwark_breaker_transitions_total{from="closed",method="",service="` + svc + `",to="open"}`,
		`bulwark_breaker_transitions_total{from="open",method="",service="` + svc + `",to="half_open"}`,
		`bulwark_breaker_transitions_total{from="half_open",method="",service="` + svc + `",to="closed"}`,
	} {
		want[k] = 1
	}
	assertSamples(t, scrape(t, reg, promobs.NameBreakerTransitions), want)
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), merge(stateSamples(svc, "closed"), methodStateSamples(svc, "/"+svc+"/Do", "closed")))
}

// A retired breaker keeps its transitions series, at 0 or not, as transitions always were
// kept (a replacement under the name goes on counting in them, with no counter reset); the
// late BreakerPublished of an instance retired before it (a suite's, sent after its lock)
// makes none.
func TestRetiredBreakerTransitionsAtZero(t *testing.T) {
	const svc, late = "test.v1.TripRetired", "test.v1.TripLate"
	m, reg := newMetrics(t)
	at := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	m.Observe(observe.Event{Kind: observe.BreakerPublished, Instance: 5, Time: at, Service: svc, Policy: observe.PolicyBreaker, To: "closed"})
	m.Observe(breakerRetired(svc, 5, at.Add(time.Second)))
	m.Observe(breakerRetired(late, 6, at.Add(time.Second)))
	m.Observe(observe.Event{Kind: observe.BreakerPublished, Instance: 6, Time: at, Service: late, Policy: observe.PolicyBreaker, To: "closed"})
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), map[string]float64{})
	assertSamples(t, scrape(t, reg, promobs.NameBreakerTransitions), publishedTransitionSamples(svc, ""))
}

// The series made at publication are bounded as every transitions series is: services past
// MaxServices share OtherService's, methods past MaxMethods OtherMethod's.
func TestPublishedTransitionsBounded(t *testing.T) {
	m, reg := newMetrics(t)
	const names = promobs.MaxServices + 200
	for i := range names {
		svc := "s" + strconv.Itoa(i) + ".v1.S"
		m.Observe(observe.Event{Kind: observe.BreakerPublished, Service: svc, Method: "/" + svc + "/M", Policy: observe.PolicyBreaker, To: "closed"})
	}
	perBreaker := len(publishedTransitionSamples("s", ""))
	if n, limit := testutil.CollectAndCount(reg, promobs.NameBreakerTransitions), perBreaker*(promobs.MaxServices+1); n > limit {
		t.Fatalf("%d published breakers gave %d %s series, want at most %d", names, n, promobs.NameBreakerTransitions, limit)
	}
}
