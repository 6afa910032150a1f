// Package promobs turns the bulwark event stream into Prometheus metrics.
//
// New registers the collectors on the prometheus.Registerer you pass and returns a *Metrics,
// which is an observe.Sink: hand it to the policies (alone or with observe.Multi). The policies
// themselves never import Prometheus.
//
//	metrics, err := promobs.New(prometheus.DefaultRegisterer)
//	...
//	metrics.Scrape(suite) // breaker states, bulkhead levels and throttle probabilities, read live
//
// # Metrics
//
// Every name starts with the bulwark_ namespace; durations are in seconds; counters end in
// _total. MetricNames lists the names; the dashboard and alert rules in observability/ are
// checked against it.
//
//	| metric                            | type      | labels                       | from                               |
//	|-----------------------------------|-----------|------------------------------|------------------------------------|
//	| bulwark_calls_total               | counter   | service, method, code, class | CallFinished                       |
//	| bulwark_call_duration_seconds     | histogram | service, method, class       | CallFinished Duration              |
//	| bulwark_attempts_total            | counter   | service, method, code, class | AttemptFinished                    |
//	| bulwark_retries_total             | counter   | service, attempt             | RetryScheduled                     |
//	| bulwark_retry_backoff_seconds     | histogram | service                      | RetryScheduled Delay               |
//	| bulwark_retries_exhausted_total   | counter   | service, reason              | RetriesExhausted                   |
//	| bulwark_retry_attempts_spared_total | counter | service, attempt             | AttemptSpared                      |
//	| bulwark_breaker_state             | gauge     | service, method, state       | Scrape / BreakerStateChanged       |
//	| bulwark_breaker_transitions_total | counter   | service, method, from, to    | BreakerStateChanged (0: Published) |
//	| bulwark_bulkhead_in_flight        | gauge     | service, method              | Scrape                             |
//	| bulwark_bulkhead_capacity         | gauge     | service, method              | Scrape                             |
//	| bulwark_bulkhead_capacity_floor   | gauge     | service, method              | Scrape (adaptive bulkheads)        |
//	| bulwark_bulkhead_capacity_ceiling | gauge     | service, method              | Scrape (adaptive bulkheads)        |
//	| bulwark_rejections_total          | counter   | service, policy, reason      | Rejected                           |
//	| bulwark_fallbacks_total           | counter   | service, method              | FallbackServed                     |
//	| bulwark_deadlines_applied_total   | counter   | service, reason              | DeadlineApplied                    |
//	| bulwark_limiter_degraded_total    | counter   | service, reason              | LimiterDegraded                    |
//	| bulwark_hedges_total              | counter   | service, reason              | HedgeSent                          |
//	| bulwark_hedges_refused_total      | counter   | service, reason              | AttemptFinished of a refused hedge |
//	| bulwark_hedge_wins_total          | counter   | service, method              | HedgeWon                           |
//	| bulwark_adaptive_throttle_probability | gauge | service, method              | Scrape                             |
//
// The capacity of an adaptive bulkhead is its current limit, so bulwark_bulkhead_capacity follows
// the limit as it moves, between bulwark_bulkhead_capacity_floor (its min_limit) and
// bulwark_bulkhead_capacity_ceiling (its max_concurrent), which only an adaptive bulkhead has: a
// fixed bulkhead's capacity is its max_concurrent, and never moves. A limit equal to its floor
// while calls fill it was held down by slow answers or overload failures: the service is at its
// knee (observability's BulwarkBulkheadLimitAtFloor). TrackBulkhead (deprecated) exposes no floor
// or ceiling: Scrape the bulkhead, or the suite. A bulkhead is told apart by service and method,
// as a breaker and an adaptive throttle are: method is empty for a bulkhead that serves the whole
// service and the full method for the bulkhead of one method (a method with a bulkhead of its own
// in a suite's configuration), so that a service's bulkhead and its method's are two series, both
// labelled with the service; the method label is bounded by MaxMethods, as everywhere.
//
// bulwark_hedges_total counts every hedge the hedging policy started (HedgeSent comes as a
// hedge starts, before it passes the policies below the hedging policy), so it counts too the
// hedges one of those refused (a full bulkhead, the rate limit, the throttle, an open breaker:
// the hedge's AttemptFinished has class rejected), which reached no service.
// bulwark_hedges_refused_total counts those, by the same labels, from that AttemptFinished
// (the only attempt whose event carries a Reason, why it was sent, is a hedge); a rejection a
// bulwark client further down the line made, which crossed a process boundary with bulwark's
// ErrorInfo, is class rejected too, and counts as the hedging policy takes it, as refused. So
// does a hedge the hedging policy left unsent because an observer panicked on its HedgeSent
// (after promobs counted it, in an observe.Multi): its AttemptFinished has class rejected.
// promobs makes a service's refused series at 0 with its first hedge, so that rate() counts
// the first refusal too. The hedges that reached the service are the difference:
//
//	sum by (service) (rate(bulwark_hedges_total[10m])) - sum by (service) (rate(bulwark_hedges_refused_total[10m]))
//
// which observability's BulwarkHedgesHigh reads. bulwark_hedge_wins_total over that is how
// often a hedge pays off; hedges that rarely win are load for nothing.
//
// The retry rate, sum by (service) (rate(bulwark_retries_total[5m])) over the same of
// bulwark_calls_total, is the early warning to watch: it rises while a service sickens, before
// its breaker opens. A retry counts when the retry loop schedules it (RetryScheduled), so one
// that a policy below refuses, or that is never sent because its caller gave up during the
// backoff, counts too: the example orchestrator's summary, which counts the retries made (an
// attempt after the first that finished), may read fewer.
//
// bulwark_retry_attempts_spared_total counts the attempts a retry policy's per-attempt timeout
// reached and let run on (AttemptSpared), by service and the attempt's number, bucketed as
// bulwark_retries_total's: under per_attempt_cut: overtaken (the built-in ml, ocr and fast
// profiles) an attempt is cut at its timeout only when the service answered a later attempt of
// the method in under half the timeout; otherwise it is spared. A spared attempt is neither a
// failure nor a retry, so no other series shows it: its rate over that of the attempts that
// reached the service (bulwark_attempts_total, class not rejected) says that the service has
// slowed down for every caller, before a breaker or the retry rate does (observability's
// BulwarkAttemptsSpared alert fires past a tenth for 5 minutes).
//
// # Labels
//
// Label values are bounded, in number and in size: a service or method name longer than 1024
// bytes (a proxy forwards the :path it is sent, which may be megabytes) is "other" however few
// names came before, and is not kept. A suite's calls past its bound on unlisted services
// (interceptors.WithUnlistedLimit) are labelled service "*" and method "/*/*" in every
// family, as their events name them. No per-request value (time, duration, payload, metadata)
// is ever a label, and events carry no payload to begin with.
//
//	| label   | values                                                                                                                             |
//	|---------|------------------------------------------------------------------------------------------------------------------------------------|
//	| service | the fully qualified gRPC service, e.g. kyc.v1.OCRService: its first MaxServices (1000) distinct names, then "other" (OtherService) |
//	| method  | the full gRPC method, e.g. /kyc.v1.OCRService/Extract: its first MaxMethods (1000) distinct names, then "other" (OtherMethod)      |
//	| code    | the gRPC code name: OK, Unavailable, DeadlineExceeded, ...; "other" (OtherCode) for a code past Unauthenticated                    |
//	| class   | the codes.Class name: success, transient, throttled, business, canceled, server_fault, rejected                                    |
//	| attempt | the attempt that failed before a retry: 1, 2, 3, 4, then 5+                                                                        |
//	| state   | BreakerStates: closed, open, half_open, forced_open, disabled                                                                      |
//	| from,to | breaker states, as in state                                                                                                        |
//	| policy  | the observe.Policy* constant of the refusing policy: breaker, bulkhead, rate_limit, adaptive_throttle                              |
//	| reason  | the observe.Reason* constants; for rejections the ErrorInfo reason (CIRCUIT_OPEN, ...); for the limiter fail_open or fail_closed   |
//
// Invalid UTF-8 in a label value is replaced by U+FFFD.
//
// # Breaker state
//
// bulwark_breaker_state is a state set: for each breaker one series per state, 1 for the
// current state and 0 for the others, so that bulwark_breaker_state{state="open"} == 1 selects
// the open breakers and the sum over state is always 1. A state outside BreakerStates gets its
// own series. A breaker is told apart by service and method, as its events are: method is empty
// for a breaker that serves the whole service (breaker.ScopeService) and the full method for a
// method-scoped one. For a breaker a source given to Scrape reads, the state is read at scrape
// time, and its events do not stand in for it while a kept source reads it. Once no kept source
// reads it (its sources removed, closed suites dropped, or a reload of the suite stopped using
// it), its events count again: the breaker of a registry that a suite shared with another shows
// the state the last event said. A breaker a reload retired (observe.Retired) has no series
// left: its source, while kept, hides its later events too, until it reads the breaker again.
// For the others it is the To of the last BreakerStateChanged (or BreakerPublished) event seen
// (the breaker emits its events outside its lock, so under a race of transitions the last event
// seen may be an older one: prefer Scrape), until a suite's reload or Close retires the breaker
// (observe.Retired: the reload removed the breaker or replaced it under its name, or the suite
// was closed): then that state is dropped, and the breaker has no series left until another
// breaker of the same service and method sends an event. The events of a suite's breakers, and
// its Retired events, carry the breaker's Instance, by which the rule of zapobs and otelobs
// tells breakers of one name apart: a Retired drops the state of that instance alone (a
// replacement's, whose event may reach the sink before the Retired, is kept whatever the
// Times), and the later events of the retired instance (of a call that was in flight through
// it, and its BreakerPublished should it come after the Retired) are dropped too, whatever
// labels they map to, as long as it is among the last MaxRetiredInstances (4096) instances
// retired; their transitions are still counted. Events without an Instance (an emitter of your
// own) keep the Time rule: a state whose event's Time is after the Retired's (the time at which
// the reload took effect; for a Close, the breaker's own last state change) is kept, one at the
// same Time or before is dropped whichever breaker of that name sent it, and a later event
// brings the series back (see observe.Retired). The method label is bounded by MaxMethods, as
// everywhere: breakers whose names share a label share their series. A BreakerPublished event
// (a breaker put in service, with its first state: a suite's, a breaker.Registry interceptors'
// at a name's first call, or breaker.New's) is no transition: promobs counts none for it, but
// takes its state as a BreakerStateChanged's, so that with events alone a breaker in service
// reads closed from the start, not only after its first change; a publication that reaches the
// sink after a change of the same instance (or, without an Instance, after a later change) does
// not undo it. A breaker a source given to Scrape reads shows its source's state, as before.
//
// # Breaker transitions
//
// A BreakerPublished also makes the breaker's bulwark_breaker_transitions_total series at 0,
// for the transitions of its own cycle (closed → open, open → half_open, half_open → open,
// half_open → closed) and an operator's first action on it (closed → forced_open, closed →
// disabled), so that its first trip is an increase from 0: increase() over a series that
// first shows up at 1 counts nothing, and a breaker that opens and closes again between two
// scrapes, which bulwark_breaker_state never shows open, is seen by its transitions alone
// (observability/alerts.yml's BulwarkBreakerTripping). The other transitions (an operator's
// out of open or half_open, and those out of forced_open or disabled) get their series at
// their first change, as before; so does the change a breaker made before its publication
// reached the sink (at 1), the publication making the series of the others at 0, and every
// change of a breaker whose publication came from an instance already retired, which makes
// no series. An event that a breaker folded several changes into while its sink was held
// (package breaker: at most 16 wait) counts its own transition, its last change, from the
// state that change was made from (observe.Event.LastFrom), not its From → To, the first
// folded change's from to the last one's to, which may be a pair the breaker never made:
// closed → open → half_open, folded into closed → half_open, counts open → half_open, and
// closed → open → half_open → open, folded into closed → open, counts half_open → open. It
// counts too the transitions to open folded into it that its own is not
// (observe.Event.FoldedTrips, FoldedReopens), in the closed → open and half_open → open
// series: so every series counts a transition the breaker made, and each from-series of
// to="open" exactly the trips (closed) and the reopens (half_open) it made, though the held
// sink saw fewer events. The other transitions folded away (open → half_open, half_open →
// closed, an operator's) are counted nowhere: their series fall short by as many as were
// folded. A breaker published and tripped between two scrapes still shows up at 1:
// BulwarkBreakerTripping counts such a series where it is new within its window in a process
// Prometheus scraped without it, or of a process younger than the window
// (process_start_time_seconds), and observability's doc says what it still misses. The
// series are bounded as every transitions series is (MaxServices, MaxMethods): one per pair of
// states the breaker moved between, fifteen per breaker label set at most (its cycle's four,
// and an operator's ForceOpen, Disable and Reset from each other state), of which the six
// above start at 0. A retired breaker's transitions series are kept, those at 0 too, as its
// counted transitions always were: a replacement under the same name counts on in them, and
// the late changes of calls that were in flight through the retired one are counted there.
//
// # Levels
//
// Bulkheads are levels, not events, and so are breaker states and an adaptive throttle's
// rejection probability. Scrape registers an observe.LevelSource (a suite, a breaker.Registry,
// a bulkhead, a throttle, or observe.LevelSources of them) that is read at every scrape, so a
// scrape shows the objects the source holds then, after a configuration reload too. A source is
// kept until the function Scrape returns removes it or, for a suite, until the suite is closed:
// a closed suite is dropped at the next scrape, and Metrics holds it no longer; so is an
// observe.LevelSources whose parts are all closed, and one whose other parts live keeps them
// alone. A series is
// exposed once per scrape: a source's reading wins over the deprecated TrackBulkhead,
// TrackBreaker and TrackThrottle registrations, which win over the breaker events (see Scrape).
//
// # Cost
//
// Metric children are made once per label combination and cached: the call and attempt
// children per service and method (made on first use of each code and class), the others per
// label set. Recording a known combination is an atomic load, one map lookup (a short scan for
// the outcome) and the metric update, and allocates nothing; the caches keep every key they
// make (the keys of services past MaxServices share their bounded key's entry and keep none of
// their own), so however many services and methods there are, a known combination is never
// made again (BenchmarkObserveManyServices).
// The two events of a successful call cost about 85 ns (BenchmarkObserveSuccess, the best of 5
// runs on a loaded 2-core machine, against 225 ns with the per-label-set lookups this replaced),
// 0 allocs, serial or parallel. After 10 000 services were recorded, a call of a later service
// (past MaxServices, its method past MaxMethods) costs more: its key is not in the caches, so
// its service and method names are looked up, then the OtherService and OtherMethod series
// (BenchmarkObserveManyServices: a median of 288 ns at 10 000 services against 77 ns at 1 and
// 100, 5 runs on a loaded 2-core machine).
//
// A bulwark suite sends a chain's call, attempt and deadline events to the chain's own sink
// (ForMethod, observe.Scoper), which keeps the series of its method's successful calls and
// attempts and of its deadline reason in itself: a successful call's events then update their
// series without the lookups. With the caches cold, as a gRPC round trip between two calls
// leaves them, that saves about 70 to 100 ns per call (the benchmarks module's
// BenchmarkSuiteOwnCold); warm, the lookups cost little and it saves nothing measurable.
//
// # Concurrency
//
// *Metrics is safe for concurrent use: Observe, Scrape, the Track functions and scrapes may run
// at the same time. Sources must be safe for concurrent use, as observe.LevelSource requires.
package promobs
