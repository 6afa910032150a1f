package breaker

import (
	"context"
	"sync/atomic"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/internal/calloption"
	"github.com/bulwarkrpc/bulwark/internal/grpcmethod"
	"github.com/bulwarkrpc/bulwark/internal/streamend"
	"github.com/bulwarkrpc/bulwark/section"
	"google.golang.org/grpc"
)

// Unary returns a unary client interceptor that guards every call with b. A rejected call
// returns the *codes.Rejection without reaching the service. The outcome is recorded when the
// invoker returns; a call whose context the caller cancelled counts as neither success nor
// failure, and so does a call whose invoker panics (the panic goes on).
func (b *Breaker) Unary() grpc.UnaryClientInterceptor {
	return section.Interceptor(b)
}

// Stream returns a stream client interceptor that guards every stream with b. The breaker
// admits the stream when it opens and records its outcome once, when it ends: RecvMsg returning
// io.EOF (or the single response of a client-streaming call) is a success, another error (or
// an error Header returns, which ends the stream) is classified, and a stream the caller abandons by cancelling its context counts as neither. A
// half-open probe's slot is held for the life of the stream. A stream gRPC ends while nobody
// reads it (the connection closes) counts as neither too: its status was never seen. gRPC's
// end is seen only once the stream's response has started (a RecvMsg or Header returned), as
// reading the stream's context sooner turns off gRPC's own retries of it; before that, the
// stream ends with the status RecvMsg returns, with the caller's context, or when its
// ClientConn shuts down (grpc.ClientConn.Close, which gRPC counts as releasing the stream:
// neither, as no status was seen; so does a stream gRPC ended in Header, the response having
// no header, whose status nobody read).
//
// As with any gRPC stream, a caller that neither reads to the end, nor cancels the context, nor
// closes the ClientConn leaks the stream, and with it the probe slot. A refused stream runs the
// grpc.OnFinish callbacks among its call options with the refusal, as grpc would have once the
// stream ended (as a refused unary call does).
func (b *Breaker) Stream() grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		return b.newStream(ctx, desc, cc, method, streamer, opts, b.classifier)
	}
}

// UnaryClientInterceptor returns a unary client interceptor that guards each call with the
// breaker of its service (or of its method, with ScopeMethod), found or made in a Registry
// (DefaultRegistry unless WithRegistry) with cfg and opts. Connections that name the same
// service share its breaker; names longer than 1024 bytes share the breakers the package doc
// tells. It returns cfg.Validate's error when cfg is not valid.
func UnaryClientInterceptor(cfg Config, opts ...Option) (grpc.UnaryClientInterceptor, error) {
	rs, err := newResolver(cfg, opts)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		return rs.breaker(method).InvokeStep(ctx, method, req, reply, cc, opts, section.NextInvoker(invoker))
	}, nil
}

// StreamClientInterceptor is UnaryClientInterceptor for streams; see Breaker.Stream for how a
// stream's outcome is recorded. It returns cfg.Validate's error when cfg is not valid.
func StreamClientInterceptor(cfg Config, opts ...Option) (grpc.StreamClientInterceptor, error) {
	rs, err := newResolver(cfg, opts)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		b := rs.breaker(method)
		return b.newStream(ctx, desc, cc, method, streamer, opts, b.classifier)
	}, nil
}

// MustUnaryClientInterceptor is UnaryClientInterceptor that panics when cfg is not valid.
//
// Deprecated: it is what UnaryClientInterceptor was; use UnaryClientInterceptor and handle its
// error.
func MustUnaryClientInterceptor(cfg Config, opts ...Option) grpc.UnaryClientInterceptor {
	ic, err := UnaryClientInterceptor(cfg, opts...)
	if err != nil {
		panic("breaker: invalid config: " + err.Error())
	}
	return ic
}

// MustStreamClientInterceptor is StreamClientInterceptor that panics when cfg is not valid.
//
// Deprecated: it is what StreamClientInterceptor was; use StreamClientInterceptor and handle
// its error.
func MustStreamClientInterceptor(cfg Config, opts ...Option) grpc.StreamClientInterceptor {
	ic, err := StreamClientInterceptor(cfg, opts...)
	if err != nil {
		panic("breaker: invalid config: " + err.Error())
	}
	return ic
}

