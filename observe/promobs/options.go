package promobs

import (
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/prometheus/client_golang/prometheus"
)

// DefaultBuckets are the histogram buckets, in seconds, of both the call duration and the
// backoff sleep histograms: 1 ms to 20 s, about 2.5× apart, the range a gRPC client call with
// retries lives in.
func DefaultBuckets() []float64 {
	return []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 20}
}

// Option configures New. Build options only with the WithX functions of this package.
type Option interface {
	apply(*config) error
}

type optionFunc func(*config) error

func (f optionFunc) apply(c *config) error { return f(c) }

type config struct {
	constLabels     prometheus.Labels
	durationBuckets []float64
	backoffBuckets  []float64
}

func defaultConfig() config {
	return config{durationBuckets: DefaultBuckets(), backoffBuckets: DefaultBuckets()}
}

// WithConstLabels adds labels with fixed values to every metric, such as the name of the
// client when one process runs several. The names must not clash with the labels promobs
// sets (service, method, code, class, attempt, state, from, to, policy, reason, and the
// histograms' le).
func WithConstLabels(labels prometheus.Labels) Option {
	return optionFunc(func(c *config) error {
		for name := range labels {
			if _, ok := ownLabels[name]; ok {
				return fmt.Errorf("promobs: const label %q clashes with a label promobs sets", name)
			}
		}
		c.constLabels = make(prometheus.Labels, len(labels))
		for k, v := range labels {
			c.constLabels[k] = v
		}
		return nil
	})
}

// WithDurationBuckets sets the buckets, in seconds, of bulwark_call_duration_seconds. They
// must be strictly increasing. The default is DefaultBuckets.
func WithDurationBuckets(buckets ...float64) Option {
	return optionFunc(func(c *config) error {
		b, err := checkBuckets("WithDurationBuckets", buckets)
		c.durationBuckets = b
		return err
	})
}

// WithBackoffBuckets sets the buckets, in seconds, of bulwark_retry_backoff_seconds. They must
// be strictly increasing. The default is DefaultBuckets.
func WithBackoffBuckets(buckets ...float64) Option {
	return optionFunc(func(c *config) error {
		b, err := checkBuckets("WithBackoffBuckets", buckets)
		c.backoffBuckets = b
		return err
	})
}

// checkBuckets returns a copy of b, the buckets given to option, or an error that names the
// option, the buckets and the rule they break.
func checkBuckets(option string, b []float64) ([]float64, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: %s: none given, want at least one", ErrBadBuckets, option)
	}
	if slices.ContainsFunc(b, math.IsNaN) {
		// NaN compares false both ways: the checks below would pass it.
		return nil, fmt.Errorf("%w: %s %v has NaN, want numbers", ErrBadBuckets, option, b)
	}
	if !sort.SliceIsSorted(b, func(i, j int) bool { return b[i] < b[j] }) {
		return nil, fmt.Errorf("%w: %s %v is not increasing, want each bucket above the one before", ErrBadBuckets, option, b)
	}
	for i := 1; i < len(b); i++ {
		if b[i] == b[i-1] {
			return nil, fmt.Errorf("%w: %s %v repeats %v, want each bucket above the one before", ErrBadBuckets, option, b, b[i])
		}
	}
	return append([]float64(nil), b...), nil
}
