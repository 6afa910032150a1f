package throttle

import "time"

// Config is client-side adaptive throttling as data (Google SRE, "Handling Overload"). Zero
// values are the documented defaults, so an empty Config is usable: K = 2 over a two-minute
// window, rejecting at most 90 % of requests.
type Config struct {
	// K is the multiplier of accepts: the client keeps sending while its requests stay at most K
	// times the requests the service accepted, and past that rejects locally with probability
	// max(0, (requests − K·accepts) / (requests + 1)). Lower is more aggressive, and slower to
	// let traffic back once the service recovers. In (1, 100]: at 1 the throttle's own
	// rejections, which count as requests, would hold it near its cap long after the service
	// recovered (see the package's "Choosing K"). 0 means 2.
	K float64 `yaml:"k" json:"k" zero:"is below 1"`
	// Window is the period over which requests and accepts are counted, in [1s, 1h]. 0 means
	// 2m.
	Window time.Duration `yaml:"window" json:"window" zero:"is not positive (leave it out for the default 2m)"`
	// MaxRejectProbability caps the rejection probability, so that some requests always reach
	// the service and see it recover. In (0, 1]; 0 means 0.9.
	MaxRejectProbability float64 `yaml:"max_reject_probability" json:"max_reject_probability" zero:"is not in (0, 1] (leave it out for the default 0.9)"`
	// MinRequests is how many requests the window must hold before any is rejected. 0 means
	// none: the formula alone decides.
	MinRequests int `yaml:"min_requests" json:"min_requests"`
}
