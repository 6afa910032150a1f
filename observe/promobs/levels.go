package promobs

import (
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bulwarkrpc/bulwark/internal/breakerstates"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/prometheus/client_golang/prometheus"
)

// BreakerStates are the values of the state label of bulwark_breaker_state, in order: the
// names breaker.State.String returns.
func BreakerStates() []string {
	return []string{"closed", "open", "half_open", "forced_open", "disabled"}
}

var breakerStates = BreakerStates()

// Scrape makes m read the levels of src at every scrape: bulwark_breaker_state (from
// observe.LevelBreakerState readings), bulwark_bulkhead_in_flight and bulwark_bulkhead_capacity
// (observe.LevelInFlight and observe.LevelCapacity of Policy observe.PolicyBulkhead, or of no
// Policy), an adaptive bulkhead's bulwark_bulkhead_capacity_floor and
// bulwark_bulkhead_capacity_ceiling (observe.LevelCapacityFloor and
// observe.LevelCapacityCeiling, of the same Policy) and bulwark_adaptive_throttle_probability
// (observe.LevelThrottleProbability). src is asked again at each scrape, so what it holds then
// is what is shown: give it a suite, a breaker.Registry, a bulkhead, a throttle, or an
// observe.LevelSources of them, and a configuration reload or an object made later needs no
// further call. Readings of other kinds are ignored.
//
// Each call adds a source; sources are read in the order they were added, outside m's locks.
// A nil src is ignored, and so is one that holds a nil pointer or func (a nil
// *interceptors.Suite or *breaker.Registry, left so when the feature it serves is off): its
// Levels would panic at every scrape, in the registry's collecting goroutine, where nothing
// can recover it, and end the program. An observe.LevelSources skips such parts (at any depth)
// itself, as it skips its nil ones.
//
// A source is kept until remove is called or it reports itself closed: a source that
// implements observe.ClosedSource (a suite: interceptors.Suite.Closed) and whose Closed
// reports true is dropped at the next scrape, and m no longer holds it or what it holds, so a
// program that replaces its suite (builds a new one, gives it to Scrape, closes the old) keeps
// no closed suite. remove drops the source of this call from m: from the next scrape on, it is
// not read, and m no longer holds it; calling remove again, or after the source was dropped as
// closed, does nothing. An observe.LevelSources is closed once all its parts are
// (observe.LevelSources.Closed), and dropped so; until then, at each scrape, m lets go of its
// parts that are closed (observe.LevelSources.Open). The BreakerStateChanged events of a
// breaker a source reads do not count while it reads it (see the order below); they count
// again once no kept source reads it: the source was dropped, or no longer reads it (a reload
// of a suite stopped using a breaker of a shared registry, which another suite may still use),
// unless the breaker was retired (observe.Retired) since a source last read it: then its
// source, while kept, hides its later events too (of a call still in flight through it).
// A suite sends its Retired events before it reports itself closed (interceptors.Suite.Close),
// so a scrape that drops it finds its breakers' last event states dropped already.
//
// Which reading wins: a series (a metric and its labels: service, and method for a breaker or a
// bulkhead) is exposed once per scrape, never twice, from the first of, in this order:
//
//  1. the sources given to Scrape, in the order added, and within one source its first
//     reading of that series;
//  2. the objects given to the deprecated TrackBulkhead, TrackBreaker and TrackThrottle;
//  3. for bulwark_breaker_state only, the To of the last BreakerStateChanged (or
//     BreakerPublished) event seen.
//
// A source reads the objects that serve calls now, while a Track registration holds the one it
// was given, which a reload may since have replaced; an event is only the last thing heard. A
// closed suite reads nothing: a suite that replaced it, given to Scrape too, shows its own
// objects' levels, though the closed one was added first.
// A bulkhead's in-flight, capacity, floor and ceiling are separate series: each is taken from
// the first reading of its own kind, but the floor and the ceiling go with the capacity: those
// of a bulkhead whose capacity lost to an earlier reading of the same labels (a method label
// bounded to "other", one name read by two sources) are not shown, so that a fixed bulkhead's
// capacity never shows between another's bounds.
func (m *Metrics) Scrape(src observe.LevelSource) (remove func()) {
	if isNil(src) {
		return func() {}
	}
	s := &scrapeSource{src: src}
	m.levels.mu.Lock()
	m.levels.sources = append(m.levels.sources, s)
	m.levels.mu.Unlock()
	return func() {
		m.levels.mu.Lock()
		m.levels.removeLocked(s)
		m.levels.mu.Unlock()
	}
}

