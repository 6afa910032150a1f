package deadline

import "github.com/bulwarkrpc/bulwark/internal/fielderr"

// Validate reports every field of c that is out of range (see retry.Config.Validate).
func (c Config) Validate() error {
	var v fielderr.Checker
	v.Check(c.Default >= 0, "default", c.Default, "is negative")
	v.Check(c.Max >= 0, "max", c.Max, "is negative")
	if c.Default > 0 && c.Max > 0 {
		v.Check(c.Default <= c.Max, "default", c.Default, "is above max ("+c.Max.String()+")")
	}
	return v.Err()
}
