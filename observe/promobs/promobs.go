package promobs

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/bulwarkrpc/bulwark/internal/cowmap"
	"github.com/bulwarkrpc/bulwark/internal/front"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/prometheus/client_golang/prometheus"
	grpccodes "google.golang.org/grpc/codes"
)

// Metric names, as exposed with no const labels. The package documentation describes each.
const (
	NameCalls                   = "bulwark_calls_total"
	NameCallDuration            = "bulwark_call_duration_seconds"
	NameAttempts                = "bulwark_attempts_total"
	NameRetries                 = "bulwark_retries_total"
	NameRetryBackoff            = "bulwark_retry_backoff_seconds"
	NameRetriesExhausted        = "bulwark_retries_exhausted_total"
	NameAttemptsSpared          = "bulwark_retry_attempts_spared_total"
	NameBreakerState            = "bulwark_breaker_state"
	NameBreakerTransitions      = "bulwark_breaker_transitions_total"
	NameBulkheadInFlight        = "bulwark_bulkhead_in_flight"
	NameBulkheadCapacity        = "bulwark_bulkhead_capacity"
	NameBulkheadCapacityFloor   = "bulwark_bulkhead_capacity_floor"
	NameBulkheadCapacityCeiling = "bulwark_bulkhead_capacity_ceiling"
	NameRejections              = "bulwark_rejections_total"
	NameFallbacks               = "bulwark_fallbacks_total"
	NameDeadlinesApplied        = "bulwark_deadlines_applied_total"
	NameLimiterDegraded         = "bulwark_limiter_degraded_total"
	NameHedges                  = "bulwark_hedges_total"
	NameHedgesRefused           = "bulwark_hedges_refused_total"
	NameHedgeWins               = "bulwark_hedge_wins_total"
	NameThrottleProbability     = "bulwark_adaptive_throttle_probability"
)

// MetricNames returns the name of every metric family promobs exposes, in the order of the
// table in the package documentation. Histograms are named once, without the _bucket, _sum
// and _count suffixes of their series. Dashboards and alert rules are checked against it.
func MetricNames() []string {
	return []string{
		NameCalls, NameCallDuration, NameAttempts, NameRetries, NameRetryBackoff,
		NameRetriesExhausted, NameAttemptsSpared, NameBreakerState, NameBreakerTransitions, NameBulkheadInFlight,
		NameBulkheadCapacity, NameBulkheadCapacityFloor, NameBulkheadCapacityCeiling, NameRejections, NameFallbacks, NameDeadlinesApplied,
		NameLimiterDegraded, NameHedges, NameHedgesRefused, NameHedgeWins, NameThrottleProbability,
	}
}

// Label names.
const (
	labelService = "service"
	labelMethod  = "method"
	labelCode    = "code"
	labelClass   = "class"
	labelAttempt = "attempt"
	labelState   = "state"
	labelFrom    = "from"
	labelTo      = "to"
	labelPolicy  = "policy"
	labelReason  = "reason"
)

// ownLabels are the label names a const label must not take: promobs' own, and "le", the
// bucket label of the histograms, which Prometheus refuses there (it panics when a histogram
// child is first made, on a call's path, not when the collector is registered).
var ownLabels = map[string]struct{}{
	labelService: {}, labelMethod: {}, labelCode: {}, labelClass: {}, labelAttempt: {},
	labelState: {}, labelFrom: {}, labelTo: {}, labelPolicy: {}, labelReason: {},
	"le": {},
}

// maxAttemptLabel is the attempt label's last bucket: attempts from it on share "5+".
const maxAttemptLabel = 5

var attemptLabels = [maxAttemptLabel + 1]string{"1", "1", "2", "3", "4", "5+"}

// attemptBucket maps an attempt number to an index of attemptLabels: below 1 counts as 1,
// from maxAttemptLabel on as "5+".
func attemptBucket(n int) uint8 {
	switch {
	case n < 1:
		return 1
	case n >= maxAttemptLabel:
		return maxAttemptLabel
	}
	return uint8(n)
}

