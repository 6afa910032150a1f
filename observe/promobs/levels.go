package promobs

import (
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// BreakerStates are the values of the state label of bulwark_breaker_state, in order: the
// names breaker.State.String returns.
func BreakerStates() []string {
	return []string{"closed", "open", "half_open", "forced_open", "disabled"}
}

var breakerStates = BreakerStates()

// Bulkhead is what TrackBulkhead reads: a bulkhead's current number of calls in flight and
// its capacity. Both methods must be safe for concurrent use.
type Bulkhead interface {
	InFlight() int
	Capacity() int
}

// TrackBulkhead exposes b as bulwark_bulkhead_in_flight and bulwark_bulkhead_capacity with the
// given service label, read at each scrape: a bulkhead is a level, not a stream of events.
// Tracking a service again replaces its bulkhead; a nil b stops tracking it.
func (m *Metrics) TrackBulkhead(service string, b Bulkhead) {
	m.levels.mu.Lock()
	defer m.levels.mu.Unlock()
	if b == nil {
		delete(m.levels.bulkheads, service)
		return
	}
	m.levels.bulkheads[service] = b
}

// TrackBreaker exposes the state that state returns as bulwark_breaker_state, read at each
// scrape. name is the breaker's name as given to breaker.New: the service (for a breaker that
// serves the whole service, labelled method="") or the full method "/pkg.Service/Method" (for a
// method-scoped breaker, labelled with its service and method). state must be safe for
// concurrent use and return one of BreakerStates, such as
//
//	m.TrackBreaker("kyc.v1.OCRService", func() string { return b.State().String() })
//
// Without TrackBreaker, bulwark_breaker_state follows the BreakerStateChanged events; a tracked
// breaker shows what state returns instead, so that a scrape never shows a stale state.
// Tracking a name again replaces its function; a nil state stops tracking it.
func (m *Metrics) TrackBreaker(name string, state func() string) {
	k := breakerKeyOf(name)
	m.levels.mu.Lock()
	defer m.levels.mu.Unlock()
	if state == nil {
		delete(m.levels.breakers, k)
		return
	}
	m.levels.breakers[k] = state
}

// TrackThrottle exposes the rejection probability that probability returns (an adaptive
// throttle's Probability) as bulwark_adaptive_throttle_probability with the given service label,
// read at each scrape. Tracking a service again replaces its function; a nil probability stops
// tracking it.
func (m *Metrics) TrackThrottle(service string, probability func() float64) {
	m.levels.mu.Lock()
	defer m.levels.mu.Unlock()
	if probability == nil {
		delete(m.levels.throttles, service)
		return
	}
	m.levels.throttles[service] = probability
}

// breakerKey identifies a breaker as its events do: by service, and by method when it is
// method-scoped.
type breakerKey struct{ service, method string }

func breakerKeyOf(name string) breakerKey {
	if strings.HasPrefix(name, "/") {
		if i := strings.LastIndexByte(name, '/'); i > 0 {
			return breakerKey{service: clean(name[1:i]), method: clean(name)}
		}
	}
	return breakerKey{service: clean(name)}
}

// levels is the collector of the gauges read at scrape time.
type levels struct {
	stateDesc, inFlightDesc, capacityDesc, throttleDesc *prometheus.Desc

	mu        sync.Mutex
	bulkheads map[string]Bulkhead          // Guarded by mu.
	breakers  map[breakerKey]func() string // Guarded by mu.
	throttles map[string]func() float64    // Guarded by mu.
	lastState map[breakerKey]string        // Guarded by mu. From BreakerStateChanged events.
}

func newLevels(cl prometheus.Labels) *levels {
	return &levels{
		stateDesc: prometheus.NewDesc(NameBreakerState,
			"Circuit breaker state: one series per state, 1 for the current state and 0 for the others; method is empty for a breaker that serves the whole service.",
			[]string{labelService, labelMethod, labelState}, cl),
		inFlightDesc: prometheus.NewDesc(NameBulkheadInFlight,
			"Calls holding a bulkhead slot.",
			[]string{labelService}, cl),
		capacityDesc: prometheus.NewDesc(NameBulkheadCapacity,
			"Bulkhead slots in all: the current limit of an adaptive bulkhead.",
			[]string{labelService}, cl),
		throttleDesc: prometheus.NewDesc(NameThrottleProbability,
			"Probability with which client-side adaptive throttling rejects a call now.",
			[]string{labelService}, cl),
		throttles: map[string]func() float64{},
		bulkheads: map[string]Bulkhead{},
		breakers:  map[breakerKey]func() string{},
		lastState: map[breakerKey]string{},
	}
}

func (l *levels) breakerChanged(service, method, to string) {
	if to == "" {
		return
	}
	k := breakerKey{clean(service), clean(method)}
	l.mu.Lock()
	l.lastState[k] = clean(to)
	l.mu.Unlock()
}

// Describe implements prometheus.Collector.
func (l *levels) Describe(ch chan<- *prometheus.Desc) {
	ch <- l.stateDesc
	ch <- l.inFlightDesc
	ch <- l.capacityDesc
	ch <- l.throttleDesc
}

// Collect implements prometheus.Collector. The tracked functions are called outside the lock.
func (l *levels) Collect(ch chan<- prometheus.Metric) {
	l.mu.Lock()
	states := make(map[breakerKey]string, len(l.lastState)+len(l.breakers))
	for k, st := range l.lastState {
		states[k] = st
	}
	breakers := make(map[breakerKey]func() string, len(l.breakers))
	for k, f := range l.breakers {
		breakers[k] = f
	}
	bulkheads := make(map[string]Bulkhead, len(l.bulkheads))
	for svc, b := range l.bulkheads {
		bulkheads[clean(svc)] = b
	}
	throttles := make(map[string]func() float64, len(l.throttles))
	for svc, f := range l.throttles {
		throttles[clean(svc)] = f
	}
	l.mu.Unlock()

	for svc, f := range throttles {
		ch <- prometheus.MustNewConstMetric(l.throttleDesc, prometheus.GaugeValue, f(), svc)
	}

	for k, f := range breakers {
		states[k] = clean(f())
	}
	for k, cur := range states {
		known := false
		for _, st := range breakerStates {
			v := 0.0
			if st == cur {
				v, known = 1, true
			}
			ch <- prometheus.MustNewConstMetric(l.stateDesc, prometheus.GaugeValue, v, k.service, k.method, st)
		}
		if !known && cur != "" {
			ch <- prometheus.MustNewConstMetric(l.stateDesc, prometheus.GaugeValue, 1, k.service, k.method, cur)
		}
	}
	for svc, b := range bulkheads {
		ch <- prometheus.MustNewConstMetric(l.inFlightDesc, prometheus.GaugeValue, float64(b.InFlight()), svc)
		ch <- prometheus.MustNewConstMetric(l.capacityDesc, prometheus.GaugeValue, float64(b.Capacity()), svc)
	}
}
