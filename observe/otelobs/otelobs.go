package otelobs

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/internal/breakerstates"
	"github.com/bulwarkrpc/bulwark/internal/streamend"
	"github.com/bulwarkrpc/bulwark/observe"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ScopeName is the instrumentation scope of the tracer otelobs takes from its TracerProvider.
const ScopeName = "github.com/bulwarkrpc/bulwark/observe/otelobs"

// Attribute keys. Span event names are the Event* constants.
const (
	KeyAttempt     = attribute.Key("bulwark.attempt")        // int: attempt number, from 1
	KeyPolicy      = attribute.Key("bulwark.policy")         // string: the policy that reports it
	KeyCode        = attribute.Key("rpc.grpc.status_code")   // int: the gRPC status code
	KeyClass       = attribute.Key("bulwark.class")          // string: the classifier's class
	KeyDurationMs  = attribute.Key("bulwark.duration_ms")    // float: an attempt's or the call's duration
	KeyBackoffMs   = attribute.Key("bulwark.backoff_ms")     // float: the sleep before the next attempt
	KeyPushback    = attribute.Key("bulwark.pushback")       // bool: the server's pushback chose the sleep
	KeyReason      = attribute.Key("bulwark.reason")         // string: why (retries exhausted, hedge sent, rejection)
	KeyHedge       = attribute.Key("bulwark.hedge")          // bool: the attempt was a hedge
	KeyHedgeAfter  = attribute.Key("bulwark.hedge.after_ms") // float: since the first attempt of the hedge's round
	KeyTimeoutMs   = attribute.Key("bulwark.timeout_ms")     // float: the per-attempt timeout that spared an attempt
	KeyAttempts    = attribute.Key("bulwark.attempts")       // int, call span: attempts made
	KeyHedgeWinner = attribute.Key("bulwark.hedge.winner")   // int, call span: the attempt that answered
	KeyRejectedBy  = attribute.Key("bulwark.rejected_by")    // string, call span: the policy that refused
	KeyRetryAfter  = attribute.Key("bulwark.retry_after_ms")
	KeyBreaker     = attribute.Key("bulwark.breaker.state") // string, call span: the breaker's state at a breaker rejection
	KeyFallback    = attribute.Key("bulwark.fallback")      // bool, call span: a fallback answered in place of an error
	KeyAbandoned   = attribute.Key("bulwark.abandoned")     // bool, call span: a stream that ended unread (see Stream)
	KeyRPCSystem   = attribute.Key("rpc.system.name")       // string, call span: "grpc"
	KeyRPCMethod   = attribute.Key("rpc.method")            // string, call span: the method, "kyc.v1.OCRService/Extract"
)

// Span event names.
const (
	EventAttempt   = "bulwark.attempt"
	EventRetry     = "bulwark.retry_scheduled"
	EventExhausted = "bulwark.retries_exhausted"
	EventHedge     = "bulwark.hedge_sent"
	EventRejected  = "bulwark.rejected"
	EventFallback  = "bulwark.fallback_served"
	EventSpared    = "bulwark.attempt_spared"
)

// Tracer records bulwark's per-call events on OpenTelemetry spans. Install its interceptors
// outside (before) the suite's, and pass the Tracer itself to the suite as an observer
// (interceptors.WithObserver) so that it learns breaker states. Tracer is safe for concurrent
// use.
type Tracer struct {
	tracer   trace.Tracer
	callSpan bool
	// breakers holds the last known state of each breaker, from BreakerStateChanged events,
	// within the bounds of breakerstates.Store.
	breakers breakerstates.Store
	// starts holds how the call span of each method starts (*callStart), for the first
	// maxNames methods of up to observe.MaxKeptName bytes: made once, not on every call.
	starts sync.Map
	nnames atomic.Int64
}

// maxNames bounds starts: past it, or for a name longer than observe.MaxKeptName, a call's
// span name and options are made for the call.
const maxNames = 4096

