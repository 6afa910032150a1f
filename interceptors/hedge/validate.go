package hedge

import (
	"strconv"

	"github.com/bulwarkrpc/bulwark/internal/attempt"
	"github.com/bulwarkrpc/bulwark/internal/fielderr"
)

// Validate reports every field of c that is out of range, as errors naming the yaml field, the
// value and the rule (joined with errors.Join). Zero values, which mean defaults, are valid.
func (c Config) Validate() error {
	var v fielderr.Checker
	v.Check(c.MaxAttempts == 0 || c.MaxAttempts >= 2, "max_attempts", c.MaxAttempts, "is below 2")
	v.Check(c.MaxAttempts <= 5, "max_attempts", c.MaxAttempts, "is above 5")
	v.Check(c.Delay >= 0, "delay", c.Delay, "is negative")
	v.Check(c.Percentile == 0 || (c.Percentile > 0 && c.Percentile < 1), "percentile", c.Percentile, "is outside (0, 1)")
	v.Check(c.MedianMultiple == 0 || c.MedianMultiple >= 1, "median_multiple", c.MedianMultiple, "is below 1")
	v.Check(c.MedianMultiple <= 1000, "median_multiple", c.MedianMultiple, "is above 1000")
	v.Check(c.MinDelay >= 0, "min_delay", c.MinDelay, "is negative")
	v.Check(c.MaxDelay >= 0, "max_delay", c.MaxDelay, "is negative")
	if c.MinDelay > 0 && c.MaxDelay > 0 {
		v.Check(c.MaxDelay >= c.MinDelay, "max_delay", c.MaxDelay, "is below min_delay ("+c.MinDelay.String()+")")
	}
	v.Check(c.Window == 0 || c.Window >= 10, "window", c.Window, "is below 10")
	v.Check(c.Window <= 100000, "window", c.Window, "is above 100000")
	v.Check(c.MinSamples >= 0, "min_samples", c.MinSamples, "is below 1")
	window := c.Window
	if window == 0 {
		window = DefaultWindow
	}
	v.Check(c.MinSamples <= window, "min_samples", c.MinSamples, "is above window ("+strconv.Itoa(window)+")")
	v.Check(c.ReplayBufferBytes <= attempt.MaxReplayBytes, "replay_buffer_bytes", c.ReplayBufferBytes, "is above 1 GiB")
	return v.Err()
}
