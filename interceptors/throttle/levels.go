package throttle

import "github.com/bulwarkrpc/bulwark/observe"

var _ observe.LevelSource = (*Throttle)(nil)

// Levels implements observe.LevelSource: it yields one observe.LevelThrottleProbability
// reading, with Policy observe.PolicyAdaptiveThrottle, Service the service given to New and
// Value the rejection probability Allow would use now (Probability). It allocates nothing.
func (t *Throttle) Levels(yield func(observe.Level) bool) {
	yield(observe.Level{
		Kind:    observe.LevelThrottleProbability,
		Policy:  observe.PolicyAdaptiveThrottle,
		Service: t.service,
		Value:   t.Probability(),
	})
}