// isNil reports whether v is nil or holds a nil pointer or func, whose methods (a source's
// Levels, a Bulkhead's InFlight) would panic when a scrape calls them.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Pointer, reflect.Func:
		return rv.IsNil()
	}
	return false
}

// scrapeSource is one source given to Scrape: its own, so that remove drops that one even when
// the same source was given twice.
type scrapeSource struct {
	src observe.LevelSource // Guarded by levels.mu; nil once removed.
	// read holds the breakers src read at its last scrape, and those it read before they were
	// retired (levels.sourced counts them), each with the levels.gen of the Collect that last
	// read it. Guarded by levels.mu.
	read map[breakerKey]uint64
	// gen is the levels.gen of the latest Collect that read src and recorded what it read (and
	// kept an observe.LevelSources' open parts): an earlier Collect that finishes later records
	// nothing. Guarded by levels.mu.
	gen uint64
}

// removeLocked drops s from the sources, if it is still there, and lets go of its source.
// l.mu must be held.
func (l *levels) removeLocked(s *scrapeSource) {
	if i := slices.Index(l.sources, s); i >= 0 {
		l.sources = slices.Delete(l.sources, i, i+1)
	}
	for k := range s.read {
		l.unsourcedLocked(k)
	}
	s.src, s.read = nil, nil
}

// Bulkhead is what TrackBulkhead reads: a bulkhead's current number of calls in flight and
// its capacity. Both methods must be safe for concurrent use.
type Bulkhead interface {
	InFlight() int
	Capacity() int
}

// TrackBulkhead exposes b as bulwark_bulkhead_in_flight and bulwark_bulkhead_capacity, read at
// each scrape: a bulkhead is a level, not a stream of events. name is the bulkhead's name as
// given to bulkhead.New: the service (for a bulkhead that serves the whole service, labelled
// method="") or the full method "/pkg.Service/Method" (for the bulkhead of one method, labelled
// with its service and method). Tracking a name again replaces its bulkhead; a nil b (or one
// holding a nil pointer, whose InFlight would panic at the scrape) stops tracking it. A source
// given to Scrape that reads the same bulkhead wins over it (see Scrape).
//
// Deprecated: use Scrape, with the bulkhead itself or with the suite that holds it: it shows
// the bulkhead that serves calls now, even after a reload.
func (m *Metrics) TrackBulkhead(name string, b Bulkhead) {
	k := breakerKeyOf(name)
	var src observe.LevelSource
	if !isNil(b) {
		src = trackedBulkhead{k, b}
	}
	m.levels.track(trackKey{observe.LevelInFlight, k}, src)
}

// TrackBreaker exposes the state that state returns as bulwark_breaker_state, read at each
// scrape. name is the breaker's name as given to breaker.New: the service (for a breaker that
// serves the whole service, labelled method="") or the full method "/pkg.Service/Method" (for a
// method-scoped breaker, labelled with its service and method). state must be safe for
// concurrent use and return one of BreakerStates, such as
//
//	m.TrackBreaker("kyc.v1.OCRService", func() string { return b.State().String() })
//
// Without TrackBreaker (or Scrape), bulwark_breaker_state follows the BreakerStateChanged (and
// BreakerPublished) events; a tracked breaker shows what state returns instead, so that a
// scrape never shows a stale state. Tracking a name again replaces its function; a nil state
// stops tracking it. A source given to Scrape that reads the same breaker wins over it (see
// Scrape).
//
// Deprecated: use Scrape, with the breaker, its breaker.Registry or the suite: it shows the
// breakers that serve calls now, even after a reload.
func (m *Metrics) TrackBreaker(name string, state func() string) {
	k := breakerKeyOf(name)
	var src observe.LevelSource
	if state != nil {
		src = trackedBreaker{k, state}
	}
	m.levels.track(trackKey{observe.LevelBreakerState, k}, src)
}

// TrackThrottle exposes the rejection probability that probability returns (an adaptive
// throttle's Probability) as bulwark_adaptive_throttle_probability with the given service
// label and no method, read at each scrape. Tracking a service again replaces its function; a
// nil probability stops tracking it. A source given to Scrape that reads the same service wins
// over it (see Scrape).
//
// Deprecated: use Scrape, with the throttle or the suite: it shows the throttle that serves
// calls now, even after a reload.
func (m *Metrics) TrackThrottle(service string, probability func() float64) {
	var src observe.LevelSource
	if probability != nil {
		src = trackedThrottle{service, probability}
	}
	m.levels.track(trackKey{observe.LevelThrottleProbability, breakerKey{service: service}}, src)
}

