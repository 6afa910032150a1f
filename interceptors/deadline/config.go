package deadline

import "time"

// Config is the deadline policy as data. The zero value changes nothing.
type Config struct {
	// Default is the timeout set on calls that arrive without a deadline. 0 means none.
	Default time.Duration `yaml:"default" json:"default"`
	// Max caps a call's deadline: one further away than Max from now is brought in to now+Max.
	// 0 means no cap. When both are set, Default must not exceed Max.
	Max time.Duration `yaml:"max" json:"max"`
}
