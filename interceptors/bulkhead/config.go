package bulkhead

import "time"

// Config is the bulkhead as data. Zero values are the documented defaults.
type Config struct {
	// MaxConcurrent is the most calls (and open streams) in flight at once. 0 means 10.
	MaxConcurrent int `yaml:"max_concurrent" json:"max_concurrent"`
	// MaxWait is how long a call may wait for a slot, never past its own deadline. 0 means fail
	// fast: a call that finds no free slot is rejected at once.
	MaxWait time.Duration `yaml:"max_wait" json:"max_wait"`
}
