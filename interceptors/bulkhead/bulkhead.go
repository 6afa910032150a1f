package bulkhead

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/internal/grpcmethod"
	"github.com/bulwarkrpc/bulwark/internal/outcome"
	"github.com/bulwarkrpc/bulwark/internal/streamend"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/section"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
)

// Bulkhead bounds the calls in flight. It is safe for concurrent use.
//
// With a fixed limit the slots are a count taken and given back with atomic operations while
// nobody waits, and a queue of waiters under a mutex when the bulkhead is full (see fixed.go);
// a freed slot goes to the oldest waiter. With an adaptive limit (Config.Adaptive) a mutex
// guards a count, the limit and a queue of waiters (see adaptive.go).
type Bulkhead struct {
	name       string
	service    string       // named in rejections, events and levels
	method     string       // the full method of a bulkhead of one method; "" for a service's
	cfg        Config       // Normalize(the Config given to New); MaxWait is maxWait's
	fx         *fixed       // fixed limit; nil in adaptive mode
	ad         *adaptive    // adaptive limit; nil in fixed mode
	maxWait    atomic.Int64 // a time.Duration: cfg.MaxWait, or what a suite's reload set (retune)
	clock      clock.Clock
	origin     time.Time // when New ran: a gate's Pass carries a call's start since it
	sink       observe.Sink
	classifier *codes.Classifier
}

// New returns a bulkhead for cfg named name: the gRPC service the bulkhead guards, the full
// method "/pkg.Service/Method" of a bulkhead of one method (as a suite names the bulkhead of a
// method with one of its own), or the name of a bulkhead shared by several. Rejections, events
// and levels name the service (Service) and, for a bulkhead of one method, that method
// (Method): a full method's service and the full method, else name (or WithService's) and no
// method, so that an observer tells a method's bulkhead from its service's. cfg must be valid
// (see Config.Validate).
func New(name string, cfg Config, opts ...Option) (*Bulkhead, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = Normalize(cfg)
	o := buildOptions(opts)
	if err := o.CheckTypedNil(); err != nil {
		return nil, err
	}
	b := &Bulkhead{name: name, cfg: cfg, clock: o.Clock, sink: o.Sink, classifier: o.Classifier}
	b.maxWait.Store(int64(cfg.MaxWait))
	b.service, b.method = grpcmethod.Owner(name, o.service)
	if cfg.Adaptive.Algorithm != AlgorithmNone {
		b.ad = newAdaptive(cfg.Adaptive, cfg.MaxConcurrent)
		b.origin = b.clock.Now()
	} else {
		b.fx = newFixed(cfg.MaxConcurrent)
	}
	return b, nil
}

// Name returns the name given to New.
func (b *Bulkhead) Name() string { return b.name }

// Config returns the configuration the bulkhead runs with: the one given to New with its
// defaults filled in (see Normalize), and the MaxWait a suite's reload gave it since, if one
// did (a reload that changes only max_wait keeps the bulkhead). A call's WithMaxWait does not
// change it.
func (b *Bulkhead) Config() Config {
	c := b.cfg
	c.MaxWait = time.Duration(b.maxWait.Load())
	return c
}

// Capacity returns the number of slots: the fixed limit, or the current adaptive limit.
func (b *Bulkhead) Capacity() int {
	if b.ad != nil {
		l, _ := b.ad.state()
		return l
	}
	l, _ := b.fx.state()
	return l
}

// InFlight returns the number of slots taken now. In adaptive mode it may exceed Capacity for
// a while after the limit shrank: no call is interrupted.
func (b *Bulkhead) InFlight() int {
	if b.ad != nil {
		_, n := b.ad.state()
		return n
	}
	_, n := b.fx.state()
	return n
}

// Available returns the number of free slots now (0 when the limit is below InFlight).
func (b *Bulkhead) Available() int {
	if b.ad != nil {
		l, n := b.ad.state()
		return max(l-n, 0)
	}
	l, n := b.fx.state()
	return max(l-n, 0)
}

