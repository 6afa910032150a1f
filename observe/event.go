// Package observe is the one event stream of all bulwark policies. Policies emit Events to a
// Sink; consumers (the Prometheus collectors in observe/promobs, the zap logger in
// observe/zapobs, or your own) live apart, so no policy imports prometheus or zap.
//
// Events carry service and method names, codes, classes, attempts, delays and states — never
// request or response payloads, which in a KYC pipeline hold selfies and identity documents.
//
// A sink that records a method's events faster with state of its own per method implements
// Scoper: a suite asks it for a sink per chain, once, and sends the chain's calls' events there.
//
// Events say what happened, levels (LevelSource) how things stand. A consumer that keeps a
// state from events in place of a level (promobs a breaker's last state, for a breaker no
// source reads) drops it at the object's Retired, unless its last event is later than the
// Retired's Time, or, for a breaker, another Instance's: a suite's reload no longer uses the
// object.
package observe

import (
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	grpccodes "google.golang.org/grpc/codes"
)

// Kind says what happened.
type Kind uint8

// The kinds of event. The comment on each says which Event fields it sets besides Kind, Time,
// Service, Method and Policy.
//
// Every Attempt number and count is over the attempts a call made, retries and hedges alike:
// AttemptFinished numbers each attempt 1, 2, ... over the call, HedgeSent, HedgeWon and
// RetryScheduled name an attempt by that number, and CallFinished and RetriesExhausted count
// them. A retry of 2 attempts around a hedge of 2 that all fail reports 4, not its 2 rounds.
// An attempt that a policy below the one reporting it refused (class rejected: an open
// breaker, a full bulkhead, the rate limit, the throttle) is made and counted, though it was
// never sent: its AttemptFinished has class rejected, and the Rejected event tells it apart,
// so that the requests the service received are the attempts less those rejected.
const (
	// CallFinished: a logical call ended, retries included. Attempt (attempts made, retries and
	// hedges included, refused ones too), Code, Class, Duration (whole call), Reason (the
	// google.rpc.ErrorInfo reason of the status, when it carried one: a constant of the
	// server's, such as DOCUMENT_UNREADABLE, which a server should not fill with the request's
	// content; the bundled observers do not record it).
	CallFinished Kind = iota + 1
	// AttemptFinished: one attempt ended. Attempt (1-based, over the call's retries and
	// hedges), Code, Class, Duration (the attempt), Reason (ReasonHedgeDelay for a hedge, an
	// attempt sent because the hedging delay passed; else empty). Each attempt sent is
	// reported once, but for one that panicked (its invoker, or a method of its stream, below
	// the policy that reports it): it has no outcome, and its call ends without CallFinished
	// as the panic goes on (see package interceptors); the call's other attempts (a hedge the
	// panic canceled) are reported. A hedge whose HedgeSent an observer panicked on is not
	// sent, and is reported as one refused on this side of the wire is: class rejected, code
	// Internal, its Reason (see package hedge).
	AttemptFinished
	// RetryScheduled: a retry will follow after a sleep. Attempt (the one that failed, numbered
	// as AttemptFinished numbers it; after a hedged round, the request whose failure the round
	// returned, whose Code and Class these are), Code, Class, Delay (the sleep), Reason
	// (ReasonPushback when the server chose the delay, else empty: the backoff schedule chose
	// it).
	RetryScheduled
	// RetriesExhausted: the call failed for good after a retryable outcome. Attempt (attempts
	// made, hedges included, as CallFinished's), Code, Class, Duration
	// (whole call), Reason (why no further attempt: ReasonMaxAttempts, ReasonBudget,
	// ReasonDeadline, ReasonRetryBudget, ReasonPushbackStop).
	RetriesExhausted
	// BreakerStateChanged: a breaker moved between states. From, To, Reason (what moved it),
	// Delay (when To is open: how long it stays open before it half-opens), LastFrom (for an
	// event that stands for several changes, folded into one while the breaker's sink was held
	// in Observe: the from of the last of them, the change to To), FoldedTrips and
	// FoldedReopens (for such an event: the transitions to open among them that its own, last,
	// change is not; 0 for an event of one change). An observer that counts transitions counts
	// the event's own as LastFrom → To (From → To when LastFrom is 0), and the transitions to
	// open folded away in the closed → open and half_open → open series; see package breaker,
	// "Events and errors".
	BreakerStateChanged
	// Rejected: a policy refused an attempt before it reached the service. Code, Reason (the
	// ErrorInfo reason, such as CIRCUIT_OPEN), Delay (retry after, if known). Policy is the
	// policy that refused. The refusing policy sends it without Attempt. The hedging policy
	// sends a call's sink (WithCallSink), and it alone, one more for each hedge a policy below
	// it refused, with Attempt, the hedge's number (see package hedge).
	Rejected
	// FallbackServed: a fallback answered in place of an error. Code, Class and Reason of the
	// error: Reason is its google.rpc.ErrorInfo reason, when it carried one, as CallFinished's
	// (a policy's refusal, such as CIRCUIT_OPEN, or the server's own constant; the bundled
	// observers record it for a refusal, class Rejected, alone).
	FallbackServed
	// DeadlineApplied: the deadline policy set or shortened a call's deadline. Delay (the
	// timeout set), Reason (ReasonDefault, ReasonCap, ReasonBudget).
	DeadlineApplied
	// LimiterDegraded: a remote rate limiter could not be asked and the configured fail mode
	// answered instead. Reason (fail_open, fail_closed).
	LimiterDegraded
	// HedgeSent: the hedging policy started one more attempt of a call while earlier ones were
	// still in flight or had failed non-fatally. Attempt (the new attempt's number, over the
	// call's retries and hedges, from 2), Delay (time since the first attempt of the hedged
	// round started: under a retry loop the retry's attempt, not the call's first, so that it
	// is the hedging delay waited, comparable with the policy's; for a client stream, since
	// its reply phase began), Reason (ReasonHedgeDelay: the hedging delay passed with no
	// answer).
	HedgeSent
	// HedgeWon: a hedged call was answered by an attempt other than the first. Attempt (the
	// winner's number, over the call's retries and hedges), Code, Class, Duration (whole call:
	// from the call's start, earlier retries and their sleeps included).
	HedgeWon
	// LimitChanged: an adaptive concurrency limit (a bulkhead in adaptive mode) moved. Value
	// (the new limit), Reason (the algorithm: aimd, gradient), Duration (the latency sample
	// that moved it).
	LimitChanged
	// Retired: a suite's reload retired a policy object whose levels the suite's Levels read (a
	// breaker, a bulkhead, an adaptive throttle): no chain of the configuration now in force can
	// use it (its section is off there, or its settings changed: the reload built its
	// replacement under the same name, or a chain built later gets one), so Levels no longer
	// reads it, and what its events said of it (a breaker's last state) is stale. A suite's
	// Close retires each of its objects so (its Levels then read none), a breaker at the Time of
	// its last state change (the zero Time for one that made none: no state of its changes to
	// drop; its BreakerPublished's is dropped by its Instance), not at the Close: a
	// suite built to replace the closed one may have sent later events under the same names
	// before the Close. Policy (the object's: PolicyBreaker, PolicyBulkhead,
	// PolicyAdaptiveThrottle), Service and Method as its levels name them (Method empty for an
	// object that serves a whole service). The suite sends it once per object, after the
	// reload (or Close) took effect: a reload's before those of a Close that follows it, and
	// all of them before the suite reports itself closed (ClosedSource); not for a breaker that
	// a registry given to the suite (WithBreakerRegistry), which other suites may share, still
	// holds. A bulkhead's or a throttle's goes to the suite's own sink (WithObserver); a
	// breaker's to the breaker's own sink (breaker.Breaker.Retire, once per breaker, whichever
	// path retires it): the sink of the suite (or registry) that made it, which got its
	// BreakerPublished and its events, also when the suite that retires it took it from a
	// registry shared with that maker. Its Time is when the reload took effect (read on the suite's clock, which its
	// policies' events read too, just before the new configuration is published), or a breaker's
	// last state change when that is later (reading its level to name it makes a change that is
	// due, open → half_open, timed then), not when it is sent: a replacement's first events (of
	// calls that start after the reload) may come before it, but their Time is later, so an
	// observer that keeps a state from events drops at a Retired only a state whose last event's
	// Time is not after the Retired's, and keeps a replacement's. What remains: calls still in
	// flight through the retired object may send events of it after its Retired, later than it,
	// which an observer keeps until the next event of that name; and an event whose Time equals
	// the Retired's (a clock that does not move, as a fake one in a test) is dropped, the
	// replacement's too, until its next event. A breaker.Registry sends a Retired too, to the
	// breaker's own sink, for a breaker it held that Get or a suite's build replaces under its
	// name or Delete forgets and that no suite holds (the registry interceptors', or one its
	// suites let go; a suite retires one it holds itself, as above), at the breaker's clock's
	// now (or its last state change, when later), before its replacement's BreakerPublished. A
	// breaker's Retired carries the breaker's Instance, which its own events carry too: an
	// observer that compares them (as zapobs, otelobs and promobs' event-driven breaker states
	// do) has neither race, as a level source read at scrape time (promobs' Scrape) has not.
	Retired
	// BreakerPublished: a breaker was put in service, sent once per breaker
	// (breaker.Breaker.Publish) to the breaker's own sink (its observer), by whichever made it:
	// breaker.New, before it returns the breaker; a breaker.Registry's Get (and so the registry
	// interceptors, breaker.UnaryClientInterceptor and StreamClientInterceptor, at a name's first
	// call), before the registry holds the breaker, so before it admits a call (after the Retired
	// of the one it replaces under the name, if any); a suite, when a build (New, a Reload, the
	// chain of a method built on its first call) that made it committed, after the build took
	// effect, outside the suite's lock (a build rolled back sends none; a breaker kept across a
	// reload is not published again; one a reload replaced under its name is, after the old one's
	// Retired). A breaker a suite took from a registry shared with another suite
	// (WithBreakerRegistry) or with the registry interceptors was published by its maker, to the
	// maker's sink, to which it sends its events. To (the breaker's state when the event is sent:
	// closed for a breaker just made, any state should another user sharing it have changed it
	// since), Policy (PolicyBreaker), Service and Method as the breaker's own events name them,
	// Time read on the breaker's clock. It is no transition (From is empty): an observer that
	// keeps breakers' states from events learns from it that the breaker exists, and its state
	// before its first change. Instance, the breaker's. A state change of a suite's breaker may
	// reach the sink before it (its calls start once the build took effect); it then carries the
	// state before that change or after it: an observer that keeps a state of the same Instance
	// (or, without an Instance, a later one) keeps that.
	BreakerPublished
	// AttemptSpared: a retry loop's per-attempt timeout was reached and did not cut the attempt,
	// which runs on to its answer or the call's end: the policy cuts only overtaken attempts
	// (retry's per_attempt_cut: overtaken, CutOvertaken), and no later attempt of the method was
	// answered in under half the timeout, so the service is slow for every caller, not stalled
	// on this request. Policy (PolicyRetry), Attempt (the attempt's number, as AttemptFinished
	// numbers it, over the call's retries and hedges; for a unary round a hedging policy below
	// may hedge, the round's first), Delay (the per-attempt timeout). Sent once per spared
	// attempt, to the loop's sink (the call's WithCallObserver over the policy's, and a suite's
	// call sink), from the timer's goroutine, before the attempt ends; a panic of the observer
	// there is recovered and dropped (it has no caller to go to), the attempt left running. A
	// rising rate of them says that a service has slowed down for everyone, before any breaker
	// sees a failure.
	AttemptSpared
)

