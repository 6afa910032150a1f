package hedge

import (
	"strconv"

	"github.com/bulwarkrpc/bulwark/internal/attempt"
	"github.com/bulwarkrpc/bulwark/internal/fielderr"
)

// minWindow and maxWindow bound Config.Window.
const minWindow, maxWindow = 10, 100000

// Validate reports every field of c that is out of range, as errors naming the yaml field, the
// value and the rule (joined with errors.Join). Zero values, which mean defaults, are valid.
func (c Config) Validate() error {
	var v fielderr.Checker
	fielderr.ZeroOrWithin(&v, "max_attempts", c.MaxAttempts, 2, 5)
	v.Check(c.Delay >= 0, "delay", c.Delay, "is negative")
	v.Check(c.Percentile == 0 || (c.Percentile > 0 && c.Percentile < 1), "percentile", c.Percentile, "is outside (0, 1)")
	fielderr.ZeroOrWithin(&v, "median_multiple", c.MedianMultiple, 1, 1000)
	v.DurationRange("min_delay", c.MinDelay, "max_delay", c.MaxDelay)
	fielderr.ZeroOrWithin(&v, "window", c.Window, minWindow, maxWindow)
	v.Check(c.MinSamples >= 0, "min_samples", c.MinSamples, "is below 1")
	window := c.Window
	if window == 0 {
		window = DefaultWindow
	}
	// Against a window out of range, which has its own error, min_samples is not judged: the
	// window is what is wrong (a zero min_samples means its default, which never exceeds it).
	windowValid := window >= minWindow && window <= maxWindow
	v.Check(!windowValid || c.MinSamples <= window, "min_samples", c.MinSamples, "is above window ("+strconv.Itoa(window)+")")
	v.Check(c.ReplayBufferBytes <= attempt.MaxReplayBytes, "replay_buffer_bytes", c.ReplayBufferBytes, "is above 1 GiB")
	return v.Err()
}
