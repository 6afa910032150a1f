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
// shares its breaker.
//
// # States
//
//	| state       | admits                          | leaves                                                   |
//	| ----------- | ------------------------------- | -------------------------------------------------------- |
//	| closed      | every call                      | to open when a tripping rule fires                       |
//	| open        | nothing (RetryAfter: time left) | to half_open once RecoveryTimeout has passed             |
//	| half_open   | HalfOpenMaxCalls probes at once | to closed after SuccessThreshold successful probes;      |
//	|             |                                 | to open (a new RecoveryTimeout) on a failed or slow probe |
//	| forced_open | nothing                         | only by Reset (to closed) or Disable                     |
//	| disabled    | every call, counting nothing    | only by Reset (to closed) or ForceOpen                   |
//
// The open → half_open move is lazy: it happens on the first Allow, State or Stats at or after
// the deadline. No goroutine or timer runs in the background.
//
// # What counts
//
// Outcomes are classified by a codes.Classifier (WithClassifier; codes.Default otherwise):
//
//	| class                                | counts as                                 |
//	| ------------------------------------ | ----------------------------------------- |
//	| success, business                    | success (a healthy answer)                |
//	| transient, throttled, server_fault   | failure                                   |
//	| canceled, rejected                   | neither; a half-open probe slot is freed |
//
// So InvalidArgument for an unreadable document never opens the circuit, and a caller that
// cancels does not count against the service. An interceptor also counts a call as neither when
// its invoker panics, or when the caller's context was cancelled.
//
// # Tripping
//
// The closed breaker opens on the first rule that fires:
//
//   - ConsecutiveFailures failures in a row (checked when a failure is recorded);
//   - FailureRateThreshold: the share of failures in the window reaches the threshold, judged
//     when a failure is recorded and only once the window holds MinimumCalls outcomes, so a
//     partial count window is never judged and the call that completes the window must itself
//     be a failure to trip it;
//   - SlowCallRateThreshold: the share of calls slower than SlowCallDuration reaches the
//     threshold, judged when a slow call is recorded, with the same minimum.
//
// The window is the last WindowSize outcomes (WindowCount) or the outcomes of the last
// WindowDuration (WindowTime), kept in ten buckets, so it slides in steps of a tenth of its
// duration. Ignored outcomes never enter it.
//
// # Generations
//
// Every state change starts a new generation. An outcome reported for a call admitted in an
// earlier generation is counted in Stats (Dropped) but does not move the breaker, so a slow call
// from before a trip cannot close or re-open the circuit later, and a stale probe cannot free a
// slot of a later half-open period.
//
// # Events and errors
//
// With WithObserver, the breaker emits observe.BreakerStateChanged (From, To, Reason: one of the
// Reason constants) after each state change, and observe.Rejected (Reason CIRCUIT_OPEN, Delay the
// RetryAfter) for each rejection. Events are emitted outside the breaker's lock; events of
// concurrent changes may reach the sink out of order, and From and To tell each one apart.
//
// A rejection is a *codes.Rejection: status.Code(err) is Unavailable, errors.Is(err, ErrOpen) is
// true, and the status carries a google.rpc.ErrorInfo (reason CIRCUIT_OPEN, domain
// codes.Domain, metadata policy=breaker and service) and, when the wait is known, a
// google.rpc.RetryInfo. RetryAfter is the time left in the open state; in half-open with every
// probe slot taken it is RecoveryTimeout (the longest wait, should a probe fail); a forced-open
// breaker gives none.
//
// # Cost
//
// Allow on a closed breaker is one atomic load; Done takes the breaker's mutex. Neither
// allocates. The clock is read only when slow calls are counted or the window is time based, and
// on state changes. A rejection allocates its error.
package breaker