var kindNames = [...]string{
	CallFinished:        "call_finished",
	AttemptFinished:     "attempt_finished",
	RetryScheduled:      "retry_scheduled",
	RetriesExhausted:    "retries_exhausted",
	BreakerStateChanged: "breaker_state_changed",
	Rejected:            "rejected",
	FallbackServed:      "fallback_served",
	DeadlineApplied:     "deadline_applied",
	LimiterDegraded:     "limiter_degraded",
	HedgeSent:           "hedge_sent",
	HedgeWon:            "hedge_won",
	LimitChanged:        "limit_changed",
	Retired:             "retired",
	BreakerPublished:    "breaker_published",
	AttemptSpared:       "attempt_spared",
}

// String returns the kind's snake_case name.
func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "unknown"
}

// Reasons carried by events.
const (
	ReasonMaxAttempts  = "max_attempts"  // RetriesExhausted: the attempt limit was reached.
	ReasonBudget       = "budget"        // RetriesExhausted / DeadlineApplied: the total time budget.
	ReasonDeadline     = "deadline"      // RetriesExhausted: the caller's deadline.
	ReasonRetryBudget  = "retry_budget"  // RetriesExhausted: the retry budget (throttling) is spent.
	ReasonPushbackStop = "pushback_stop" // RetriesExhausted: the server asked not to retry.
	ReasonDefault      = "default"       // DeadlineApplied: the call had no deadline; the default was set.
	ReasonCap          = "cap"           // DeadlineApplied: the call's deadline was too far, or it had none and no default: max was set.
	ReasonHedgeDelay   = "delay"         // HedgeSent: the hedging delay passed with no answer.
	ReasonPushback     = "pushback"      // RetryScheduled: the server's pushback set the delay.
)

