// Package zapobs writes the bulwark event stream as structured zap log lines: a retry trace an
// operator can follow call by call.
//
//	sink := zapobs.New(logger)
//	// pass sink to the policies, alone or with observe.Multi(metrics, sink)
//
// # Lines
//
// One line per event, at the level below unless WithLevel says otherwise. The lines carry the
// fields listed, in this order, and no other: events hold no request or response payload and
// no metadata, and zapobs adds none. Durations are zap durations (the encoder decides their
// form: seconds as a float in zap's production JSON, a string such as "100ms" in development).
//
//	| event               | level | message               | fields                                                             |
//	|---------------------|-------|-----------------------|--------------------------------------------------------------------|
//	| AttemptFinished     | debug | attempt finished      | service, method, attempt, code, class, duration, [breaker]         |
//	| CallFinished        | debug | call finished         | service, method, attempts, code, class, duration                   |
//	| RetryScheduled      | warn  | retry scheduled       | service, method, attempt, code, class, delay, [reason], [breaker]  |
//	| RetriesExhausted    | error | retries exhausted     | service, method, attempts, code, class, reason, elapsed, [breaker] |
//	| BreakerStateChanged | info* | breaker state changed | service, [method], from, to, reason, [open_for], [last_from], [folded_trips], [folded_reopens] |
//	| Rejected            | warn  | call rejected         | service, method, policy, reason, code, retry_after, [breaker]      |
//	| Rejected of a hedge | warn  | hedge rejected        | service, method, attempt, policy, reason, code, retry_after, [breaker] |
//	| FallbackServed      | info  | fallback served       | service, method, code, class, [reason]                  |
//	| DeadlineApplied     | debug | deadline applied      | service, method, timeout, reason                        |
//	| LimiterDegraded     | warn  | rate limiter degraded | service, [method], reason                               |
//	| HedgeSent           | debug | hedge sent            | service, method, attempt, reason, after                 |
//	| HedgeWon            | debug | hedge won             | service, method, attempt, code, duration                |
//	| LimitChanged        | info  | concurrency limit changed | service, [method], limit, algorithm, latency        |
//	| Retired             | info  | policy object retired | service, [method], policy                               |
//	| BreakerPublished    | debug | breaker published     | service, [method], state                                |
//	| AttemptSpared       | warn  | attempt spared        | service, method, attempt, timeout                       |
//
// * warn for a change to open or forced_open: the line that explains the rejections that
// follow it, kept at least as visible as they are (WithLevel sets every transition's level).
// But the probe lines are debug (WithProbeLevel sets theirs): open → half_open as the open
// interval ends, and half_open → open when the probe fails. A breaker writes two for each open
// interval while its service stays down, and the built-in ones probe every second: at info and
// warn, an outage reads as its trip (warn) and the close that ends it (info), and the
// transitions metric counts every probe.
// So is a line that stands for several changes, which a breaker folded into one while the
// sink was held (package breaker: at most 16 wait), when transitions to open were folded
// into it: folded_trips counts those from closed, folded_reopens those from half_open,
// besides its own change (observe.Event.FoldedTrips, FoldedReopens). Its from is the first
// change's and its to the last one's, a pair the breaker may never have made: every line
// that stands for several changes, opens folded into it or not, has last_from, the state its
// last change was made from (observe.Event.LastFrom), so
// that last_from → to is the change the breaker made: closed → open → half_open, logged as
// from closed to half_open, says last_from open and folded_trips 1 (a trip, then open →
// half_open); closed → open → half_open → open, logged as from closed to open, says
// last_from half_open and folded_trips 1: one trip and one reopen, not two trips. The other
// changes folded into it (open → half_open, half_open → closed, an operator's) are on no
// line. A line of one change has none of the three fields.
//
// An attempt spared line says that a retry policy's per-attempt timeout, which cuts overtaken
// attempts only (per_attempt_cut: overtaken), came and let the attempt run on: the service
// answered no later attempt of the method in under half the timeout, so it is slow for every
// caller, not stalled on this request. Its attempt is numbered over the call as an attempt
// finished line's; timeout is the per-attempt timeout. It is at warn, as a retry is: the first
// sign of a slowdown, before any failure.
//
// Retry, rejection, exhausted and fallback-served lines come one per call: under a brownout,
// by the thousand (a fallback answers every call its breaker refuses, each with a line). A
// program that wants its log to stay readable then moves them to debug and reads the rates
// from metrics, keeping the breaker's and the limiter's state changes at warn, as the example
// orchestrator does for the first three (examples/orchestrator/app/digest.go; it has no
// fallback).
//
// A Rejected event with an Attempt is a hedge that a policy below the hedging one refused
// while the call went on without it, which the hedging policy tells the call's sink alone
// (observe.WithCallSink: a sink of this package given there, a request-scoped logger's, say):
// its line is "hedge rejected", with the hedge's attempt, at the level of Rejected lines, not
// "call rejected", since the call was not. The refusing policy's own Rejected, to the suite's
// sink, has no Attempt.
//
// A Rejected line from the adaptive throttle carries probability (the rejection probability at
// the time) in place of retry_after. A LimitChanged line carries method when the event names
// one: the bulkhead's own method for the bulkhead of one method (whose service is then its
// method's, so that its line is told from its service's bulkhead's), else the method of the
// call whose sample moved the limit. A LimiterDegraded line carries method when the event
// names one; a fleet-wide limiter's (redislimit) names its service alone. A Retired line (a
// suite's reload retired a breaker, a bulkhead or an adaptive throttle) carries method for the
// object of one method.
//
// # The breaker field
//
// The lines of a call's failure (a failed attempt, a retry, retries exhausted, a rejection by
// any policy) end with breaker: the state of the breaker guarding the call, as that breaker's
// last BreakerStateChanged (or BreakerPublished) event said (whatever the level of its own
// line, even off): the method-scoped breaker of the call's method, else that of its service's
// overflow chain ("/<service>/*", which serves the names past the suite's bound), else the
// service's. So an operator reads "retry 2 of /kyc.v1.OCRService/Extract, Unavailable, delay
// 400ms, breaker half_open" on one line. zapobs learns states from events alone: every breaker
// given the sink sends a BreakerPublished when it is put in service, with its state then
// (closed for a breaker just made), and a BreakerStateChanged for each change after it: a
// suite's (interceptors.WithObserver), a breaker.Registry interceptors' (breaker.WithObserver,
// at its name's first call, before the call) and breaker.New's. So a call that a breaker guards
// has breaker from the start, closed until the breaker first changes. A line without breaker is
// of a call that no breaker guards, or whose breaker zapobs has no state of: one whose observer
// is another sink, or one past the bounds below. A BreakerPublished that comes after a change
// of the same breaker (its state read before that change) is not kept over it. A breaker's
// Retired event forgets its state. The events of a suite's breakers carry the breaker's
// Instance (observe.Event.Instance): a Retired forgets that breaker's state alone, not a
// replacement's under the same name whatever the Times, and the retired breaker's later events
// (of calls that were in flight through it) are dropped. Without an Instance, a Retired forgets
// the state unless its event is later than the Retired's Time (see observe.Retired). zapobs
// keeps the states of 4096 breakers at most, and none of a name longer than
// observe.MaxKeptName: the calls of a breaker past them have no breaker field. A call of an
// unlisted service past the suite's bound (the suite's overflow chain) names the service "*"
// and the method "/*/*" on every line, as its breaker does: its lines have the breaker field as
// any call's. A rejection may reach the sink before the state change that made the breaker
// refuse (the breaker sends a change after it lets go of its lock; see package breaker): its
// breaker field then holds the state before.
//
// A service or method name longer than observe.MaxKeptName (1024 bytes; a proxy forwards the
// :path it is sent, which may be megabytes long) is written clipped (observe.Clip): its first
// 1024 bytes, then "…(+N bytes)".
//
// The fields:
//
//	| field       | what                                                                                                                     |
//	|-------------|--------------------------------------------------------------------------------------------------------------------------|
//	| service     | the fully qualified gRPC service, e.g. kyc.v1.OCRService                                                                 |
//	| method      | the full gRPC method; on breaker lines only for a method-scoped breaker, on limit lines only when the event names one,   |
//	|             | on retired lines only for the object of one method                                                                       |
//	| attempt     | the attempt that finished (or failed, before a retry), numbered 1, 2, ... over the call's retries                        |
//	|             | and hedges alike; on a hedge line, the hedge sent, refused, or the attempt that won                                      |
//	| attempts    | how many attempts (requests sent, hedges included) the call made                                                         |
//	| code        | the gRPC code name, e.g. Unavailable                                                                                     |
//	| class       | the codes.Class name: success, transient, throttled, business, ...                                                       |
//	| duration    | how long the attempt, or the whole call, took                                                                            |
//	| delay       | the sleep before the next attempt: the backoff schedule's, or the server's pushback (then reason is pushback)            |
//	| reason      | why: an observe.Reason* constant, a breaker reason, an ErrorInfo reason such as CIRCUIT_OPEN, or fail_open / fail_closed |
//	|             | on a retry line only when the server's pushback (RetryInfo, grpc-retry-pushback-ms) chose the delay: pushback            |
//	|             | on a fallback line only when the fallback answered a policy's refusal (class rejected): its reason, e.g. CIRCUIT_OPEN    |
//	| elapsed     | how long the call took, retries and sleeps included                                                                      |
//	| from, to    | breaker states: closed, open, half_open, forced_open, disabled                                                           |
//	| state       | on a breaker published line, the breaker's state when it was put in service (closed for a breaker just made)             |
//	| open_for    | on a breaker line to open: how long the breaker stays open before it half-opens (grows with each failed probe)          |
//	| policy      | the refusing policy: breaker, bulkhead, rate_limit, adaptive_throttle                                                    |
//	|             | on a retired line, the retired object's: breaker, bulkhead, adaptive_throttle                                            |
//	| retry_after | when the caller may come back; 0 when the policy cannot tell                                                             |
//	| timeout     | the deadline the deadline policy set                                                                                     |
//	| after       | how long after the first attempt of its round (the call's first, unless a retry began the round) a hedge was sent        |
//	| limit       | an adaptive bulkhead's new concurrency limit                                                                             |
//	| algorithm   | the adaptive limit's algorithm: aimd, gradient                                                                           |
//	| latency     | the latency sample that moved the limit                                                                                  |
//	| probability | the adaptive throttle's rejection probability when it rejected the call                                                  |
//	| breaker     | on a failed call's lines, the last state the breaker guarding the call reported (see The breaker field): closed, open,   |
//	|             | half_open, forced_open, disabled; absent while zapobs has seen no state of that breaker                                  |
//	| called      | last, on the lines of a call the suite serves through its overflow chain, whose service and method are then "*" and      |
//	|             | "/*/*" (see interceptors.WithUnlistedLimit): the full method the call named, clipped as method is (observe.CalledSink)   |
//
// A line's time is the event's Time (the policies' clock), or now when the event has none.
// Lines carry neither caller nor stack trace, whatever the logger's options: both would point
// into zapobs rather than at the call.
//
// # Cost
//
// Observe checks the level before it builds any field (zap's Check, then Write), so a disabled
// line costs a level check and no allocation: the success path of a call, two Debug lines,
// costs about 20 ns on an Info logger. A written line costs what zap costs to encode it, plus
// one allocation for its fields. Its breaker field is read under a read lock, without
// allocating, and only once the line is known to be written.
//
// # Concurrency
//
// The sink New returns is safe for concurrent use, as the zap.Logger it writes to is: breaker
// states are kept under a lock, whichever goroutines send their events.
package zapobs
