package bulkhead

import (
	"context"
	"fmt"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/internal/prose"
	"github.com/bulwarkrpc/bulwark/section"
	"google.golang.org/grpc"
)

func init() {
	section.Register(section.Spec[Config]{
		Key:       "bulkhead",
		Rank:      section.RankBulkhead,
		Normalize: Normalize,
		Unused:    unused,
		Equal:     equal,
		Uses:      uses,
		Build:     build,
		// A method without bulkhead settings of its own shares its service's bulkhead, whose
		// cap is the service's, whatever the method's classifier; its chain feeds an adaptive
		// limit its outcomes as its own classifier judges them (forClassifier; see "Shared by
		// a service's methods" in the package documentation).
		ServiceClassifier: true,
		Retune:            retune,
		ForClassifier:     forClassifier,
	})
}

// retune keeps a suite's bulkhead b at a reload that changes only its max_wait (to c's): the
// slots in use stay taken, and a call that waits for a slot once the suite runs the func it
// returns (as the reload commits) waits up to the new max wait (see Config). Calls waiting
// already keep their wait.
func retune(obj any, c Config) (func(), bool) {
	b, ok := obj.(*Bulkhead)
	if !ok {
		return nil, false
	}
	same := b.cfg
	same.MaxWait = c.MaxWait
	if !equal(same, c) {
		return nil, false
	}
	return func() { b.maxWait.Store(int64(c.MaxWait)) }, true
}

// equal reports whether bulkheads of a and b behave the same: a suite's reload keeps a
// bulkhead, with its slots in use, when only fields its algorithm ignores changed (a fixed
// limit keeps the adaptive fields it is given, a service that turns its profile's adaptive
// limit off inherits them; see Normalize).
func equal(a, b Config) bool { return effective(a) == effective(b) }

// effective returns c with the fields its algorithm ignores zeroed.
func effective(c Config) Config {
	a := &c.Adaptive
	switch a.Algorithm {
	case AlgorithmNone:
		*a = Adaptive{}
	case AlgorithmAIMD:
		a.Smoothing, a.Tolerance, a.LongWindow = 0, 0, 0
	case AlgorithmGradient:
		a.LatencyThreshold = 0
	}
	return c
}

// uses: the classifier matters only to an adaptive limit, which tells overload from the rest
// (in a bulkhead its methods share, Spec.ServiceClassifier, its service's classifier for the
// service's calls, and each method's own for a method whose classifier differs:
// forClassifier).
func uses(c Config) section.Uses {
	if c.Adaptive.Algorithm != AlgorithmNone {
		return section.UsesClassifier
	}
	return 0
}

// build makes the bulkhead step of a suite's chain, named by the chain's service, or by its
// full method for a method with a bulkhead of its own: such a bulkhead names the chain's
// service as its service and the full method as its method in rejections, events and levels
// (see New), as a method's breaker does.
func build(env *section.Env, c Config) (section.Built, error) {
	return section.Step(New(env.Name, c, WithService(env.Service), WithClock(env.Clock), WithObserver(env.Sink), WithClassifier(env.Classifier)))
}

// forClassifier is the step of a method's chain over its service's bulkhead (in b), shared by
// the service's methods, for a method whose classifier c differs from the service's: with an
// adaptive limit, it takes and gives back slots as the bulkhead does and feeds its limit the
// method's calls as c judges them, so that the method's business errors are no overload
// drops and its transient ones are; a fixed limit classifies nothing, and b is the step.
func forClassifier(b section.Built, c *codes.Classifier) section.Built {
	bh, ok := b.Object.(*Bulkhead)
	if !ok || bh.ad == nil {
		return b
	}
	return section.Judged(bh, bh,
		func(ctx context.Context, method string, _ []grpc.CallOption, p section.Pass, err error, panicked bool) {
			bh.exit(ctx, method, p, err, panicked, c)
		},
		func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			return bh.newStream(ctx, desc, cc, method, streamer, opts, c)
		})
}

// Explain describes c, with its defaults filled in (see Normalize), in one line.
func (c Config) Explain() string {
	a := c.Adaptive
	var limit string
	switch a.Algorithm {
	case AlgorithmNone:
		limit = fmt.Sprintf("%d at once", c.MaxConcurrent)
	case AlgorithmAIMD:
		limit = fmt.Sprintf("adaptive (aimd) %d..%d at once, from %d; x%s on overload", a.MinLimit, c.MaxConcurrent, a.InitialLimit, prose.Float(a.BackoffRatio))
		if a.LatencyThreshold > 0 {
			limit += " or calls over " + a.LatencyThreshold.String()
		}
	default:
		limit = fmt.Sprintf("adaptive (%s) %d..%d at once, from %d; tolerance %s, smoothing %s, long window %d; x%s on overload",
			a.Algorithm, a.MinLimit, c.MaxConcurrent, a.InitialLimit, prose.Float(a.Tolerance), prose.Float(a.Smoothing), a.LongWindow, prose.Float(a.BackoffRatio))
	}
	return limit + "; " + prose.Wait(c.MaxWait, "a slot")
}