// Policy names, as carried in Event.Policy and in rejection details. A policy's name is its
// configuration section's key (package section), so that a metric's policy label, a log
// line's policy field and a configuration file spell it alike.
const (
	PolicySuite    = "suite"
	PolicyRetry    = "retry"
	PolicyBreaker  = "breaker"
	PolicyBulkhead = "bulkhead"
	// PolicyRateLimit is the rate limiter (interceptors/ratelimit, section rate_limit).
	PolicyRateLimit = "rate_limit"
	PolicyDeadline  = "deadline"
	PolicyFallback  = "fallback"
	PolicyHedge     = "hedge"
	// PolicyAdaptiveThrottle is client-side adaptive throttling (interceptors/throttle).
	PolicyAdaptiveThrottle = "adaptive_throttle"

	// PolicyLimiter is PolicyRateLimit. Its value was "ratelimit" before it matched the
	// configuration section.
	//
	// Deprecated: use PolicyRateLimit.
	PolicyLimiter = PolicyRateLimit
)

// Event is one thing that happened in a policy. Which fields are set depends on Kind.
// Events are passed by value; a Sink must not keep pointers into them.
type Event struct {
	Kind Kind
	// LastFrom is set on a BreakerStateChanged that stands for several changes, which a
	// breaker folded into one while its sink was held in Observe (From is the first change's
	// from, To the last one's to): the state the last of them was made from, so that LastFrom
	// → To is a transition the breaker made, as From → To may not be (closed → open →
	// half_open reads closed → half_open; its LastFrom is open). An observer that counts
	// transitions counts the event's own as LastFrom → To (From → To when it is 0), and those
	// to open folded away as FoldedTrips and FoldedReopens say: each series then counts a
	// transition the breaker made, and each to-open series exactly the opens it made from that
	// state. The other transitions folded away (open → half_open, half_open → closed, an
	// operator's) are counted nowhere. 0 (LastFromShown) for an event of one change and every
	// other kind. (It sits between Kind and FoldedTrips, in room the struct had already.)
	LastFrom LastFrom
	// FoldedTrips and FoldedReopens are set on a BreakerStateChanged that stands for several
	// changes (see LastFrom): FoldedTrips counts the trips (closed → open) among them,
	// FoldedReopens the half_open → open (a failed or slow probe, or probes given up on),
	// except the last change when it is one: the event's own LastFrom → To is counted for that
	// one. So the breaker's transitions to open are To == open (once) plus both counts,
	// whatever was folded. Each stops at 65535. 0 for an event of one change and for every
	// other kind. (Both sit in room the struct had already: FoldedReopens after Class.)
	FoldedTrips uint16
	// Instance tells breaker objects apart where their names are alike: a breaker's
	// BreakerStateChanged, its BreakerPublished and its Retired carry the
	// breaker's own number (breaker.Breaker.Instance: never 0, and another for each breaker
	// made in the process), so that an observer that keeps states by name drops the events of
	// a retired breaker that come after its Retired (calls that were in flight through it), and
	// keeps a replacement's whatever the Times say. 0 for every other event, and from an
	// emitter that does not set it. (It sits beside Kind and FoldedTrips, in room the struct
	// had already.)
	Instance uint32
	Time     time.Time
	Service  string // fully qualified gRPC service, e.g. kyc.v1.OCRService
	Method   string // full method, e.g. /kyc.v1.OCRService/Extract
	Policy   string // the emitting policy, one of the Policy constants
	Attempt  int
	Code     grpccodes.Code
	Class    codes.Class
	// FoldedReopens: see FoldedTrips.
	FoldedReopens uint16
	Reason        string
	Delay         time.Duration
	Duration      time.Duration
	From, To      string // breaker states: closed, open, half_open, forced_open, disabled
	// Value is a number some kinds carry: LimitChanged the new limit; Rejected by the adaptive
	// throttle, the rejection probability at the time.
	Value float64
}