// Metrics is an observe.Sink that turns bulwark events into Prometheus metrics, registered on
// the Registerer given to New. It also exposes the levels of bulkheads and breakers given to
// TrackBulkhead and TrackBreaker, read at scrape time.
//
// Metrics is safe for concurrent use. Observe does not block: once a label combination has been
// seen, recording it again takes one atomic load, one map lookup and the metric update, with no
// allocation.
type Metrics struct {
	calls       *prometheus.CounterVec
	callDur     *prometheus.HistogramVec
	attempts    *prometheus.CounterVec
	retries     *prometheus.CounterVec
	backoff     *prometheus.HistogramVec
	exhausted   *prometheus.CounterVec
	spared      *prometheus.CounterVec
	transitions *prometheus.CounterVec
	rejections  *prometheus.CounterVec
	fallbacks   *prometheus.CounterVec
	deadlines   *prometheus.CounterVec
	degraded    *prometheus.CounterVec
	hedges      *prometheus.CounterVec
	refused     *prometheus.CounterVec // hedges refused below the hedging policy
	hedgeWins   *prometheus.CounterVec
	levels      *levels

	// methodCache holds, per service and method label, the call and attempt outcome children
	// (see methodSeries); it is keyed by the method name as events carry it, or by OtherMethod.
	methodCache cache[methodKey, *methodSeries]
	retryCache  cache[retryKey, retrySeries]
	// pairCache serves the eight counters keyed by service and one other string.
	pairCache       cache[pairKey, prometheus.Counter]
	rejectionCache  cache[rejectionKey, prometheus.Counter]
	transitionCache cache[transitionKey, prometheus.Counter]

	// methods and services hold the method and service label values in use, at most
	// MaxMethods and MaxServices.
	methods  boundedLabel
	services boundedLabel
}

// boundedLabel holds the values of a label whose names may come from outside the
// configuration: the first max distinct names are values of their own, every later one is
// other. A known name costs one atomic load and one map lookup.
type boundedLabel struct {
	values cowmap.Map[string, string]
	count  atomic.Int64
	// full is set once the bound is reached and every name learnt is in the map's read-only
	// part, where value's first check looks: from then on a name not found there is other.
	full atomic.Bool
}

func (b *boundedLabel) value(name string, max int64, other string) string {
	if name == "" {
		return ""
	}
	if v, ok := b.values.Load(name); ok {
		return v
	}
	if b.full.Load() || len(name) > observe.MaxKeptName {
		return other // a name too long to keep (a :path may be megabytes) is other too
	}
	full := false
	v := b.values.LoadOrMake(name, func(k string) string {
		n := b.count.Add(1)
		if n > max {
			return other
		}
		full = n == max
		return k
	})
	if full {
		// No name is added from now on, so the map would not merge the names added last
		// into its read-only part, where the check above looks: they would be other from
		// their second use on. Until the Flush, a name is looked up in the recent keys too
		// (LoadOrMake), a name past the bound made other there.
		b.values.Flush()
		b.full.Store(true)
	}
	return v
}

// known returns the label value name has, or would have, without taking a slot for it: its
// own while the bound is not reached (a name seen, even one not yet merged into the map's
// read-only part, is labelled by itself then), other past the bound or when too long. It is
// for an event that names a series without adding one (Retired): an unseen name's value
// labels nothing.
func (b *boundedLabel) known(name, other string) string {
	if name == "" {
		return ""
	}
	if v, ok := b.values.Load(name); ok {
		return v
	}
	if b.full.Load() || len(name) > observe.MaxKeptName {
		return other
	}
	return name
}

