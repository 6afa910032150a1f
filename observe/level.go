package observe

import (
	"reflect"
	"strconv"
)

// LevelKind says what a Level measures.
type LevelKind uint8

// The kinds of level. Events say what happened; levels say how things stand now, read when a
// consumer asks (a Prometheus scrape), so that they are never stale.
const (
	// LevelBreakerState: a circuit breaker's state. State holds breaker.State's String
	// ("closed", "open", "half_open", "forced_open", "disabled"); Value is unused.
	LevelBreakerState LevelKind = iota + 1
	// LevelInFlight: calls holding a bulkhead slot. Value.
	LevelInFlight
	// LevelCapacity: a bulkhead's slots in all (an adaptive bulkhead's current limit). Value.
	LevelCapacity
	// LevelThrottleProbability: the probability with which an adaptive throttle rejects a call
	// now. Value, in [0, 1].
	LevelThrottleProbability
	// LevelCapacityFloor: the least an adaptive bulkhead's limit (its LevelCapacity) may fall
	// to, its configured floor (bulkhead.Adaptive.MinLimit, defaulted). Value. Only an adaptive
	// bulkhead reads it: a limit at its floor while calls fill it is a service at its knee.
	LevelCapacityFloor
	// LevelCapacityCeiling: the most an adaptive bulkhead's limit may rise to, its configured
	// ceiling (bulkhead.Config.MaxConcurrent, defaulted). Value. Only an adaptive bulkhead reads
	// it: a fixed bulkhead's LevelCapacity is its MaxConcurrent already, and a reading that
	// repeated it would add a series per bulkhead and tell nothing; so a bulkhead that reads a
	// floor and a ceiling is an adaptive one.
	LevelCapacityCeiling
)

// levelKindNames are the names String gives the kinds, by value.
var levelKindNames = [...]string{
	LevelBreakerState:        "breaker_state",
	LevelInFlight:            "in_flight",
	LevelCapacity:            "capacity",
	LevelThrottleProbability: "throttle_probability",
	LevelCapacityFloor:       "capacity_floor",
	LevelCapacityCeiling:     "capacity_ceiling",
}

// String returns the kind's name in snake case ("in_flight", "capacity_floor"), or
// "LevelKind(n)" for a value that is no kind.
func (k LevelKind) String() string {
	if int(k) < len(levelKindNames) && levelKindNames[k] != "" {
		return levelKindNames[k]
	}
	return "LevelKind(" + strconv.Itoa(int(k)) + ")"
}

// Level is one reading of a policy object's state.
type Level struct {
	Kind LevelKind
	// Policy is the section the object belongs to (PolicyBreaker, PolicyBulkhead, ...).
	Policy string
	// Service is the service the object serves; Method is the full method
	// "/pkg.Service/Method" of an object that serves one method only, else empty.
	Service, Method string
	Value           float64
	State           string
}

// LevelSource is something whose policy objects can be read live: a suite, a breaker
// registry, one bulkhead. Levels calls yield for each reading until yield returns false; it is
// an iter.Seq[Level], so a consumer can range over src.Levels. It must be safe for concurrent
// use, and it must not call back into a consumer from yield's goroutine after returning.
type LevelSource interface {
	Levels(yield func(Level) bool)
}

// LevelSources is a LevelSource that reads each of its sources in turn, skipping nil ones:
// nil, or holding a nil pointer or func (a nil *interceptors.Suite, left so when a feature is
// off), whose methods would panic. It is a ClosedSource: closed once each of its sources that
// is not nil is closed.
type LevelSources []LevelSource

// isNil reports whether s is nil or holds a nil pointer or func: a source LevelSources skips.
func isNil(s LevelSource) bool {
	if s == nil {
		return true
	}
	switch v := reflect.ValueOf(s); v.Kind() {
	case reflect.Pointer, reflect.Func:
		return v.IsNil()
	}
	return false
}

// Levels implements LevelSource. Once yield has returned false it is not called again, even
// by a source that goes on yielding (a source's bug): the consumer may have left its range.
func (ls LevelSources) Levels(yield func(Level) bool) {
	for _, s := range ls {
		if isNil(s) {
			continue
		}
		stop := false
		s.Levels(func(l Level) bool {
			if stop || !yield(l) {
				stop = true
			}
			return !stop
		})
		if stop {
			return
		}
	}
}

// Closed implements ClosedSource: it reports true when each of ls's sources that is not nil
// (nor holds a nil pointer or func) is a ClosedSource whose Closed reports true (a nested
// LevelSources is one), so that ls reads nothing, now or later; an empty ls is closed. A source
// that cannot close keeps ls open.
func (ls LevelSources) Closed() bool {
	for _, s := range ls {
		if isNil(s) {
			continue
		}
		if c, ok := s.(ClosedSource); !ok || !c.Closed() {
			return false
		}
	}
	return true
}

// Open returns the sources of ls that may still read something: those that are not nil (nor
// hold a nil pointer or func) and not closed (ClosedSource), with a nested LevelSources reduced
// so too (and left out once it has none). A consumer that keeps ls can keep Open's result
// instead, and so let go of what closed sources hold. It returns ls itself when there is
// nothing to leave out, else a new slice: ls is not changed.
func (ls LevelSources) Open() LevelSources {
	open, _ := ls.open()
	return open
}

// open is Open, and whether it left anything out.
func (ls LevelSources) open() (LevelSources, bool) {
	var out LevelSources // made at the first source left out or reduced
	for i, s := range ls {
		keep, changed := s, false
		switch src := s.(type) {
		case LevelSources:
			if keep, changed = src.open(); changed && len(keep.(LevelSources)) == 0 {
				keep = nil
			}
		case ClosedSource:
			if changed = isNil(src) || src.Closed(); changed {
				keep = nil
			}
		default:
			if changed = isNil(s); changed {
				keep = nil
			}
		}
		if changed && out == nil {
			out = append(make(LevelSources, 0, len(ls)), ls[:i]...)
		}
		if out != nil && keep != nil {
			out = append(out, keep)
		}
	}
	if out == nil {
		return ls, false
	}
	return out, true
}

// ClosedSource is a LevelSource that can end for good: once Closed reports true it reads
// nothing, now or later (a closed suite), so a consumer that keeps sources (promobs' Scrape)
// may drop it, and with it the objects it holds. Closed must be safe for concurrent use.
type ClosedSource interface {
	LevelSource
	Closed() bool
}
