package bulkhead

import "github.com/bulwarkrpc/bulwark/observe"

var _ observe.LevelSource = (*Bulkhead)(nil)

// Levels implements observe.LevelSource: it yields observe.LevelInFlight (InFlight) and then
// observe.LevelCapacity (Capacity), read together: an adaptive bulkhead's pair comes from one
// look at its state. An adaptive bulkhead then yields its limit's bounds, which do not move:
// observe.LevelCapacityFloor (Adaptive.MinLimit) and observe.LevelCapacityCeiling
// (MaxConcurrent), both as Normalize fills them in. A fixed bulkhead yields neither: its
// capacity is its MaxConcurrent, and never moves. All have Policy observe.PolicyBulkhead, and
// Service and Method say which bulkhead it is, as its events do and as promobs labels it: a
// bulkhead named by a full method "/pkg.Service/Method" reads that method and its service,
// any other the name given to New (or WithService's) and no method (see New). It stops early
// when yield returns false, and allocates nothing.
func (b *Bulkhead) Levels(yield func(observe.Level) bool) {
	var limit, inFlight int
	if b.ad != nil {
		limit, inFlight = b.ad.state()
	} else {
		limit, inFlight = b.fx.state()
	}
	l := observe.Level{Kind: observe.LevelInFlight, Policy: observe.PolicyBulkhead, Service: b.service, Method: b.method, Value: float64(inFlight)}
	if !yield(l) {
		return
	}
	l.Kind, l.Value = observe.LevelCapacity, float64(limit)
	if !yield(l) || b.ad == nil {
		return
	}
	l.Kind, l.Value = observe.LevelCapacityFloor, float64(b.cfg.Adaptive.MinLimit)
	if !yield(l) {
		return
	}
	l.Kind, l.Value = observe.LevelCapacityCeiling, float64(b.cfg.MaxConcurrent)
	yield(l)
}