// resolver finds the breaker of a call in a Registry.
type resolver struct {
	cfg      Config // Normalized.
	opts     []Option
	registry *Registry
	// longs holds, by a hash of their service, the breakers "/<service>/*" of names too long
	// to keep (ScopeMethod) that make found last, so that a call of such a name finds its
	// breaker without making its name (see longOf).
	longs [longSlots]atomic.Pointer[Breaker]
}

// longSlots is how many breakers of long names a resolver remembers (resolver.longs).
const longSlots = 8

func newResolver(cfg Config, opts []Option) (*resolver, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &resolver{cfg: Normalize(cfg), opts: opts, registry: buildOptions(opts).registry}, nil
}

func (rs *resolver) breaker(method string) *Breaker {
	name := grpcmethod.Service(method)
	if rs.cfg.Scope == ScopeMethod {
		name = method
	}
	if v, ok := rs.registry.entries.Load(name); ok {
		if b := v.(*Breaker); b.cfg == rs.cfg {
			return b
		}
	}
	return rs.make(name, method)
}

// make creates (or finds, after a race) the breaker named name. A name longer than
// grpcmethod.MaxKeptName (a proxy forwards the :path it is sent, which may be megabytes) is not
// kept: its call takes the breaker of the names too long to keep, as a suite's overflow chain
// names it: "/<service>/*" of a method of a service of a name short enough (ScopeMethod), else
// "/*/*" (ScopeMethod) or "*" (ScopeService). So does a new name once the registry holds
// cowmap.MaxKeys (16384) names, so that a proxy naming ever new services or methods does not
// grow it without end: it takes "/*/*" or "*", or its service's "/<service>/*" when the
// registry holds that one already.
func (rs *resolver) make(name, method string) *Breaker {
	_, known := rs.registry.entries.Load(name)
	if full := !known && rs.registry.full(); full || !grpcmethod.Keepable(name) {
		svc := grpcmethod.Service(method)
		name, method = "*", "/*/*"
		own := false
		if rs.cfg.Scope == ScopeMethod {
			name = method
			if svc != "" && grpcmethod.Keepable(svc) {
				if b := rs.longOf(svc); b != nil {
					return b
				}
				n := "/" + svc + "/*"
				if _, ok := rs.registry.entries.Load(n); ok || !full {
					name, method, own = n, n, true
				}
			}
		}
		b := rs.held(name)
		if b == nil {
			b = rs.registry.get(name, rs.cfg, rs.options(method))
		}
		if own {
			rs.longs[longSlot(svc)].Store(b)
		}
		return b
	}
	return rs.registry.get(name, rs.cfg, rs.options(method))
}

// held returns the breaker named name that the registry holds with the resolver's settings,
// else nil.
func (rs *resolver) held(name string) *Breaker {
	if v, ok := rs.registry.entries.Load(name); ok {
		if b := v.(*Breaker); b.cfg == rs.cfg {
			return b
		}
	}
	return nil
}

// options returns the options of the breaker of method that the resolver makes.
func (rs *resolver) options(method string) []Option {
	opts := append(append(make([]Option, 0, len(rs.opts)+2), rs.opts...), WithService(grpcmethod.Service(method)))
	if rs.cfg.Scope == ScopeMethod {
		opts = append(opts, withMethod(method))
	}
	return opts
}

// longOf returns the breaker "/<svc>/*" of the names too long to keep of service svc that make
// remembered (resolver.longs), while the registry still holds it; else nil.
func (rs *resolver) longOf(svc string) *Breaker {
	b := rs.longs[longSlot(svc)].Load()
	if b == nil || b.cfg != rs.cfg || len(b.name) != len(svc)+3 || b.name[0] != '/' ||
		b.name[1:1+len(svc)] != svc || b.name[1+len(svc):] != "/*" {
		return nil
	}
	if v, ok := rs.registry.entries.Load(b.name); !ok || v.(*Breaker) != b {
		return nil
	}
	return b
}

// longSlot returns the slot of resolver.longs for service svc (FNV-1a).
func longSlot(svc string) int {
	h := uint32(2166136261)
	for i := 0; i < len(svc); i++ {
		h = (h ^ uint32(svc[i])) * 16777619
	}
	return int(h % longSlots)
}

// InvokeStep is Unary's work for one call, continued by next (see section.UnaryStep).
func (b *Breaker) InvokeStep(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts []grpc.CallOption, next section.Next) error {
	return section.InvokeGate(b, ctx, method, req, reply, cc, opts, next)
}