// TryAcquire takes a slot if one is free now and reports whether it did. It never waits and
// never emits an event. A free slot is not taken while callers wait for one: it is theirs.
func (b *Bulkhead) TryAcquire() bool {
	if b.ad != nil {
		return b.ad.tryAcquire()
	}
	return b.fx.tryAcquire()
}

// Acquire takes a slot, waiting up to MaxWait and never past ctx's deadline when none is free
// (see the package documentation for what each outcome returns). A nil error means the caller
// holds a slot and must Release it. Its wait does not end when a ClientConn shuts down: see
// AcquireConn.
func (b *Bulkhead) Acquire(ctx context.Context) error { return b.acquire(ctx, b.method, nil) }

// AcquireConn is Acquire for a call made on cc (nil: none, as Acquire): a wait for a slot also
// ends when cc shuts down (ClientConn.Close), as the interceptors' does, and AcquireConn then
// returns ErrConnClosing, out of the queue and holding no slot (one granted to it as the
// shutdown came is given back), with no Rejected event and, in adaptive mode, no sample. A call
// that finds a free slot takes it without looking at cc. A nil error means the caller holds a
// slot and must Release it.
func (b *Bulkhead) AcquireConn(ctx context.Context, cc *grpc.ClientConn) error {
	return b.acquireConn(ctx, cc, b.method, nil)
}

// Release gives back a slot taken by Acquire, AcquireConn or TryAcquire. Releasing a slot that
// is not held is a bug in the caller and panics. In adaptive mode it gives the limit no
// sample; use ReleaseWith to let the call move it.
func (b *Bulkhead) Release() {
	if b.ad != nil {
		b.finish("", sampleNone, 0, time.Time{})
		return
	}
	b.releaseFixed()
}

func (b *Bulkhead) releaseFixed() {
	if !b.fx.release() {
		panic("bulkhead: Release of " + b.name + " without a slot held")
	}
}

// ReleaseWith gives back a slot as Release does and, in adaptive mode, feeds the limit one
// sample: the call held the slot for latency and ended with err. The bulkhead's classifier
// (WithClassifier) reads err: a throttled outcome is an overload drop; a transient one or a
// server fault is a drop only if it took at least the time a healthy answer takes (see
// "Adaptive limit" in the package documentation; a server fault is no sample where the
// algorithm has no such time); a canceled or rejected one, or a business error, is no sample;
// and a success is a latency sample. A classifier that panics on err gives the slot back, with
// no sample, before the panic goes on. With a fixed limit it is Release. It allocates nothing
// for a nil err or a status without details.
func (b *Bulkhead) ReleaseWith(latency time.Duration, err error) {
	if b.ad != nil {
		kind := b.classifyHeld("", err, b.classifier)
		var now time.Time
		if kind != sampleNone {
			now = b.clock.Now()
		}
		b.finish("", kind, latency, now)
		return
	}
	b.Release()
}

// acquire takes a slot for a call with opts, waiting for one up to the call's max wait
// (callMaxWait), read only when no slot is free; see waitNoConn for a call that only its own
// option lets wait.
func (b *Bulkhead) acquire(ctx context.Context, method string, opts []grpc.CallOption) error {
	if b.ad != nil {
		if b.ad.tryAcquire() {
			return nil
		}
		return b.waitNoConn(ctx, method, opts, b.ad)
	}
	if b.fx.tryAcquire() {
		return nil
	}
	return b.waitNoConn(ctx, method, opts, b.fx)
}

// waitNoConn is acquire for a call that found no free slot, whose ClientConn it is not given:
// it waits up to the call's max wait, unless the bulkhead's own max wait lets no call wait and
// only the call's WithMaxWait does: a runner enters such a bulkhead without the ClientConn
// (section.Gates, as the bulkhead is then Instant), so the call is sent back with
// section.ErrNeedsConn, holding nothing, to wait through EnterConn, which its ClientConn's
// shutdown ends.
func (b *Bulkhead) waitNoConn(ctx context.Context, method string, opts []grpc.CallOption, p permits) error {
	own := time.Duration(b.maxWait.Load())
	maxWait := callMaxWait(own, opts)
	if own <= 0 && maxWait > 0 {
		return section.ErrNeedsConn
	}
	return b.wait(ctx, nil, method, maxWait, p)
}