// callSpanOptions are the options of every call span, made once.
var callSpanOptions = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindInternal)}

// callStart is how a method's call span starts: its name, "bulwark " and the method, and the
// attributes by which OpenTelemetry's RPC conventions name the method: rpc.system.name, and
// rpc.method without the leading slash, as otelgrpc puts them on the spans of the call's
// requests. They are set once the span is known to record, not given to Start: a call that
// nothing records then costs no more than the span the sampler drops (see unsampled_test.go),
// and the sampler, which sees the span's name, sees the method there.
type callStart struct {
	name  string
	attrs []attribute.KeyValue
}

// newCallStart returns the callStart of method, clipped when it is longer than
// observe.MaxKeptName (observe.Clip).
func newCallStart(method string) *callStart {
	m := observe.Clip(method)
	return &callStart{name: "bulwark " + m, attrs: callAttrs(m)}
}

// callAttrs returns the rpc.* attributes of the call span of m, a method clipped.
func callAttrs(m string) []attribute.KeyValue {
	return []attribute.KeyValue{KeyRPCSystem.String("grpc"), KeyRPCMethod.String(strings.TrimPrefix(m, "/"))}
}

// callStartOf returns the callStart of method's call span: the one kept for the method, else,
// for a method not kept (past maxNames, or longer than observe.MaxKeptName), one with its name
// alone, made for the call, whose attributes start makes once the span records (callAttrs), so
// that an unsampled call of such a name costs its span's name and nothing more.
func (t *Tracer) callStartOf(method string) callStart {
	if v, ok := t.starts.Load(method); ok {
		return *v.(*callStart)
	}
	if t.nnames.Load() < maxNames && len(method) <= observe.MaxKeptName {
		cs := newCallStart(method)
		if v, loaded := t.starts.LoadOrStore(method, cs); loaded {
			cs = v.(*callStart)
		} else {
			t.nnames.Add(1)
		}
		return *cs
	}
	return callStart{name: "bulwark " + observe.Clip(method)}
}

// spanName returns the call span's name for method: "bulwark " and the method, clipped when it
// is longer than observe.MaxKeptName (observe.Clip).
func (t *Tracer) spanName(method string) string { return t.callStartOf(method).name }

// Option configures a Tracer.
type Option interface{ apply(*Tracer) }

type optionFunc func(*Tracer)

func (f optionFunc) apply(t *Tracer) { f(t) }

// WithTracerProvider sets the provider of the tracer used for call spans. The default is
// otel.GetTracerProvider().
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(t *Tracer) {
		if tp != nil {
			t.tracer = tp.Tracer(ScopeName)
		}
	})
}

// WithCallSpan chooses where a call's events go: true (the default) starts one span per
// logical call, a child of the caller's span, named after the method; false records on the
// caller's active span itself, which suits a caller that opens one span per call. With
// false, a call nested in a call under way that records on that span (made with its context:
// a fallback's Func, an interceptor below the suite) records nothing there.
func WithCallSpan(on bool) Option { return optionFunc(func(t *Tracer) { t.callSpan = on }) }

// New returns a Tracer. A nil option is ignored.
func New(opts ...Option) *Tracer {
	t := &Tracer{callSpan: true}
	for _, o := range opts {
		if o != nil {
			o.apply(t)
		}
	}
	if t.tracer == nil {
		t.tracer = otel.GetTracerProvider().Tracer(ScopeName)
	}
	return t
}

var _ observe.Sink = (*Tracer)(nil)