// LastFrom names the state a breaker's last folded change was made from, in the byte
// Event.LastFrom has.
type LastFrom uint8

// The states a breaker's last folded change is made from.
const (
	// LastFromShown: the event does not say: it stands for one change, From → To.
	LastFromShown LastFrom = iota
	// LastFromClosed: closed (to open, forced_open or disabled).
	LastFromClosed
	// LastFromOpen: open (to half_open, closed by a reset, forced_open or disabled).
	LastFromOpen
	// LastFromHalfOpen: half_open (to open: a reopen; to closed, forced_open or disabled).
	LastFromHalfOpen
	// LastFromForcedOpen: forced_open (to closed or disabled).
	LastFromForcedOpen
	// LastFromDisabled: disabled (to closed or forced_open).
	LastFromDisabled
)

var lastFromNames = [...]string{
	LastFromClosed:     "closed",
	LastFromOpen:       "open",
	LastFromHalfOpen:   "half_open",
	LastFromForcedOpen: "forced_open",
	LastFromDisabled:   "disabled",
}

// String returns the state's name as Event.From spells it ("closed", "half_open", ...), or ""
// for LastFromShown and a value it does not know.
func (l LastFrom) String() string {
	if int(l) < len(lastFromNames) {
		return lastFromNames[l]
	}
	return ""
}