// The Track* registrations, as level sources.

type trackedBulkhead struct {
	k breakerKey
	b Bulkhead
}

func (t trackedBulkhead) Levels(yield func(observe.Level) bool) {
	l := observe.Level{Kind: observe.LevelInFlight, Policy: observe.PolicyBulkhead, Service: t.k.service, Method: t.k.method, Value: float64(t.b.InFlight())}
	if yield(l) {
		l.Kind, l.Value = observe.LevelCapacity, float64(t.b.Capacity())
		yield(l)
	}
}

type trackedBreaker struct {
	k     breakerKey
	state func() string
}

func (t trackedBreaker) Levels(yield func(observe.Level) bool) {
	yield(observe.Level{Kind: observe.LevelBreakerState, Policy: observe.PolicyBreaker, Service: t.k.service, Method: t.k.method, State: t.state()})
}

type trackedThrottle struct {
	service     string
	probability func() float64
}

func (t trackedThrottle) Levels(yield func(observe.Level) bool) {
	yield(observe.Level{Kind: observe.LevelThrottleProbability, Policy: observe.PolicyAdaptiveThrottle, Service: t.service, Value: t.probability()})
}

// breakerKey identifies a breaker (or a bulkhead, or a throttle) as its events do: by service,
// and by method when it is method-scoped (the bulkhead of one method).
type breakerKey struct{ service, method string }

func breakerKeyOf(name string) breakerKey {
	if strings.HasPrefix(name, "/") {
		if i := strings.LastIndexByte(name, '/'); i > 0 {
			return breakerKey{service: name[1:i], method: name}
		}
	}
	return breakerKey{service: name}
}

// trackKey names one Track registration: what it tracks (LevelInFlight for a bulkhead) and
// whose.
type trackKey struct {
	kind observe.LevelKind
	breakerKey
}

// levels is the collector of the gauges read at scrape time.
type levels struct {
	stateDesc, inFlightDesc, capacityDesc, floorDesc, ceilingDesc, throttleDesc *prometheus.Desc

	mu        sync.Mutex
	gen       uint64                           // Guarded by mu. Counts the Collects.
	sources   []*scrapeSource                  // Guarded by mu; Collect copies it under mu.
	tracked   map[trackKey]observe.LevelSource // Guarded by mu.
	lastState map[breakerKey]eventState        // Guarded by mu. From BreakerStateChanged events.
	// sourced counts, for each breaker, the kept Scrape sources that read it at their last
	// scrape, or that read it before it was retired (retired): its state is theirs, and its
	// events do not stand in for it, so that a breaker a reload retired, which its source no
	// longer reads, has no series left, even from a later event of a call in flight through it.
	// Its events are still kept in lastState: once no kept source reads it (a reload stopped
	// using a breaker of a shared registry, which reports none retired; its sources were
	// removed, or closed suites dropped), they count again, as for a breaker of a shared
	// registry that another suite still uses. Guarded by mu.
	sourced map[breakerKey]int
	// retired holds the breakers that a kept source has read and that were retired
	// (observe.Retired) since a source last read them: a source that no longer reads one keeps
	// it (sourcedLocked). Guarded by mu.
	retired map[breakerKey]struct{}
	// gone holds the breaker Instances retired (observe.Retired with an Instance), whatever
	// the labels their Retired mapped to, so that their later events are dropped: kept apart
	// from lastState, it takes no label slot. Guarded by mu.
	gone    goneInstances
	method  func(name string) string // the method label of a full method name (Metrics.method)
	service func(name string) string // the service label of a service name (Metrics.service)
}

