package bulkhead

import (
	"fmt"

	"github.com/bulwarkrpc/bulwark/internal/prose"
	"github.com/bulwarkrpc/bulwark/section"
)

func init() {
	section.Register(section.Spec[Config]{
		Key:       "bulkhead",
		Rank:      section.RankBulkhead,
		Normalize: Normalize,
		Uses:      uses,
		Build:     build,
	})
}

// uses: the classifier matters only to an adaptive limit, which tells overload from the rest.
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
