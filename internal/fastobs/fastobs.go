// Package fastobs is how a suite records a call that succeeded at its first attempt with one
// call into its chain's sink, instead of the three events such a call sends (DeadlineApplied,
// AttemptFinished, CallFinished), when the sink can (SuccessRecorder).
//
// # The fused path
//
// A suite runs a chain of an attempt loop and gates alone (Suite.direct) fused when the chain's
// sink, the suite's sink scoped to the chain (observe.ForMethod), is a SuccessRecorder (not a
// Multi of sinks; not the suite's overflow chain "/*/*", whose CallFinished names another
// service than its attempts) and the call brings no sink of its own (observe.WithCallSink).
// Then:
//
//   - the deadline step computes the call's deadline without sending DeadlineApplied (Deadline):
//     the suite holds it;
//   - the attempt loop gets the chain's sink wrapped in the chain's Quiet: every event it sends
//     reaches the sink as before, but the AttemptFinished of a first attempt that succeeded is
//     not sent, and the loop says so (retry.Policy.InvokeGated returns 0 attempts);
//   - the suite then calls ObserveSuccess once, for the three events; on any other outcome
//     (the first attempt failed, a retry, a rejection, Disabled, an attempt loop that sent the
//     first attempt's AttemptFinished itself — to a sink the call set for it, or because the
//     attempt needed a context of its own —) it sends the held DeadlineApplied, then
//     CallFinished, as without fusion; a call that panics sends the held DeadlineApplied as the
//     panic goes on and, as without fusion, no CallFinished.
//
// So a SuccessRecorder sees the DeadlineApplied of a call that did not succeed at once after
// the call's attempt events (AttemptFinished, RetryScheduled, Rejected, …), just before its
// CallFinished, where other sinks see it first. Every other sink (a Multi, one that is not a
// SuccessRecorder) sees every event, in the order it always did.
package fastobs

import (
	"context"
	"time"

	"github.com/bulwarkrpc/bulwark/observe"
)

// SuccessRecorder is a chain's sink that records a call that succeeded at its first attempt
// in one call: it must record exactly what these events would, in this order:
//
//   - when deadline is not "", DeadlineApplied (Policy deadline, Reason deadline, Delay delay);
//   - AttemptFinished (Policy retry, Attempt 1, Code OK, Class Success, Duration d);
//   - CallFinished (Policy suite, Attempt 1, Code OK, Class Success, Duration d);
//
// all of service and method. A call that succeeds is classified Success with code OK by every
// classifier (codes.Classifier.Classify of nil), its attempt too: the classes are not passed.
// The attempt's and the call's durations are the same on the fused path: the first attempt
// starts at the call's start and its end is the call's end.
type SuccessRecorder interface {
	observe.Sink
	ObserveSuccess(service, method string, d time.Duration, deadline string, delay time.Duration)
}

// Quiet is a chain's sink given to its attempt loop on the fused path (see the package doc):
// it passes every event on to Sink. The loop recognises it by its type, and leaves out the
// AttemptFinished of a first attempt that succeeded, which the suite records fused. Made once
// per chain.
type Quiet struct{ Sink SuccessRecorder }

// Observe passes e on to q's sink.
func (q *Quiet) Observe(e observe.Event) { q.Sink.Observe(e) }

// Held is a deadline the deadline step applied without sending its DeadlineApplied: its
// reason ("" when it applied none) and the timeout it set.
type Held struct {
	Reason string
	Delay  time.Duration
}

// Event is the DeadlineApplied that h holds, for a call of the full method in service,
// started at now.
func (h Held) Event(service, method string, now time.Time) observe.Event {
	return observe.Event{
		Kind: observe.DeadlineApplied, Time: now, Service: service, Method: method,
		Policy: observe.PolicyDeadline, Reason: h.Reason, Delay: h.Delay,
	}
}

// Deadline is set by package deadline's init: (*deadline.Policy).DeadlineAt of p, without
// sending its DeadlineApplied, which it returns held instead: the deadline set (zero: none, and
// h is zero) and what DeadlineApplied would have said. ok is false, and nothing is done, when p
// is not a *deadline.Policy: its caller calls DeadlineAt instead.
var Deadline func(p any, ctx context.Context, method string, now time.Time) (dl time.Time, h Held, ok bool)