// Observe implements observe.Sink for the suite's shared event stream: it keeps the state of
// each breaker (from its BreakerStateChanged events, and from the BreakerPublished it sends
// when it is put in service: its state before its first change), read when a
// breaker rejects a call, and forgets it when a reload, or the suite's Close, retires the
// breaker (observe.Retired): that breaker's state alone, told by the Instance the events carry
// (a replacement's under the same name is kept, and the retired breaker's later events, of
// calls in flight through it, are dropped); for events without an Instance, unless the state's
// event is later than the Retired's Time (when the reload took effect; for a Close, the
// breaker's last state change). It keeps the states of 4096 breakers at most, and none of a
// name longer than observe.MaxKeptName, as zapobs does: a rejection by a breaker past them
// reports "open". Other events are ignored here; a call's own events reach the call's recorder
// through observe.WithCallSink.
func (t *Tracer) Observe(e observe.Event) {
	if e.Kind == observe.BreakerStateChanged || e.Kind == observe.BreakerPublished || e.Kind == observe.Retired {
		t.breakers.Observe(&e)
	}
}

// breakerState is the last known state of the breaker that serves method of service, found as
// breakerstates.Store.State finds it (the method's own, else the overflow chain's, else the
// service's); "open" when none is kept: a breaker that rejects without a recorded change has
// opened unseen, or is past the bounds of the states kept.
func (t *Tracer) breakerState(service, method string) string {
	if state, ok := t.breakers.State(service, method); ok {
		return state
	}
	return "open"
}

// DialOptions returns the options that install the tracer's interceptors. Put them before the
// suite's: append(tracer.DialOptions(), suite.DialOptions()...).
func (t *Tracer) DialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithChainUnaryInterceptor(t.Unary()),
		grpc.WithChainStreamInterceptor(t.Stream()),
	}
}

// start opens the call's span (or takes the caller's) and the call's recorder; it returns a
// nil recorder when nothing records. The call span of a call that nothing records (its
// sampler dropped it) is in the context returned, and the interceptor ends it all the same:
// the OpenTelemetry API asks that every span started be ended, and a provider may hold
// resources for a span until it is.
func (t *Tracer) start(ctx context.Context, method string) (context.Context, *recorder) {
	span := trace.SpanFromContext(ctx)
	var cs callStart
	if t.callSpan {
		cs = t.callStartOf(method)
		ctx, span = t.tracer.Start(ctx, cs.name, callSpanOptions...)
	}
	if !span.IsRecording() {
		return ctx, nil
	}
	if t.callSpan {
		if cs.attrs == nil { // A name not kept (see callStartOf).
			cs.attrs = callAttrs(observe.Clip(method))
		}
		span.SetAttributes(cs.attrs...)
	}
	next := observe.CallSinkFrom(ctx)
	if enc, ok := next.(*recorder); ok {
		// A traced call this one is nested in (made with its context: a fallback's Func, an
		// interceptor below the suite): its span is not this call's; the sink it passes its
		// events on to is this call's caller's sink too.
		next = enc.next
		if sameSpan(enc.span, span) && !enc.isEnded() {
			// Without a call span of its own, this call found the span of the enclosing
			// call, still under way (the caller's, or the enclosing call's own): its outcome
			// is that call's, and this call must not write over it. It records nothing; its
			// events still reach the caller's sink, and not the enclosing call's recorder.
			if next == nil {
				next = discard{}
			}
			return observe.WithCallSink(ctx, next), nil
		}
	}
	// next is the call sink the caller's context carries (observe.WithCallSink), to which the
	// call's recorder, which takes its place in the call's context, passes every event on, as
	// the suite would have sent them there without the tracer.
	r := &recorder{t: t, span: span, own: t.callSpan, method: method, next: next}
	return observe.WithCallSink(ctx, r), r
}

// sameSpan reports whether a and b are one span: their span contexts name the same span.
func sameSpan(a, b trace.Span) bool {
	ac, bc := a.SpanContext(), b.SpanContext()
	return ac.IsValid() && ac.SpanID() == bc.SpanID() && ac.TraceID() == bc.TraceID()
}

// discard is the call sink of a nested call that records nothing and whose caller has no
// sink of its own: it takes the enclosing call's recorder's place in the call's context.
type discard struct{}

func (discard) Observe(observe.Event) {}

