package bulkhead

import (
	"context"
	"errors"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/internal/optkit"
	"github.com/bulwarkrpc/bulwark/internal/outcome"
	"github.com/bulwarkrpc/bulwark/internal/streamend"
	"github.com/bulwarkrpc/bulwark/section"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// UnaryClientInterceptor returns New(name, cfg, opts...).Unary(): an interceptor that runs
// every unary call inside a bulkhead of its own named name. It returns the error of New when
// cfg is not valid. To share one Bulkhead between interceptors, build it with New and use its
// Unary and Stream methods.
func UnaryClientInterceptor(name string, cfg Config, opts ...Option) (grpc.UnaryClientInterceptor, error) {
	return optkit.Unary(New(name, cfg, opts...))
}

// StreamClientInterceptor returns New(name, cfg, opts...).Stream(): an interceptor that holds
// a slot of a bulkhead of its own for the life of every stream, or the error of New.
func StreamClientInterceptor(name string, cfg Config, opts ...Option) (grpc.StreamClientInterceptor, error) {
	return optkit.Stream(New(name, cfg, opts...))
}

// Unary returns an interceptor that holds a slot of b while the call runs. The slot is given
// back when the invoker returns or panics. In adaptive mode the call's latency, from the slot
// taken to the invoker's return, and its outcome are the limit's sample; a panicking call
// gives none.
func (b *Bulkhead) Unary() grpc.UnaryClientInterceptor {
	return section.Interceptor(b)
}

// InvokeStep is Unary's work for one call, continued by next (see section.UnaryStep).
func (b *Bulkhead) InvokeStep(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts []grpc.CallOption, next section.Next) error {
	return section.InvokeConnGate(b, ctx, method, req, reply, cc, opts, next)
}

// Enter takes a slot for a call (see section.Gate), waiting for one up to the call's max wait;
// in adaptive mode the Pass's Since is when the call began, since the bulkhead's origin. A
// call that finds no free slot and that only its WithMaxWait lets wait (the bulkhead's own
// MaxWait is 0) does not wait here, without its ClientConn: Enter returns
// section.ErrNeedsConn, holding nothing, for the runner to enter the bulkhead again with
// EnterConn (see section.ConnGate).
func (b *Bulkhead) Enter(ctx context.Context, method string, opts []grpc.CallOption) (section.Pass, error) {
	if err := b.acquire(ctx, method, opts); err != nil {
		return section.Pass{}, grpcError(err)
	}
	if b.ad == nil {
		return section.Pass{}, nil
	}
	return section.Pass{Since: b.began().Sub(b.origin)}, nil
}

var _ section.ConnGate = (*Bulkhead)(nil)

// EnterConn is Enter for a call made on cc (see section.ConnGate): a wait for a slot ends when
// cc shuts down, Canceled. (Enter's body with acquireConn, kept apart so that Enter passes no
// ClientConn.)
func (b *Bulkhead) EnterConn(ctx context.Context, cc *grpc.ClientConn, method string, opts []grpc.CallOption) (section.Pass, error) {
	if err := b.acquireConn(ctx, cc, method, opts); err != nil {
		return section.Pass{}, grpcError(err)
	}
	if b.ad == nil {
		return section.Pass{}, nil
	}
	return section.Pass{Since: b.began().Sub(b.origin)}, nil
}

// Exit gives back the slot of a call Enter admitted, with the call as the adaptive limit's
// sample unless the invoker panicked (see section.Gate).
func (b *Bulkhead) Exit(ctx context.Context, method string, _ []grpc.CallOption, p section.Pass, err error, panicked bool) {
	b.exit(ctx, method, p, err, panicked, b.classifier)
}

// exit is Exit with the call's outcome classified with cl.
func (b *Bulkhead) exit(ctx context.Context, method string, p section.Pass, err error, panicked bool, cl *codes.Classifier) {
	var start time.Time
	if b.ad != nil {
		start = b.origin.Add(p.Since)
	}
	b.end(ctx, method, start, err, !panicked, cl)
}

// Stream returns an interceptor that holds a slot of b from stream open until the stream ends
// (see the package documentation for what ends it). In adaptive mode the sample is the time
// from the slot taken to the end of the stream, with the error that ended it (io.EOF is a
// success; a stream ended by its context gives that context's error: canceled is no sample, a
// passed deadline a drop if the stream had the time a healthy answer takes, as for a unary
// call (see "Adaptive limit" in the package documentation); a failed send is this side's and
// no sample). A stream refused a slot
// runs the grpc.OnFinish callbacks among its call options with the refusal, as grpc would have
// once the stream ended (as a refused unary call does). A hedging policy's hedge of a client
// stream, with this interceptor chained below the hedge's, tells the hedge of its wait for a
// slot (see section.AdmitStream), as the unary interceptor tells a hedged call's, in a suite or
// outside one: no further hedge is sent while it waits.
func (b *Bulkhead) Stream() grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		return b.newStream(ctx, desc, cc, method, streamer, opts, b.classifier)
	}
}

