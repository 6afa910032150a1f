package bulkhead

import (
	"strconv"

	"github.com/bulwarkrpc/bulwark/internal/fielderr"
)

// Validate reports every field of c that is out of range (see retry.Config.Validate).
func (c Config) Validate() error {
	var v fielderr.Checker
	v.Check(c.MaxConcurrent >= 0, "max_concurrent", c.MaxConcurrent, "is below 1")
	v.Check(c.MaxConcurrent <= 1<<20, "max_concurrent", c.MaxConcurrent, "is above 1048576")
	v.Check(c.MaxWait >= 0, "max_wait", c.MaxWait, "is negative")
	a := c.Adaptive
	switch a.Algorithm {
	case AlgorithmNone:
		// The other fields are not read: a service can turn off its profile's adaptive limit
		// with adaptive: {algorithm: ""} alone. Written without an algorithm, they are what
		// unused reports.
		return v.Err()
	case AlgorithmAIMD, AlgorithmGradient:
	default:
		v.Add("adaptive.algorithm", string(a.Algorithm), "is not one of aimd, gradient")
	}
	ceiling := c.MaxConcurrent
	if ceiling == 0 {
		ceiling = DefaultMaxConcurrent
	}
	// Against a max_concurrent out of range, which has its own error, the limits are not
	// judged: max_concurrent is what is wrong.
	ceilingValid := c.MaxConcurrent >= 0 && c.MaxConcurrent <= 1<<20
	v.Check(a.MinLimit >= 0, "adaptive.min_limit", a.MinLimit, "is below 1")
	v.Check(!ceilingValid || a.MinLimit <= ceiling, "adaptive.min_limit", a.MinLimit, "is above max_concurrent ("+strconv.Itoa(ceiling)+")")
	v.Check(a.InitialLimit >= 0, "adaptive.initial_limit", a.InitialLimit, "is below 1")
	v.Check(!ceilingValid || a.InitialLimit <= ceiling, "adaptive.initial_limit", a.InitialLimit, "is above max_concurrent ("+strconv.Itoa(ceiling)+")")
	if a.InitialLimit > 0 {
		v.Check(a.InitialLimit >= a.MinLimit, "adaptive.initial_limit", a.InitialLimit, "is below adaptive.min_limit ("+strconv.Itoa(a.MinLimit)+")")
	}
	if a.Algorithm != AlgorithmAIMD {
		// The gradient's own fields: aimd does not read them (see Normalize and effective), as
		// a fixed limit reads none; written beside it, they are what unused reports.
		v.Check(a.Smoothing >= 0 && a.Smoothing <= 1, "adaptive.smoothing", a.Smoothing, "is outside (0, 1]")
		fielderr.ZeroOrWithin(&v, "adaptive.tolerance", a.Tolerance, 1, 10)
		fielderr.ZeroOrWithin(&v, "adaptive.long_window", a.LongWindow, 10, 100000)
	}
	v.Check(a.LatencyThreshold >= 0, "adaptive.latency_threshold", a.LatencyThreshold, "is negative")
	v.Check(a.BackoffRatio == 0 || (a.BackoffRatio >= 0.5 && a.BackoffRatio < 1), "adaptive.backoff_ratio", a.BackoffRatio, "is outside [0.5, 1)")
	return v.Err()
}

// unused reports adaptive's fields set where the algorithm never reads them (see
// section.Spec.Unused): any of them without adaptive.algorithm, which keeps the limit fixed;
// smoothing, tolerance and long_window beside aimd; latency_threshold beside gradient (see
// effective). Validate accepts them, so that a service can turn its profile's adaptive limit
// off with adaptive: {algorithm: ""} alone, or switch its algorithm, without writing the 0 of
// a field that means its default; config refuses them where they are written.
func unused(c Config) error {
	var v fielderr.Checker
	a := c.Adaptive
	switch a.Algorithm {
	case AlgorithmNone:
		const rule = "is set but adaptive.algorithm is not: a fixed limit reads none of adaptive's fields"
		v.Check(a.MinLimit == 0, "adaptive.min_limit", a.MinLimit, rule)
		v.Check(a.InitialLimit == 0, "adaptive.initial_limit", a.InitialLimit, rule)
		v.Check(a.Smoothing == 0, "adaptive.smoothing", a.Smoothing, rule)
		v.Check(a.Tolerance == 0, "adaptive.tolerance", a.Tolerance, rule)
		v.Check(a.LongWindow == 0, "adaptive.long_window", a.LongWindow, rule)
		v.Check(a.LatencyThreshold == 0, "adaptive.latency_threshold", a.LatencyThreshold, rule)
		v.Check(a.BackoffRatio == 0, "adaptive.backoff_ratio", a.BackoffRatio, rule)
	case AlgorithmAIMD:
		const rule = "is set with adaptive.algorithm aimd: only gradient reads it"
		v.Check(a.Smoothing == 0, "adaptive.smoothing", a.Smoothing, rule)
		v.Check(a.Tolerance == 0, "adaptive.tolerance", a.Tolerance, rule)
		v.Check(a.LongWindow == 0, "adaptive.long_window", a.LongWindow, rule)
	case AlgorithmGradient:
		v.Check(a.LatencyThreshold == 0, "adaptive.latency_threshold", a.LatencyThreshold, "is set with adaptive.algorithm gradient: only aimd reads it")
	}
	return v.Err()
}