// Unary returns the tracer's unary client interceptor.
func (t *Tracer) Unary() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		ctx, r := t.start(ctx, method)
		if r == nil {
			if t.callSpan {
				defer trace.SpanFromContext(ctx).End() // see start
			}
			return invoker(ctx, method, req, reply, cc, opts...)
		}
		returned := false
		defer r.endOnPanic(&returned)
		err := invoker(ctx, method, req, reply, cc, opts...)
		returned = true
		r.end(err)
		return err
	}
}

// Stream returns the tracer's stream client interceptor. The call span ends when the stream
// does: with the suite's CallFinished, which puts the call's outcome on it, else (no suite
// below reported the call) with the stream's own end, RecvMsg's, SendMsg's or Header's error, or the
// failure to open it. A stream that ends while nobody reads it, its context ended with no
// RecvMsg or SendMsg running (the caller gave up on it, or gRPC ended it unread) or its
// ClientConn shut down, has no outcome the caller saw, and the suite reports none: its span
// ends then, with bulwark.abandoned set and the code of the context's end (Canceled,
// DeadlineExceeded).
func (t *Tracer) Stream() grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		ctx, r := t.start(ctx, method)
		if r == nil {
			if t.callSpan {
				// Ended as the stream opens: it records nothing, so when matters not.
				defer trace.SpanFromContext(ctx).End() // see start
			}
			return streamer(ctx, desc, cc, method, opts...)
		}
		returned := false
		defer r.endOnPanic(&returned)
		cs, err := streamer(ctx, desc, cc, method, opts...)
		returned = true
		if err != nil {
			// A stream refused as it opens: its rejection, then the span (the suite's
			// CallFinished, sent from inside streamer, left the span open for it).
			r.end(err)
			return nil, err
		}
		// From now on the stream's CallFinished ends the span; it may have come already (a
		// stream that ended while it opened).
		r.mu.Lock()
		r.endOnFinish = true
		finished := r.finished
		r.mu.Unlock()
		if finished {
			r.finish()
			return cs, nil
		}
		w := streamend.Watch(ctx, desc, cs)
		w.WatchConn(cc) // a stream nobody reads ends with its ClientConn's shutdown too
		w.OnEndOf(r)
		return w, nil
	}
}

// StreamEnded ends a stream's span at the stream's end. It records the rejection the stream
// ended with, if any (a rejected stream's CallFinished leaves the span open for this: see
// Observe). Unless the suite's CallFinished, which the suite sends before the end reaches the
// tracer's stream, put the outcome on the span, it puts the end's own there.
func (r *recorder) StreamEnded(e streamend.End) {
	r.rejected(e.Err)
	r.mu.Lock()
	finished := r.finished
	r.mu.Unlock()
	if !finished && e.Cause == streamend.Panic {
		// A method of the stream panicked: as a unary call that panics (endOnPanic).
		r.span.SetStatus(otelcodes.Error, "panic")
	} else if !finished {
		code := codeOf(e.Err)
		if e.Cause == streamend.Caller || e.Cause == streamend.Transport {
			r.span.SetAttributes(KeyAbandoned.Bool(true))
		}
		r.span.SetAttributes(KeyCode.Int(int(code)))
		if code != grpccodes.OK {
			r.span.SetStatus(otelcodes.Error, code.String()) // the code's name only, as Observe
		}
	}
	r.finish()
}

// endOnPanic ends the span of a call that panicked below the interceptor, and lets the panic
// go on; and the span of a call whose goroutine exited below it (runtime.Goexit: a test's
// t.FailNow in a stub, say), which neither returned (*returned stays false) nor panicked:
// otherwise the span would never end, and the attempts' spans would point at a parent that
// never appears.
func (r *recorder) endOnPanic(returned *bool) {
	if p := recover(); p != nil {
		r.span.SetStatus(otelcodes.Error, "panic")
		r.finish()
		panic(p)
	}
	if !*returned {
		r.span.SetStatus(otelcodes.Error, "goexit")
		r.finish()
	}
}

