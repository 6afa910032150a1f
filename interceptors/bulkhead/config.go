package bulkhead

import "time"

// Config is the bulkhead as data. Zero values are the documented defaults.
type Config struct {
	// MaxConcurrent is the most calls (and open streams) in flight at once: the fixed limit,
	// or the ceiling of an adaptive one. 0 means 10.
	MaxConcurrent int `yaml:"max_concurrent" json:"max_concurrent" zero:"is below 1"`
	// MaxWait is how long a call may wait for a slot, never past its own deadline. 0 means fail
	// fast: a call that finds no free slot is rejected at once.
	MaxWait time.Duration `yaml:"max_wait" json:"max_wait"`
	// Adaptive makes the limit move with measured latency between Adaptive.MinLimit and
	// MaxConcurrent. The zero value keeps the limit fixed at MaxConcurrent.
	Adaptive Adaptive `yaml:"adaptive" json:"adaptive"`
}

// Algorithm names how an adaptive limit moves.
type Algorithm string

// The algorithms (after Netflix's concurrency-limits).
const (
	// AlgorithmNone keeps the limit fixed at Config.MaxConcurrent.
	AlgorithmNone Algorithm = ""
	// AlgorithmAIMD adds one to the limit after a success (a business error is no sample) that
	// found the limit in use and took less than Adaptive.LatencyThreshold; a failure that
	// signals overload (a throttled outcome, or a transient one or a server fault that took at
	// least the threshold: without one, every transient one and no server fault) or an answer
	// slower than the threshold multiplies it by BackoffRatio.
	AlgorithmAIMD Algorithm = "aimd"
	// AlgorithmGradient compares the recent latency with the long-term latency and shrinks the
	// limit as the ratio grows (a gradient, Vegas-like estimate of the queue), growing it while
	// latency stays flat. A throttled failure, or a transient one or a server fault that took
	// at least Tolerance times the long-term latency, multiplies it by BackoffRatio; a faster
	// one is no sample.
	AlgorithmGradient Algorithm = "gradient"
)

// Adaptive is the configuration of an adaptive limit. Zero values are the documented defaults.
type Adaptive struct {
	// Algorithm is the limit algorithm: "" (off: the other fields are not read, and package
	// config refuses them written beside it), "aimd" or "gradient".
	Algorithm Algorithm `yaml:"algorithm" json:"algorithm"`
	// MinLimit is the floor of the limit, in [1, MaxConcurrent]. 0 means 1.
	MinLimit int `yaml:"min_limit" json:"min_limit" zero:"is below 1"`
	// InitialLimit is the limit at start, in [MinLimit, MaxConcurrent]. 0 means the larger of
	// MinLimit and MaxConcurrent/4.
	InitialLimit int `yaml:"initial_limit" json:"initial_limit" zero:"is below 1 (leave it out for the default, the larger of min_limit and max_concurrent/4)"`
	// Smoothing is the weight, in (0, 1], of a new estimate against the current limit
	// (gradient; aimd does not read it, and package config refuses it written beside aimd). 0
	// means 0.2.
	Smoothing float64 `yaml:"smoothing" json:"smoothing" zero:"is not in (0, 1]"`
	// Tolerance is how much the recent latency may exceed the long-term latency before the
	// limit shrinks (gradient, as Smoothing), in [1, 10]. 0 means 1.5.
	Tolerance float64 `yaml:"tolerance" json:"tolerance" zero:"is below 1"`
	// LongWindow is how many latency samples the long-term average spans (gradient, as
	// Smoothing), in [10, 100000]. 0 means 600.
	LongWindow int `yaml:"long_window" json:"long_window" zero:"is below 10"`
	// LatencyThreshold makes a call slower than it count as a drop, and a transient failure
	// faster than it no sample (aimd; the gradient does not read it, and package config refuses
	// it written beside gradient). 0 means only failures count, every transient or throttled one.
	LatencyThreshold time.Duration `yaml:"latency_threshold" json:"latency_threshold"`
	// BackoffRatio multiplies the limit on a drop (aimd; gradient on an overload failure), in
	// [0.5, 1). 0 means 0.9.
	BackoffRatio float64 `yaml:"backoff_ratio" json:"backoff_ratio" zero:"is below 0.5"`
}
