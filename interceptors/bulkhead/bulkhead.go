package bulkhead

import (
	"context"
	"errors"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/internal/optkit"
	"github.com/bulwarkrpc/bulwark/internal/outcome"
	"github.com/bulwarkrpc/bulwark/observe"
	grpccodes "google.golang.org/grpc/codes"
)

// Bulkhead bounds the calls in flight. It is safe for concurrent use.
//
// With a fixed limit the slots are a buffered channel: taking a slot is a send, giving it back
// a receive. A full channel queues blocked senders in arrival order and hands a freed slot
// straight to the first of them, which gives FIFO fairness without a lock of our own. With an
// adaptive limit (Config.Adaptive) a mutex guards a count, the limit and a queue of waiters
// (see adaptive.go).
type Bulkhead struct {
	name       string
	cfg        Config        // Normalize(the Config given to New)
	slots      chan struct{} // fixed limit; nil in adaptive mode
	ad         *adaptive     // adaptive limit; nil in fixed mode
	maxWait    time.Duration
	clock      clock.Clock
	origin     time.Time // when New ran: a gate's Pass carries a call's start since it
	sink       observe.Sink
	classifier *codes.Classifier
}

// New returns a bulkhead for cfg. name is put in rejections and events as the service (the
// gRPC service the bulkhead guards, or the name of a bulkhead shared by several). cfg must be
// valid (see Config.Validate).
func New(name string, cfg Config, opts ...Option) (*Bulkhead, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = Normalize(cfg)
	o := optkit.Build(opts, func(o Option) optkit.Option { return o.o })
	b := &Bulkhead{name: name, cfg: cfg, maxWait: cfg.MaxWait, clock: o.Clock, sink: o.Sink, classifier: o.Classifier}
	if cfg.Adaptive.Algorithm != AlgorithmNone {
		b.ad = newAdaptive(cfg.Adaptive, cfg.MaxConcurrent)
		b.origin = b.clock.Now()
	} else {
		b.slots = make(chan struct{}, cfg.MaxConcurrent)
	}
	return b, nil
}

// Name returns the name given to New.
func (b *Bulkhead) Name() string { return b.name }

// Config returns the configuration the bulkhead runs with: the one given to New with its
// defaults filled in (see Normalize). A call's WithMaxWait does not change it.
func (b *Bulkhead) Config() Config { return b.cfg }

// Capacity returns the number of slots: the fixed limit, or the current adaptive limit.
func (b *Bulkhead) Capacity() int {
	if b.ad != nil {
		l, _ := b.ad.state()
		return l
	}
	return cap(b.slots)
}

// InFlight returns the number of slots taken now. In adaptive mode it may exceed Capacity for
// a while after the limit shrank: no call is interrupted.
func (b *Bulkhead) InFlight() int {
	if b.ad != nil {
		_, n := b.ad.state()
		return n
	}
	return len(b.slots)
}

// Available returns the number of free slots now (0 when the limit is below InFlight).
func (b *Bulkhead) Available() int {
	if b.ad != nil {
		l, n := b.ad.state()
		return max(l-n, 0)
	}
	return cap(b.slots) - len(b.slots)
}

// TryAcquire takes a slot if one is free now and reports whether it did. It never waits and
// never emits an event. In adaptive mode a free slot is not taken while callers wait for one.
func (b *Bulkhead) TryAcquire() bool {
	if b.ad != nil {
		return b.ad.tryAcquire()
	}
	select {
	case b.slots <- struct{}{}:
		return true
	default:
		return false
	}
}

// Acquire takes a slot, waiting up to MaxWait and never past ctx's deadline when none is free
// (see the package documentation for what each outcome returns). A nil error means the caller
// holds a slot and must Release it.
func (b *Bulkhead) Acquire(ctx context.Context) error { return b.acquire(ctx, "", b.maxWait) }

// Release gives back a slot taken by Acquire or TryAcquire. Releasing a slot that is not held
// is a bug in the caller and panics. In adaptive mode it gives the limit no sample; use
// ReleaseWith to let the call move it.
func (b *Bulkhead) Release() {
	if b.ad != nil {
		b.finish("", sampleNone, 0, time.Time{})
		return
	}
	b.releaseFixed()
}

func (b *Bulkhead) releaseFixed() {
	select {
	case <-b.slots:
	default:
		panic("bulkhead: Release of " + b.name + " without a slot held")
	}
}

// ReleaseWith gives back a slot as Release does and, in adaptive mode, feeds the limit one
// sample: the call held the slot for latency and ended with err. The bulkhead's classifier
// (WithClassifier) reads err: a transient or throttled outcome is an overload drop, a canceled
// or rejected one is no sample, anything else (success, business error, server fault) is a
// latency sample. With a fixed limit it is Release. It allocates nothing for a nil err or a
// status without details.
func (b *Bulkhead) ReleaseWith(latency time.Duration, err error) {
	if b.ad != nil {
		kind := b.classify(err)
		var now time.Time
		if kind != sampleNone {
			now = b.clock.Now()
		}
		b.finish("", kind, latency, now)
		return
	}
	b.Release()
}

func (b *Bulkhead) acquire(ctx context.Context, method string, maxWait time.Duration) error {
	if b.ad != nil {
		return b.acquireAdaptive(ctx, method, maxWait)
	}
	return b.acquireFixed(ctx, method, maxWait)
}

func (b *Bulkhead) acquireFixed(ctx context.Context, method string, maxWait time.Duration) error {
	select {
	case b.slots <- struct{}{}:
		return nil
	default:
	}
	wait := b.waitFor(ctx, maxWait)
	if wait <= 0 {
		return b.reject(method)
	}
	t := b.clock.NewTimer(wait)
	defer t.Stop()
	select {
	case b.slots <- struct{}{}:
		return nil
	case <-t.C():
		return b.reject(method)
	case <-ctx.Done():
		// A slot may have freed as the deadline passed; the caller has no time left to use it.
		return b.ended(ctx, method)
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
	return b.reject(method)
}

func (b *Bulkhead) reject(method string) error {
	return outcome.Reject(b.sink, b.clock, method, &codes.Rejection{
		Err: ErrFull, Code: grpccodes.ResourceExhausted, Reason: ReasonFull,
		Policy: observe.PolicyBulkhead, Service: b.name,
	}, 0)
}