// Sink receives events. Observe is called synchronously, often on the hot path: it must be
// safe for concurrent use, return quickly and not block. It runs on the goroutine of the call
// it reports, with one exception: the end of a stream that nobody reads or closes (its context
// ended, its ClientConn shut down) is reported from the goroutine that ended it, a context's
// AfterFunc or the ClientConn's Close. A panic of Observe there has no caller to go to and
// ends the program, as any unrecovered panic does: a sink must not panic.
type Sink interface {
	Observe(Event)
}

// SinkFunc adapts a function to a Sink.
type SinkFunc func(Event)

// Observe calls f(e).
func (f SinkFunc) Observe(e Event) { f(e) }

// Multi returns a Sink that passes each event to every non-nil sink in order, even when one of
// them panics (the panic goes on after the others have the event). It returns nil when there
// is none, so that policies can skip building events nobody reads.
func Multi(sinks ...Sink) Sink {
	var kept multi
	for _, s := range sinks {
		switch s := s.(type) {
		case nil:
		case multi:
			kept = append(kept, s...)
		default:
			kept = append(kept, s)
		}
	}
	switch len(kept) {
	case 0:
		return nil
	case 1:
		return kept[0]
	}
	return kept
}

type multi []Sink

// Observe passes e to each sink in turn. Should one panic (a sink's bug), the sinks after it
// still get e, and the panic then goes on, unrecovered, with its own stack: one sink's bug
// must not leave another's record short of an event (a breaker's change, say).
func (m multi) Observe(e Event) {
	i := 0
	defer func() {
		if i < len(m) { // m[i] panicked
			m[i+1:].Observe(e)
		}
	}()
	for ; i < len(m); i++ {
		m[i].Observe(e)
	}
}

