package observe

import (
	"context"
	"sync/atomic"
)

type callSinkKey struct{}

// callSinks is set once WithCallSink has given a context a call sink. Until then no context
// carries one and CallSinkFrom answers without asking the context, whose Value walks its
// whole chain of parents to the root for a key it does not hold: a cache miss or more per
// layer on every call's path, and a server handler's context is often ten layers deep.
var callSinks atomic.Bool

// WithCallSink returns a copy of ctx that carries a call sink: a bulwark suite serving a call
// made with that context sends the call's own events — DeadlineApplied, AttemptFinished,
// AttemptSpared, RetryScheduled, RetriesExhausted, HedgeSent, HedgeWon, FallbackServed and
// CallFinished — to s as well as to its usual sink.
// Events carry no context, so this is how a consumer that needs to know which call an event
// belongs to (a tracer recording attempts on the call's span, say) gets them one call at a
// time. Events of shared objects (breaker state changes, rejections, limit changes) still go
// to the suite's sink only; but a hedge that a policy below the hedging policy refused is
// told to s alone, as a Rejected event with the hedge's Attempt (see package hedge). A nil s
// returns ctx unchanged.
func WithCallSink(ctx context.Context, s Sink) context.Context {
	if s == nil {
		return ctx
	}
	if !callSinks.Load() {
		// Before the context exists: a call made with it, in any goroutine, comes after.
		callSinks.Store(true)
	}
	return context.WithValue(ctx, callSinkKey{}, s)
}

// CallSinkFrom returns the call sink set by WithCallSink, or nil. Until the process first
// calls WithCallSink it returns nil without reading ctx.
func CallSinkFrom(ctx context.Context) Sink {
	if !callSinks.Load() {
		return nil
	}
	s, _ := ctx.Value(callSinkKey{}).(Sink)
	return s
}