// MaxMethods bounds the method label: the first MaxMethods distinct method names a Metrics
// sees are label values of their own; every later one is counted under OtherMethod. Method
// names come from the proto API and are bounded, unless calls bring names from outside it (a
// generic proxy, names from user input): then the series stay bounded, and adding a name costs
// the same however many came before. A name longer than 1024 bytes (observe.MaxKeptName) is
// counted under OtherMethod too, and not kept, however few came before.
const MaxMethods = 1000

// OtherMethod is the method label of the names past MaxMethods.
const OtherMethod = "other"

// method returns the method label for name: name itself while fewer than MaxMethods names have
// been seen, else OtherMethod. A known name costs one atomic load and one map lookup.
func (m *Metrics) method(name string) string { return m.methods.value(name, MaxMethods, OtherMethod) }

// MaxServices bounds the service label as MaxMethods bounds the method label. A suite labels
// the calls of a service it has no entry for with the service's own name, taken from the
// method name: with names from outside the proto API (a generic proxy, names from user input)
// the first MaxServices distinct services are label values of their own, and every later one
// is counted under OtherService, in every family, as is a service longer than 1024 bytes.
const MaxServices = 1000

// OtherService is the service label of the names past MaxServices.
const OtherService = "other"

// service returns the service label for name: name itself while fewer than MaxServices names
// have been seen, else OtherService.
func (m *Metrics) service(name string) string {
	return m.services.value(name, MaxServices, OtherService)
}

var _ observe.Sink = (*Metrics)(nil)

// methodKey is an event's service and method, the method being its full name or, past
// MaxMethods, OtherMethod.
type methodKey struct{ service, method string }

// methodSeries is what one service and method label pair records: the children of the call
// and attempt outcome families, made on first use per code and class and kept in small lists
// that are read without a lock (a method sees few outcomes). Resolving them once per method
// leaves one lookup per event (methodCache) before a short scan.
type methodSeries struct {
	service, method string // label values, cleaned

	mu       sync.Mutex // serialises adding to the lists
	calls    atomic.Pointer[[]outcome[callSeries]]
	attempts atomic.Pointer[[]outcome[prometheus.Counter]]
}

type outcome[V any] struct {
	code  grpccodes.Code
	class codes.Class
	v     V
}

type callSeries struct {
	count    prometheus.Counter
	duration prometheus.Observer
}