// recorder is the observe.Sink of one call. Its Observe runs on the caller's goroutine and on
// hedges' goroutines; spans are safe for concurrent use, and mu guards the recorder's fields.
type recorder struct {
	t           *Tracer
	span        trace.Span
	own         bool // the span is the recorder's to end
	method      string
	next        observe.Sink // the caller's call sink, which gets every event too (see start)
	mu          sync.Mutex
	endOnFinish bool // Guarded by mu: a stream that opened: CallFinished ends the span.
	finished    bool // Guarded by mu: CallFinished was recorded.
	ended       bool // Guarded by mu.
}

func (r *recorder) Observe(e observe.Event) {
	if r.next != nil {
		defer r.next.Observe(e) // also when recording panics, as observe.Multi would
	}
	if e.Method != r.method {
		// Another call's: one made with this call's context through a suite this tracer does
		// not front (a fallback's Func asking another service, say), which sends its own
		// events to the context's call sink, this recorder. Its attempts are not this call's,
		// and its end must not end this call's span nor set its status.
		return
	}
	switch e.Kind {
	case observe.AttemptFinished:
		r.span.AddEvent(EventAttempt, trace.WithTimestamp(e.Time), trace.WithAttributes(
			KeyAttempt.Int(e.Attempt), KeyPolicy.String(e.Policy), KeyHedge.Bool(e.Reason == observe.ReasonHedgeDelay),
			KeyCode.Int(int(e.Code)), KeyClass.String(e.Class.String()), KeyDurationMs.Float64(ms(e.Duration)),
		))
	case observe.RetryScheduled:
		r.span.AddEvent(EventRetry, trace.WithTimestamp(e.Time), trace.WithAttributes(
			KeyAttempt.Int(e.Attempt), KeyCode.Int(int(e.Code)), KeyClass.String(e.Class.String()),
			KeyBackoffMs.Float64(ms(e.Delay)), KeyPushback.Bool(e.Reason == observe.ReasonPushback),
		))
	case observe.RetriesExhausted:
		r.span.AddEvent(EventExhausted, trace.WithTimestamp(e.Time), trace.WithAttributes(
			KeyAttempts.Int(e.Attempt), KeyReason.String(e.Reason),
		))
	case observe.AttemptSpared:
		// Sent from the timer's goroutine as the attempt runs on: the span is the call's,
		// still live, and AddEvent is safe beside the call's own.
		r.span.AddEvent(EventSpared, trace.WithTimestamp(e.Time), trace.WithAttributes(
			KeyAttempt.Int(e.Attempt), KeyTimeoutMs.Float64(ms(e.Delay)),
		))
	case observe.HedgeSent:
		r.span.AddEvent(EventHedge, trace.WithTimestamp(e.Time), trace.WithAttributes(
			KeyAttempt.Int(e.Attempt), KeyHedgeAfter.Float64(ms(e.Delay)), KeyReason.String(e.Reason),
		))
	case observe.HedgeWon:
		r.span.SetAttributes(KeyHedgeWinner.Int(e.Attempt))
	case observe.Rejected:
		// A hedge a policy below the hedging one refused, while the call went on without it
		// (the only Rejected a call's sink is sent): an event, not the span's attributes,
		// which say how the call ended. A rejection that ends the call is recorded by end.
		attrs := r.rejection(e.Policy, e.Reason, e.Service, e.Delay)
		if e.Attempt > 0 {
			attrs = append(attrs, KeyAttempt.Int(e.Attempt))
		}
		r.span.AddEvent(EventRejected, trace.WithTimestamp(e.Time), trace.WithAttributes(attrs...))
	case observe.FallbackServed:
		attrs := []attribute.KeyValue{KeyCode.Int(int(e.Code)), KeyClass.String(e.Class.String())}
		if e.Class == codes.Rejected && e.Reason != "" {
			// A policy's refusal, which the call's end no longer shows: who refused. A
			// server's own ErrorInfo reason stays off the span, as on the call's end.
			attrs = append(attrs, KeyReason.String(e.Reason))
		}
		r.span.AddEvent(EventFallback, trace.WithTimestamp(e.Time), trace.WithAttributes(attrs...))
		r.span.SetAttributes(KeyFallback.Bool(true))
	case observe.CallFinished:
		// The outcome goes on the span before the call is marked finished: from then on the
		// stream interceptor may end the span (a stream whose end was reported from another
		// goroutine while it opened), and an ended span drops what is set on it.
		r.span.SetAttributes(
			KeyClass.String(e.Class.String()), KeyCode.Int(int(e.Code)), KeyAttempts.Int(e.Attempt),
			KeyDurationMs.Float64(ms(e.Duration)),
		)
		if e.Code != grpccodes.OK {
			// The code's name only: a status message may quote the request.
			r.span.SetStatus(otelcodes.Error, e.Code.String())
		}
		// A rejected stream's span waits for the stream's end, which follows at once with
		// the rejection (the suite reports the end it sees first), so that StreamEnded
		// records who refused it, as end does for a unary call, before the span ends.
		r.mu.Lock()
		r.finished = true
		endNow := r.endOnFinish && e.Class != codes.Rejected
		r.mu.Unlock()
		if endNow {
			r.finish()
		}
	}
}