// newStream is Stream's work for one stream, whose outcome is classified with cl.
func (b *Bulkhead) newStream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts []grpc.CallOption, cl *codes.Classifier) (grpc.ClientStream, error) {
	if ctx.Err() != nil {
		return streamer(ctx, desc, cc, method, opts...) // Ended already: no slot (see section.InvokeGate).
	}
	if err := section.AdmitStream(b, opts, func() error { return grpcError(b.acquireConn(ctx, cc, method, opts)) }); err != nil {
		return nil, err
	}
	start := b.began()
	returned := false
	defer func() {
		if !returned { // streamer panicked
			b.end(ctx, method, start, nil, false, cl)
		}
	}()
	cs, err := streamer(ctx, desc, cc, method, opts...)
	returned = true
	if err != nil {
		b.end(ctx, method, start, err, true, cl)
		return nil, err
	}
	w := streamend.Watch(ctx, desc, cs)
	w.WatchConn(cc)
	if b.ad == nil {
		w.OnEndOf((*fixedEnd)(b)) // b itself: no allocation.
	} else {
		w.OnEndOf(&adaptiveEnd{b: b, ctx: ctx, method: method, since: start.Sub(b.origin), cl: cl})
	}
	return w, nil
}

var _ section.StreamWatcher = (*Bulkhead)(nil)

// WatchesStreams marks b as a gate whose stream interceptor tells a hedged stream of its wait
// itself (see section.StreamWatcher).
func (b *Bulkhead) WatchesStreams() {}

// fixedEnd is a bulkhead with a fixed limit as the streamend.Ender of a stream holding one of
// its slots: the end gives the slot back, whatever it was.
type fixedEnd Bulkhead

// StreamEnded gives the stream's slot back.
func (f *fixedEnd) StreamEnded(streamend.End) { (*Bulkhead)(f).releaseFixed() }

// adaptiveEnd is what an adaptive bulkhead needs at the end of a stream holding one of its
// slots, built once when the stream opens. The stream's start is kept as a unary call's Pass
// keeps it, since the bulkhead's origin: a Duration, not a time.Time, keeps the value in 64
// bytes (80 with the time).
type adaptiveEnd struct {
	b      *Bulkhead
	ctx    context.Context
	method string
	since  time.Duration
	cl     *codes.Classifier
}

// StreamEnded gives the stream's slot back, with its sample: a failed send, or a method of
// the stream that panicked, is no sample.
func (a *adaptiveEnd) StreamEnded(e streamend.End) {
	a.b.end(a.ctx, a.method, a.b.origin.Add(a.since), e.Err, e.Cause != streamend.Send && e.Cause != streamend.Panic, a.cl)
}

// began returns when a call that took a slot began, the start of its latency sample: the zero
// time with a fixed limit, which takes no sample and reads no clock.
func (b *Bulkhead) began() time.Time {
	if b.ad == nil {
		return time.Time{}
	}
	return b.clock.Now()
}

// end gives back the slot of a call made with ctx that began at start and ended with err. With
// a fixed limit that is all; in adaptive mode the call is the limit's sample when sample is set
// and its outcome, as cl classifies it, is not ignored (see ReleaseWith): a call whose caller
// canceled ctx is ignored whatever err says (per-RPC credentials that answer a token fetch cut
// short Unavailable, as gRFC A54 lets them, fail it Unavailable), as outcome.Class reads it for
// the breaker and the throttle, but for one a retry loop's per-attempt timeout cut
// (outcome.Cut), which is the timeout's DeadlineExceeded. A transient failure is judged by the time the call held its
// slot (limit.transient), and so is a throttled one of a call whose caller's deadline passed
// (the deadline, not the server, ended it). A classifier that panics on err (an error
// whose GRPCStatus panics) still gives the slot back, with no sample.
func (b *Bulkhead) end(ctx context.Context, method string, start time.Time, err error, sample bool, cl *codes.Classifier) {
	if b.ad == nil {
		b.releaseFixed()
		return
	}
	kind := sampleNone
	if sample && err != nil && errors.Is(ctx.Err(), context.Canceled) {
		if outcome.Cut(ctx) {
			err = outcome.ErrCut // a retry loop's per-attempt timeout: judged as the deadline it is
		} else {
			sample = false // The caller stopped listening: the outcome says nothing of the service.
		}
	}
	if sample {
		kind = b.classifyHeld(method, err, cl)
		if kind == sampleDrop && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			kind = sampleTransient // The caller's deadline: judged by the time the call had (see limit.transient).
		}
	}
	var (
		now     time.Time
		latency time.Duration
	)
	if kind != sampleNone {
		now = b.clock.Now()
		latency = now.Sub(start)
	}
	b.finish(method, kind, latency, now)
}

// grpcError turns a context error into the status a gRPC caller expects; rejections are
// statuses already.
func grpcError(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return status.FromContextError(err).Err()
	}
	return err
}

// Instant reports whether Enter returns at once for a call with opts: when the call may not
// wait for a slot (MaxWait 0, and no WithMaxWait among opts that says otherwise; see
// section.Instant).
func (b *Bulkhead) Instant(opts []grpc.CallOption) bool { return b.callMaxWait(opts) <= 0 }
