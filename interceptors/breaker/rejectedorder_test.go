package breaker

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/internal/testkit/within"
	"github.com/bulwarkrpc/bulwark/observe"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// kindLog keeps the kinds of the events it observes, in the order it finishes with them; hold,
// when set, is called with a BreakerStateChanged before it is kept, and may block.
type kindLog struct {
	hold   func()
	mu     sync.Mutex
	events []observe.Event
}

func (l *kindLog) Observe(e observe.Event) {
	if e.Kind == observe.BreakerStateChanged && l.hold != nil {
		l.hold()
	}
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
}

// A call that trips the breaker sends its state change after letting go of the breaker's lock;
// another call refused meanwhile sends its Rejected itself: the Rejected may reach the sink
// first, as the package documentation says. Its Time is not earlier than the change's, which
// is how an observer orders the two (the documented order is among state changes alone).
func TestRejectedMayOvertakeTheChangeThatCausedIt(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	log := &kindLog{}
	b, err := New(svc, orderCfg, WithClock(clocktest.New(time.Time{})), WithObserver(log))
	if err != nil {
		t.Fatal(err)
	}
	log.events = nil // New's BreakerPublished
	log.hold = func() { close(entered); <-release }
	p, err := b.Allow()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.Done(status.Error(grpccodes.Unavailable, "down")) // trips: its change is held in the sink
	}()
	within.Recv(t, entered, "the trip's change did not reach the sink")
	if _, err := b.Allow(); !errors.Is(err, ErrOpen) {
		t.Fatalf("Allow after the trip: %v, want ErrOpen", err)
	}
	close(release)
	within.Recv(t, done, "Done of the tripping call did not return once the sink was released")
	log.mu.Lock()
	defer log.mu.Unlock()
	if len(log.events) != 2 || log.events[0].Kind != observe.Rejected || log.events[1].Kind != observe.BreakerStateChanged {
		t.Fatalf("events %v, want Rejected then BreakerStateChanged (the change held in the sink)", log.events)
	}
	if log.events[0].Time.Before(log.events[1].Time) {
		t.Errorf("the Rejected's Time %v is before the change's %v", log.events[0].Time, log.events[1].Time)
	}
}