// find returns the value for code and class in the list at p, making it with mk under mu
// the first time.
func find[V any](mu *sync.Mutex, p *atomic.Pointer[[]outcome[V]], code grpccodes.Code, class codes.Class, mk func() V) V {
	if l := p.Load(); l != nil {
		for i := range *l {
			if o := &(*l)[i]; o.code == code && o.class == class {
				return o.v
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	var old []outcome[V]
	if l := p.Load(); l != nil {
		old = *l
		for _, o := range old {
			if o.code == code && o.class == class {
				return o.v
			}
		}
	}
	v := mk()
	next := append(old[:len(old):len(old)], outcome[V]{code: code, class: class, v: v})
	p.Store(&next)
	return v
}

// series returns the outcome series of service and method (a full method name as events
// carry it). A name past MaxMethods shares its service's OtherMethod series and is not kept.
func (m *Metrics) series(service, method string) *methodSeries {
	k := methodKey{service, method}
	if s, ok := m.methodCache.loadHinted(front.Hint(service, method), k); ok {
		return s
	}
	k.service, k.method = m.service(service), m.method(method)
	return m.methodCache.get(m, k, newMethodSeries)
}

func newMethodSeries(_ *Metrics, k methodKey) *methodSeries {
	return &methodSeries{service: clean(k.service), method: clean(k.method)}
}

// codeOther stands for every code past the canonical ones (grpc-go passes a server's
// grpc-status on as any int32): they share one series, labelled OtherCode.
const codeOther = grpccodes.Code(1<<32 - 1)

// OtherCode is the code label of the codes outside the canonical 17 (OK to Unauthenticated),
// which a server may send: they share it, so that the label stays bounded.
const OtherCode = "other"

func boundCode(c grpccodes.Code) grpccodes.Code {
	if c > grpccodes.Unauthenticated {
		return codeOther
	}
	return c
}

func codeLabel(c grpccodes.Code) string {
	if c == codeOther {
		return OtherCode
	}
	return c.String()
}

func (s *methodSeries) call(m *Metrics, code grpccodes.Code, class codes.Class) callSeries {
	code = boundCode(code)
	return find(&s.mu, &s.calls, code, class, func() callSeries {
		cl := class.String()
		return callSeries{
			count:    m.calls.WithLabelValues(s.service, s.method, codeLabel(code), cl),
			duration: m.callDur.WithLabelValues(s.service, s.method, cl),
		}
	})
}

func (s *methodSeries) attempt(m *Metrics, code grpccodes.Code, class codes.Class) prometheus.Counter {
	code = boundCode(code)
	return find(&s.mu, &s.attempts, code, class, func() prometheus.Counter {
		return m.attempts.WithLabelValues(s.service, s.method, codeLabel(code), class.String())
	})
}

type retryKey struct {
	service string
	attempt uint8
}

type retrySeries struct {
	count   prometheus.Counter
	backoff prometheus.Observer
}

// pairKey is the key of pairCache: a counter vector and its two label values (the service,
// then a reason or method). The vector tells apart the counters that share the cache.
type pairKey struct {
	vec     *prometheus.CounterVec
	service string
	other   string
}

type rejectionKey struct{ service, policy, reason string }

type transitionKey struct{ service, method, from, to string }

// New makes the metrics, registers them on reg and returns them, ready to be passed to the
// policies as their observe.Sink. It returns an error, and registers nothing, when an option
// is invalid or when reg refuses a collector (for instance because a Metrics with the same
// const labels is already registered on it). A nil option is ignored.
func New(reg prometheus.Registerer, opts ...Option) (*Metrics, error) {
	if reg == nil {
		return nil, ErrNilRegisterer
	}
	cfg := defaultConfig()
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o.apply(&cfg); err != nil {
			return nil, err
		}
	}
	cl := cfg.constLabels
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: cl}, labels)
	}
	m := &Metrics{
		calls: counter(NameCalls,
			"Logical calls finished, each once however many attempts it made, by result code and class.",
			labelService, labelMethod, labelCode, labelClass),
		callDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:        NameCallDuration,
			Help:        "Duration of logical calls in seconds, retries and backoff sleeps included, by result class.",
			ConstLabels: cl,
			Buckets:     cfg.durationBuckets,
		}, []string{labelService, labelMethod, labelClass}),
		attempts: counter(NameAttempts,
			"Attempts finished, by result code and class.",
			labelService, labelMethod, labelCode, labelClass),
		retries: counter(NameRetries,
			"Retries scheduled, by the number of the attempt that failed (1 to 4, then 5+).",
			labelService, labelAttempt),
		backoff: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:        NameRetryBackoff,
			Help:        "Backoff sleeps before retries in seconds.",
			ConstLabels: cl,
			Buckets:     cfg.backoffBuckets,
		}, []string{labelService}),
		exhausted: counter(NameRetriesExhausted,
			"Calls that failed for good after a retryable outcome, by why no further attempt was made.",
			labelService, labelReason),
		spared: counter(NameAttemptsSpared,
			"Attempts a per-attempt timeout that cuts overtaken attempts only (per_attempt_cut: overtaken) reached and let run on, by the attempt's number (1 to 4, then 5+): the service answered no later attempt in under half the timeout, so it is slow for every caller, not stalled on one request. A rise says so before any breaker sees a failure.",
			labelService, labelAttempt),
		transitions: counter(NameBreakerTransitions,
			"Circuit breaker state transitions; method is empty for a breaker that serves the whole service.",
			labelService, labelMethod, labelFrom, labelTo),
		rejections: counter(NameRejections,
			"Attempts refused by a bulwark policy before reaching the service, by policy and ErrorInfo reason.",
			labelService, labelPolicy, labelReason),
		fallbacks: counter(NameFallbacks,
			"Calls answered by a fallback in place of an error.",
			labelService, labelMethod),
		deadlines: counter(NameDeadlinesApplied,
			"Calls whose deadline the deadline policy set or shortened, by why.",
			labelService, labelReason),
		degraded: counter(NameLimiterDegraded,
			"Rate limiter decisions answered by the fail mode because the remote limiter could not be asked.",
			labelService, labelReason),
		hedges: counter(NameHedges,
			"Hedged attempts started, by why (delay: the hedging delay passed with no answer); those a bulwark policy below refused (bulwark_hedges_refused_total) included.",
			labelService, labelReason),
		refused: counter(NameHedgesRefused,
			"Hedged attempts a bulwark policy below the hedging policy refused (class rejected), which reached no service, by why they were sent.",
			labelService, labelReason),
		hedgeWins: counter(NameHedgeWins,
			"Hedged calls answered by an attempt other than the first.",
			labelService, labelMethod),
		levels: newLevels(cl),
	}
	m.levels.method = m.method
	m.levels.service = m.service
	var done []prometheus.Collector
	for _, c := range []prometheus.Collector{
		m.calls, m.callDur, m.attempts, m.retries, m.backoff, m.exhausted, m.spared, m.transitions,
		m.rejections, m.fallbacks, m.deadlines, m.degraded, m.hedges, m.refused, m.hedgeWins, m.levels,
	} {
		if err := reg.Register(c); err != nil {
			for _, d := range done {
				reg.Unregister(d)
			}
			return nil, err
		}
		done = append(done, c)
	}
	return m, nil
}

