package bulkhead

import "github.com/bulwarkrpc/bulwark/internal/fielderr"

// Validate reports every field of c that is out of range (see retry.Config.Validate).
func (c Config) Validate() error {
	var v fielderr.Checker
	v.Check(c.MaxConcurrent >= 0, "max_concurrent", c.MaxConcurrent, "is below 1")
	v.Check(c.MaxConcurrent <= 1<<20, "max_concurrent", c.MaxConcurrent, "is above 1048576")
	v.Check(c.MaxWait >= 0, "max_wait", c.MaxWait, "is negative")
	return v.Err()
}
