package testkit

import (
	"sync"

	"github.com/bulwarkrpc/bulwark/observe"
)

// Recorder is an observe.Sink that keeps every event, for assertions. Safe for concurrent use.
type Recorder struct {
	mu     sync.Mutex
	events []observe.Event
}

// Observe implements observe.Sink.
func (r *Recorder) Observe(e observe.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

// Events returns the events so far, in order; with kinds given, only those kinds.
func (r *Recorder) Events(kinds ...observe.Kind) []observe.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(kinds) == 0 {
		return append([]observe.Event(nil), r.events...)
	}
	var out []observe.Event
	for _, e := range r.events {
		for _, k := range kinds {
			if e.Kind == k {
				out = append(out, e)
				break
			}
		}
	}
	return out
}

// Count returns how many events of kind k were seen.
func (r *Recorder) Count(k observe.Kind) int { return len(r.Events(k)) }

// Reset forgets every event.
func (r *Recorder) Reset() {
	r.mu.Lock()
	r.events = nil
	r.mu.Unlock()
}
