package bulkhead

import "github.com/bulwarkrpc/bulwark/observe"

var _ observe.LevelSource = (*Bulkhead)(nil)

// Levels implements observe.LevelSource: it yields observe.LevelInFlight (InFlight) and then
// observe.LevelCapacity (Capacity), both with Policy observe.PolicyBulkhead and Service the
// name given to New, read together: an adaptive bulkhead's pair comes from one look at its
// state. It stops early when yield returns false, and allocates nothing.
func (b *Bulkhead) Levels(yield func(observe.Level) bool) {
	var limit, inFlight int
	if b.ad != nil {
		limit, inFlight = b.ad.state()
	} else {
		limit, inFlight = b.fx.state()
	}
	l := observe.Level{Kind: observe.LevelInFlight, Policy: observe.PolicyBulkhead, Service: b.name, Value: float64(inFlight)}
	if !yield(l) {
		return
	}
	l.Kind, l.Value = observe.LevelCapacity, float64(limit)
	yield(l)
}
