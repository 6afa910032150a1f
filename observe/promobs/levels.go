package promobs

import (
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

// TrackBreaker exposes the state state returns as bulwark_breaker_state with the given
// service label, read at each scrape. state must be safe for concurrent use and return one of
// BreakerStates, such as
//
//	m.TrackBreaker("kyc.v1.OCRService", func() string { return b.State().String() })
//
// Without TrackBreaker, bulwark_breaker_state follows the BreakerStateChanged events; a tracked
// service shows what state returns instead, so that a scrape never shows a stale state.
// Tracking a service again replaces its function; a nil state stops tracking it.
func (m *Metrics) TrackBreaker(service string, state func() string) {
	m.levels.mu.Lock()
	defer m.levels.mu.Unlock()
	if state == nil {
		delete(m.levels.breakers, service)
		return
	}
	m.levels.breakers[service] = state
}

// levels is the collector of the gauges read at scrape time.
type levels struct {
	stateDesc, inFlightDesc, capacityDesc *prometheus.Desc

	mu        sync.Mutex
	bulkheads map[string]Bulkhead      // Guarded by mu.
	breakers  map[string]func() string // Guarded by mu.
	lastState map[string]string        // Guarded by mu. From BreakerStateChanged events.
}

func newLevels(cl prometheus.Labels) *levels {
	return &levels{
		stateDesc: prometheus.NewDesc(NameBreakerState,
			"Circuit breaker state: one series per state, 1 for the current state and 0 for the others.",
			[]string{labelService, labelState}, cl),
		inFlightDesc: prometheus.NewDesc(NameBulkheadInFlight,
			"Calls holding a bulkhead slot.",
			[]string{labelService}, cl),
		capacityDesc: prometheus.NewDesc(NameBulkheadCapacity,
			"Bulkhead slots in all.",
			[]string{labelService}, cl),
		bulkheads: map[string]Bulkhead{},
		breakers:  map[string]func() string{},
		lastState: map[string]string{},
	}
}

func (l *levels) breakerChanged(service, to string) {
	if to == "" {
		return
	}
	l.mu.Lock()
	l.lastState[clean(service)] = clean(to)
	l.mu.Unlock()
}

// Describe implements prometheus.Collector.
func (l *levels) Describe(ch chan<- *prometheus.Desc) {
	ch <- l.stateDesc
	ch <- l.inFlightDesc
	ch <- l.capacityDesc
}

// Collect implements prometheus.Collector. The tracked functions are called outside the lock.
func (l *levels) Collect(ch chan<- prometheus.Metric) {
	l.mu.Lock()
	states := make(map[string]string, len(l.lastState)+len(l.breakers))
	for svc, st := range l.lastState {
		states[svc] = st
	}
	breakers := make(map[string]func() string, len(l.breakers))
	for svc, f := range l.breakers {
		breakers[clean(svc)] = f
	}
	bulkheads := make(map[string]Bulkhead, len(l.bulkheads))
	for svc, b := range l.bulkheads {
		bulkheads[clean(svc)] = b
	}
	l.mu.Unlock()

	for svc, f := range breakers {
		states[svc] = clean(f())
	}
	for svc, cur := range states {
		known := false
		for _, st := range breakerStates {
			v := 0.0
			if st == cur {
				v, known = 1, true
			}
			ch <- prometheus.MustNewConstMetric(l.stateDesc, prometheus.GaugeValue, v, svc, st)
		}
		if !known && cur != "" {
			ch <- prometheus.MustNewConstMetric(l.stateDesc, prometheus.GaugeValue, 1, svc, cur)
		}
	}
	for svc, b := range bulkheads {
		ch <- prometheus.MustNewConstMetric(l.inFlightDesc, prometheus.GaugeValue, float64(b.InFlight()), svc)
		ch <- prometheus.MustNewConstMetric(l.capacityDesc, prometheus.GaugeValue, float64(b.Capacity()), svc)
	}
}