// Enter admits one call (see section.Gate): the permit of Allow, as a Pass (Word: the state's
// generation, shifted left, with bit 0 set when there is a permit to record; Since: when the
// call was admitted, since the breaker's origin, when slow calls are counted).
func (b *Breaker) Enter(_ context.Context, method string, _ []grpc.CallOption) (section.Pass, error) {
	p, err := b.allow(method)
	if err != nil || p.b == nil {
		return section.Pass{}, err
	}
	return section.Pass{Word: p.gen<<1 | 1, Since: p.start}, nil
}

// Exit records the outcome of a call Enter admitted (see section.Gate): a call whose invoker
// panicked returns its permit and counts nothing.
func (b *Breaker) Exit(ctx context.Context, _ string, opts []grpc.CallOption, ps section.Pass, err error, panicked bool) {
	b.exit(ctx, opts, ps, err, panicked, b.classifier)
}

// exit is Exit with the call's outcome classified with cl (unless a call option gives another
// classifier).
func (b *Breaker) exit(ctx context.Context, opts []grpc.CallOption, ps section.Pass, err error, panicked bool, cl *codes.Classifier) {
	if ps.Word&1 == 0 {
		return // Disabled: nothing to record.
	}
	p := Permit{b: b, gen: ps.Word >> 1, start: ps.Since}
	if panicked {
		p.Record(codes.Canceled)
		return
	}
	b.recordCall(p, ctx, err, opts, cl)
}

// recordCall records a call's outcome on p: a success, or err classified with cl (unless a
// call option gives another classifier); the caller's cancellation is Canceled whatever the
// error says, as the call's end says nothing about the service then (see Permit.doneWith for a
// classifier that panics).
func (b *Breaker) recordCall(p Permit, ctx context.Context, err error, opts []grpc.CallOption, cl *codes.Classifier) {
	if err == nil {
		p.Record(codes.Success) // Without reading opts.
		return
	}
	p.doneWith(ctx, err, callClassifier(cl, opts))
}

// newStream is Stream's work for one stream, whose outcome is classified with cl.
func (b *Breaker) newStream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts []grpc.CallOption, cl *codes.Classifier) (grpc.ClientStream, error) {
	if ctx.Err() != nil {
		return streamer(ctx, desc, cc, method, opts...) // Ended already (see section.InvokeGate).
	}
	var admitted Permit
	if err := calloption.Admit(opts, func() (err error) { admitted, err = b.allow(method); return err }); err != nil {
		return nil, err
	}
	p := admitted // Never assigned again: the deferred func and the stream's end read a copy.
	finished := false
	defer func() {
		if !finished {
			p.Record(codes.Canceled) // The streamer panicked.
		}
	}()
	cs, err := streamer(ctx, desc, cc, method, opts...)
	finished = true
	if err != nil {
		b.recordCall(p, ctx, err, opts, cl)
		return nil, err
	}
	if p.b == nil {
		return cs, nil // Disabled: nothing to record.
	}
	w := streamend.Watch(ctx, desc, cs)
	w.WatchConn(cc)
	w.OnEndOf(&streamEnd{b: b, p: p, ctx: ctx, opts: opts, cl: cl})
	return w, nil
}

// streamEnd is what the breaker needs at the end of a stream it let through, built once when
// the stream opens: its permit, its caller's context, call options and classifier.
type streamEnd struct {
	b    *Breaker
	p    Permit
	ctx  context.Context
	opts []grpc.CallOption
	cl   *codes.Classifier
}

// StreamEnded records how the stream ended (see recordEnd).
func (s *streamEnd) StreamEnded(e streamend.End) { s.b.recordEnd(s.p, s.ctx, e, s.opts, s.cl) }

// recordEnd records how a stream ended: a success, or its error as recordCall does; an abandoned
// stream gives its caller's context's error (a cancellation counts as neither, an expired
// deadline is classified), and a stream gRPC ended while nobody read it counts as neither, as
// its status was never seen, as does a stream whose method panicked, as a unary call whose
// invoker panicked does.
func (b *Breaker) recordEnd(p Permit, ctx context.Context, e streamend.End, opts []grpc.CallOption, cl *codes.Classifier) {
	if e.Cause == streamend.Transport || e.Cause == streamend.Panic {
		p.Record(codes.Canceled)
		return
	}
	b.recordCall(p, ctx, e.Err, opts, cl)
}

// Instant reports that Enter returns at once: a breaker admits or refuses from its state (see
// section.Instant).
func (b *Breaker) Instant([]grpc.CallOption) bool { return true }