// Observe implements observe.Sink. Events of an unknown kind are ignored.
func (m *Metrics) Observe(e observe.Event) {
	switch e.Kind {
	case observe.CallFinished:
		m.callOf(e).record(e.Duration)
	case observe.AttemptFinished:
		m.attemptOf(e).Inc()
		if e.Class == codes.Rejected && e.Reason != "" {
			// A hedge (the only attempt with a Reason: why it was sent) that a policy below
			// refused: its HedgeSent counted it, though it reached no service.
			m.hedgeRefused(e.Service, e.Reason)
		}
	case observe.RetryScheduled:
		s := m.retryCache.getBounded(m, retryKey{e.Service, attemptBucket(e.Attempt)}, boundRetry, newRetrySeries)
		s.count.Inc()
		s.backoff.Observe(e.Delay.Seconds())
	case observe.RetriesExhausted:
		m.pairCache.getHintedBounded(front.Hint(e.Service, e.Reason), m, pairKey{m.exhausted, e.Service, e.Reason}, boundPair, newPairCounter).Inc()
	case observe.AttemptSpared:
		m.pairCache.getBounded(m, pairKey{m.spared, e.Service, attemptLabels[attemptBucket(e.Attempt)]}, boundPair, newPairCounter).Inc()
	case observe.BreakerStateChanged:
		m.transitionCache.getBounded(m, transitionKey{e.Service, m.method(e.Method), ownFrom(&e), e.To}, boundTransition, newTransitionCounter).Inc()
		if e.FoldedTrips != 0 || e.FoldedReopens != 0 {
			m.foldedOpens(e)
		}
		m.levels.breakerChanged(m.service(e.Service), m.method(e.Method), e.To, e.Time, e.Instance, false)
	case observe.BreakerPublished:
		// A breaker put in service: its state before its first change, and no transition, but
		// its transitions series at 0 (publishedTransitions).
		method := m.method(e.Method)
		if m.levels.breakerChanged(m.service(e.Service), method, e.To, e.Time, e.Instance, true) {
			m.publishTransitions(e.Service, method)
		}
	case observe.Retired:
		if e.Policy == observe.PolicyBreaker {
			// Looked up, not learnt: a name never seen has no state to drop, and takes no slot;
			// its Instance is kept apart from the labels, to drop the instance's later events.
			m.levels.breakerRetired(m.services.known(e.Service, OtherService), m.methods.known(e.Method, OtherMethod), e.Time, e.Instance)
		}
	case observe.Rejected:
		m.rejectionCache.getBounded(m, rejectionKey{e.Service, e.Policy, e.Reason}, boundRejection, newRejectionCounter).Inc()
	case observe.FallbackServed:
		m.pairCache.getBounded(m, pairKey{m.fallbacks, e.Service, m.method(e.Method)}, boundPair, newPairCounter).Inc()
	case observe.DeadlineApplied:
		m.deadlineOf(e).Inc()
	case observe.LimiterDegraded:
		m.pairCache.getHintedBounded(front.Hint(e.Service, e.Reason), m, pairKey{m.degraded, e.Service, e.Reason}, boundPair, newPairCounter).Inc()
	case observe.HedgeSent:
		m.pairCache.getHintedBounded(front.Hint(e.Service, e.Reason), m, pairKey{m.hedges, e.Service, e.Reason}, boundPair, newHedgeCounter).Inc()
	case observe.HedgeWon:
		m.pairCache.getBounded(m, pairKey{m.hedgeWins, e.Service, m.method(e.Method)}, boundPair, newPairCounter).Inc()
	}
}

