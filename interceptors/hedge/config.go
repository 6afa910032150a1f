package hedge

import "time"

// Config is the hedging policy as data. Zero values are the documented defaults, so an empty
// Config is a usable policy: two attempts at most, the second sent when the first has taken
// longer than the 95th percentile of recent latencies.
type Config struct {
	// MaxAttempts is the most attempts of one call, the first included, in [2, 5] (gRFC A6's
	// cap). 0 means 2.
	MaxAttempts int `yaml:"max_attempts" json:"max_attempts" zero:"is below 2"`
	// Delay is the hedging delay: the next attempt is sent when Delay passes with no answer.
	// With Percentile 0 and Delay set, the delay is fixed; otherwise the delay is adaptive:
	// Delay is the one used until the first latency is known, and the ceiling of the learnt
	// one until MinSamples are (0 means 100ms).
	Delay time.Duration `yaml:"delay" json:"delay" zero:"is not positive (leave it out for the default 100ms)"`
	// Percentile, in (0, 1), makes the delay adaptive: the given percentile of the latencies
	// of recent successful attempts, kept within [MinDelay, MaxDelay]. 0 means fixed at Delay
	// when Delay is set, else 0.95; in a config file, a written 0 without a delay is an
	// error.
	Percentile float64 `yaml:"percentile" json:"percentile"`
	// MedianMultiple caps the adaptive delay at this multiple of the median of the same
	// samples, so that it stays below latency spikes even when they are more common than
	// 1-Percentile (see the package documentation). In [1, 1000]; 0 means 3.
	MedianMultiple float64 `yaml:"median_multiple" json:"median_multiple" zero:"is below 1"`
	// MinDelay is the floor of the adaptive delay. 0 means 1ms, or MaxDelay when that is
	// shorter.
	MinDelay time.Duration `yaml:"min_delay" json:"min_delay" zero:"is not positive (leave it out for the default 1ms)"`
	// MaxDelay is the ceiling of the adaptive delay. 0 means none.
	MaxDelay time.Duration `yaml:"max_delay" json:"max_delay"`
	// Window is how many recent latencies the adaptive delay is computed from, in [10, 100000].
	// 0 means 500.
	Window int `yaml:"window" json:"window" zero:"is below 10"`
	// MinSamples is how many latencies must be known before the adaptive delay may exceed
	// Delay, in [1, Window]: before that it is learnt from the first answers on, but capped
	// at Delay. 0 means 50 (or Window, if smaller).
	MinSamples int `yaml:"min_samples" json:"min_samples" zero:"is below 1"`
	// Idempotent marks the methods this policy governs as safe to hedge even when their
	// descriptors do not say NO_SIDE_EFFECTS or IDEMPOTENT.
	Idempotent bool `yaml:"idempotent" json:"idempotent"`
	// ReplayBufferBytes caps the bytes (by proto.Size, plus 5 a message) of the messages a
	// client-streaming call keeps for replay to its hedges; a stream that sends more is not
	// hedged. It means what retry's replay_buffer_bytes means: 0 means 256 KiB; negative means
	// never buffer (client streams are not hedged); at most 1 GiB (Validate refuses more).
	ReplayBufferBytes int `yaml:"replay_buffer_bytes" json:"replay_buffer_bytes" zero:"means the default 256 KiB: leave it out, or write -1 to never buffer"`
}