func newLevels(cl prometheus.Labels) *levels {
	return &levels{
		stateDesc: prometheus.NewDesc(NameBreakerState,
			"Circuit breaker state: one series per state, 1 for the current state and 0 for the others; method is empty for a breaker that serves the whole service.",
			[]string{labelService, labelMethod, labelState}, cl),
		inFlightDesc: prometheus.NewDesc(NameBulkheadInFlight,
			"Calls holding a bulkhead slot; method is empty for a bulkhead that serves the whole service.",
			[]string{labelService, labelMethod}, cl),
		capacityDesc: prometheus.NewDesc(NameBulkheadCapacity,
			"Bulkhead slots in all: the current limit of an adaptive bulkhead; method is empty for a bulkhead that serves the whole service.",
			[]string{labelService, labelMethod}, cl),
		floorDesc: prometheus.NewDesc(NameBulkheadCapacityFloor,
			"Least an adaptive bulkhead's limit (its capacity) may fall to: its min_limit; a fixed bulkhead has none; method is empty for a bulkhead that serves the whole service.",
			[]string{labelService, labelMethod}, cl),
		ceilingDesc: prometheus.NewDesc(NameBulkheadCapacityCeiling,
			"Most an adaptive bulkhead's limit (its capacity) may rise to: its max_concurrent; a fixed bulkhead has none; method is empty for a bulkhead that serves the whole service.",
			[]string{labelService, labelMethod}, cl),
		throttleDesc: prometheus.NewDesc(NameThrottleProbability,
			"Probability with which client-side adaptive throttling rejects a call now; method is empty for a throttle that serves the whole service.",
			[]string{labelService, labelMethod}, cl),
		tracked:   map[trackKey]observe.LevelSource{},
		lastState: map[breakerKey]eventState{},
		sourced:   map[breakerKey]int{},
		retired:   map[breakerKey]struct{}{},
		method:    func(name string) string { return name },
		service:   func(name string) string { return name },
	}
}

// track registers src under k, or forgets k when src is nil.
func (l *levels) track(k trackKey, src observe.LevelSource) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if src == nil {
		delete(l.tracked, k)
		return
	}
	l.tracked[k] = src
}

// eventState is what the events said of the breakers of one service and method label: the
// state the last BreakerStateChanged said (state empty: none kept, the entry only remembering
// a retired instance), that event's Time and Instance (0: none said), and the Instance last
// retired under the name (0: none), whose later events are dropped. The rule is
// internal/breakerstates' (zapobs' and otelobs'), kept by label (MaxServices, MaxMethods).
type eventState struct {
	state             string
	at                time.Time
	instance, retired uint32
}

// breakerChanged keeps to, said at at by an event of instance (0: unknown), as the state of
// the breaker of service and method (label values), by breakerstates.Replaces (published: a
// BreakerPublished): not for the instance last retired under the name (a call that
// was in flight through it sends its events after its Retired), nor for one among the
// instances retired kept apart (see breakerRetired); for a publication, not over a state the
// same instance said, nor, without an instance, over a later state. It reports whether the
// event is of a breaker in service: false for an event with no state or of an instance
// retired (kept apart), whose series it brings back none of.
func (l *levels) breakerChanged(service, method, to string, at time.Time, instance uint32, published bool) (live bool) {
	if to == "" {
		return false
	}
	k := breakerKey{service, method}
	l.mu.Lock()
	v := l.lastState[k]
	live = instance == 0 || !l.gone.has(instance)
	if live &&
		breakerstates.Replaces(breakerstates.Kept{State: v.state, At: v.at, Instance: v.instance, Retired: v.retired}, instance, at, published) {
		l.lastState[k] = eventState{state: to, at: at, instance: instance, retired: v.retired}
	}
	l.mu.Unlock()
	return live
}

// breakerRetired forgets the state the events of a breaker a suite's reload or Close retired
// (observe.Retired, at the time at which the reload took effect, or of the breaker's last
// change) said: no source reads it any more, and its last event would stand in for it for
// good. With the breaker's instance (not 0), the state that instance said alone is forgotten,
// whatever the Times, and the name keeps the instance to drop its later events (of calls that
// were in flight through it); a state another instance said (a replacement's under the same
// name) is kept. Without, a state from an event after at is kept: a replacement's under the
// same name (a call that started after the reload, a suite made before the Close), whose event
// may reach the sink before the Retired.
//
// The instance (not 0) is kept apart too, among the last MaxRetiredInstances retired, also for
// a name with no state kept: a suite sends a breaker's BreakerPublished after its lock, so its
// Retired (of a Reload or a Close on another goroutine) may come first, and a Retired of a name
// not yet seen is mapped to labels without taking a slot (Metrics.Observe), which need not be
// those its later events map to.
func (l *levels) breakerRetired(service, method string, at time.Time, instance uint32) {
	k := breakerKey{service, method}
	l.mu.Lock()
	if instance != 0 {
		l.gone.add(instance)
	}
	switch st, ok := l.lastState[k]; {
	case !ok:
	case instance != 0:
		st.retired = instance
		if st.instance == instance {
			st.state, st.at, st.instance = "", time.Time{}, 0
		}
		l.lastState[k] = st
	case !st.at.After(at):
		delete(l.lastState, k)
	}
	if l.sourced[k] > 0 {
		l.retired[k] = struct{}{}
	}
	l.mu.Unlock()
}

