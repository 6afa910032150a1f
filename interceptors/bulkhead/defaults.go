package bulkhead

import "cmp"

// Defaults of Config's zero values (see Config and Adaptive).
const (
	// DefaultMaxConcurrent is the capacity of a bulkhead whose Config.MaxConcurrent is 0.
	DefaultMaxConcurrent = 10
	// DefaultMinLimit is an adaptive limit's floor when Adaptive.MinLimit is 0.
	DefaultMinLimit = 1
	// DefaultSmoothing is the gradient's Adaptive.Smoothing when it is 0.
	DefaultSmoothing = 0.2
	// DefaultTolerance is the gradient's Adaptive.Tolerance when it is 0.
	DefaultTolerance = 1.5
	// DefaultLongWindow is the gradient's Adaptive.LongWindow when it is 0.
	DefaultLongWindow = 600
	// DefaultBackoffRatio is Adaptive.BackoffRatio when it is 0 (aimd, and gradient on an
	// overload failure).
	DefaultBackoffRatio = 0.9
)

// Normalize returns cfg with every zero field that means a default replaced by that default:
// the values New runs with (see Bulkhead.Config), and the ones config resolves and explains. It
// is the one place these defaults are written. It does not validate: a valid cfg gives a valid
// result.
//
// A fixed limit (no Adaptive.Algorithm) keeps its Adaptive fields as given: they are ignored.
// An adaptive one gets the fields its algorithm reads: MinLimit, InitialLimit and BackoffRatio
// for both, Smoothing, Tolerance and LongWindow for the gradient. LatencyThreshold's zero is not
// a default (it turns the latency drop off) and stays zero.
func Normalize(cfg Config) Config {
	cfg.MaxConcurrent = cmp.Or(cfg.MaxConcurrent, DefaultMaxConcurrent)
	a := &cfg.Adaptive
	if a.Algorithm == AlgorithmNone {
		return cfg
	}
	a.MinLimit = cmp.Or(a.MinLimit, DefaultMinLimit)
	a.InitialLimit = cmp.Or(a.InitialLimit, max(a.MinLimit, cfg.MaxConcurrent/4))
	a.BackoffRatio = cmp.Or(a.BackoffRatio, DefaultBackoffRatio)
	if a.Algorithm == AlgorithmGradient {
		a.Smoothing = cmp.Or(a.Smoothing, DefaultSmoothing)
		a.Tolerance = cmp.Or(a.Tolerance, DefaultTolerance)
		a.LongWindow = cmp.Or(a.LongWindow, DefaultLongWindow)
	}
	return cfg
}
