package observe

import "context"

type callSinkKey struct{}

// WithCallSink returns a copy of ctx that carries a call sink: a bulwark suite serving a call
// made with that context sends the call's own events — AttemptFinished, RetryScheduled,
// RetriesExhausted, HedgeSent, HedgeWon and CallFinished — to s as well as to its usual sink.
// Events carry no context, so this is how a consumer that needs to know which call an event
// belongs to (a tracer recording attempts on the call's span, say) gets them one call at a
// time. Events of shared objects (breaker state changes, rejections, limit changes) still go
// to the suite's sink only. A nil s returns ctx unchanged.
func WithCallSink(ctx context.Context, s Sink) context.Context {
	if s == nil {
		return ctx
	}
	return context.WithValue(ctx, callSinkKey{}, s)
}

// CallSinkFrom returns the call sink set by WithCallSink, or nil.
func CallSinkFrom(ctx context.Context) Sink {
	s, _ := ctx.Value(callSinkKey{}).(Sink)
	return s
}