// callOf returns the series of CallFinished event e.
func (m *Metrics) callOf(e observe.Event) callSeries {
	return m.series(e.Service, e.Method).call(m, e.Code, e.Class)
}

// record counts and times a CallFinished event of duration d. It takes the one field it
// reads, not the event: an event passed on by value is copied again at each call.
func (s callSeries) record(d time.Duration) {
	s.count.Inc()
	s.duration.Observe(d.Seconds())
}

// attemptOf returns the counter of AttemptFinished event e.
func (m *Metrics) attemptOf(e observe.Event) prometheus.Counter {
	return m.series(e.Service, e.Method).attempt(m, e.Code, e.Class)
}

// hedgeRefused counts a hedge of service, sent for reason, that a policy below refused. It
// looks its series up without the front table: refusals are rare, and their key would take
// over the slot of the hedges series of the same service and reason (front.Hint).
func (m *Metrics) hedgeRefused(service, reason string) {
	m.pairCache.getBounded(m, pairKey{m.refused, service, reason}, boundPair, newPairCounter).Inc()
}

// deadlineOf returns the counter of DeadlineApplied event e.
func (m *Metrics) deadlineOf(e observe.Event) prometheus.Counter {
	return m.pairCache.getHintedBounded(front.Hint(e.Service, e.Reason), m, pairKey{m.deadlines, e.Service, e.Reason}, boundPair, newPairCounter)
}

// The bounds below turn a key not in its cache yet into the key it is stored under: its
// service bounded by MaxServices (its method was bounded when the key was built).

func boundRetry(m *Metrics, k retryKey) retryKey { k.service = m.service(k.service); return k }

func boundPair(m *Metrics, k pairKey) pairKey { k.service = m.service(k.service); return k }

func boundRejection(m *Metrics, k rejectionKey) rejectionKey {
	k.service = m.service(k.service)
	return k
}

func boundTransition(m *Metrics, k transitionKey) transitionKey {
	k.service = m.service(k.service)
	return k
}

// The makers below run once per new key, under the cache's lock.

func newRetrySeries(m *Metrics, k retryKey) retrySeries {
	svc := clean(k.service)
	return retrySeries{
		count:   m.retries.WithLabelValues(svc, attemptLabels[k.attempt]),
		backoff: m.backoff.WithLabelValues(svc),
	}
}

