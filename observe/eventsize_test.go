package observe_test

import (
	"testing"
	"time"
	"unsafe"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/observe"
	grpccodes "google.golang.org/grpc/codes"
)

// eventBeforeFolds is Event as it was before LastFrom, FoldedTrips and FoldedReopens.
type eventBeforeFolds struct {
	Kind     observe.Kind
	Instance uint32
	Time     time.Time
	Service  string
	Method   string
	Policy   string
	Attempt  int
	Code     grpccodes.Code
	Class    codes.Class
	Reason   string
	Delay    time.Duration
	Duration time.Duration
	From, To string
	Value    float64
}

// An Event is copied on every Observe, some on a call's success path: the folded counts of a
// breaker's change and the from of its last change sit in room the struct had already, and make
// it no larger.
func TestEventFoldedCountsTakeNoRoom(t *testing.T) {
	if got, want := unsafe.Sizeof(observe.Event{}), unsafe.Sizeof(eventBeforeFolds{}); got != want {
		t.Fatalf("unsafe.Sizeof(Event{}) = %d, want %d, as before LastFrom, FoldedTrips and FoldedReopens", got, want)
	}
}

// LastFrom spells each breaker state as Event.From does, and says nothing ("") for an event
// of one change or a value it does not know, so that an observer falls back on From.
func TestLastFromNames(t *testing.T) {
	want := map[observe.LastFrom]string{
		observe.LastFromShown: "", observe.LastFromClosed: "closed", observe.LastFromOpen: "open",
		observe.LastFromHalfOpen: "half_open", observe.LastFromForcedOpen: "forced_open",
		observe.LastFromDisabled: "disabled", observe.LastFromDisabled + 1: "", 255: "",
	}
	for l, w := range want {
		if got := l.String(); got != w {
			t.Errorf("LastFrom(%d).String() = %q, want %q", uint8(l), got, w)
		}
	}
}
