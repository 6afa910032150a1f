package throttle

import (
	"context"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/internal/calloption"
	"github.com/bulwarkrpc/bulwark/internal/optkit"
	"github.com/bulwarkrpc/bulwark/internal/outcome"
	"github.com/bulwarkrpc/bulwark/internal/streamend"
	"github.com/bulwarkrpc/bulwark/section"
	"google.golang.org/grpc"
)

// UnaryClientInterceptor returns New(name, cfg, opts...).Unary(): a unary client interceptor
// that throttles every call with a throttle of its own named name. It returns the error of New
// when cfg is not valid.
func UnaryClientInterceptor(name string, cfg Config, opts ...Option) (grpc.UnaryClientInterceptor, error) {
	return optkit.Unary(New(name, cfg, opts...))
}

// StreamClientInterceptor returns New(name, cfg, opts...).Stream(), or the error of New.
func StreamClientInterceptor(name string, cfg Config, opts ...Option) (grpc.StreamClientInterceptor, error) {
	return optkit.Stream(New(name, cfg, opts...))
}

// Unary returns a unary client interceptor that throttles every call with t. A throttled call
// returns the *codes.Rejection without reaching the service. The outcome is recorded when the
// invoker returns; a call whose context the caller cancelled counts as nothing, and so does a
// call whose invoker panics (the panic goes on). A call made with the Disable call option
// bypasses t.
func (t *Throttle) Unary() grpc.UnaryClientInterceptor {
	return section.Interceptor(t)
}

// InvokeStep is Unary's work for one call, continued by next (see section.UnaryStep).
func (t *Throttle) InvokeStep(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts []grpc.CallOption, next section.Next) error {
	return section.InvokeGate(t, ctx, method, req, reply, cc, opts, next)
}

// passBypass is the Pass of a call made with the Disable call option: Exit records nothing.
const passBypass = 1

// Enter asks to send one call (see section.Gate); a call made with the Disable call option
// goes ahead uncounted.
func (t *Throttle) Enter(_ context.Context, method string, opts []grpc.CallOption) (section.Pass, error) {
	if disabled, _ := callSettings(t.classifier, opts); disabled {
		return section.Pass{Word: passBypass}, nil
	}
	return section.Pass{}, t.Allow(method)
}

// Exit records the outcome of a call Enter let through (see section.Gate); a call whose
// invoker panicked counts as nothing.
func (t *Throttle) Exit(ctx context.Context, _ string, opts []grpc.CallOption, p section.Pass, err error, panicked bool) {
	t.exit(ctx, opts, p, err, panicked, t.classifier)
}

// exit is Exit with the outcome classified with cl (unless a call option gives another
// classifier).
func (t *Throttle) exit(ctx context.Context, opts []grpc.CallOption, p section.Pass, err error, panicked bool, cl *codes.Classifier) {
	if panicked || p.Word == passBypass {
		return
	}
	if err == nil {
		t.record(codes.Success) // Without reading opts again: Enter did that.
		return
	}
	_, classifier := callSettings(cl, opts)
	t.record(outcome.Class(ctx, err, classifier))
}

// Stream returns a stream client interceptor that throttles every stream with t. Admission is
// decided when the stream opens; its outcome is recorded once, at the first of: opening fails;
// SendMsg or Header fails other than with io.EOF; RecvMsg returns an error (io.EOF, the normal end, is
// an accept); RecvMsg returns the single reply of a stream that is not server-streaming (an
// accept); the caller's context ends (cancelled: counts as nothing; deadline passed: classified
// as DeadlineExceeded: by default a request that is not an accept). A stream that gRPC ends
// while no RecvMsg or SendMsg is running (its connection closed, or its ClientConn shut down,
// also before the stream was committed) counts as nothing, even if the caller reads its status
// later; one it ends in Header (the response had no header) ends when RecvMsg returns its
// status, when the caller's context ends, or when its ClientConn shuts down (nothing). A stream
// opened with the Disable call option bypasses t. A rejected stream runs the grpc.OnFinish
// callbacks among its call options with the rejection, as grpc would have once the stream ended
// (as Unary does for a rejected call).
func (t *Throttle) Stream() grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		return t.newStream(ctx, desc, cc, method, streamer, opts, t.classifier)
	}
}

// newStream is Stream's work for one stream, whose outcome is classified with cl (unless a
// call option gives another classifier).
func (t *Throttle) newStream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts []grpc.CallOption, cl *codes.Classifier) (grpc.ClientStream, error) {
	disabled, classifier := callSettings(cl, opts)
	if disabled || ctx.Err() != nil { // Ended already: uncounted (see section.InvokeGate).
		return streamer(ctx, desc, cc, method, opts...)
	}
	if err := calloption.Admit(opts, func() error { return t.Allow(method) }); err != nil {
		return nil, err
	}
	cs, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil {
		t.record(outcome.Class(ctx, err, classifier))
		return nil, err
	}
	w := streamend.Watch(ctx, desc, cs)
	w.WatchConn(cc)
	w.OnEndOf(&streamEnd{t: t, ctx: ctx, cl: classifier})
	return w, nil
}

// streamEnd is what the throttle needs at the end of a stream it let through, built once when
// the stream opens: the caller's context, and the classifier that judges the stream.
type streamEnd struct {
	t   *Throttle
	ctx context.Context
	cl  *codes.Classifier
}

// StreamEnded records the stream's outcome. One gRPC ended while nobody read it counts as
// nothing, as does one whose method panicked (as a unary call whose invoker panicked).
func (s *streamEnd) StreamEnded(e streamend.End) {
	if e.Cause != streamend.Transport && e.Cause != streamend.Panic {
		s.t.record(outcome.Class(s.ctx, e.Err, s.cl))
	}
}

// Instant reports that Enter returns at once: the throttle admits or refuses from its counts
// (see section.Instant).
func (t *Throttle) Instant([]grpc.CallOption) bool { return true }