// MaxRetiredInstances bounds the breaker Instances a Metrics keeps of the Retired events it
// saw, to drop the later events of each (a late BreakerPublished, the changes of calls that were
// in flight through it) whatever its labels: the last 4096 retired, 4 bytes each in a ring and
// a set; past that the oldest is let go first, and its later events count again (for a name
// with a state kept, until another instance of the name is retired).
const MaxRetiredInstances = 4096

// goneInstances is a set of at most MaxRetiredInstances breaker Instances, the oldest evicted
// first. Its zero value is empty. Not safe for concurrent use (levels.mu guards it).
type goneInstances struct {
	set  map[uint32]struct{}
	ring []uint32 // in the order added; ring[next] is the oldest once it is full
	next int
}

func (g *goneInstances) has(instance uint32) bool {
	_, ok := g.set[instance]
	return ok
}

func (g *goneInstances) add(instance uint32) {
	if g.has(instance) {
		return
	}
	if g.set == nil {
		g.set = make(map[uint32]struct{})
	}
	if len(g.ring) < MaxRetiredInstances {
		g.ring = append(g.ring, instance)
	} else {
		delete(g.set, g.ring[g.next])
		g.ring[g.next] = instance
		g.next = (g.next + 1) % MaxRetiredInstances
	}
	g.set[instance] = struct{}{}
}

// Describe implements prometheus.Collector.
func (l *levels) Describe(ch chan<- *prometheus.Desc) {
	ch <- l.stateDesc
	ch <- l.inFlightDesc
	ch <- l.capacityDesc
	ch <- l.floorDesc
	ch <- l.ceilingDesc
	ch <- l.throttleDesc
}

// Collect implements prometheus.Collector. The sources are read outside the lock, each in full
// before anything is sent on ch, so that a source holding a lock of its own while it yields
// does not hold it while the registry drains ch. Precedence is Scrape's.
func (l *levels) Collect(ch chan<- prometheus.Metric) {
	l.mu.Lock()
	l.gen++
	gen := l.gen
	sources := make([]observe.LevelSource, len(l.sources))
	for i, s := range l.sources {
		sources[i] = s.src
	}
	kept := slices.Clone(l.sources)
	tracked := make([]observe.LevelSource, 0, len(l.tracked))
	for _, src := range l.tracked {
		tracked = append(tracked, src)
	}
	l.mu.Unlock()

	var readings []observe.Level
	read := func(lv observe.Level) bool {
		lv.Service = l.service(lv.Service) // bounded as the events' (MaxServices)
		switch lv.Kind {
		case observe.LevelBreakerState, observe.LevelInFlight, observe.LevelCapacity, observe.LevelCapacityFloor,
			observe.LevelCapacityCeiling, observe.LevelThrottleProbability:
			lv.Method = l.method(lv.Method) // bounded as the events' (MaxMethods)
		}
		readings = append(readings, lv)
		return true
	}
	var closed []*scrapeSource
	ends := make([]int, len(sources)) // readings[ends[i-1]:ends[i]] are source i's
	for i, src := range sources {
		if c, ok := src.(observe.ClosedSource); ok && c.Closed() {
			closed = append(closed, kept[i]) // it reads nothing, now or later
		} else {
			if ls, ok := src.(observe.LevelSources); ok {
				// Its closed parts are let go of (below). Open returns ls itself when none
				// is closed: src stays, and costs no new interface value.
				if open := ls.Open(); len(open) != len(ls) || len(ls) > 0 && &open[0] != &ls[0] {
					sources[i] = open
					src = sources[i]
				}
			}
			src.Levels(read)
		}
		ends[i] = len(readings)
	}
	observe.LevelSources(tracked).Levels(read)

	// The events' states stand in for the breakers no kept Scrape source has read (a tracked
	// breaker's events are kept: they take over when it is no longer tracked).
	l.mu.Lock()
	for _, s := range closed {
		l.removeLocked(s)
	}
	start := 0
	for i, s := range kept {
		if s.src != nil && s.gen < gen { // not removed since it was read, nor read by a later Collect
			if _, ok := s.src.(observe.LevelSources); ok {
				s.src = sources[i] // its open parts
			}
			s.gen = gen
			l.sourcedLocked(s, readings[start:ends[i]], gen)
		}
		start = ends[i]
	}
	for k, st := range l.lastState {
		if st.state != "" && l.sourced[k] == 0 {
			readings = append(readings, observe.Level{Kind: observe.LevelBreakerState, Policy: observe.PolicyBreaker, Service: k.service, Method: k.method, State: st.state})
		}
	}
	l.mu.Unlock()

	seen := make(map[trackKey]struct{}, len(readings))
	for _, r := range readings {
		l.emit(ch, r, seen)
	}
}

