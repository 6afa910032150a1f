package bulkhead

import (
	"context"
	"errors"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/observe"
	grpccodes "google.golang.org/grpc/codes"
)

// DefaultMaxConcurrent is the capacity of a bulkhead whose Config.MaxConcurrent is 0.
const DefaultMaxConcurrent = 10

// Bulkhead bounds the calls in flight. It is safe for concurrent use.
//
// The slots are a buffered channel: taking a slot is a send, giving it back a receive. A full
// channel queues blocked senders in arrival order and hands a freed slot straight to the first
// of them, which gives FIFO fairness without a lock of our own.
type Bulkhead struct {
	name    string
	slots   chan struct{}
	maxWait time.Duration
	clock   clock.Clock
	sink    observe.Sink
}

// New returns a bulkhead for cfg. name is put in rejections and events as the service (the
// gRPC service the bulkhead guards, or the name of a bulkhead shared by several). cfg must be
// valid (see Config.Validate).
func New(name string, cfg Config, opts ...Option) (*Bulkhead, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := cfg.MaxConcurrent
	if n == 0 {
		n = DefaultMaxConcurrent
	}
	b := &Bulkhead{name: name, slots: make(chan struct{}, n), maxWait: cfg.MaxWait, clock: clock.Real}
	for _, o := range opts {
		switch o.kind {
		case optClock:
			b.clock = clock.OrReal(o.clock)
		case optSink:
			b.sink = o.sink
		case optMaxWait:
			b.maxWait = o.maxWait
		}
	}
	return b, nil
}

// Name returns the name given to New.
func (b *Bulkhead) Name() string { return b.name }

// Capacity returns the number of slots.
func (b *Bulkhead) Capacity() int { return cap(b.slots) }

// InFlight returns the number of slots taken now.
func (b *Bulkhead) InFlight() int { return len(b.slots) }

// Available returns the number of free slots now.
func (b *Bulkhead) Available() int { return cap(b.slots) - len(b.slots) }

// TryAcquire takes a slot if one is free now and reports whether it did. It never waits and
// never emits an event.
func (b *Bulkhead) TryAcquire() bool {
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
// is a bug in the caller and panics.
func (b *Bulkhead) Release() {
	select {
	case <-b.slots:
	default:
		panic("bulkhead: Release of " + b.name + " without a slot held")
	}
}

func (b *Bulkhead) acquire(ctx context.Context, method string, maxWait time.Duration) error {
	select {
	case b.slots <- struct{}{}:
		return nil
	default:
	}
	if maxWait <= 0 {
		return b.reject(method)
	}
	wait := maxWait
	if dl, ok := ctx.Deadline(); ok {
		wait = min(wait, dl.Sub(b.clock.Now()))
	}
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
		if err := ctx.Err(); !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		// A slot may have freed as the deadline passed; the caller has no time left to use it.
		return b.reject(method)
	}
}

func (b *Bulkhead) reject(method string) error {
	if b.sink != nil {
		b.sink.Observe(observe.Event{
			Kind:    observe.Rejected,
			Time:    b.clock.Now(),
			Service: b.name,
			Method:  method,
			Policy:  observe.PolicyBulkhead,
			Code:    grpccodes.ResourceExhausted,
			Reason:  Reason,
		})
	}
	return &codes.Rejection{
		Err:     ErrFull,
		Code:    grpccodes.ResourceExhausted,
		Reason:  Reason,
		Policy:  observe.PolicyBulkhead,
		Service: b.name,
	}
}
