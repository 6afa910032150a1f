// Package breaker is bulwark's circuit breaker: it stops calling a service that is failing, so
// the service can recover and callers fail fast instead of piling up behind it.
//
// # Use
//
// The policy works without gRPC, in two steps:
//
//	b, err := breaker.New("kyc.v1.OCRService", breaker.Config{ConsecutiveFailures: 5})
//	p, err := b.Allow() // a *codes.Rejection wrapping ErrOpen when the circuit is open
//	if err != nil {
//		return err
//	}
//	err = call()
//	p.Done(err) // classify err and record it
//
// or in one, b.Execute(call). For gRPC, b.Unary() and b.Stream() guard a connection with one
// breaker; UnaryClientInterceptor and StreamClientInterceptor find the breaker of each call's
// service (or method, with ScopeMethod) in a Registry, so that every connection to a service
// shares its breaker (they take no name: it is the call's). A name longer than 1024 bytes (a
// proxy forwards the :path it is sent, which may be megabytes) is not kept: its calls share the
// breaker "/<service>/*" of their service's long method names (ScopeMethod), or "/*/*"
// (ScopeMethod) or "*" (ScopeService) when the service's name is the long one, as a suite's
// overflow chains name theirs. Nor is a new name once the registry holds 16384 (a proxy may
// name ever new services): it shares "*", "/*/*", or its service's "/<service>/*" if that
// breaker exists already. They return cfg's error; the
// MustUnaryClientInterceptor and MustStreamClientInterceptor forms that panic are deprecated.
//
// An Option (WithClock, WithObserver, WithClassifier, WithService, WithRegistry) is given to
// New or the interceptors and is not a grpc.CallOption: passing one to a call does not compile.
// What one call may change is a CallOption: WithCallClassifier classifies that call's outcome
// with another classifier. Reading it allocates nothing.
//
// # States
//
//	| state       | admits                          | leaves                                                   |
//	| ----------- | ------------------------------- | -------------------------------------------------------- |
//	| closed      | every call                      | to open when a tripping rule fires                       |
//	| open        | nothing (RetryAfter: time left) | to half_open once the open interval has passed           |
//	| half_open   | HalfOpenMaxCalls probes at once | to closed after SuccessThreshold successful probes;      |
//	|             |                                 | to open (a longer interval) on a failed or slow probe,   |
//	|             |                                 | or when every slot has been taken for HalfOpenMaxWait    |
//	| forced_open | nothing                         | only by Reset (to closed) or Disable                     |
//	| disabled    | every call, counting nothing    | only by Reset (to closed) or ForceOpen                   |
//
// The open → half_open move is lazy: it happens on the first Allow, State or Stats at or after
// the deadline. So is the move back to open when the probes never report (a probe's late report
// makes it too), but as of the wait's end: see below. No goroutine or timer runs in the
// background.
//
// # Probes that never report
//
// A probe holds its slot until its outcome is reported, and a probe may never report: a stream
// nobody reads, a call with no deadline to a service that hangs, a Permit from Allow that is
// never returned. With every slot held so, the half-open breaker would refuse every call for
// ever. HalfOpenMaxWait bounds that: once every slot has been taken for that long (timed from
// the taking of the last free one) with no probe reporting, the breaker gives up on them and
// reopens, as after a failed probe, for the next, longer interval, with reason
// half_open_max_wait (ReasonHalfOpenMaxWait); the next interval admits fresh probes, and the
// given-up probes' reports, when they come, are dropped (see Generations). The breaker gives up
// as of the wait's end, whenever something next looks at it: the next interval runs from then,
// the event is timed then, and a report that comes after it is dropped even when nothing has
// looked in between, so that a caller told when to come back (RetryAfter, below) finds fresh
// probes admitted (a report at its very end, before anything else looked, is in time: a probe
// of exactly SlowCallDuration, which HalfOpenMaxWait may equal, is a fast one). A free slot admits calls however long the half-open period lasts, so probes
// that report one after another (SuccessThreshold above HalfOpenMaxCalls) are not cut short.
//
// The default, 1m (or SlowCallDuration, if longer), is above the deadline of nearly any RPC, so
// a probe that is merely slow gets to answer, and twice the default RecoveryTimeout, so probes
// that hang cost about one or two open intervals more than a failed probe does. There is no
// "off": a wait too short gives up on healthy probes (Validate refuses one below
// SlowCallDuration), but no wait at all lets one lost Permit stop the pipeline. Resilience4j
// has a like bound (maxWaitDurationInHalfOpenState), off by default and timed from the start of
// the half-open state.
//
// # What counts
//
// Outcomes are classified by a codes.Classifier (WithClassifier; codes.Default otherwise; in a
// suite, a method sharing its service's breaker with a classifier of its own has its outcomes
// classified by its own, see ScopeService):
//
//	| class                                | counts as                                 |
//	| ------------------------------------ | ----------------------------------------- |
//	| success, business                    | success (a healthy answer)                |
//	| transient, throttled, server_fault   | failure                                   |
//	| canceled, rejected                   | neither; a half-open probe slot is freed |
//
// So InvalidArgument for an unreadable document never opens the circuit, and a caller that
// cancels does not count against the service. An interceptor also counts a call as neither when
// its invoker (or a method of its stream) panics, or when the caller's context was cancelled. A call whose caller's context
// had already ended when it reached the breaker (its deadline passed before the call) goes on
// to grpc, which fails it before sending anything, without asking the breaker: it counts
// nothing and takes no probe's slot, even when the circuit is open. A deadline that passes
// during the call is a failure (DeadlineExceeded, transient): the service was too slow.
//
// # Tripping
//
// The closed breaker opens on the first rule that fires:
//
//   - ConsecutiveFailures failures in a row (checked when a failure is recorded);
//   - FailureRateThreshold: the share of failures in the window reaches the threshold, judged
//     when a failure is recorded and only once the window holds MinimumCalls outcomes, so a
//     window holding fewer is never judged and the call that brings it to MinimumCalls must
//     itself be a failure to trip it. MinimumCalls defaults to a count window's size (a partial
//     window is then never judged); set lower (the built-in profiles judge a window of 100 from
//     20 calls), a count window is judged while it fills. With FailureRateConfidence the share must be significantly over
//     the threshold: the Wilson score lower bound of the window's rate, at that one-sided
//     confidence, must reach it (see Brownout or outage; FailuresToTrip gives the counts). A
//     count window too short for that evidence even when every call in it fails is refused
//     by Validate;
//   - SlowCallRateThreshold: the share of calls slower than SlowCallDuration reaches the
//     threshold, judged when a slow call is recorded, with the same minimum. A call's time
//     runs from its admission, and includes what it waits below the breaker (a rate-limit
//     token, a bulkhead slot): SlowCallDuration belongs above those waits.
//
// The window is the last WindowSize outcomes (WindowCount) or the outcomes of the last
// WindowDuration (WindowTime), kept in ten buckets, so it slides in steps of a tenth of its
// duration (a duration that is not a whole multiple of 10 ns takes an eleventh, and holds an
// outcome up to a tenth longer). Ignored outcomes never enter it.
//
// # Brownout or outage
//
// A brownout (a share of calls fail at random, the rest succeed) is not an outage, and a
// breaker that reads one as the other turns a service that answers 70% of calls into one that
// answers none. With 32 callers in parallel a service sees about 100 outcomes a second, and the
// reference rules (5 failures in a row, or 50% of the last 20 from 10) then trip by luck: 5 in
// a row comes once in about 4 000 outcomes at 20% failure, and 10 of 20 often at 30%. The
// built-in profiles ask for evidence instead:
//
//   - ConsecutiveFailures 20. Parallel callers interleave their outcomes, but random failures
//     are independent whoever reports them, so a run of L arises by chance at a rate of
//     (1-F)·F^L per outcome: at 100 outcomes/s, about 90 times an hour for L = 5 and F = 0.2
//     (the reference's 380 in the table below adds its failure-rate rule), and 3e-9 for
//     L = 20 (9e-6 at F = 0.3). Concurrency changes only the outcomes per second, by
//     which those figures scale. A real outage still trips in 20 calls: 0.2 s at that rate.
//   - The failure rate over 100 calls (fast: 200), judged from 20 (fast: 40), at
//     FailureRateConfidence 0.999: it trips at 17 failures of 20, 36 of 50, 66 of 100 (fast:
//     30 of 40, 122 of 200): at a true rate of 30% that is 5 standard deviations above the mean
//     at 20 calls and 8 at 100.
//     It catches a service failing most calls with the odd success between, which never makes
//     a run of 20.
//
// Expected false trips per hour in the steady state, and the chance of one while the window
// refills after a close, at random failure rate F (computed, not simulated: see below):
//
//	| profile  | outcomes/s | F = 0.2  | F = 0.3  | F = 0.4  | F = 0.5 | per close, F = 0.3 | calls to trip at F = 1 |
//	| -------- | ---------- | -------- | -------- | -------- | ------- | ------------------ | ---------------------- |
//	| ml, ocr  | 100        | 3.0e-9   | 8.8e-6   | 0.015    | 55      | 1.3e-6             | 20                     |
//	| fast     | 100        | 3.0e-9   | 8.8e-6   |          |         | 1.6e-8             | 20                     |
//	| fast     | 1 000      | 3.0e-8   | 8.8e-5   | 0.025    | 480     | 1.6e-8             | 20                     |
//	| ml (old) | 100        | 380      | 4 500    | 15 000   | 21 000  | 0.41               | 5                      |
//
// The last row is the reference's rules, for comparison. At F = 0.5 the rate sits at the
// threshold and the breaker trips now and then; that is the configured line, and the short first
// open interval keeps the cost of such a trip to about a second.
//
// How: a breaker trips at the first outcome that makes a rule fire, so the expected number of
// such outcomes in an hour bounds the chance of a trip in that hour, and equals it when it is
// small. A run reaches L at an outcome with probability (1-F)·F^L; the failures in a full
// window of n first reach k (FailuresToTrip) when the window held k-1, a success leaves and a
// failure enters: P(Bin(n-1, F) = k-1)·(1-F)·F. While a window of n' < n fills after a close,
// a trip needs k(n')-1 failures among n'-1 and a failure: summed over n', at most
// Σ F·P(Bin(n'-1, F) ≥ k(n')-1). The calls to trip at F = 1 are counted by feeding failures to
// the breaker after a window of successes (the slowest case). The figures are recomputed by
// TestBuiltinFalseTripFigures from config/builtin.yaml; TestBuiltinBrownoutNeverTrips feeds
// each built-in breaker two million seeded outcomes at 30%, interleaved as 32 callers make them
// at 100 a second, and asserts that none opens (the reference rules open within a second of
// the same traffic); TestBuiltinOutageTripsFast asserts the trip in at most 20 calls.
//
// Correlated failures are another matter: a blip that fails every call for 0.2 s at 100
// outcomes/s is an outage of 0.2 s, and trips. The open interval below keeps its cost short.
//
// # Recovery
//
// A trip from the closed state opens the breaker for InitialRecoveryTimeout. A failed (or slow)
// probe reopens it for the last interval times RecoveryMultiplier, up to RecoveryTimeout; the
// next trip after the breaker closes (or after Reset) starts again from InitialRecoveryTimeout.
// Polly's BreakDurationGenerator, Resilience4j's interval function in the open state and
// Envoy's ejection time × times ejected do the same. Growth bounds what probes cost a service
// that stays down; it also sets how late the breaker learns that the service is back: up to
// the last interval after the outage ended, which with ×2 is as long as the outage so far. The
// built-ins therefore grow to 1 s only (0.75 s, then 1 s; fast 0.5 s, then 1 s): every outage
// is probed within 1 s of its end, whatever its length (TestBuiltinOutageProbeSchedule), for
// one request a second to a service that is down. Doubling up to 30 s probed 0.75, 2.25, 5.25,
// 11.25, 23.25 s ... after the trip: a 5 s outage closed at the third probe, 0.25 s after its
// end, but a 6 s one 5.25 s after it and a 12 s one 11.25 s after. With the example
// orchestrator at 50 verifications/s, over 12 outages of 2-15 s, the arrivals lost beyond an
// outage's length went from 3.13 s on average (8.7 s at most) to 0.36 s (0.7 s at most).
// Without InitialRecoveryTimeout every open interval is RecoveryTimeout, as before.
//
// # Generations
//
// Every state change starts a new generation. An outcome reported for a call admitted in an
// earlier generation is counted in Stats (Dropped) but does not move the breaker, so a slow call
// from before a trip cannot close or re-open the circuit later, and a stale probe (one given up
// on after HalfOpenMaxWait among them) cannot free a slot of a later half-open period.
//
// # Events and errors
//
// With WithObserver, the breaker emits observe.BreakerStateChanged (From, To, Reason: one of the
// Reason constants; Delay, when To is open, the open interval chosen; LastFrom, FoldedTrips
// and FoldedReopens, for changes folded while the sink was held: see below) after each state
// change, and observe.Rejected (Reason CIRCUIT_OPEN, Delay the RetryAfter) for each rejection, which the
// rejected call sends itself. Before any of them it sends one observe.BreakerPublished (its
// state then, closed), once (Breaker.Publish): New sends it before it returns, a Registry's Get
// (and so UnaryClientInterceptor and StreamClientInterceptor) before the registry holds the
// breaker, a suite when the build that made it commits; a breaker a Registry holds sends
// observe.Retired when Get or a suite's build replaces it or Delete forgets it, unless a suite
// holds it, which retires it itself (see Registry). Either way the Retired goes to the
// breaker's own observer, once (Breaker.Retire). Its
// BreakerStateChanged, BreakerPublished and Retired events carry its Instance
// (Breaker.Instance), which tells them from another breaker's of the same name.
//
// State changes reach the sink one at a time, in the order they were made: each event's From is
// the To before it and their Times never go back, so a consumer that keeps the last state seen
// (otelobs, promobs' bulwark_breaker_state without Scrape) keeps the breaker's. The sink is
// never called under the breaker's lock. A change is queued under it, and the call that made it
// sends the queue once it has let go of the lock, unless another call is sending it already:
// then that call sends this change too, after the earlier ones, and this one returns at once.
// So a call may return before its change has reached the sink, and a call whose sink is slow
// may send the changes others made meanwhile. A sink may call back into the breaker from
// Observe (State or Stats, which make a due change, Reset, Allow): the changes so made are
// queued and reach it after the event it is observing.
//
// That order is among state changes alone. A rejection's observe.Rejected is sent by the
// refused call itself, not through the queue, so that a slow sink never holds up a refusal: it
// may reach the sink before the change that made the breaker refuse (another call tripped it
// and has not sent its change yet). Its Time is not earlier than that change's; an observer
// that needs the two in order orders them by Time.
//
// Should the sink panic (or end its goroutine: runtime.Goexit), the changes still queued are
// sent all the same, and the panic then goes on, with its own stack, on the goroutine that was
// sending (as observe.Multi passes an event on past a sink that panics); the breaker goes on
// working, and the next change is sent by the call that makes it. When the panicking
// goroutine's Allow had admitted a call (the turn to half-open, whose first probe it is), that
// call goes back as one that counts as neither, since its caller never gets it.
//
// At most 16 changes wait while the sink is busy with an earlier one (a sink that blocks). Past
// that, a change is folded into the newest waiting one, which then leads from its own From to
// the new To, with the new Reason, Time and Delay (two that cancel out, open → half_open →
// open, say, leave the one before them with the new Reason, Time and Delay), so a held sink
// costs no more memory and, once free, still sees a chain of changes ending in the breaker's
// state. Stats.StateChanges counts every change, folded or not. Its From → To may be a pair
// the breaker never made (closed → open → half_open reads closed → half_open), so a folded
// event tells the from of its own last change, the one to its To, in LastFrom: LastFrom → To
// is always a transition the breaker made (open → half_open, there), and an observer that
// counts transitions (promobs' bulwark_breaker_transitions_total) counts LastFrom → To, not
// From → To. It also counts the transitions to open folded into it that LastFrom → To is
// not: FoldedTrips those from closed, FoldedReopens those from half_open (each up to
// 65535), so that closed → open → half_open carries FoldedTrips 1 and closed → open →
// half_open → open, read as closed → open, carries FoldedTrips 1 and LastFrom half_open: an
// observer that counts opens counts To == open and both counts, every open the breaker made,
// and by their from, LastFrom's for To == open, one trip and one reopen, as the breaker made
// them. An event of one change carries 0 in all three (its From → To is its change). The
// other transitions folded away (open → half_open, half_open → closed, an operator's) are
// counted nowhere: a counter of them falls short by as many as a held sink folded.
//
// A rejection is a *codes.Rejection: status.Code(err) is Unavailable, errors.Is(err, ErrOpen) is
// true, and the status carries a google.rpc.ErrorInfo (reason CIRCUIT_OPEN, domain
// codes.Domain, metadata policy=breaker and service) and, when the wait is known, a
// google.rpc.RetryInfo. RetryAfter is the time left in the open state. In half-open with every
// probe slot taken it is the longest a caller may have to wait: should no probe report, the
// time left until HalfOpenMaxWait gives up on them, plus the next open interval that follows
// (a probe that fails reopens the breaker for that interval sooner; one that succeeds, or
// gives its slot back, admits a call at once). A forced-open breaker gives none.
//
// # Cost
//
// Allow on a closed breaker is one atomic load; Done takes the breaker's mutex, and with
// FailureRateConfidence a recorded failure costs one square root more. Neither allocates. The
// clock is read only when slow calls are counted or the window is time based, on state
// changes, by Stats, by the open and half-open breaker's Allow and State (to end the open
// interval, to time HalfOpenMaxWait), and by a probe's report while every slot is taken. A
// rejection allocates its error; a breaker with an observer, its queue of changes, once, on its
// first change.
package breaker