// acquireConn is acquire for a call made on cc (nil: none), whose wait for a slot ends when
// cc shuts down.
func (b *Bulkhead) acquireConn(ctx context.Context, cc *grpc.ClientConn, method string, opts []grpc.CallOption) error {
	if b.ad != nil {
		if b.ad.tryAcquire() {
			return nil
		}
		return b.wait(ctx, cc, method, b.callMaxWait(opts), b.ad)
	}
	if b.fx.tryAcquire() {
		return nil
	}
	return b.wait(ctx, cc, method, b.callMaxWait(opts), b.fx)
}

// callMaxWait is how long a call with opts may wait for a slot: its WithMaxWait, else the
// bulkhead's max wait.
func (b *Bulkhead) callMaxWait(opts []grpc.CallOption) time.Duration {
	return callMaxWait(time.Duration(b.maxWait.Load()), opts)
}

// permits is the state of a bulkhead (fixed or adaptive) as a call that waits for a slot sees
// it: enqueue queues w, or takes a slot at once (true); abandon takes w off the queue unless
// it was granted a slot meanwhile (true: the caller holds it).
type permits interface {
	enqueue(w *waiter) bool
	abandon(w *waiter) bool
}

// wait is acquire for a call that found no free slot: it waits for one up to maxWait (cut to
// ctx's deadline) in the queue of p, b's state, unless cc shuts down first (ClientConn.Close,
// which streamend.ConnDone tells, asked only here: a call that waits), which ends the wait
// with ErrConnClosing and the call's place in the queue, or the slot it was granted meanwhile.
func (b *Bulkhead) wait(ctx context.Context, cc *grpc.ClientConn, method string, maxWait time.Duration, p permits) error {
	wait := b.waitFor(ctx, maxWait)
	if wait <= 0 {
		return b.reject(method, ErrFull)
	}
	w := &waiter{ready: make(chan struct{})}
	if p.enqueue(w) {
		return nil
	}
	t := b.clock.NewTimer(wait)
	defer t.Stop()
	select {
	case <-w.ready:
		return nil
	case <-t.C():
		if p.abandon(w) {
			return nil // admitted as the wait ran out
		}
		return b.reject(method, errWaited)
	case <-ctx.Done():
		if p.abandon(w) {
			// Admitted as the context ended: the caller has no time left to use the slot.
			b.Release()
		}
		return b.ended(ctx, method)
	case <-streamend.ConnDone(cc):
		if p.abandon(w) {
			b.Release() // admitted as the ClientConn shut down: grpc would fail the call at once
		}
		return ErrConnClosing
	}
}

// waitFor returns how long a call that found no free slot may wait for one: maxWait, cut to
// ctx's deadline. 0 or less means it may not wait.
func (b *Bulkhead) waitFor(ctx context.Context, maxWait time.Duration) time.Duration {
	if maxWait <= 0 {
		return 0
	}
	if dl, ok := ctx.Deadline(); ok {
		return min(maxWait, dl.Sub(b.clock.Now()))
	}
	return maxWait
}

// ended is what a wait for a slot returns when ctx ends first: the caller's cancellation as it
// is, a rejection when the deadline passed.
func (b *Bulkhead) ended(ctx context.Context, method string) error {
	if err := ctx.Err(); !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return b.reject(method, errWaited)
}

// reject is the rejection of a call of method, with err, ErrFull or errWaited, as its Err.
func (b *Bulkhead) reject(method string, err error) error {
	return outcome.Reject(b.sink, b.clock, method, &codes.Rejection{
		Err: err, Code: grpccodes.ResourceExhausted, Reason: ReasonFull,
		Policy: observe.PolicyBulkhead, Service: b.service,
	}, 0)
}