// end closes the call: the rejection that ended it, if any, then the span.
func (r *recorder) end(err error) {
	r.rejected(err)
	r.mu.Lock()
	finished := r.finished
	r.mu.Unlock()
	if !finished {
		// No suite below reported the call: its outcome is the invoker's, as a stream's
		// is its end's (StreamEnded).
		code := codeOf(err)
		r.span.SetAttributes(KeyCode.Int(int(code)))
		if err != nil {
			r.span.SetStatus(otelcodes.Error, code.String())
		}
	}
	r.finish()
}

// rejected records on the span the rejection err is, if it is one: what ended the call.
func (r *recorder) rejected(err error) {
	var rej *codes.Rejection
	if errors.As(err, &rej) {
		if rej == nil {
			// A nil *codes.Rejection (a policy's bug) reads as an unnamed rejection, as
			// its Error and GRPCStatus do, rather than panicking the caller's call here.
			rej = &codes.Rejection{}
		}
		attrs := r.rejection(rej.Policy, rej.Reason, rej.Service, rej.RetryAfter)
		r.span.AddEvent(EventRejected, trace.WithAttributes(attrs...))
		r.span.SetAttributes(attrs...)
	}
}

// rejection returns the attributes of a rejection by policy, for reason, of a call of the
// call's method to service, which may come back after retryAfter (0: unknown): the
// bulwark.rejected event's, and a rejected call span's.
func (r *recorder) rejection(policy, reason, service string, retryAfter time.Duration) []attribute.KeyValue {
	attrs := []attribute.KeyValue{KeyRejectedBy.String(policy), KeyReason.String(reason)}
	if retryAfter > 0 {
		attrs = append(attrs, KeyRetryAfter.Float64(ms(retryAfter)))
	}
	if policy == observe.PolicyBreaker {
		attrs = append(attrs, KeyBreaker.String(r.t.breakerState(service, r.method)))
	}
	return attrs
}

// isEnded reports whether the call has ended (finish).
func (r *recorder) isEnded() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ended
}

func (r *recorder) finish() {
	r.mu.Lock()
	ended := r.ended
	r.ended = true
	r.mu.Unlock()
	if !ended && r.own {
		r.span.End()
	}
}

// codeOf is the gRPC code of err, an outcome no suite below reported: its status's, or, for
// the context's own error (a stream's context that ended, or an interceptor beneath that
// returned ctx.Err()), Canceled or DeadlineExceeded, as gRPC converts it; Unknown for any other
// error, OK for none.
func codeOf(err error) grpccodes.Code {
	if code := status.Code(err); code != grpccodes.Unknown {
		return code
	}
	return status.FromContextError(err).Code()
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
