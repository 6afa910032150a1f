// Package observability holds no code: it is the home of the operator's side of bulwark's
// metrics, checked by its tests against observe/promobs.
//
// # Files
//
//	| file            | what                                                               |
//	|-----------------|--------------------------------------------------------------------|
//	| alerts.yml      | Prometheus alerting rules (load it with rule_files)                |
//	| alerts_test.yml | promtool unit tests of the rules: each alert firing and not firing |
//	| dashboard.json  | a Grafana dashboard (import it; pick a Prometheus data source)     |
//
// The dashboard's variables narrow it to services and, within them, to methods. A panel whose
// metrics all carry a method label follows the method variable, and shows a breaker, bulkhead
// or throttle of the whole service (method empty) whichever method is chosen; a panel with a
// metric that has no method label (the retry ratio, retries and spared attempts, backoff,
// retries exhausted, deadlines, rejections, rate limiter, hedges) stays per service. The
// Retries by attempt panel shows, beside the retries, the attempts a per-attempt timeout that
// cuts overtaken attempts only spared (bulwark_retry_attempts_spared_total): their rise with no
// rise of retries says that a service is slow for every caller, and BulwarkAttemptsSpared
// alerts on it.
//
// # Alerts
//
//	| alert                            | fires when                                                         | for | severity |
//	|----------------------------------|--------------------------------------------------------------------|-----|----------|
//	| BulwarkRetryRateHigh             | retries / calls of a service > 0.2 over 5m (at ≥ 6 calls a minute) | 2m  | warning  |
//	| BulwarkBreakerOpen               | a breaker was open at some point of the last 2m                    | 1m  | critical |
//	| BulwarkBreakerTripping           | a breaker's transitions to open rose (or are new) in the last 10m  | 1m  | warning  |
//	| BulwarkBulkheadSaturated         | bulkhead in flight / capacity ≥ 0.9                                | 5m  | warning  |
//	| BulwarkBulkheadLimitAtFloor      | an adaptive limit at its floor, ≥ half its slots in use over 10m   | 10m | warning  |
//	| BulwarkCallsRefused              | bulkhead, limiter, throttle refusals / calls > 0.05 in 5m (≥ 6/min)| 5m  | warning  |
//	| BulwarkFallbacksServed           | fallbacks / calls of a method > 0.05 in 5m (≥ 6/min)               | 5m  | warning  |
//	| BulwarkRetriesExhausted          | exhausted / calls of a service > 0.05 in 5m, all reasons (≥ 6/min) | 5m  | warning  |
//	| BulwarkRateLimiterDegraded       | the remote rate limiter's fail mode answered in every 2m window    | 5m  | warning  |
//	| BulwarkHedgesHigh                | hedges not refused locally / calls > 0.1 over 10m (≥ 6 calls/min)  | 10m | warning  |
//	| BulwarkAttemptsSpared            | spared / attempts that reached a service > 0.1 in 5m (≥ 6/min)     | 5m  | warning  |
//	| BulwarkAdaptiveThrottleRejecting | a service's (a method's) throttling rejects with probability > 0.5 | 5m  | critical |
//
// BulwarkRetryRateHigh is the early warning: retries rise while a service sickens, before its
// breaker opens. alerts_test.yml holds a scenario in which it fires while BulwarkBreakerOpen
// does not yet. That order holds for breakers that, like the built-in ones, trip on an outage
// and not on a brownout's failure rate. Its 5m window and 2m wait put it 2 + 1/r minutes after
// a sudden failure that makes r retries per call (the window's rate crosses 0.2 after a fifth
// of it over r): about 2.5 minutes in an outage retried twice per call, about 6 in a brownout
// of a quarter of the calls retried once. BulwarkBreakerOpen fires a minute after a trip: with
// a breaker that trips on the first failures, the breaker alert comes first.
// A ratio retry budget caps the retries made: retries and hedges of a service stay at most
// retry.throttle.ratio per call, plus min_per_second, which counts only at low traffic. The
// rate the alert reads is of retries scheduled (bulwark_retries_total counts RetryScheduled),
// and the budget gives back a retry that is then not made: one a bulkhead, rate limiter,
// breaker or throttle below refused, or whose caller left (or whose ClientConn shut down)
// during its backoff. Such retries count in the rate and not against the budget, at most one
// per call, as each ends its call. So a service whose ratio is 0.2 or less (the built-in
// profiles' are 0.5 and 0.6) stays under the threshold however sick it is only while its
// scheduled retries are made; its callers canceling in the backoff (a hedging caller's losers,
// a caller that gives up) or its retries refused locally can take the rate past it. For such
// a service BulwarkRetriesExhausted (reason retry_budget) warns too, once the budget refuses
// retries.
//
// BulwarkHedgesHigh reads the hedges that reached the service: bulwark_hedges_total counts a
// hedge as the hedging policy starts it (HedgeSent), before the policies below it, and a hedge
// that a bulkhead, rate limiter, adaptive throttle or open breaker of the client refuses
// (class rejected) added nothing to the service; the rule takes those off
// (bulwark_hedges_refused_total), so that a service whose hedges are all refused locally does
// not alert, however many are started. Such refusals show on the dashboard's Hedges sent and
// won panel (refused locally), and BulwarkCallsRefused or BulwarkBreakerOpen tell the gate
// that refuses. Against a process whose promobs is older than bulwark_hedges_refused_total the
// rule counts every hedge started, as it did before.
//
// BulwarkAttemptsSpared reads the attempts a per-attempt timeout reached and let run on
// (bulwark_retry_attempts_spared_total): under per_attempt_cut: overtaken, the built-in
// profiles' cut, an attempt at its timeout is cut only if the service has since answered a
// later attempt of the method in under half the timeout, so an attempt spared says that it
// answered nothing faster, for any caller. Such calls run on toward the budget, and they fail
// nothing, retry nothing and open no breaker until they miss their deadline: without this
// alert a service slowed past the timeout (a slowdown, a queue in front of it) warns no one.
// The ratio is of the attempts that reached the service (bulwark_attempts_total without class
// rejected, which a bulkhead the slow service fills would swell), hedges included. With the
// example orchestrator and the built-in profiles it measured 0.72-0.74 in a slowdown of every
// request to 6 s, 0 with 30 % or 50 % of requests hung (hedges and fast answers overtake the
// hung attempts, which are cut), 0 when healthy or at 1 s, and 0.08-0.11 in a queue whose
// median answer took 4 s, at the threshold. A hung attempt is spared too when no later
// attempt comes and is answered within its timeout: with few calls (30 % hung at 12 calls a
// minute: 0.02-0.04, under the threshold), and more often under a profile without hedges whose
// timeout is short beside the time between calls (fast: 300 ms), where hangs at a low call
// rate may fire the alert. A stall of the service fires it only when it lasts about 90 s or
// more.
//
// BulwarkBreakerOpen counts the open state alone, its 2m look-back bridging the half-open
// stretches of a breaker that cycles: a breaker reads half_open from its recovery timeout
// until a call comes to probe it, and one whose callers stopped calling stays half_open,
// rejecting nothing, however long; it does not alert. A probe slower than 2m (a
// slow_call_duration above it) can let the alert resolve until the breaker opens again.
//
// BulwarkBreakerOpen reads the breaker state, which a scrape samples: a breaker that opens and
// closes again between two scrapes (an open interval of a few seconds against a 15-30 s scrape
// interval) reads closed at every one, however often it trips. BulwarkBreakerTripping reads
// its transitions instead, bulwark_breaker_transitions_total{to="open"}, whose series promobs
// makes at 0 when the breaker is put in service (its BreakerPublished), so that increase()
// counts the first trip too; it fires a minute after a trip and resolves 10 minutes after the
// last. increase() sees no rise in a series that first shows up above 0 (a breaker tripped
// before the first scrape that followed its publication: a registry's breaker, made at a
// name's first call, that trips at once; or one of a promobs older than its series at 0), nor
// in a restarted process's count that reads no lower than its predecessor's. The rule counts
// such a series, for 10 minutes from its first sample, where its trips are known to be recent:
//
//   - New within the window, in a process that Prometheus scraped (up == 1) 10 to 20 minutes
//     before without it: promobs never drops a transitions series, so it was made since that
//     scrape. The target's up is what makes this sound. A series back after a scrape gap, after
//     a staleness marker or after an outage of Prometheus itself has no such scrape and does
//     not alert, where x > 0 unless x offset 10m would, on every breaker of the process that
//     ever tripped: the offset instant reads the marker, or nothing, and takes the old series
//     for a new one. A changes() or resets() form sees no change in a series that first shows
//     up at 1, or in a count of 1 that a restart brings back at 1.
//   - Of a process younger than 10 minutes (process_start_time_seconds, which client_golang's
//     process collector exposes, as prometheus.DefaultRegisterer does), the sample scraped
//     after the process started, so that an old process's last count that no staleness marker
//     followed (Prometheus restarted too) is not taken for the new one's: a restart, or a new
//     replica whose target first shows up with the series. A clock of the process that is off
//     moves this part's window by as much.
//
// Both parts can miss a trip but not fire on one of long ago; a restart that brings a breaker
// back at 0, a scrape gap and a breaker forced open (to="forced_open") do not alert. Still
// missed: the first sample above 0 of a new replica, or of a restarted process whose count
// reads no lower than before, when the process exposes no process_start_time_seconds (a
// registry of your own without the process collector; alerts_test.yml's last
// BulwarkBreakerTripping case); a restarted process's series that first shows up about 9 to 11
// minutes after the restart at no less than the old count (too late for the young process,
// too soon after the old series for a new one); and a series whose job and instance labels are
// not those of its target's up (relabelled, or federated). In an outage both alerts fire: the
// breaker is open, and it opened.
//
// A Prometheus server run with --enable-feature=created-timestamp-zero-ingestion needs none of
// the rule's two other parts: it then prefers the protobuf scrape format, in which
// client_golang gives each counter series the time it was made, and writes a 0 sample at that
// time before the series' first one, so that increase() alone counts a series that first shows
// up above 0, after a restart too. The rule keeps them for servers without that flag.
//
// BulwarkCallsRefused counts the refusals of bulkheads, rate limiters and adaptive throttles
// (bulwark_rejections_total, per policy and reason) whenever they come: a bulkhead full in
// bursts refuses calls while the scrapes read its slots below BulwarkBulkheadSaturated's 90 %,
// and a throttle that rejects a third of the calls stays under
// BulwarkAdaptiveThrottleRejecting's 0.5. The breaker's refusals are left to its own alerts.
//
// BulwarkBulkheadSaturated reads an adaptive bulkhead's capacity as its current limit, which
// bulwark_bulkhead_capacity follows: the alert fires when the calls fill the limit, wherever it
// sits. A limit below its ceiling (bulkhead.max_concurrent) was lowered by the service's
// answers, slow ones and failures that mean overload (ResourceExhausted; a transient failure
// that took a healthy answer's time, or any under aimd without latency_threshold; never a
// server fault; see package bulkhead), so raising the ceiling admits no more calls; the
// alert's description says so. The Bulkhead slots panel shows where the limit sits between its
// floor (adaptive.min_limit, bulwark_bulkhead_capacity_floor) and its ceiling
// (bulwark_bulkhead_capacity_ceiling), which only an adaptive bulkhead has.
//
// BulwarkBulkheadLimitAtFloor reads an adaptive bulkhead's limit against its floor,
// bulwark_bulkhead_capacity_floor (adaptive.min_limit), which a fixed bulkhead does not have: it
// fires when the limit has equalled its floor for 10 minutes while the calls kept at least
// half its slots in use on average over the last 10 (the share at which the limit may rise,
// package bulkhead's rule). Such a limit is held down by the service's answers, the service at
// its knee, and the on-call engineer learns of it before callers meet BULKHEAD_FULL
// (BulwarkCallsRefused) or the slots fill (BulwarkBulkheadSaturated, which may come too). A
// limit at its floor with little or no demand is not news: a limit moves only on the answers
// of calls that use it, so one a quiet service left there stays until calls come, and the
// alert stays quiet. Nor does a bulkhead whose floor is its ceiling (min_limit =
// max_concurrent), whose limit cannot move, alert. The remedy is capacity: scaling the
// service; raising max_concurrent lifts a ceiling the limit is far below.
//
// BulwarkAdaptiveThrottleRejecting cannot fire for a throttle whose max_reject_probability
// is 0.5 or less (the default, which the built-in profiles keep, is 0.9): lower its threshold
// for such a throttle (BulwarkCallsRefused warns of its refusals meanwhile).
//
// # The service "*"
//
// A suite serves the calls of services outside its configuration past its bound on them
// (interceptors.WithUnlistedLimit) through one overflow chain, and every event of such a call
// names the service "*" and the method "/*/*": its calls, attempts, retries, hedges, deadlines,
// fallbacks and refusals alike. So every ratio alert above compares, for "*", its own retries,
// refusals, fallbacks or hedges with its own calls, and the labels stay bounded by the suite's
// bound whatever names callers send. An alert on "*" is about those services together; the
// zapobs lines of their calls say in called which method each named.
//
// # Checks
//
// go test ./observability runs promtool check rules and promtool test rules (skipped when
// promtool is not on PATH), checks that the dashboard parses, that every PromQL query in it is
// valid, that the rules and the dashboard query only metrics promobs.MetricNames lists, and
// the dashboard every one of them, that every variable the dashboard refers to is defined
// (TestDashboardVariablesExist), that every alert's description says what to do next and names
// the dashboard panel to open, by a title the dashboard has (TestAlertsPointAtPanels), that
// every panel whose metrics all have a method label follows the method variable and no other
// panel does (TestPanelsFollowMethodVariable), that
// the queries and the variables match, group by and show only labels those metrics have, and
// breaker states, classes and refusing policies they take (TestReferencedLabelsExist), and
// that they read each metric as its type allows: counters and histogram series through rate
// or increase, gauges as they are, quantiles over buckets summed by le
// (TestQueriesFitMetricTypes; or, for the breaker transitions, as a counter's last value less
// its last value a step before). promtool also evaluates the breaker panels on series it is
// given: the state panel keeps a row for each instance (TestBreakerStatePerInstance), and the
// transitions panel's points, each the change of the counter over its step ($__interval, at
// least 1m), add up to the changes over the range (TestBreakerTransitionsAddUp) and count each
// transition once, in whole numbers, in its step: one between two steps' scrapes, one in a
// step whose process restarted, and a breaker's first transition of a kind, whose series
// starts at 1 (TestBreakerTransitionsCountEachOnce).
//
// # Prometheus 2 and 3
//
// promtool here is Prometheus 2's, whose ranges hold their start; Prometheus 3's leave it
// out. The transitions panel reads no range at its step's boundary (last_over_time over 5m,
// now and one step before, ignoring staleness markers as a range does), so it counts the same
// on both; increase over the step did not on Prometheus 3, where a 1m window at a 15s scrape
// holds 4 samples: a change between two windows was counted in neither, and the rest were
// extrapolated to fractions (with Prometheus 3's promtool first on PATH,
// TestBreakerTransitionsCountEachOnce got 0 and 1.33 for steps of 1 change; with it, every
// promtool test here passes, alerts_test.yml's included). The other panels read rates
// over $__rate_interval, a step and a scrape at least, and the rules read windows over twice
// their evaluation interval (1m by default) or gauges: none counts within a window equal to
// its step.
//
// live_test.go (TestLivePrometheus, skipped when the prometheus server is not on PATH) runs a
// real Prometheus with alerts.yml, every duration in it divided by 30 (rate windows 5m → 10s,
// for: 2m → 4s), scraping the orchestrator (-serve, -metrics) and an mlstub every second. It
// drives the stubs from healthy to a 25 % Unavailable brownout to a full outage and back, and
// asserts through the HTTP API that BulwarkRetryRateHigh fires before BulwarkBreakerOpen
// appears, that both resolve after recovery, and that every dashboard query returns data
// during the outage (except the few it lists, with why). It takes about 45 s.
package observability