func newPairCounter(_ *Metrics, k pairKey) prometheus.Counter {
	return k.vec.WithLabelValues(clean(k.service), clean(k.other))
}

// newHedgeCounter makes the bulwark_hedges_total series of k, and with it, at 0, the
// bulwark_hedges_refused_total series of the same labels, which a refused hedge's
// AttemptFinished then finds (newPairCounter, under the same bounded service): a series that
// first shows up at 1 is a rise rate() does not see, and an alert that subtracts the refused
// hedges from those sent would read the first refusal as a hedge that reached the service.
func newHedgeCounter(m *Metrics, k pairKey) prometheus.Counter {
	m.refused.WithLabelValues(clean(k.service), clean(k.other))
	return newPairCounter(m, k)
}

func newRejectionCounter(m *Metrics, k rejectionKey) prometheus.Counter {
	return m.rejections.WithLabelValues(clean(k.service), clean(k.policy), clean(k.reason))
}

// ownFrom is the from label of the transition BreakerStateChanged e counts as its own: its
// From, but for an event that a breaker folded several changes into, the from of its last
// change (observe.Event.LastFrom), so that it counts a transition the breaker made, not From
// → To (closed → open → half_open is an open → half_open, not a closed → half_open), and each
// from-series of to="open" counts the trips and reopens the breaker made.
func ownFrom(e *observe.Event) string {
	if from := e.LastFrom.String(); from != "" {
		return from
	}
	return e.From
}

// foldedOpens counts the transitions to open that a breaker folded into e while its sink was
// held (observe.Event.FoldedTrips, FoldedReopens), in the series of their own from (closed,
// half_open), so that to="open" counts every open the breaker made, those e's From → To does
// not show included, each in the series of its from as e's own (ownFrom) is.
func (m *Metrics) foldedOpens(e observe.Event) {
	method := m.method(e.Method)
	if e.FoldedTrips != 0 {
		m.transitionCache.getBounded(m, transitionKey{e.Service, method, "closed", "open"}, boundTransition, newTransitionCounter).Add(float64(e.FoldedTrips))
	}
	if e.FoldedReopens != 0 {
		m.transitionCache.getBounded(m, transitionKey{e.Service, method, "half_open", "open"}, boundTransition, newTransitionCounter).Add(float64(e.FoldedReopens))
	}
}

// publishedTransitions are the transitions whose bulwark_breaker_transitions_total series a
// breaker has from its BreakerPublished on, at 0: those of its own cycle (closed → open, open →
// half_open, half_open → open, half_open → closed) and an operator's first action on the
// closed breaker it was put in service as (ForceOpen, Disable). A series made at a breaker's
// first change of a kind would start at 1, and increase() over a series that starts at 1
// counts nothing: the first trip of a breaker that opened and closed again between two
// scrapes would be seen by no alert. The other transitions (an operator's from open or
// half_open, and those from forced_open or disabled) get their series at their first change,
// as before.
var publishedTransitions = [...]struct{ from, to string }{
	{"closed", "open"}, {"open", "half_open"}, {"half_open", "open"}, {"half_open", "closed"},
	{"closed", "forced_open"}, {"closed", "disabled"},
}

// publishTransitions makes the publishedTransitions series of the breaker of service and
// method (a method label value), through transitionCache, as its first changes would, so that
// they are bounded as theirs (MaxServices, MaxMethods) and found there by them. It runs once
// per BreakerPublished, never for a call.
func (m *Metrics) publishTransitions(service, method string) {
	for _, t := range publishedTransitions {
		m.transitionCache.getBounded(m, transitionKey{service, method, t.from, t.to}, boundTransition, newTransitionCounter)
	}
}

func newTransitionCounter(m *Metrics, k transitionKey) prometheus.Counter {
	return m.transitions.WithLabelValues(clean(k.service), clean(k.method), clean(k.from), clean(k.to))
}

// clean makes s a valid label value: Prometheus wants UTF-8.
func clean(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
