package throttle

import "github.com/bulwarkrpc/bulwark/observe"

var _ observe.LevelSource = (*Throttle)(nil)

// Levels implements observe.LevelSource: it yields one observe.LevelThrottleProbability
// reading, with Policy observe.PolicyAdaptiveThrottle, Service and Method the throttle's (see
// New: no Method for a service's throttle, the full method for a method's) and Value the
// rejection probability Allow would use now (Probability). It allocates nothing.
func (t *Throttle) Levels(yield func(observe.Level) bool) {
	yield(observe.Level{
		Kind:    observe.LevelThrottleProbability,
		Policy:  observe.PolicyAdaptiveThrottle,
		Service: t.service,
		Method:  t.method,
		Value:   t.Probability(),
	})
}