// sourcedLocked records that source s has read the breakers of rs at the Collect gen. A
// breaker it read before and no longer reads is no longer its, and its events count again
// unless another kept source reads it (a reload of the suite stopped using a breaker of a
// shared registry; a closed part of a LevelSources was let go of), except one retired since it
// was last read, which s keeps: the reload that stopped using it removed it. l.mu must be held.
func (l *levels) sourcedLocked(s *scrapeSource, rs []observe.Level, gen uint64) {
	for _, r := range rs {
		if r.Kind != observe.LevelBreakerState {
			continue
		}
		k := breakerKey{r.Service, r.Method}
		delete(l.retired, k) // read again: a replacement, or in use again
		if _, ok := s.read[k]; !ok {
			if s.read == nil {
				s.read = map[breakerKey]uint64{}
			}
			l.sourced[k]++
		}
		s.read[k] = gen
	}
	for k, at := range s.read {
		if at == gen {
			continue
		}
		if _, ok := l.retired[k]; !ok {
			delete(s.read, k)
			l.unsourcedLocked(k)
		}
	}
}

// unsourcedLocked records that one kept source fewer has read breaker k. l.mu must be held.
func (l *levels) unsourcedLocked(k breakerKey) {
	if l.sourced[k]--; l.sourced[k] <= 0 {
		delete(l.sourced, k)
		delete(l.retired, k)
	}
}

// capacityTaken is the trackKey kind, no observe.LevelKind, under which emit notes in seen
// that a bulkhead's capacity series was taken from an earlier reading than the last one of its
// labels: the floor and ceiling that follow that reading are another bulkhead's.
const capacityTaken observe.LevelKind = 255

// emit sends the series of reading r on ch, unless a series of the same metric and labels was
// sent before in this Collect (seen). A bulkhead's floor and ceiling go with its capacity: they
// are sent only while the capacity series of their labels is the one their bulkhead read (a
// bulkhead yields its levels together, the capacity before its bounds). Two bulkheads may share
// labels (the method or service label bounded to "other", the same name read by two sources):
// the capacity is the first's, and the bounds of a later, adaptive one, sent under the first's
// fixed capacity, made a limit of one bulkhead look held at the floor of another.
func (l *levels) emit(ch chan<- prometheus.Metric, r observe.Level, seen map[trackKey]struct{}) {
	k := trackKey{r.Kind, breakerKey{service: clean(r.Service)}}
	var desc *prometheus.Desc
	switch r.Kind {
	case observe.LevelBreakerState:
		k.method = clean(r.Method)
	case observe.LevelInFlight, observe.LevelCapacity, observe.LevelCapacityFloor, observe.LevelCapacityCeiling:
		if r.Policy != observe.PolicyBulkhead && r.Policy != "" {
			return
		}
		k.method = clean(r.Method)
		switch r.Kind {
		case observe.LevelInFlight:
			desc = l.inFlightDesc
		case observe.LevelCapacity:
			desc = l.capacityDesc
			if _, dup := seen[k]; dup {
				seen[trackKey{capacityTaken, k.breakerKey}] = struct{}{}
			}
		case observe.LevelCapacityFloor:
			desc = l.floorDesc
		default:
			desc = l.ceilingDesc
		}
		if r.Kind == observe.LevelCapacityFloor || r.Kind == observe.LevelCapacityCeiling {
			if _, other := seen[trackKey{capacityTaken, k.breakerKey}]; other {
				return
			}
		}
	case observe.LevelThrottleProbability:
		k.method = clean(r.Method)
		desc = l.throttleDesc
	default:
		return
	}
	if _, dup := seen[k]; dup {
		return
	}
	seen[k] = struct{}{}
	if desc != nil { // a bulkhead's or a throttle's
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, r.Value, k.service, k.method)
		return
	}
	cur := clean(r.State)
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
