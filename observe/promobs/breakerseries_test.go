package promobs_test

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/observe/promobs"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// breakerSource is a Scrape source of breaker states by service, which a test changes as a
// suite's reload would.
type breakerSource struct {
	mu     sync.Mutex
	states map[string]string
}

func (s *breakerSource) set(service, state string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if state == "" {
		delete(s.states, service)
		return
	}
	s.states[service] = state
}

func (s *breakerSource) Levels(yield func(observe.Level) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for svc, st := range s.states {
		if !yield(observe.Level{Kind: observe.LevelBreakerState, Policy: observe.PolicyBreaker, Service: svc, State: st}) {
			return
		}
	}
}

// A breaker both observed and scraped (as the example orchestrator wires a suite): once its
// source no longer reads it (a reload turned it off and reported it retired, as a suite's
// reload does for a breaker no shared registry holds), no state series is left, although its
// last event said "open".
func TestBreakerSeriesGoneWhenItsSourceDropsIt(t *testing.T) {
	m, reg := newMetrics(t)
	src := &breakerSource{states: map[string]string{ocr: "closed"}}
	m.Scrape(src)
	m.Observe(observe.Event{Kind: observe.BreakerStateChanged, Service: ocr, From: "closed", To: "open"})
	src.set(ocr, "open")
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), stateSamples(ocr, "open"))

	src.set(ocr, "")
	m.Observe(observe.Event{Kind: observe.Retired, Policy: observe.PolicyBreaker, Service: ocr})
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), map[string]float64{})
	// Later events of that breaker (a call in flight through it) do not bring it back either.
	m.Observe(observe.Event{Kind: observe.BreakerStateChanged, Service: ocr, From: "open", To: "half_open", Time: time.Unix(1, 0)})
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), map[string]float64{})
	// Read again (a reload turned it back on), it is its source's.
	src.set(ocr, "closed")
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), stateSamples(ocr, "closed"))
}

// A breaker a scraped source no longer reads and that was not reported retired (a reload
// stopped using a breaker of a shared registry, which another suite may still use) shows the
// state its events say, later events too; read again, it is its source's. Before, a breaker
// a kept source had read once hid its events for as long as the source was kept.
func TestBreakerSeriesFollowsEventsWhenItsSourceDropsItUnretired(t *testing.T) {
	m, reg := newMetrics(t)
	src := &breakerSource{states: map[string]string{ocr: "closed"}}
	m.Scrape(src)
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), stateSamples(ocr, "closed"))

	src.set(ocr, "")
	m.Observe(observe.Event{Kind: observe.BreakerStateChanged, Service: ocr, From: "closed", To: "open"})
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), stateSamples(ocr, "open"))
	m.Observe(observe.Event{Kind: observe.BreakerStateChanged, Service: ocr, From: "open", To: "half_open"})
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), stateSamples(ocr, "half_open"))
	src.set(ocr, "forced_open")
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), stateSamples(ocr, "forced_open"))
}

// The state series' method label is bounded as every other method label is (MaxMethods), for
// the names of events and of sources alike.
func TestBreakerStateMethodLabelBounded(t *testing.T) {
	m, reg := newMetrics(t)
	const names = promobs.MaxMethods + 500
	for i := range names {
		m.Observe(observe.Event{Kind: observe.BreakerStateChanged, Service: "s.v1.S",
			Method: "/s.v1.S/M" + strconv.Itoa(i), From: "closed", To: "open"})
	}
	if n, limit := testutil.CollectAndCount(reg, promobs.NameBreakerState), len(promobs.BreakerStates())*(promobs.MaxMethods+1); n > limit {
		t.Fatalf("%d method names gave %d %s series, want at most %d", names, n, promobs.NameBreakerState, limit)
	}
}
