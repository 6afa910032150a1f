package throttle

import (
	"time"

	"github.com/bulwarkrpc/bulwark/internal/fielderr"
)

// Validate reports every field of c that is out of range, as errors naming the yaml field, the
// value and the rule (joined with errors.Join). Zero values, which mean defaults, are valid.
func (c Config) Validate() error {
	var v fielderr.Checker
	fielderr.ZeroOrWithin(&v, "k", c.K, 1, 100)
	// Below 1 is "is below 1" above; 1 itself is allowed by that bound but cannot recover.
	v.Check(c.K != 1, "k", c.K, "is not above 1 (at 1 the throttle's own rejections hold it near its cap long after the service recovers)")
	fielderr.ZeroOrWithin(&v, "window", c.Window, time.Second, time.Hour)
	v.Check(c.MaxRejectProbability >= 0 && c.MaxRejectProbability <= 1, "max_reject_probability", c.MaxRejectProbability, "is outside (0, 1]")
	v.Check(c.MinRequests >= 0, "min_requests", c.MinRequests, "is negative")
	return v.Err()
}