// ObserveCalled passes e to each sink in turn, as Observe does, with called to those that are
// CalledSinks.
func (m multi) ObserveCalled(e Event, called string) {
	i := 0
	defer func() {
		if i < len(m) { // m[i] panicked
			m[i+1:].ObserveCalled(e, called)
		}
	}()
	for ; i < len(m); i++ {
		ObserveCalled(m[i], e, called)
	}
}

// A CalledSink is a Sink that is told the full method a call named when a suite sends it an
// event of the call under another name: the calls a suite serves through its overflow chain
// (package interceptors, WithUnlistedLimit), whose events all name the service "*" and the
// method "/*/*", so that what is labelled by them (a metric's series) stays bounded whatever
// names callers send. The suite then calls ObserveCalled(e, called) in place of Observe(e),
// called being the full method the call named, from input, of any length: a log line or a
// span may show it (clipped, see Clip), a metric label must not.
type CalledSink interface {
	Sink
	ObserveCalled(e Event, called string)
}

// ObserveCalled passes e to s, with called, the full method the call named, when s is a
// CalledSink (Multi's sinks are, for their parts that are).
func ObserveCalled(s Sink, e Event, called string) {
	if cs, ok := s.(CalledSink); ok {
		cs.ObserveCalled(e, called)
		return
	}
	s.Observe(e)
}

// ForMethod scopes each of m's sinks to the method (see Scoper). A Scoper may give no sink
// (nil) for a method: the Multi of the scoped sinks leaves it out, as Multi leaves out any nil
// sink, and is nil when no sink is left.
func (m multi) ForMethod(service, fullMethod string) Sink {
	out := make([]Sink, len(m))
	for i, s := range m {
		out[i] = ForMethod(s, service, fullMethod)
	}
	return Multi(out...)
}

// A Scoper is a Sink that records one method's events faster through a sink of their own: a
// bulwark suite asks for one per chain when it builds the chain, once, and sends the events of
// the chain's calls to it (the call's, its attempts' and its deadline's), so that the sink can
// keep what it would otherwise look up by service and method on every event (promobs keeps the
// method's metric series). A chain serves one method, or every method of a service that has no
// entry of its own in the configuration: then fullMethod is "/<service>/*" and the events carry
// the methods called, but for the suite's overflow chain ("/*/*"), whose events all name
// "/*/*" (see CalledSink). The scoped sink must record any event exactly as the Scoper would,
// whatever its method: a chain shared by several methods, or a policy shared by several
// chains, sends it other methods' events.
type Scoper interface {
	Sink
	// ForMethod returns the sink for the events of the chain of fullMethod, a method of
	// service ("/<service>/*" for the chain its methods share).
	ForMethod(service, fullMethod string) Sink
}

// ForMethod returns the sink for the events of fullMethod (of service): s's own (Scoper) when
// it has one, s itself otherwise; each of Multi's sinks is scoped in turn. A nil s gives nil.
func ForMethod(s Sink, service, fullMethod string) Sink {
	if sc, ok := s.(Scoper); ok {
		return sc.ForMethod(service, fullMethod)
	}
	return s
}
