package throttle

import (
	"time"

	"github.com/bulwarkrpc/bulwark/internal/fielderr"
)

// Validate reports every field of c that is out of range, as errors naming the yaml field, the
// value and the rule (joined with errors.Join). Zero values, which mean defaults, are valid.
func (c Config) Validate() error {
	var v fielderr.Checker
	v.Check(c.K == 0 || c.K >= 1, "k", c.K, "is below 1")
	v.Check(c.K <= 100, "k", c.K, "is above 100")
	v.Check(c.Window == 0 || c.Window >= time.Second, "window", c.Window, "is below 1s")
	v.Check(c.Window <= time.Hour, "window", c.Window, "is above 1h0m0s")
	v.Check(c.MaxRejectProbability >= 0 && c.MaxRejectProbability <= 1, "max_reject_probability", c.MaxRejectProbability, "is outside (0, 1]")
	v.Check(c.MinRequests >= 0, "min_requests", c.MinRequests, "is negative")
	return v.Err()
}
